"""The one read of the CSV: every row into a DuckDB table, typed, with a
marker code per cell, and the rows the parser rejected.

The table (``data``) lives in the profile's private DuckDB database, which
keeps it in memory up to ``memory_limit`` and spills the rest to the work
directory. Every later pass scans it, never the CSV: a pass reads only the
columns it needs, already parsed and typed. Column ``c<i>`` holds the value
(NULL when missing), ``m<i>`` a code saying why a typed value is missing (see
:mod:`uploads.profiling.source`).
"""

# ruff: noqa: S608

from __future__ import annotations

from uploads.profiling.markers import NullMarkers
from uploads.profiling.rejects import Reject
from uploads.profiling.source import EMPTY_CODE, FAILED_CODE, Source, typed_value
from uploads.profiling.sql import Database, lit


def marker_list(markers: NullMarkers) -> list[str]:
    """Markers by code: code ``k`` is ``marker_list(...)[k - 1]``."""
    return [*markers.everywhere, *markers.numeric_only]


def load(db: Database, src: Source, markers: NullMarkers) -> tuple[int, list[Reject]]:
    """Read the file into ``data``; return its row count and the rejects."""
    codes = {m: k for k, m in enumerate(marker_list(markers), start=1)}
    inner: list[str] = []
    outer: list[str] = []
    for c in src.columns:
        raw = c.raw_ref
        marks = list(markers.everywhere)
        if c.kind in ("integer", "float") and not c.is_text:
            marks += markers.numeric_only
        is_marker = f"{raw} IN ({', '.join(lit(m) for m in marks)})" if marks else ""
        whens = " ".join(f"WHEN {lit(m)} THEN {codes[m]}" for m in marks)
        if c.is_text:
            value = f"CASE WHEN {is_marker} THEN NULL ELSE {raw} END" if marks else raw
            code = f"CASE {raw} {whens} END" if marks else "NULL"
        else:
            blank = f"{is_marker} OR {raw} = ''" if marks else f"{raw} = ''"
            cast = typed_value(c, raw, src.dialect)
            value = f"CASE WHEN {blank} THEN NULL ELSE {cast} END"
            code = (
                f"CASE WHEN {raw} IS NULL THEN NULL ELSE CASE {raw} {whens} "
                f"WHEN '' THEN {EMPTY_CODE} ELSE CASE WHEN {c.ref} IS NULL "
                f"THEN {FAILED_CODE} END END END"
            )
        inner += [raw, f"{value} AS {c.ref}"]
        outer += [c.ref, f"CAST({code} AS UTINYINT) AS {c.code_ref}"]
    db.fetch("DROP TABLE IF EXISTS profile_rejects")
    db.fetch("DROP TABLE IF EXISTS profile_reject_scans")
    sql = (
        f"CREATE OR REPLACE TABLE data AS SELECT {', '.join(outer)} "
        f"FROM (SELECT {', '.join(inner)} FROM {src.read()})"
    )
    rows = int(db.fetch(sql)[0][0])
    rejects = db.fetch(
        "SELECT line, error_type, string_agg(DISTINCT column_name, ', '), "
        "first(error_message ORDER BY column_idx), min(line_byte_position) "
        "FROM profile_rejects "
        "GROUP BY line, error_type ORDER BY line, error_type"
    )
    return rows, rejects
