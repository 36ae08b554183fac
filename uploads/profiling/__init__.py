"""Profile a CSV file with DuckDB and return a JSON-serialisable document.

Pure Python + DuckDB (no Django). :func:`profile_csv` is the entry point;
:class:`NullMarkers` changes the texts read as missing; failures that are the
file's fault raise :class:`ProfileError` with a stable ``code``. How the file
is read, typed and measured, and what every figure means, is in
docs/profiling.md; the document's shape is docs/profile.schema.json.

Modules, in the order a profile uses them: ``encoding`` (what the bytes are),
``source`` (dialect, columns), ``load`` (the one read of the file into a
table), ``passes`` (the aggregate passes), ``distributions`` (histograms,
extreme values, quantiles), ``correlations``, ``rejects``, ``document``,
``profiler`` (orchestration); ``markers``, ``sql`` and ``limits`` serve them.
"""

from uploads.profiling.document import PROFILE_SCHEMA_VERSION
from uploads.profiling.errors import ProfileError
from uploads.profiling.markers import NullMarkers
from uploads.profiling.profiler import profile_csv

__all__ = ["PROFILE_SCHEMA_VERSION", "NullMarkers", "ProfileError", "profile_csv"]
