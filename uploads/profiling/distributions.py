"""Pass 2 over the loaded table: histograms of numbers and dates, the counts
of the extreme values, the first values of all-distinct text columns; then
the exact quantiles, one column per query."""

# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable
from typing import Any

from uploads.profiling.limits import MISSING_RANGES
from uploads.profiling.source import Column
from uploads.profiling.sql import Database, Select

#: The quantiles of numeric columns: label and percent.
QUANTILES: tuple[tuple[str, int], ...] = (
    ("p5", 5),
    ("p25", 25),
    ("p50", 50),
    ("p75", 75),
    ("p95", 95),
)


def upper_bounds(edges: list[float]) -> list[float] | None:
    """``histogram(x, bounds)`` boundaries giving bins [e0, e1), ..., [en-1, en].

    DuckDB counts a value in the first boundary >= value, so each bin's boundary is
    the largest double below the next edge. None when edges are not increasing.
    """
    if any(b <= a for a, b in itertools.pairwise(edges)):
        return None
    return [math.nextafter(e, -math.inf) for e in edges[1:-1]]


def binned(counts_map: dict[Any, Any] | None, bounds: list[Any]) -> list[int]:
    """Counts per bin from a ``histogram(x, bounds)`` map (overflow = last bin)."""
    index = {b: i for i, b in enumerate(bounds)}
    counts = [0] * (len(bounds) + 1)
    for key, value in (counts_map or {}).items():
        counts[index.get(key, len(bounds))] += int(value)
    return counts


def _safe(fn: Callable[[int], str], arg: int) -> str | None:
    try:
        return fn(arg)
    except (OverflowError, ValueError):
        return None


