"""Profile a CSV file with DuckDB and return a JSON-serialisable document.

Pure Python + DuckDB (no Django). :func:`profile_csv` is the entry point;
failures that are the file's fault raise :class:`ProfileError` with a stable
``code``. How the file is read, typed and measured, and what every figure
means, is in docs/profiling.md; the document's shape is
docs/profile.schema.json.

Modules, in the order a profile uses them: ``encoding`` (what the bytes are),
``source`` (dialect, columns, the ``read_csv`` call), ``passes`` (the
aggregate passes), ``quantiles`` (exact order statistics and numeric
histograms), ``rejects`` (rejected rows), ``document`` (the document),
``profiler`` (orchestration); ``sql`` and ``limits`` serve them all.
"""

from uploads.profiling.document import PROFILE_SCHEMA_VERSION
from uploads.profiling.errors import ProfileError
from uploads.profiling.profiler import profile_csv

__all__ = ["PROFILE_SCHEMA_VERSION", "ProfileError", "profile_csv"]
