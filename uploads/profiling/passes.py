"""The passes over the file: a sample to pick re-typing candidates, the wide
first aggregate (counts, distincts, moments, casts, correlations, row
hashes), re-typing text columns, date histograms, top values and the exact
duplicate check."""

# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

from uploads.profiling.limits import (
    MAX_CORRELATION_COLUMNS,
    QUANTILE_SAMPLE_BUDGET,
    QUANTILE_SAMPLE_SIZE,
    SNIFF_BYTES,
    SNIFF_SAMPLE_ROWS,
)
from uploads.profiling.source import Column, Source, counted, settle_widened
from uploads.profiling.sql import CANDIDATES, Database, Select, cast_test, kind_of, lit


def _safe(fn: Callable[[int], str], arg: int) -> str | None:
    try:
        return fn(arg)
    except (OverflowError, ValueError):
        return None


class Passes:
    """The aggregate passes of one profile, sharing the pairs' correlations."""

    def __init__(
        self,
        db: Database,
        *,
        top_values: int,
        bins: int,
        phase: Callable[[str], None],
    ) -> None:
        self.db = db
        self.top_k = top_values
        self.bins = bins
        self.phase = phase
        self.corr: dict[tuple[int, int], float | None] = {}
        self.sample_rate = 1.0

    def guess_candidates(self, src: Source) -> None:
        """Types that every sampled value of a text column casts to.

        Only these casts are counted over the whole file in the first pass, so
        obviously textual columns cost no cast attempts.
        """
        texts = [c for c in src.columns if c.read_type == "VARCHAR"]
        if not texts:
            return
        sel = Select()
        handles = []
        for c in texts:
            nonblank = sel.add(f"count(NULLIF({c.ref}, ''))")
            per = [
                (kind, duck, sel.add(f"count_if({cast_test(c.ref, kind, duck)})"))
                for kind, duck in CANDIDATES
            ]
            handles.append((c, nonblank, per))
        sample = f"(SELECT * FROM {src.read()} LIMIT {SNIFF_SAMPLE_ROWS})"
        row = self.db.one(sel, sample)
        for c, nonblank, per in handles:
            n = row[nonblank]
            c.cast_candidates = [(k, d) for k, d, h in per if n and row[h] == n]

    def set_sampling(self, src: Source) -> None:
        """Share of rows sampled (``random()``) to bracket quantiles.

        Aims at QUANTILE_SAMPLE_SIZE values per numeric column; rows are estimated
        from the file size and the first 64 KiB's lines. A Bernoulli sample is
        uniform over rows (DuckDB's reservoir sample is not, on sorted input, once
        threads merge their reservoirs). The sample only steers the work: the
        quantiles are exact whatever it holds.
        """
        numeric = sum(
            1
            for c in src.columns
            if kind_of(c.read_type) in ("integer", "float")
            or any(k in ("integer", "float") for k, _ in c.cast_candidates)
        )
        per_column = min(
            QUANTILE_SAMPLE_SIZE, QUANTILE_SAMPLE_BUDGET // max(1, numeric)
        )
        size = os.path.getsize(src.path)
        with open(src.path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
        lines = max(1, head.count(b"\n"))
        est_rows = size * lines / max(1, len(head))
        rate = per_column / max(1.0, est_rows)
        self.sample_rate = min(1.0, rate)

    def stats_exprs(
        self, sel: Select, c: Column, src: Source, *, raw_text: bool
    ) -> dict[str, int]:
        """Per-column aggregates; ``raw_text`` = figures of a VARCHAR column."""
        h: dict[str, int] = {}
        x = c.ref
        h["nonnull"] = sel.add(f"count({x})")
        if c.read_type == "VARCHAR":
            h["empty"] = sel.add(f"count_if({x} = '')")
        if raw_text:
            nb = f"NULLIF({x}, '')"
            length = f"length({nb})"
            h["distinct"] = sel.add(f"count(DISTINCT {nb})")
            h["len_min"] = sel.add(f"min({length})")
            h["len_max"] = sel.add(f"max({length})")
            h["len_mean"] = sel.add(f"avg({length})")
            h["numeric"] = sel.add(f"count(TRY_CAST({nb} AS DOUBLE))")
            for kind, duck in c.cast_candidates:
                h["cast_" + kind] = sel.add(f"count_if({cast_test(x, kind, duck)})")
            return h
        v = c.value_expr
        h["distinct"] = sel.add(f"count(DISTINCT {v})")
        if c.kind in ("integer", "float"):
            n = c.num_expr
            h["n"] = sel.add(f"count({n})")
            if c.kind == "integer":
                h["min"] = sel.add(f"min({v})")
                h["max"] = sel.add(f"max({v})")
            else:
                h["min"] = sel.add(f"min({n})")
                h["max"] = sel.add(f"max({n})")
            h["mean"] = sel.add(f"avg({n})")
            h["std"] = sel.add(f"stddev_samp({n})")
            h["skew"] = sel.add(f"skewness({n})")
            if c.widened == "integer":
                h["fraction"] = sel.add(
                    f"count_if(NOT isfinite({x}) OR {x} <> trunc({x}))"
                )
            pred = f"{n} IS NOT NULL"
            if self.sample_rate < 1:
                pred += f" AND random() < {self.sample_rate!r}"
            h["sample"] = sel.add(f"list({n}) FILTER (WHERE {pred})")
        elif c.kind == "boolean":
            h["true"] = sel.add(f"count_if({v})")
            h["false"] = sel.add(f"count_if(NOT {v})")
        elif c.kind in ("date", "datetime"):
            t = c.time_expr
            h["min"] = sel.add(f"CAST(min({v}) AS VARCHAR)")
            h["max"] = sel.add(f"CAST(max({v}) AS VARCHAR)")
            h["tmin"] = sel.add(f"min({t})")
            h["tmax"] = sel.add(f"max({t})")
            if c.widened == "date":
                h["timed"] = sel.add(f"count_if({x} <> date_trunc('day', {x}))")
        return h

    def pass_one(self, src: Source) -> tuple[int, int, list[tuple[Any, ...]]]:
        for c in src.columns:
            c.kind = kind_of(c.read_type)
            c.retyped = False
        self.corr.clear()
        sel = Select()
        rows_h = sel.add("count(*)")
        hash_h = sel.add(f"count(DISTINCT {src.row_hash})")
        handles = [
            (c, self.stats_exprs(sel, c, src, raw_text=c.read_type == "VARCHAR"))
            for c in src.columns
        ]
        numeric = [c for c in src.columns if c.kind in ("integer", "float")]
        corr_h = self.corr_exprs(sel, numeric[:MAX_CORRELATION_COLUMNS])
        self.db.fetch("DROP TABLE IF EXISTS profile_rejects")
        self.db.fetch("DROP TABLE IF EXISTS profile_reject_scans")
        row = self.db.one(sel, src.read(mode="store"))
        for c, h in handles:
            c.stats = counted({k: row[i] for k, i in h.items()})
            settle_widened(c)
        self.corr.update({pair: row[h] for pair, h in corr_h.items()})
        rejects = self.db.fetch(
            "SELECT line, error_type, string_agg(DISTINCT column_name, ', '), "
            "first(error_message ORDER BY column_idx), min(line_byte_position) "
            "FROM profile_rejects "
            "GROUP BY line, error_type ORDER BY line, error_type"
        )
        return int(row[rows_h]), int(row[hash_h]), rejects

    def corr_exprs(
        self, sel: Select, cols: list[Column], only: set[int] | None = None
    ) -> dict[tuple[int, int], int]:
        """corr() of column pairs not computed yet (with a column in ``only``)."""
        out = {}
        for i, a in enumerate(cols):
            for b in cols[i + 1 :]:
                pair = (a.index, b.index)
                if pair in self.corr:
                    continue
                if only is not None and not ({a.index, b.index} & only):
                    continue
                out[pair] = sel.add(f"corr({a.num_expr}, {b.num_expr})")
        return out

    def retype(self, src: Source) -> None:
        """Give text columns whose values all cast to one type that type."""
        retyped = []
        for c in src.columns:
            if c.read_type != "VARCHAR":
                continue
            s = c.stats
            values = s["nonnull"] - s["empty"]
            for kind, _duck in c.cast_candidates:
                if values and s.get("cast_" + kind) == values:
                    c.kind, c.retyped = kind, True
                    retyped.append(c)
                    break
        if not retyped:
            return
        self.phase("aggregating")
        sel = Select()
        handles = [(c, self.stats_exprs(sel, c, src, raw_text=False)) for c in retyped]
        numeric = [c for c in src.columns if c.kind in ("integer", "float")]
        corr_h = self.corr_exprs(
            sel, numeric[:MAX_CORRELATION_COLUMNS], {c.index for c in retyped}
        )
        row = self.db.one(sel, src.read())
        for c, h in handles:
            keep = {"nonnull": c.stats["nonnull"], "empty": c.stats["empty"]}
            c.stats = counted({**{k: row[i] for k, i in h.items()}, **keep})
        self.corr.update({pair: row[h] for pair, h in corr_h.items()})

    def plan_histogram(self, sel: Select, c: Column) -> dict[str, Any] | None:
        """Date/datetime histogram (numbers are planned by plan_numeric)."""
        s = c.stats
        if c.kind not in ("date", "datetime") or s.get("tmin") is None:
            return None
        lo, hi = int(s["tmin"]), int(s["tmax"])
        if c.kind == "date":
            # whole days: bins [lo + i*w, lo + (i+1)*w) of w days, last ends after hi
            span = hi - lo + 1
            width = -(-span // self.bins)
            nb = -(-span // width)
            ticks = [lo + i * width for i in range(nb + 1)]
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
        if nb == 1:
            return {
                "edges": edges,
                "fixed": [int(s["nonnull"]) - int(s.get("empty") or 0)],
            }
        bounds_i = [t - 1 for t in ticks[1:-1]]
        lit = ", ".join(str(b) for b in bounds_i)
        h = sel.add(f"histogram({c.time_expr}, [{lit}]::BIGINT[])")
        return {"edges": edges, "bounds": bounds_i, "map": h}

    def top_values_grouped(self, src: Source, cols: list[Column]) -> None:
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
            f"count(*) AS n FROM {src.read()} GROUP BY GROUPING SETS ({sets})) "
            "WHERE val IS NOT NULL AND val <> '' "
            "QUALIFY row_number() OVER (PARTITION BY gid ORDER BY n DESC, val) <= "
            f"{self.top_k} ORDER BY gid, n DESC, val"
        )
        for c in cols:
            c.stats["top"] = []
        for gid_value, val, n in self.db.fetch(sql):
            by_gid[int(gid_value)].stats["top"].append({"value": val, "count": int(n)})

    def exact_duplicates(self, src: Source) -> int:
        """Rows equal to an earlier row, checked on the rows whose hashes collide."""
        refs = ", ".join(c.ref for c in src.columns)
        read = src.read()
        fields = ", ".join(
            f"{lit('c' + str(i))}: {c.ref}" for i, c in enumerate(src.columns)
        )
        sql = (
            f"WITH h AS (SELECT hash({refs}) AS h FROM {read} GROUP BY 1 "
            "HAVING count(*) > 1) "
            f"SELECT count(*) - count(DISTINCT {{{fields}}}) FROM {read} "
            f"WHERE hash({refs}) IN (SELECT h FROM h)"
        )
        return int(self.db.fetch(sql)[0][0])
