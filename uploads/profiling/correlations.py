"""Pearson and Spearman matrices of the numeric columns, the pairs whose
correlation reaches the threshold, and a density grid of each such pair."""

# ruff: noqa: S608

from __future__ import annotations

import math
from typing import Any

from uploads.profiling.limits import (
    CORRELATION_THRESHOLD,
    MAX_FLAGGED_PAIRS,
    PAIR_GRID_BINS,
)
from uploads.profiling.source import Column
from uploads.profiling.sql import Database, Select

Pair = tuple[int, int]


def _avg_rank(x: str, window: str, count: str) -> str:
    """Average rank (1-based; ties share the mean of their ranks) of ``x``
    over ``window`` (ORDER BY x, NULLs last): the mean of the first rank and
    the number of rows up to x's last peer (``cume_dist`` times ``count``,
    the rows of the window, rounded: exact below 2**53 rows)."""
    return (
        f"CASE WHEN {x} IS NOT NULL THEN (rank() OVER {window} "
        f"+ round(cume_dist() OVER {window} * {count})) / 2.0 END"
    )


def spearman(
    db: Database, cols: list[Column], rows: int, source: str = "data"
) -> dict[Pair, float | None]:
    """Spearman's rho of every pair: Pearson of average ranks, over the rows
    where both have a value, ranked among those rows (as pandas and scipy
    with ``nan_policy="omit"`` do). ``source``: the table to rank (the data,
    or a sample of it)."""
    out: dict[Pair, float | None] = {}
    if len(cols) < 2:
        return out
    full = {c.index for c in cols if int(c.stats.get("n") or 0) == rows}
    pairs = [(a, b) for i, a in enumerate(cols) for b in cols[i + 1 :]]
    # pairs whose columns are missing on exactly the same rows share the
    # columns' own ranks; the others are ranked again on their common rows
    sel = Select()
    checks = {
        (a.index, b.index): sel.add(
            f"count_if(({a.num_expr} IS NULL) <> ({b.num_expr} IS NULL))"
        )
        for a, b in pairs
        if not (a.index in full and b.index in full)
    }
    row = db.one(sel, source) if sel.exprs else ()
    shared = [
        (a, b)
        for a, b in pairs
        if (a.index, b.index) not in checks or row[checks[(a.index, b.index)]] == 0
    ]
    own = [(a, b) for a, b in pairs if (a, b) not in shared]
    if shared:
        in_shared = {c.index: c for pair in shared for c in pair}
        ranked = [in_shared[i] for i in sorted(in_shared)]
        total = "count(*) OVER ()"
        ranks = ", ".join(
            f"{_avg_rank(c.num_expr, f'w{c.index}', total)} AS k{c.index}"
            for c in ranked
        )
        windows = ", ".join(
            f"w{c.index} AS (ORDER BY {c.num_expr} NULLS LAST)" for c in ranked
        )
        sel = Select()
        handles = {
            (a.index, b.index): sel.add(f"corr(k{a.index}, k{b.index})")
            for a, b in shared
        }
        ranked_rows = f"(SELECT {ranks} FROM {source} WINDOW {windows})"
        row = db.one(sel, ranked_rows)
        out.update({pair: _finite(row[h]) for pair, h in handles.items()})
    for a, b in own:
        x, y = a.num_expr, b.num_expr
        total = "count(*) OVER ()"
        sql = (
            f"SELECT corr(ka, kb) FROM (SELECT {_avg_rank('x', 'wx', total)} AS ka, "
            f"{_avg_rank('y', 'wy', total)} AS kb "
            f"FROM (SELECT {x} AS x, {y} AS y FROM {source} "
            f"WHERE {x} IS NOT NULL AND {y} IS NOT NULL) "
            "WINDOW wx AS (ORDER BY x), wy AS (ORDER BY y))"
        )
        out[(a.index, b.index)] = _finite(db.fetch(sql)[0][0])
    return out


def matrix(
    cols: list[Column], values: dict[Pair, float | None], diagonal: list[bool]
) -> list[list[float | None]]:
    out = []
    for i, a in enumerate(cols):
        line: list[float | None] = []
        for b in cols:
            if a is b:
                line.append(1.0 if diagonal[i] else None)
            else:
                pair = (min(a.index, b.index), max(a.index, b.index))
                line.append(_finite(values.get(pair)))
        out.append(line)
    return out


def flagged_pairs(
    db: Database,
    cols: list[Column],
    pearson: dict[Pair, float | None],
    rho: dict[Pair, float | None],
) -> list[dict[str, Any]]:
    """Pairs with |Pearson| or |Spearman| at or above the threshold, the
    strongest first, each with a density grid (counts of rows per cell of a
    ``PAIR_GRID_BINS`` x ``PAIR_GRID_BINS`` grid from min to max)."""
    by_index = {c.index: c for c in cols}
    strong = []
    for pair in {*pearson, *rho}:
        r, s = _finite(pearson.get(pair)), _finite(rho.get(pair))
        top = max(abs(r or 0.0), abs(s or 0.0))
        if top >= CORRELATION_THRESHOLD:
            strong.append((-top, pair, r, s))
    strong.sort()
    out = []
    for _neg, (ia, ib), r, s in strong[:MAX_FLAGGED_PAIRS]:
        a, b = by_index[ia], by_index[ib]
        out.append(
            {
                "x": a.name,
                "y": b.name,
                "pearson": r,
                "spearman": s,
                "grid": _grid(db, a, b),
            }
        )
    return out


def _grid(db: Database, a: Column, b: Column) -> dict[str, Any]:
    bins = PAIR_GRID_BINS
    axes = []
    for c in (a, b):
        lo, hi = float(c.stats["min"]), float(c.stats["max"])
        width = (hi - lo) / bins if hi > lo else 1.0
        n = bins if hi > lo else 1
        axes.append((lo, hi, width, n))
    (xlo, xhi, xw, xn), (ylo, yhi, yw, yn) = axes
    x, y = a.num_expr, b.num_expr
    i = f"least(CAST(floor(({x} - {xlo!r}) / {xw!r}) AS BIGINT), {xn - 1})"
    j = f"least(CAST(floor(({y} - {ylo!r}) / {yw!r}) AS BIGINT), {yn - 1})"
    sql = (
        f"SELECT {i} AS i, {j} AS j, "
        f"count(*) FROM data WHERE {x} IS NOT NULL AND {y} IS NOT NULL GROUP BY ALL"
    )
    counts = [[0] * yn for _ in range(xn)]
    for i, j, n in db.fetch(sql):
        counts[int(i)][int(j)] = int(n)
    return {
        "xEdges": [xlo + k * xw for k in range(xn)] + [xhi],
        "yEdges": [ylo + k * yw for k in range(yn)] + [yhi],
        "counts": counts,
    }


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