class Distributions:
    def __init__(self, db: Database, *, bins: int, top_values: int) -> None:
        self.db = db
        self.bins = bins
        self.top_k = top_values

    def plan_numeric(self, sel: Select, c: Column) -> dict[str, Any]:
        """``bins`` equal-width bins from min to max, the last one closed."""
        s = c.stats
        vmin, vmax = float(s["min"]), float(s["max"])
        if vmax > vmin and self.bins > 1:
            width = (vmax - vmin) / self.bins
            edges = [vmin + i * width for i in range(self.bins)] + [vmax]
            bounds = upper_bounds(edges)
            if bounds:
                lit = ", ".join(repr(b) for b in bounds)
                h = sel.add(f"histogram({c.num_expr}, [{lit}]::DOUBLE[])")
                return {"edges": edges, "bounds": bounds, "map": h}
        return {"edges": [vmin, vmax], "fixed": [int(s["n"])]}

    def plan_dates(self, sel: Select, c: Column) -> dict[str, Any] | None:
        """Whole-day bins for dates (the last one ends at the latest date),
        equal spans for datetimes; the last bin is closed."""
        s = c.stats
        if s.get("tmin") is None:
            return None
        lo, hi = int(s["tmin"]), int(s["tmax"])
        if c.kind == "date":
            span = hi - lo + 1
            width = -(-span // self.bins)
            nb = -(-span // width)
            # the last bin is closed and ends at the latest date (it may be
            # narrower than the others), never after it
            ticks = [lo + i * width for i in range(nb)] + [hi]
            epoch = dt.date(1970, 1, 1)
            edges = [
                _safe(lambda t: (epoch + dt.timedelta(days=t)).isoformat(), t)
                for t in ticks
            ]
        else:
            nb = self.bins if hi - lo >= self.bins else max(1, hi - lo)
            ticks = [lo + round(i * (hi - lo) / nb) for i in range(nb)] + [hi]
            epoch_dt = dt.datetime(1970, 1, 1)
            edges = [
                _safe(
                    lambda t: (epoch_dt + dt.timedelta(microseconds=t)).isoformat(), t
                )
                for t in ticks
            ]
            if c.timezone:
                edges = [e + "Z" if e else e for e in edges]
        if nb == 1:
            return {
                "edges": edges,
                "fixed": [int(s["nonnull"]) - int(s.get("empty") or 0)],
            }
        bounds = [t - 1 for t in ticks[1:-1]]
        lit = ", ".join(str(b) for b in bounds)
        h = sel.add(f"histogram({c.time_expr}, [{lit}]::BIGINT[])")
        return {"edges": edges, "bounds": bounds, "map": h}

    def run(
        self,
        cols: list[Column],
        rows: int,
        extremes: dict[int, dict[str, list[Any]]],
        unique_texts: list[Column],
    ) -> None:
        """Histograms, extreme-value counts and first values in one scan, and
        the missing cells by row range."""
        sel = Select()
        self.missing_ranges([c for c in cols if has_missing(c, rows)], rows)
        plans: dict[int, dict[str, Any] | None] = {}
        for c in cols:
            if c.kind in ("integer", "float") and c.stats.get("n"):
                plans[c.index] = self.plan_numeric(sel, c)
            elif c.kind in ("date", "datetime"):
                plans[c.index] = self.plan_dates(sel, c)
        by_index = {c.index: c for c in cols}
        ext_h = {}
        for index, ends in extremes.items():
            if not ends["smallest"] or not ends["largest"]:
                continue
            c = by_index[index]
            v = c.value_expr if c.kind == "integer" else c.num_expr
            lo, hi = ends["smallest"][-1], ends["largest"][-1]
            ext_h[index] = sel.add(
                f"histogram({v}) FILTER (WHERE {v} <= {lo!r} OR {v} >= {hi!r})"
            )
        first_h = {}
        if self.top_k:
            for c in unique_texts:  # every count is 1: the first values in order
                first_h[c.index] = sel.add(f"min(NULLIF({c.ref}, ''), {self.top_k})")
        row: tuple[Any, ...] = self.db.one(sel, "data") if sel.exprs else ()
        for c in cols:
            plan = plans.get(c.index)
            if plan is not None:
                counts = plan.get("fixed") or binned(row[plan["map"]], plan["bounds"])
                c.stats["histogram"] = {"edges": plan["edges"], "counts": counts}
            if c.index in first_h:
                c.stats["top"] = [
                    {"value": v, "count": 1} for v in row[first_h[c.index]]
                ]
            if c.index in ext_h:
                counts_map = {
                    _key(k): int(n) for k, n in (row[ext_h[c.index]] or {}).items()
                }
                ends = extremes[c.index]
                c.stats["extremes"] = {
                    end: [
                        {"value": value, "count": counts_map.get(_key(value), 0)}
                        for value in ends[end]
                    ]
                    for end in ("smallest", "largest")
                }

    def missing_ranges(self, cols: list[Column], rows: int) -> None:
        """Missing cells of ``cols`` per range of rows (a GROUP BY of 20 keys)."""
        if not cols:
            return
        counts = ", ".join(f"count_if({c.missing_expr})" for c in cols)
        bucket = f"(rowid * {MISSING_RANGES}) // {rows}"
        sql = f"SELECT {bucket} AS k, {counts} FROM data GROUP BY k"
        for c in cols:
            c.stats["missing_ranges"] = {}
        for k, *found in self.db.fetch(sql):
            for c, n in zip(cols, found, strict=True):
                if n:
                    c.stats["missing_ranges"][int(k)] = int(n)

    def quantiles(self, cols: list[Column]) -> None:
        """Exact quantiles (linear interpolation between order statistics, as
        numpy's "linear" and Python's ``statistics.quantiles(method=
        "inclusive")``), one column per query so that one column at most is
        held in memory."""
        fractions = ", ".join(str(pct / 100) for _label, pct in QUANTILES)
        for c in cols:
            if not c.stats.get("n"):
                continue
            sql = f"SELECT quantile_cont({c.num_expr}, [{fractions}]) FROM data"
            values = self.db.fetch(sql)[0][0]
            c.stats["quantiles"] = {
                label: float(v)
                for (label, _pct), v in zip(QUANTILES, values, strict=True)
            }


def has_missing(c: Column, rows: int) -> bool:
    s = c.stats
    return int(s.get("nonnull") or 0) - int(s.get("empty") or 0) < rows or bool(
        s.get("numeric_markers") and c.kind in ("integer", "float")
    )


def _key(value: Any) -> Any:
    return float(value) if isinstance(value, float) else value
