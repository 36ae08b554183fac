"""Orchestration: sniff, read the file once into a table, run the passes over
that table, hand the figures to :mod:`uploads.profiling.document`.

:func:`profile_csv` opens a private DuckDB database (in memory, spilling to a
private work directory) and removes both afterwards.
"""

# ruff: noqa: S608

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import duckdb

from uploads.profiling import correlations, document
from uploads.profiling.distributions import Distributions
from uploads.profiling.encoding import (
    Encoding,
    check_late_bytes,
    sniff_bytes,
    transcode_file,
)
from uploads.profiling.errors import ProfileError
from uploads.profiling.limits import (
    MAX_CORRELATION_COLUMNS,
    MAX_SAMPLE_ROWS,
    MISSING_RANGES,
    RANDOM_SAMPLE_SEED,
    REJECTS_STORE_LIMIT,
    SPEARMAN_SAMPLE_ROWS,
)
from uploads.profiling.load import load, marker_list
from uploads.profiling.markers import NullMarkers
from uploads.profiling.passes import NUMERIC, Passes
from uploads.profiling.rejects import Reject, listed_rejects
from uploads.profiling.source import Column, Source, sniff_dialect
from uploads.profiling.sql import Database, lit

#: Reads of the file before giving up on fixing the sniffer's types.
_MAX_LOADS = 4


