"""The aggregate passes over the loaded table: a sample to pick re-typing
candidates, the wide first aggregate (counts, markers, distincts, moments,
casts, Pearson pairs, row hashes, missing cells by row range), re-typing text
columns, top values, duplicate rows and sample rows."""

# ruff: noqa: S608

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from uploads.profiling.limits import (
    DUPLICATE_EXAMPLES,
    EXTREME_VALUES,
    RANDOM_SAMPLE_SEED,
    SNIFF_SAMPLE_ROWS,
)
from uploads.profiling.source import EMPTY_CODE, FAILED_CODE, Column, Source
from uploads.profiling.sql import CANDIDATES, Database, Select, cast_test

NUMERIC = ("integer", "float")
#: Counts that DuckDB returns as NULL over no rows.
_COUNTS = frozenset(
    {
        "nonnull",
        "empty",
        "distinct",
        "numeric",
        "n",
        "true",
        "false",
        "failed",
        "marked",
    }
)
#: Figures of a text column that stay when it is re-typed.
_KEPT = ("nonnull", "empty", "marked", "markers", "numeric_markers")
#: A float within noise of a decimal of this many digits is shown as it.
_SHORT_DIGITS = 12
#: First characters (code points) of the texts DuckDB can read as a DOUBLE.
_NUMBER_STARTS = ", ".join(str(ord(ch)) for ch in "0123456789+-.iInN \t\n\r\v\f")
#: Values listed per end of a numeric column to find its extreme values.
_EXTREME_PROBE = 16


def counted(stats: dict[str, Any]) -> dict[str, Any]:
    """Counts as ints (DuckDB's count_if over no rows is NULL)."""
    return {
        k: int(v or 0) if k in _COUNTS or k.startswith("cast_") else v
        for k, v in stats.items()
    }


