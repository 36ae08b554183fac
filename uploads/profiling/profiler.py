"""Orchestration: which pass runs when, on which reading of the file.

:func:`profile_csv` opens a private DuckDB connection and work directory;
:class:`Profiler` sniffs, transcodes when needed, runs the passes (again when
a pass shows the sniffer was wrong) and hands the figures to
:mod:`uploads.profiling.document`.
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

from uploads.profiling import document
from uploads.profiling.encoding import (
    Encoding,
    check_late_bytes,
    sniff_bytes,
    transcode_file,
)
from uploads.profiling.errors import ProfileError
from uploads.profiling.limits import MAX_CORRELATION_COLUMNS, REJECTS_STORE_LIMIT
from uploads.profiling.passes import Passes
from uploads.profiling.quantiles import QuantileFinder, Region, binned
from uploads.profiling.rejects import Reject, cast_columns, listed_rejects
from uploads.profiling.source import Column, Source, sniff_dialect
from uploads.profiling.sql import CANDIDATES, Database, Select


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
        max_rejects: int,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.original = path
        self.db = Database(con)
        self.workdir = workdir
        self.top_k = max(0, top_values)
        self.bins = max(1, histogram_bins)
        self.sample_n = max(0, sample_rows)
        self.max_rejects = max(0, max_rejects)
        self._progress = progress
        self.approximate: set[str] = set()
        self.lossy = False
        self.passes = Passes(
            self.db, top_values=self.top_k, bins=self.bins, phase=self.phase
        )
        self.quantiles = QuantileFinder(self.db, bins=self.bins, phase=self.phase)

    def phase(self, name: str) -> None:
        if self._progress is not None:
            self._progress(name)

    def run(self) -> dict[str, Any]:
        self.phase("sniffing")
        enc = sniff_bytes(self.original)
        path = self.transcode(enc) if enc.transcode else self.original
        src = self.prepare(path)
        rows, distinct_rows = 0, 0
        rejects: list[Reject] = []
        for _attempt in range(4):
            rows, distinct_rows, rejects = self.passes.pass_one(src)
            invalid = [int(r[4] or 0) for r in rejects if r[1] == "INVALID ENCODING"]
            if invalid and not enc.transcode:
                check_late_bytes(self.original, min(invalid))
                enc = Encoding("cp1252", "utf-8", fallback=True)
                src = self.prepare(self.transcode(enc))
                continue
            if not self.widen(src, rejects):
                break
        self.passes.retype(src)
        cols = src.columns

        self.phase("distributions")
        self.distributions(src, cols)

        texts = [c for c in cols if c.kind == "text" and c.stats.get("distinct")]
        grouped = [c for c in texts if not _all_distinct(c)] if self.top_k else []
        if grouped:
            self.phase("top_values")
            self.passes.top_values_grouped(src, grouped)

        duplicates = rows - distinct_rows
        if duplicates:
            self.phase("duplicates")
            duplicates = self.passes.exact_duplicates(src)

        self.phase("sampling")
        samples = self.sample(src)
        return self.document(enc, src, rows, duplicates, rejects, samples)

    def prepare(self, path: str) -> Source:
        """Sniff ``path`` and plan pass 1 over it."""
        src = sniff_dialect(self.db, path)
        self.passes.guess_candidates(src)
        self.passes.set_sampling(src)
        self.phase("aggregating")
        return src

    def widen(self, src: Source, rejects: list[Reject]) -> bool:
        """Read wider the columns pass 1 showed to be mistyped; True if any."""
        cast_cols = cast_columns(rejects)
        bad = [
            c for c in src.columns if c.name in cast_cols and c.read_type != "VARCHAR"
        ]
        for c in bad:  # a later value does not fit the sniffed type
            c.read_type, c.widened = "VARCHAR", ""
            c.cast_candidates = list(CANDIDATES)
        # integers beyond 2**53 are not exact as doubles: re-read as sniffed
        giant = [
            c
            for c in src.columns
            if c.widened == "integer"
            and c.kind == "integer"
            and c.stats.get("min") is not None
            and max(abs(c.stats["min"]), abs(c.stats["max"])) >= 2**53
        ]
        for c in giant:
            c.read_type, c.widened = c.sniffed, ""
        return bool(bad or giant)

    def distributions(self, src: Source, cols: list[Column]) -> None:
        """Pass 2: histograms, quantile brackets, the first values of
        all-distinct text columns; then the quantile refinement passes."""
        numeric = [
            c for c in cols if c.kind in ("integer", "float") and c.stats.get("n")
        ]
        unique_texts = [
            c
            for c in cols
            if c.kind == "text" and c.stats.get("distinct") and _all_distinct(c)
        ]
        sel = Select()
        hist_plans = {c.index: self.passes.plan_histogram(sel, c) for c in cols}
        num_plans = {c.index: self.quantiles.plan_numeric(sel, c) for c in numeric}
        min_h = {}
        if self.top_k:
            for c in unique_texts:  # every count is 1: the first values in order
                min_h[c.index] = sel.add(f"min(NULLIF({c.ref}, ''), {self.top_k})")
        row: tuple[Any, ...] = self.db.one(sel, src.read()) if sel.exprs else ()
        for c in cols:
            plan = hist_plans[c.index]
            if plan is not None:
                counts = plan.get("fixed") or binned(row[plan["map"]], plan["bounds"])
                c.stats["histogram"] = {"edges": plan["edges"], "counts": counts}
            if c.index in min_h:
                c.stats["top"] = [{"value": v, "count": 1} for v in row[min_h[c.index]]]
        regions: list[Region] = []
        for c in numeric:
            regions += self.quantiles.finish_numeric(c, num_plans[c.index], row)
        self.quantiles.refine(src, regions)

    def sample(self, src: Source) -> list[list[Any]]:
        """The first ``sample_rows`` kept rows, as read (all text)."""
        if not self.sample_n:
            return []
        read = src.read(all_varchar=True)
        sql = f"SELECT * FROM {read} LIMIT {self.sample_n}"
        return [list(r) for r in self.db.fetch(sql)]

    def document(
        self,
        enc: Encoding,
        src: Source,
        rows: int,
        duplicates: int,
        rejects: list[Reject],
        samples: list[list[Any]],
    ) -> dict[str, Any]:
        rejected_count, rejected = listed_rejects(
            src.path, rejects, rows=rows, limit=self.max_rejects
        )
        if rejected_count >= REJECTS_STORE_LIMIT:
            self.approximate.add("rejected_count")
        cols = src.columns
        corr_cols = [c for c in cols if c.kind in ("integer", "float")][
            :MAX_CORRELATION_COLUMNS
        ]
        return document.assemble(
            encoding=enc.name,
            lossy=self.lossy,
            source=src,
            rows=rows,
            duplicates=duplicates,
            rejected_count=rejected_count,
            rejected_rows=rejected,
            columns=[
                document.column_doc(c, rows, self.quantiles.quantiles(c)) for c in cols
            ],
            correlations=document.correlation_matrix(corr_cols, self.passes.corr),
            samples=samples,
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
    max_rejects: int = 100,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Profile the CSV file at ``path`` and return the profile document.

    ``memory_limit`` and ``threads`` bound DuckDB (it spills to a private temporary
    directory beyond the limit). ``top_values``, ``histogram_bins`` and
    ``sample_rows`` size those parts of the document; ``max_rejects`` caps the
    listed rejected rows (``rejected_count`` is the total). ``progress`` is called
    with each phase name: sniffing, transcoding, aggregating, distributions,
    quantiles, top_values, duplicates, sampling, done.

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
                },
            )
        except duckdb.Error as exc:
            raise ValueError(f"invalid DuckDB settings: {exc}") from exc
        con.execute("SET enable_progress_bar = false")  # no bars on stderr
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
            max_rejects=max_rejects,
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