class Profiler:
    """One profile of one file, on an open connection and work directory."""

    def __init__(
        self,
        path: str,
        con: duckdb.DuckDBPyConnection,
        workdir: str,
        *,
        top_values: int,
        histogram_bins: int,
        sample_rows: int,
        random_rows: int,
        max_rejects: int,
        null_markers: NullMarkers,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.original = path
        self.db = Database(con)
        self.workdir = workdir
        self.top_k = max(0, top_values)
        self.bins = max(1, histogram_bins)
        self.head_n = min(MAX_SAMPLE_ROWS, max(0, sample_rows))
        self.random_n = min(MAX_SAMPLE_ROWS, max(0, random_rows))
        self.max_rejects = max(0, max_rejects)
        self.markers = null_markers
        self._progress = progress
        self.approximate: set[str] = set()
        self.lossy = False
        numeric_markers = ", ".join(lit(m) for m in null_markers.numeric_only)
        self.passes = Passes(
            self.db,
            top_values=self.top_k,
            phase=self.phase,
            numeric_markers=numeric_markers,
            correlation_columns=MAX_CORRELATION_COLUMNS,
        )
        self.distributions = Distributions(
            self.db, bins=self.bins, top_values=self.top_k
        )

    def phase(self, name: str) -> None:
        if self._progress is not None:
            self._progress(name)

    def run(self) -> dict[str, Any]:
        self.phase("sniffing")
        enc = sniff_bytes(self.original)
        path = self.transcode(enc) if enc.transcode else self.original
        src = self.sniff(path)
        rows = 0
        rejects: list[Reject] = []
        for attempt in range(_MAX_LOADS):
            self.phase("reading")
            rows, rejects = load(self.db, src, self.markers)
            invalid = [int(r[4] or 0) for r in rejects if r[1] == "INVALID ENCODING"]
            if invalid and not enc.transcode:
                check_late_bytes(self.original, min(invalid))
                enc = Encoding("cp1252", "utf-8", fallback=True)
                src = self.sniff(self.transcode(enc))
                continue
            self.phase("aggregating")
            self.passes.guess_candidates(src)
            self.passes.pass_one(src, rows)
            failed = [c for c in src.columns if c.stats.get("failed")]
            header = self.header_of_numbers(src, rows)
            if header:
                src.dialect.header = True
                for c, name in zip(src.columns, header, strict=True):
                    c.name = name
                continue
            if not failed or attempt == _MAX_LOADS - 1:
                break
            for c in failed:  # a later value does not fit the sniffed type
                c.stored, c.kind, c.timezone = "VARCHAR", "text", False
        self.passes.retype(src, rows)
        cols = src.columns

        self.phase("distributions")
        numeric = [c for c in cols if c.kind in NUMERIC and c.stats.get("n")]
        texts = [c for c in cols if c.kind == "text" and c.stats.get("distinct")]
        unique_texts = [c for c in texts if _all_distinct(c)]
        extremes = self.passes.extremes(numeric)
        self.distributions.run(cols, rows, extremes, unique_texts)
        # the API's phases (uploads.documents.PHASES) call this step
        # "computing histograms and correlations"
        corr = self.correlations(cols, rows)
        self.phase("quantiles")
        self.distributions.quantiles(numeric)

        grouped = [c for c in texts if not _all_distinct(c)] if self.top_k else []
        if grouped:
            self.phase("top_values")
            self.passes.top_values_grouped(grouped)

        self.phase("duplicates")
        duplicates, examples = self.passes.duplicates(src, rows)

        self.phase("sampling")
        head, random_rows = self.passes.samples(src, rows, self.head_n, self.random_n)
        return self.document(
            enc, src, rows, duplicates, examples, rejects, corr, head, random_rows
        )

    def header_of_numbers(self, src: Source, rows: int) -> list[str] | None:
        """The first row, when it is a header that DuckDB's sniffer missed
        because its names read as numbers (years as column names: "1960",
        ...): every cell filled and distinct, and every decimal column's
        first cell a whole number written without a decimal point."""
        floats = [c for c in src.columns if c.kind == "float" and not c.is_text]
        if src.dialect.header or rows < 2 or not floats:
            return None
        first = src.read_first_row()
        cells = self.db.fetch(first)
        if not cells:
            return None
        names = [str(v) if v is not None else "" for v in cells[0]]
        if "" in names or len(set(names)) != len(names):
            return None
        if all(names[c.index].strip().lstrip("+-").isdigit() for c in floats):
            return names
        return None

    def sniff(self, path: str) -> Source:
        markers = (*self.markers.everywhere, *self.markers.numeric_only)
        return sniff_dialect(self.db, path, markers)

    def correlations(self, cols: list[Column], rows: int) -> dict[str, Any]:
        numeric = [c for c in cols if c.kind in NUMERIC]
        used, omitted = (
            numeric[:MAX_CORRELATION_COLUMNS],
            numeric[MAX_CORRELATION_COLUMNS:],
        )
        source = "data"
        if rows > SPEARMAN_SAMPLE_ROWS and len(used) > 1:
            # ranking is a sort per column and pair: past this many rows,
            # Spearman is computed on a uniform sample (fixed seed)
            refs = ", ".join(c.ref for c in used)
            share = 100 * SPEARMAN_SAMPLE_ROWS / rows
            self.db.fetch(
                f"CREATE OR REPLACE TEMP TABLE spearman_rows AS SELECT {refs} "
                f"FROM data USING SAMPLE {share!r}% "
                f"(bernoulli, {RANDOM_SAMPLE_SEED})"
            )
            source = "spearman_rows"
            self.approximate.add("spearman")
        rho = correlations.spearman(self.db, used, rows, source)
        pearson = self.passes.corr
        pairs = correlations.flagged_pairs(self.db, used, pearson, rho)
        flagged = {name for p in pairs for name in (p["x"], p["y"])}
        for c in used:
            c.stats["correlated"] = c.name in flagged
        return {
            "columns": [c.name for c in used],
            "pearson": correlations.matrix(
                used, pearson, [bool(c.stats.get("std")) for c in used]
            ),
            "spearman": correlations.matrix(
                used, rho, [int(c.stats.get("distinct") or 0) > 1 for c in used]
            ),
            "omitted": [c.name for c in omitted],
            "threshold": correlations.CORRELATION_THRESHOLD,
            "pairs": pairs,
        }

    def document(
        self,
        enc: Encoding,
        src: Source,
        rows: int,
        duplicates: int,
        examples: list[dict[str, Any]],
        rejects: list[Reject],
        corr: dict[str, Any],
        head: list[list[str | None]],
        random_rows: list[dict[str, Any]],
    ) -> dict[str, Any]:
        names = {c.raw_ref: c.name for c in src.columns}
        rejected_count, rejected = listed_rejects(
            src.path, rejects, rows=rows, limit=self.max_rejects, names=names
        )
        if rejected_count >= REJECTS_STORE_LIMIT:
            self.approximate.add("rejectedCount")
        markers = marker_list(self.markers)
        columns = []
        for c in src.columns:
            entry = document.column_doc(c, rows, markers)
            if c.stats.get("correlated"):
                entry["warnings"].append("correlated")
            columns.append(entry)
        return document.assemble(
            encoding=enc.name,
            lossyDecode=self.lossy,
            delimiter=src.dialect.delimiter,
            quote=src.dialect.quote,
            hasHeader=src.dialect.header,
            rowCount=rows,
            columnCount=len(columns),
            nullMarkers=self.markers.as_document(),
            duplicateRows=duplicates,
            duplicateExamples=examples,
            rejectedCount=rejected_count,
            rejectedRows=rejected,
            columns=columns,
            missing=document.missing_overview(src.columns, rows, MISSING_RANGES),
            correlations=corr,
            sampleRows=head,
            randomRows=random_rows,
            approximate=self.approximate,
        )

    def transcode(self, enc: Encoding) -> str:
        self.phase("transcoding")
        dst = os.path.join(self.workdir, "utf8.csv")
        self.lossy = transcode_file(self.original, dst, enc) > 0
        return dst


def _all_distinct(c: Column) -> bool:
    s = c.stats
    return bool(s["distinct"] == s["nonnull"] - s["empty"])


def profile_csv(
    path: str | os.PathLike[str],
    *,
    memory_limit: str = "512MB",
    threads: int = 2,
    top_values: int = 10,
    histogram_bins: int = 20,
    sample_rows: int = 5,
    random_rows: int = 5,
    max_rejects: int = 100,
    null_markers: NullMarkers | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Profile the CSV file at ``path`` and return the profile document.

    ``memory_limit`` and ``threads`` bound DuckDB (it spills to a private temporary
    directory beyond the limit). ``top_values`` and ``histogram_bins`` size those
    parts of the document; ``sample_rows`` (the first rows) and ``random_rows``
    (rows drawn at random) are each at most 100; ``max_rejects`` caps the listed
    rejected rows (``rejectedCount`` is the total). ``null_markers`` changes the
    default null markers (:class:`~uploads.profiling.markers.NullMarkers`).
    ``progress`` is called with each phase name: sniffing, transcoding, reading,
    aggregating, distributions (histograms and correlations), quantiles,
    top_values, duplicates, sampling, done.

    Raises :class:`ProfileError` for files that cannot be profiled.
    """
    workdir = tempfile.mkdtemp(prefix="csvprofile-")
    con: duckdb.DuckDBPyConnection | None = None
    try:
        try:
            con = duckdb.connect(
                ":memory:",
                config={
                    "memory_limit": memory_limit,
                    "threads": max(1, int(threads)),
                    "temp_directory": os.path.join(workdir, "spill"),
                    "autoinstall_known_extensions": False,
                    "autoload_known_extensions": False,
                    "preserve_insertion_order": True,
                },
            )
        except duckdb.Error as exc:
            raise ValueError(f"invalid DuckDB settings: {exc}") from exc
        con.execute("SET enable_progress_bar = false")  # no bars on stderr
        con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ values read as UTC
        with contextlib.suppress(duckdb.Error):
            # DuckDB 2.0 rewrites count(DISTINCT) next to other aggregates into a
            # materialised CTE, which doubles the cost of the wide first pass.
            con.execute("SET disabled_optimizers = 'distinct_aggregate_rewrite'")
        profiler = Profiler(
            os.fspath(path),
            con,
            workdir,
            top_values=top_values,
            histogram_bins=histogram_bins,
            sample_rows=sample_rows,
            random_rows=random_rows,
            max_rejects=max_rejects,
            null_markers=null_markers or NullMarkers(),
            progress=progress,
        )
        doc = profiler.run()
        if progress is not None:
            progress("done")
        return doc
    except duckdb.Error as exc:
        raise ProfileError(
            "parse_error", f"DuckDB could not read the file: {exc}"
        ) from exc
    finally:
        if con is not None:
            with contextlib.suppress(duckdb.Error):
                con.close()
        shutil.rmtree(workdir, ignore_errors=True)
