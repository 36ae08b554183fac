"""Exact quantiles without holding a column in memory, and the numeric
histograms counted in the same pass.

A uniform sample from pass 1 brackets each wanted order statistic; pass 2
counts the values below, at and inside each bracket and sorts only those
inside; a rank the brackets missed is found by splitting its range in extra
passes (docs/profiling.md, Exactness).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uploads.profiling.limits import QUANTILE_COLLECT_LIMIT
from uploads.profiling.source import Column, Source
from uploads.profiling.sql import Database, Select, num

QUANTILES: tuple[tuple[str, int], ...] = (
    ("p5", 5),
    ("p25", 25),
    ("p50", 50),
    ("p75", 75),
    ("p95", 95),
)

_SPLIT_BUCKETS = 1_024

_MAX_QUANTILE_ROUNDS = 12


def _fraction_rank(n: int, pct: int) -> tuple[int, int]:
    """0-based lower order statistic of the ``pct`` quantile and its weight (/100).

    Integer arithmetic, so the rank is exact: h = (n - 1) * pct / 100.
    """
    pos = (n - 1) * pct
    return pos // 100, pos % 100


def _quantile_ranks(n: int) -> list[int]:
    ranks: set[int] = set()
    for _, pct in QUANTILES:
        lo, frac = _fraction_rank(n, pct)
        ranks.add(lo)
        if frac:
            ranks.add(lo + 1)
    return sorted(ranks)


def _brackets(
    sample: list[float], vmin: float, vmax: float
) -> tuple[list[tuple[float, float]], float]:
    """Value intervals that almost surely hold the wanted quantiles.

    From a uniform sample of ``m`` values, the sample order statistics 5 standard
    deviations (+3) either side of each quantile. Returns disjoint sorted closed
    intervals and the share of the values they are expected to hold.
    """
    m = len(sample)
    if m == 0:
        return [(vmin, vmax)], 1.0
    spans = []
    for _, pct in QUANTILES:
        p = pct / 100
        pos = p * (m - 1)
        k = math.ceil(5 * math.sqrt(m * p * (1 - p)) + 3)
        lo_i, hi_i = math.floor(pos) - k, math.ceil(pos) + k
        spans.append((max(lo_i, 0), min(hi_i, m - 1)))
    spans.sort()
    merged: list[list[int]] = []
    for lo_i, hi_i in spans:
        if merged and lo_i <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi_i)
        else:
            merged.append([lo_i, hi_i])
    out: list[tuple[float, float]] = []
    share = 0.0
    for lo_i, hi_i in merged:
        lo = vmin if lo_i == 0 else sample[lo_i]
        hi = vmax if hi_i == m - 1 else sample[hi_i]
        share += (hi_i - lo_i + 1) / m
        if out and lo <= out[-1][1]:  # ties can make neighbours touch
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out, min(share, 1.0)


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


@dataclass
class Region:
    """Values of one numeric column in an open/closed range, with known ranks.

    ``pred`` selects the values; ``base`` values of the column are smaller than all
    of them; ``ranks`` are the global 0-based ranks to find inside; ``lo``/``hi``
    bound the values (used to split the range).
    """

    column: Column
    pred: str
    count: int
    base: int
    ranks: list[int]
    lo: float
    hi: float


class QuantileFinder:
    """Plans the numeric part of pass 2, then resolves every order statistic."""

    def __init__(
        self, db: Database, *, bins: int, phase: Callable[[str], None]
    ) -> None:
        self.db = db
        self.bins = bins
        self.phase = phase
        #: column index -> {0-based rank: value}
        self.order: dict[int, dict[int, float]] = {}

    def plan_numeric(self, sel: Select, c: Column) -> dict[str, Any]:
        """One boundary histogram and one sorted list per numeric column.

        The boundaries are the display histogram's plus, around each quantile
        bracket [lo, hi], the doubles just below lo and hi and lo and hi
        themselves: bins then count values below a bracket, equal to lo, strictly
        inside, equal to hi. The values strictly inside brackets are listed.
        """
        s = c.stats
        n = int(s["n"])
        vmin, vmax = float(s["min"]), float(s["max"])
        edges: list[float] = [vmin, vmax]
        display: list[float] = []
        if vmax > vmin and self.bins > 1:
            width = (vmax - vmin) / self.bins
            edges = [vmin + i * width for i in range(self.bins)] + [vmax]
            display = upper_bounds(edges) or []
            if not display:
                edges = [vmin, vmax]
        sample = sorted(float(x) for x in s.get("sample") or [])
        brackets, share = _brackets(sample, vmin, vmax)
        marks = set(display)
        interiors = []
        for lo, hi in brackets:
            marks.update((math.nextafter(lo, -math.inf), lo))
            if hi > lo:
                marks.update((math.nextafter(hi, -math.inf), hi))
                interiors.append((lo, hi))
        bounds = sorted(marks)
        v = c.num_expr
        lit = ", ".join(repr(b) for b in bounds)
        plan: dict[str, Any] = {
            "edges": edges,
            "display": display,
            "bounds": bounds,
            "interiors": interiors,
            "map": sel.add(f"histogram({v}, [{lit}]::DOUBLE[])"),
        }
        if interiors and n * share * 1.5 + 1000 <= QUANTILE_COLLECT_LIMIT:
            pred = " OR ".join(
                f"({v} > {num(lo)} AND {v} < {num(hi)})" for lo, hi in interiors
            )
            plan["list"] = sel.add(f"list_sort(list({v}) FILTER (WHERE {pred}))")
        return plan

    def finish_numeric(
        self, c: Column, plan: dict[str, Any], row: tuple[Any, ...]
    ) -> list[Region]:
        """Histogram and the order statistics found; misses become regions."""
        s = c.stats
        n = int(s["n"])
        bounds: list[float] = plan["bounds"]
        counts = binned(row[plan["map"]], bounds)
        display = [0] * (len(plan["display"]) + 1)
        for k, count in enumerate(counts):
            top = bounds[k] if k < len(bounds) else math.inf
            display[bisect.bisect_left(plan["display"], top)] += count
        s["histogram"] = {"edges": plan["edges"], "counts": display}

        listed = row[plan["list"]] if "list" in plan else None
        order = self.order.setdefault(c.index, {})
        ranks = _quantile_ranks(n)
        v = c.num_expr
        vmin, vmax = float(s["min"]), float(s["max"])
        regions = []
        base = 0
        offset = 0  # position in the listed values
        for k, count in enumerate(counts):
            lo = bounds[k - 1] if k > 0 else None
            hi = bounds[k] if k < len(bounds) else None
            collected = (
                listed is not None
                and lo is not None
                and hi is not None
                and any(a <= lo and hi < b for a, b in plan["interiors"])
            )
            inside = [r for r in ranks if base <= r < base + count]
            if inside:
                if (
                    lo is not None
                    and hi is not None
                    and hi == math.nextafter(lo, math.inf)
                ):
                    for r in inside:  # the bin holds a single double
                        order[r] = hi
                elif collected:
                    assert listed is not None
                    for r in inside:
                        order[r] = listed[offset + r - base]
                else:
                    conds = []
                    if lo is not None:
                        conds.append(f"{v} > {num(lo)}")
                    if hi is not None:
                        conds.append(f"{v} <= {num(hi)}")
                    regions.append(
                        Region(
                            c,
                            " AND ".join(conds),
                            count,
                            base,
                            inside,
                            vmin if lo is None else lo,
                            vmax if hi is None else hi,
                        )
                    )
            if collected:
                offset += count
            base += count
        return regions

    def refine(self, src: Source, regions: list[Region]) -> None:
        """Resolve order statistics the brackets missed (rare: extra passes).

        A region small enough is sorted and its ranks picked. A larger one is cut
        into equal-width sub-ranges counted with ``histogram(x, bounds)`` (plus its
        min and max: a region of identical values is resolved at once); the
        sub-ranges holding wanted ranks are handled in the next round.
        """
        rounds = 0
        while regions:
            rounds += 1
            self.phase("quantiles")
            sel = Select()
            plans: list[tuple[Region, int, list[float] | None, int, int]] = []
            for rg in regions:
                v = rg.column.num_expr
                edges = [
                    rg.lo + (rg.hi - rg.lo) * i / _SPLIT_BUCKETS
                    for i in range(_SPLIT_BUCKETS + 1)
                ]
                bounds = upper_bounds(edges) if rg.hi > rg.lo else None
                if (
                    rg.count <= QUANTILE_COLLECT_LIMIT
                    or rounds >= _MAX_QUANTILE_ROUNDS
                    or not bounds
                ):
                    picks = ", ".join(str(r - rg.base + 1) for r in rg.ranks)
                    h = sel.add(
                        f"list_select(list_sort(list({v}) FILTER (WHERE {rg.pred})),"
                        f" [{picks}])"
                    )
                    plans.append((rg, h, None, -1, -1))
                    continue
                lit = ", ".join(repr(b) for b in bounds)
                h = sel.add(
                    f"histogram({v}, [{lit}]::DOUBLE[]) FILTER (WHERE {rg.pred})"
                )
                hmin = sel.add(f"min({v}) FILTER (WHERE {rg.pred})")
                hmax = sel.add(f"max({v}) FILTER (WHERE {rg.pred})")
                plans.append((rg, h, bounds, hmin, hmax))
            row = self.db.one(sel, src.read())
            regions = []
            for rg, h, bounds, hmin, hmax in plans:
                order = self.order.setdefault(rg.column.index, {})
                if bounds is None:
                    for r, value in zip(rg.ranks, row[h], strict=True):
                        order[r] = value
                    continue
                if row[hmin] == row[hmax]:
                    for r in rg.ranks:
                        order[r] = row[hmin]
                    continue
                v = rg.column.num_expr
                base = rg.base
                for i, count in enumerate(binned(row[h], bounds)):
                    inside = [r for r in rg.ranks if base <= r < base + count]
                    if inside:
                        conds = [rg.pred]
                        if i > 0:
                            conds.append(f"{v} > {num(bounds[i - 1])}")
                        if i < len(bounds):
                            conds.append(f"{v} <= {num(bounds[i])}")
                        regions.append(
                            Region(
                                rg.column,
                                " AND ".join(conds),
                                count,
                                base,
                                inside,
                                float(row[hmin]) if i == 0 else bounds[i - 1],
                                float(row[hmax]) if i == len(bounds) else bounds[i],
                            )
                        )
                    base += count

    def quantiles(self, c: Column) -> dict[str, float] | None:
        n = int(c.stats.get("n") or 0)
        if not n:
            return None
        order = self.order[c.index]
        out = {}
        for label, pct in QUANTILES:
            lo, frac = _fraction_rank(n, pct)
            a = float(order[lo])
            if frac:
                a += (float(order[lo + 1]) - a) * (frac / 100)
            out[label] = a
        return out