class Passes:
    """The aggregate passes of one profile, sharing the Pearson pairs."""

    def __init__(
        self,
        db: Database,
        *,
        top_values: int,
        phase: Callable[[str], None],
        numeric_markers: str,
        correlation_columns: int,
    ) -> None:
        self.db = db
        self.top_k = top_values
        self.phase = phase
        #: SQL list of the numeric-only markers ("" when there are none).
        self.numeric_markers = numeric_markers
        self.max_corr = correlation_columns
        self.corr: dict[tuple[int, int], float | None] = {}

    def guess_candidates(self, src: Source) -> None:
        """Types that every sampled value of a text column casts to.

        Only these casts are counted over every row in the first pass, so
        obviously textual columns cost no cast attempts.
        """
        texts = [c for c in src.columns if c.is_text]
        if not texts:
            return
        sel = Select()
        handles = []
        for c in texts:
            x = self.castable(c)
            nonblank = sel.add(f"count(NULLIF({x}, ''))")
            per = [
                (kind, duck, sel.add(f"count_if({cast_test(x, kind, duck)})"))
                for kind, duck in CANDIDATES
            ]
            handles.append((c, nonblank, per))
        row = self.db.one(sel, f"(SELECT * FROM data LIMIT {SNIFF_SAMPLE_ROWS})")
        for c, nonblank, per in handles:
            n = row[nonblank]
            c.cast_candidates = [(k, d) for k, d, h in per if n and row[h] == n]

    def castable(self, c: Column) -> str:
        """A text column's values without the numeric-only markers."""
        if not self.numeric_markers:
            return c.ref
        marker = f"{c.ref} IN ({self.numeric_markers})"
        return f"(CASE WHEN {marker} THEN NULL ELSE {c.ref} END)"

    # -- pass 1 ------------------------------------------------------------------
    def stats_exprs(
        self,
        sel: Select,
        c: Column,
        rows: int,
        *,
        raw_text: bool,
        finite: dict[int, str] | None = None,
    ) -> dict[str, int]:
        """Per-column aggregates; ``raw_text`` = figures of a text column;
        ``finite``: columns of the source holding a float column's finite
        values (computed once per row instead of once per aggregate)."""
        h: dict[str, int] = {}
        x = c.ref
        h["nonnull"] = sel.add(f"count({x})")
        # how many markers; which ones only where there are some (marker_counts)
        h["marked"] = sel.add(f"count_if({c.code_ref} < {EMPTY_CODE})")
        if c.is_text:
            h["empty"] = sel.add(f"count_if({x} = '')")
        else:
            h["empty"] = sel.add(f"count_if({c.code_ref} = {EMPTY_CODE})")
            h["failed"] = sel.add(f"count_if({c.code_ref} = {FAILED_CODE})")
        if raw_text:
            nb = f"NULLIF({x}, '')"
            length = f"length({nb})"
            h["distinct"] = sel.add(f"count(DISTINCT {nb})")
            h["len_min"] = sel.add(f"min({length})")
            h["len_max"] = sel.add(f"max({length})")
            h["len_mean"] = sel.add(f"avg({length})")
            # TRY_CAST of every text is slow; only a text starting with a
            # digit, sign, point, blank, i (inf) or n (nan) can be a number
            maybe = f"ascii({x}) IN ({_NUMBER_STARTS})"
            h["numeric"] = sel.add(
                f"count(CASE WHEN {maybe} THEN TRY_CAST({nb} AS DOUBLE) END)"
            )
            if self.numeric_markers:
                h["numeric_markers"] = sel.add(
                    f"histogram({x}) FILTER (WHERE {x} IN ({self.numeric_markers}))"
                )
            castable = self.castable(c)
            for kind, duck in c.cast_candidates:
                test = cast_test(castable, kind, duck)
                h["cast_" + kind] = sel.add(f"count_if({test})")
            return h
        v = c.value_expr
        h["distinct"] = sel.add(f"count(DISTINCT {v})")
        if c.kind in NUMERIC:
            n = (finite or {}).get(c.index) or c.num_expr
            h["n"] = sel.add(f"count({n})")
            h["min"] = sel.add(f"min({v})" if c.kind == "integer" else f"min({n})")
            h["max"] = sel.add(f"max({v})" if c.kind == "integer" else f"max({n})")
            h["mean"] = sel.add(f"avg({n})")
            h["std"] = sel.add(f"stddev_samp({n})")
            h["skew"] = sel.add(f"skewness({n})")
            h["low"] = sel.add(
                f"min({v if c.kind == 'integer' else n}, {_EXTREME_PROBE})"
            )
            h["high"] = sel.add(
                f"max({v if c.kind == 'integer' else n}, {_EXTREME_PROBE})"
            )
        elif c.kind == "boolean":
            h["true"] = sel.add(f"count_if({v})")
            h["false"] = sel.add(f"count_if(NOT {v})")
        elif c.kind in ("date", "datetime"):
            t = c.time_expr
            h["min"] = sel.add(f"CAST(min({v}) AS VARCHAR)")
            h["max"] = sel.add(f"CAST(max({v}) AS VARCHAR)")
            h["tmin"] = sel.add(f"min({t})")
            h["tmax"] = sel.add(f"max({t})")
        return h

    def pass_one(self, src: Source, rows: int) -> None:
        """Every column's figures and the Pearson pairs."""
        self.corr.clear()
        sel = Select()
        floats = [c for c in src.columns if c.kind == "float" and not c.is_text]
        finite = {c.index: f"f{c.index}" for c in floats}
        source = "data"
        if floats:
            extra = ", ".join(f"{c.num_expr} AS f{c.index}" for c in floats)
            source = f"(SELECT *, {extra} FROM data)"
        handles = [
            (
                c,
                self.stats_exprs(
                    sel, c, rows, raw_text=c.is_text and not c.retyped, finite=finite
                ),
            )
            for c in src.columns
        ]
        numeric = [c for c in src.columns if c.kind in NUMERIC]
        corr_h = self.corr_exprs(sel, numeric[: self.max_corr], finite=finite)
        row = self.db.one(sel, source)
        for c, h in handles:
            c.stats = counted({k: row[i] for k, i in h.items()})
        self.corr.update({pair: row[h] for pair, h in corr_h.items()})
        self.marker_counts(src.columns)

    def marker_counts(self, cols: list[Column]) -> None:
        """Cells per marker code, of the columns holding markers."""
        marked = [c for c in cols if c.stats.get("marked")]
        if not marked:
            return
        sel = Select()
        handles = {
            c.index: sel.add(
                f"histogram({c.code_ref}) FILTER (WHERE {c.code_ref} < {EMPTY_CODE})"
            )
            for c in marked
        }
        row = self.db.one(sel, "data")
        for c in marked:
            c.stats["markers"] = row[handles[c.index]]

    def corr_exprs(
        self,
        sel: Select,
        cols: list[Column],
        only: set[int] | None = None,
        finite: dict[int, str] | None = None,
    ) -> dict[tuple[int, int], int]:
        """corr() of column pairs not computed yet (with a column in ``only``)."""
        num = {c.index: (finite or {}).get(c.index) or c.num_expr for c in cols}
        out = {}
        for i, a in enumerate(cols):
            for b in cols[i + 1 :]:
                pair = (a.index, b.index)
                if pair in self.corr:
                    continue
                if only is not None and not ({a.index, b.index} & only):
                    continue
                out[pair] = sel.add(f"corr({num[a.index]}, {num[b.index]})")
        return out

    def retype(self, src: Source, rows: int) -> None:
        """Give text columns whose values all cast to one type that type."""
        retyped = []
        for c in src.columns:
            if not c.is_text or c.retyped:
                continue
            s = c.stats
            markers = sum((s.get("numeric_markers") or {}).values())
            values = s["nonnull"] - s["empty"]
            for kind, _duck in c.cast_candidates:
                if values - markers and s.get("cast_" + kind) == values - markers:
                    c.kind, c.retyped = kind, True
                    if kind in NUMERIC and markers:
                        c.numeric_nulls = self.numeric_markers
                    retyped.append(c)
                    break
        if not retyped:
            return
        self.phase("aggregating")
        sel = Select()
        handles = [(c, self.stats_exprs(sel, c, rows, raw_text=False)) for c in retyped]
        numeric = [c for c in src.columns if c.kind in NUMERIC]
        corr_h = self.corr_exprs(
            sel, numeric[: self.max_corr], {c.index for c in retyped}
        )
        row = self.db.one(sel, "data")
        for c, h in handles:
            keep: dict[str, Any] = {k: c.stats[k] for k in _KEPT if k in c.stats}
            c.stats = counted({**{k: row[i] for k, i in h.items()}, **keep})
        self.corr.update({pair: row[h] for pair, h in corr_h.items()})

    # -- extreme values ------------------------------------------------------------
    def extremes(self, cols: list[Column]) -> dict[int, dict[str, list[Any]]]:
        """The smallest and largest distinct values of numeric columns.

        Pass 1 listed the 16 smallest and largest values of each column: when
        each end holds 5 distinct values, those are the extremes and their
        counts come with the histograms (``Distributions.run``). A column
        whose ends are more tied than that (integers repeated thousands of
        times) is grouped by value once, which gives values and counts.
        """
        found: dict[int, dict[str, list[Any]]] = {}
        for c in cols:
            ends = {
                end: _distinct_end(c.stats.get(key) or [], reverse=end == "largest")
                for end, key in (("smallest", "low"), ("largest", "high"))
            }
            tied = any(
                len(ends[end]) < EXTREME_VALUES
                and len(c.stats.get(key) or []) == _EXTREME_PROBE
                for end, key in (("smallest", "low"), ("largest", "high"))
            )
            if tied:
                c.stats["extremes"] = self.grouped_extremes(c)
            else:
                found[c.index] = ends
        return found

    def grouped_extremes(self, c: Column) -> dict[str, list[dict[str, Any]]]:
        v = c.value_expr if c.kind == "integer" else c.num_expr
        k = EXTREME_VALUES
        sql = (
            f"WITH g AS MATERIALIZED (SELECT {v} AS v, count(*) AS n FROM data "
            f"WHERE {v} IS NOT NULL GROUP BY 1) "
            f"(SELECT 0, v, n FROM g ORDER BY v LIMIT {k}) UNION ALL "
            f"(SELECT 1, v, n FROM g ORDER BY v DESC LIMIT {k})"
        )
        out: dict[str, list[dict[str, Any]]] = {"smallest": [], "largest": []}
        for end, value, n in self.db.fetch(sql):
            key = "largest" if end else "smallest"
            out[key].append({"value": value, "count": int(n)})
        out["smallest"].sort(key=lambda e: e["value"])
        out["largest"].sort(key=lambda e: e["value"], reverse=True)
        return out

    # -- top values ----------------------------------------------------------------
    def top_values_grouped(self, cols: list[Column]) -> None:
        refs = ", ".join(c.ref for c in cols)
        sets = ", ".join(f"({c.ref})" for c in cols)
        if len(cols) > 1:
            value, gid = f"coalesce({refs})", f"grouping_id({refs})"
            width = len(cols)
            full = (1 << width) - 1
            by_gid = {full ^ (1 << (width - 1 - i)): c for i, c in enumerate(cols)}
        else:
            value, gid, by_gid = cols[0].ref, "0", {0: cols[0]}
        sql = (
            f"SELECT gid, val, n FROM (SELECT {gid} AS gid, {value} AS val, "
            f"count(*) AS n FROM data GROUP BY GROUPING SETS ({sets})) "
            "WHERE val IS NOT NULL AND val <> '' "
            "QUALIFY row_number() OVER (PARTITION BY gid ORDER BY n DESC, val) <= "
            f"{self.top_k} ORDER BY gid, n DESC, val"
        )
        for c in cols:
            c.stats["top"] = []
        for gid_value, val, n in self.db.fetch(sql):
            by_gid[int(gid_value)].stats["top"].append({"value": val, "count": int(n)})

    # -- duplicates and samples -------------------------------------------------------
    def duplicates(self, src: Source, rows: int) -> tuple[int, list[dict[str, Any]]]:
        """Rows equal to an earlier row (checked exactly on the rows whose
        hashes collide), and the first duplicated rows with their counts.

        A column whose values are all present and all distinct proves that no
        two rows are equal: then nothing is scanned.
        """
        if any(int(c.stats.get("distinct") or 0) == rows for c in src.columns):
            return 0, []
        refs = ", ".join(c.ref for c in src.columns)
        sql = (
            f"WITH h AS (SELECT hash({refs}) AS h FROM data GROUP BY 1 "
            "HAVING count(*) > 1), "
            f"g AS (SELECT {refs}, count(*) AS n, min(rowid) AS first FROM data "
            f"WHERE hash({refs}) IN (SELECT h FROM h) GROUP BY ALL HAVING n > 1) "
            f"SELECT (SELECT coalesce(sum(n - 1), 0) FROM g), * FROM g "
            f"ORDER BY first LIMIT {DUPLICATE_EXAMPLES}"
        )
        found = self.db.fetch(sql)
        if not found:
            return 0, []
        width = len(src.columns)
        examples = [
            {
                "count": int(r[1 + width]),
                "firstRow": int(r[2 + width]) + 1,
                "cells": [
                    cell_text(c, v)
                    for c, v in zip(src.columns, r[1 : 1 + width], strict=True)
                ],
            }
            for r in found
        ]
        return int(found[0][0]), examples

    def samples(
        self, src: Source, rows: int, head: int, random_rows: int
    ) -> tuple[list[list[str | None]], list[dict[str, Any]]]:
        """The first ``head`` rows, and ``random_rows`` others drawn at random
        (a fixed seed: the same file gives the same rows), in file order."""
        refs = ", ".join(c.value_expr for c in src.columns)
        out_head: list[list[str | None]] = []
        if head:
            for r in self.db.fetch(
                f"SELECT {refs} FROM data ORDER BY rowid LIMIT {head}"
            ):
                out_head.append(cells(src.columns, r))
        out_random: list[dict[str, Any]] = []
        if random_rows and rows > head:
            sql = (
                f"SELECT rowid, {refs} FROM (SELECT rowid, * FROM data "
                f"WHERE rowid >= {head}) USING SAMPLE reservoir({random_rows} ROWS) "
                f"REPEATABLE ({RANDOM_SAMPLE_SEED}) ORDER BY rowid"
            )
            for r in self.db.fetch(sql):
                out_random.append(
                    {
                        "row": int(r[0]) + 1,
                        "cells": [
                            cell_text(c, v)
                            for c, v in zip(src.columns, r[1:], strict=True)
                        ],
                    }
                )
        return out_head, out_random


def _distinct_end(values: list[Any], *, reverse: bool) -> list[Any]:
    seen = sorted({v for v in values if v is not None and _finite(v)}, reverse=reverse)
    return seen[:EXTREME_VALUES]


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def float_text(value: float) -> str:
    """The shortest text of a double, without binary noise: a value within
    noise of a decimal of at most 12 significant digits is that decimal
    (``6.0760000000000005`` is ``6.076``, ``0.30000000000000004`` is ``0.3``);
    others keep every digit (``6.907755278982137``)."""
    if not math.isfinite(value):
        return str(value)
    short = f"{value:.15g}"
    digits = short.split("e")[0].replace("-", "").replace(".", "").strip("0")
    text = short if len(digits) <= _SHORT_DIGITS else repr(value)
    if "e" not in text and "." not in text:
        text += ".0"
    return text


def cells(cols: list[Column], values: Any) -> list[str | None]:
    return [cell_text(c, v) for c, v in zip(cols, values, strict=True)]


def cell_text(c: Column, value: Any) -> str | None:
    """A cell for people: numbers without float noise (15 significant
    digits, as spreadsheets show them), ISO dates, true/false."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if c.kind == "datetime" and not isinstance(value, str):
        text = value.isoformat()
        if c.timezone:
            text = text.replace("+00:00", "Z")
        return text
    if not isinstance(value, str):
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    return value
