"""Benchmark uploads.profiling.profile_csv against DuckDB, polars and pandas.

Generates a deterministic CSV (12 columns: integers, floats with nulls,
categories, free text, dates, timestamps, booleans with nulls) with DuckDB into a
cache directory (reused when present), then runs each tool in its own child
process, ``--runs`` times, and prints the median wall time, throughput, peak
RSS, the profiler's time per phase, and the ratios the issue sets as targets.

Tools: the profiler (the full exact profile); DuckDB ``SUMMARIZE`` (approximate
distinct counts and quantiles); an exact DuckDB aggregate and an exact polars
aggregation of the same basic figures (count, nulls, min, max, mean, std and
exact distinct count per column); polars ``describe()``; pandas ``read_csv`` +
``describe``. And two floors, which compute nothing: DuckDB parsing the file
into a table, and polars parsing it into a frame. No profile can take less
time than parsing the file once, so they show which targets a faster profile
could reach.

    python bench/profile_csv.py --sizes 100MB,1GB --runs 3   # the documented run
    python bench/profile_csv.py --size 100MB                 # one size
    python bench/profile_csv.py --tools profiler,polars_exact

Needs duckdb, polars, pandas and psutil (the ``bench`` dependency group).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BYTES_PER_ROW = 101.8  # measured on the generated data
DEFAULT_ROWS = 10_000_000

GENERATE_SQL = """
COPY (
  SELECT
    i AS id,
    (hash(i, {s} + 1) % 1000)::INTEGER AS quantity,
    CASE WHEN hash(i, {s} + 2) % 20 = 0 THEN NULL
         ELSE round((hash(i, {s} + 3) % 1000000) / 100.0, 2) END AS amount,
    round(((hash(i, {s} + 4) % 10000) + (hash(i, {s} + 5) % 10000)
           + (hash(i, {s} + 6) % 10000)::BIGINT - 15000) / 1000.0, 3) AS score,
    ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota',
     'kappa'][(hash(i, {s} + 7) % 10)::BIGINT + 1] AS category,
    ['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN', 'CN', 'ES', 'IT', 'NL',
     'SE'][(hash(i, {s} + 8) % 12)::BIGINT + 1] AS country,
    concat_ws(' ',
      ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit',
       'sed', 'do', 'eiusmod', 'tempor'][(hash(i, {s} + 9) % 12)::BIGINT + 1],
      ['quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog',
       'again'][(hash(i, {s} + 10) % 8)::BIGINT + 1],
      (hash(i, {s} + 11) % 100000)::VARCHAR) AS note,
    DATE '2015-01-01' + (hash(i, {s} + 12) % 3650)::INTEGER AS created,
    TIMESTAMP '2020-01-01'
      + to_seconds((hash(i, {s} + 13) % 157680000)::BIGINT) AS updated,
    hash(i, {s} + 14) % 2 = 0 AS active,
    CASE WHEN hash(i, {s} + 15) % 10 = 0 THEN NULL
         ELSE hash(i, {s} + 16) % 3 = 0 END AS verified,
    round(exp(((hash(i, {s} + 17) % 10000) / 10000.0) * 8), 4) AS ratio
  FROM range({rows}) t(i)
) TO '{path}' (HEADER, DELIMITER ',')
"""


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B?)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"bad size: {text!r} (e.g. 100MB, 1GB)")
    unit = (match.group(2) or "B").upper().replace("I", "").rstrip("B") or "B"
    scale = {"B": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[unit]
    return int(float(match.group(1)) * scale)


def generate(rows: int, seed: int, cache: Path) -> Path:
    import duckdb

    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"profile_{rows}_s{seed}.csv"
    if path.exists():
        print(f"reusing {path} ({path.stat().st_size / 1e6:,.0f} MB)")
        return path
    tmp = path.with_suffix(".csv.part")
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": os.cpu_count() or 2})
    try:
        con.execute(GENERATE_SQL.format(s=seed * 100, rows=rows, path=tmp))
    finally:
        con.close()
    tmp.rename(path)
    took = time.perf_counter() - started
    print(f"generated {path} ({path.stat().st_size / 1e6:,.0f} MB) in {took:.1f} s")
    return path


# ------------------------------------------------------------------ children


def _basic_duckdb(path: str, con: Any) -> int:
    """count, nulls, min, max, mean, std, exact distinct of every column."""
    described = con.execute(f"DESCRIBE SELECT * FROM read_csv('{path}')").fetchall()
    exprs = ["count(*)"]
    for name, duck_type, *_rest in described:
        q = '"' + name.replace('"', '""') + '"'
        exprs += [f"count({q})", f"count(*) - count({q})", f"count(DISTINCT {q})"]
        exprs += [f"min({q})", f"max({q})"]
        if duck_type in ("BIGINT", "DOUBLE", "INTEGER"):
            exprs += [f"avg({q})", f"stddev_samp({q})"]
    con.execute(f"SELECT {', '.join(exprs)} FROM read_csv('{path}')").fetchall()
    return len(exprs)


def _basic_polars(path: str) -> int:
    """The same figures as _basic_duckdb, by a lazy polars scan."""
    import polars as pl

    frame = pl.scan_csv(path, try_parse_dates=True)
    schema = frame.collect_schema()
    exprs = [pl.len().alias("rows")]
    for name, dtype in schema.items():
        c = pl.col(name)
        exprs += [
            c.count().alias(f"{name}.count"),
            c.null_count().alias(f"{name}.nulls"),
            c.n_unique().alias(f"{name}.distinct"),
            c.min().alias(f"{name}.min"),
            c.max().alias(f"{name}.max"),
        ]
        if dtype.is_numeric():
            exprs += [c.mean().alias(f"{name}.mean"), c.std().alias(f"{name}.std")]
    frame.select(exprs).collect()
    return len(exprs)


def _duckdb(path: str, memory_limit: str, threads: int) -> Any:
    """A DuckDB connection that spills beside the bench's files (its default,
    ``.tmp`` in the working directory, would be the checkout)."""
    import duckdb

    spill = Path(path).parent / "duckdb-spill"
    return duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "threads": threads,
            "temp_directory": str(spill),
        }
    )


def child(tool: str, path: str, memory_limit: str, threads: int) -> None:
    """Run one tool and print {"seconds", "rss_mb", "note", "phases"}."""
    import resource

    os.environ["POLARS_MAX_THREADS"] = str(threads)
    note = ""
    phases: dict[str, float] = {}
    if tool == "profiler":
        sys.path.insert(0, str(ROOT))
        from uploads.profiling import profile_csv

        last = [time.perf_counter(), ""]

        def progress(phase: str) -> None:
            now = time.perf_counter()
            if last[1]:
                phases[str(last[1])] = (
                    phases.get(str(last[1]), 0.0) + now - float(last[0])
                )
            last[0], last[1] = now, phase

        started = time.perf_counter()
        last[0] = started
        doc = profile_csv(
            path, memory_limit=memory_limit, threads=threads, progress=progress
        )
        seconds = time.perf_counter() - started
        note = f"{doc['rowCount']:,} rows, {doc['columnCount']} columns"
        if doc["approximate"]:
            note += f"; approximate: {', '.join(doc['approximate'])}"
    elif tool == "summarize":
        con = _duckdb(path, memory_limit, threads)
        started = time.perf_counter()
        rows = con.execute(f"SUMMARIZE SELECT * FROM read_csv('{path}')").fetchall()
        seconds = time.perf_counter() - started
        con.close()
        note = f"{len(rows)} columns"
    elif tool == "duckdb_exact":
        con = _duckdb(path, memory_limit, threads)
        started = time.perf_counter()
        figures = _basic_duckdb(path, con)
        seconds = time.perf_counter() - started
        con.close()
        note = f"{figures} figures"
    elif tool == "duckdb_read":
        con = _duckdb(path, memory_limit, threads)
        started = time.perf_counter()
        con.execute(f"CREATE TABLE parsed AS SELECT * FROM read_csv('{path}')")
        seconds = time.perf_counter() - started
        rows = con.execute("SELECT count(*) FROM parsed").fetchone()
        con.close()
        note = f"{rows[0] if rows else 0:,} rows parsed into a table"
    elif tool == "polars_read":
        import polars as pl

        started = time.perf_counter()
        frame = pl.read_csv(path, try_parse_dates=True)
        seconds = time.perf_counter() - started
        note = f"{frame.height:,} rows parsed into a frame"
    elif tool == "polars_describe":
        import polars as pl

        started = time.perf_counter()
        summary = pl.read_csv(path, try_parse_dates=True).describe()
        seconds = time.perf_counter() - started
        note = f"describe {summary.shape}"
    elif tool == "polars_exact":
        started = time.perf_counter()
        figures = _basic_polars(path)
        seconds = time.perf_counter() - started
        note = f"{figures} figures"
    elif tool == "pandas":
        import pandas as pd

        started = time.perf_counter()
        frame = pd.read_csv(path)
        summary = frame.describe(include="all")
        seconds = time.perf_counter() - started
        note = f"{len(frame):,} rows, describe {summary.shape}"
    else:
        raise SystemExit(f"unknown tool {tool}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"seconds": seconds, "rss_mb": rss_mb, "note": note, "phases": phases}
        )
    )


def measure(tool: str, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run a child process; poll its RSS (psutil) and kill it past the cap."""
    import psutil

    cmd = [
        sys.executable,
        __file__,
        "--child",
        tool,
        "--file",
        str(path),
        "--memory-limit",
        args.memory_limit,
        "--threads",
        str(args.threads),
    ]
    cap_mb = args.pandas_cap_mb if tool == "pandas" else None
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    polled_mb = 0.0
    killed = False
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            polled_mb = max(polled_mb, ps.memory_info().rss / 2**20)
        if cap_mb is not None and polled_mb > cap_mb:
            proc.kill()
            killed = True
            break
        time.sleep(0.05)
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    if killed:
        return {"skipped": f"killed: RSS passed the {cap_mb:,} MB cap"}
    if proc.returncode != 0:
        return {"skipped": f"failed: {err.decode(errors='replace').strip()[-300:]}"}
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["process_seconds"] = wall
    result["rss_mb"] = max(result["rss_mb"], polled_mb)
    return result


# ---------------------------------------------------------------------- main


NAMES = {
    "profiler": "profile_csv (full profile)",
    "summarize": "DuckDB SUMMARIZE",
    "duckdb_exact": "DuckDB exact aggregate",
    "polars_describe": "polars describe()",
    "polars_exact": "polars exact aggregation",
    "pandas": "pandas read_csv+describe",
    "duckdb_read": "floor: DuckDB parse only",
    "polars_read": "floor: polars parse only",
}
TOOLS = ",".join(NAMES)


def run_size(rows: int, args: argparse.Namespace) -> None:
    path = generate(rows, args.seed, args.cache)
    size_mb = path.stat().st_size / 1e6
    print(
        f"\n== file: {size_mb:,.1f} MB, {rows:,} rows; memory_limit="
        f"{args.memory_limit}, threads={args.threads}, runs={args.runs}, "
        f"cpus={os.cpu_count()}",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    for tool in [t.strip() for t in args.tools.split(",") if t.strip()]:
        runs = []
        for k in range(args.runs):
            res = measure(tool, path, args)
            shown = res.get("skipped") or f"{res['seconds']:.2f} s"
            print(f"  {tool} run {k + 1}: {shown}", flush=True)
            runs.append(res)
            if "skipped" in res:
                break
        ok = [r for r in runs if "skipped" not in r]
        if not ok:
            results[tool] = runs[-1]
            continue
        phases: dict[str, float] = {}
        for name in ok[0].get("phases") or {}:
            phases[name] = statistics.median(r["phases"].get(name, 0.0) for r in ok)
        results[tool] = {
            "seconds": statistics.median(r["seconds"] for r in ok),
            "rss_mb": max(r["rss_mb"] for r in ok),
            "note": ok[0]["note"],
            "all": [round(r["seconds"], 2) for r in ok],
            "phases": phases,
        }

    print()
    header = (
        f"{'tool':<28} {'median s':>9} {'MB/s':>7} {'peak RSS MB':>12} "
        f"{'runs (s)':<22} {'profiler thrpt vs it':>21}"
    )
    print(header)
    print("-" * len(header))
    prof = results.get("profiler", {})
    for tool, res in results.items():
        if "skipped" in res:
            print(f"{NAMES.get(tool, tool):<28} {res['skipped']}")
            continue
        secs = res["seconds"]
        ratio = f"{secs / prof['seconds']:.2f}x" if "seconds" in prof else "-"
        runs_text = ", ".join(f"{x:.2f}" for x in res["all"])
        print(
            f"{NAMES.get(tool, tool):<28} {secs:>9.2f} {size_mb / secs:>7.1f} "
            f"{res['rss_mb']:>12.0f} {runs_text:<22} {ratio:>21}"
        )
    print()
    for tool, res in results.items():
        if "note" in res:
            print(f"{tool}: {res['note']}")
    if prof.get("phases"):
        print(
            "profiler phases (median s): "
            + ", ".join(f"{name} {secs:.2f}" for name, secs in prof["phases"].items())
        )
    if "seconds" in prof:
        checks = []
        for tool, factor, label in (
            ("polars_exact", 1.0, ">= 1.0x polars' exact aggregation"),
            ("summarize", 2.0, ">= 2x SUMMARIZE"),
        ):
            other = results.get(tool, {}).get("seconds")
            if other:
                ratio = other / prof["seconds"]
                good = ratio >= factor
                checks.append(f"{label}: {ratio:.2f}x, {'met' if good else 'NOT met'}")
        floors = [
            results[tool]["seconds"]
            for tool in ("duckdb_read", "polars_read")
            if "seconds" in results.get(tool, {})
        ]
        summarize = results.get("summarize", {}).get("seconds")
        if floors and summarize:
            # 2x SUMMARIZE's throughput: the whole profile in half its time.
            needed, floor = summarize / 2, min(floors)
            reach = "reachable" if floor < needed else "NOT reachable by any profile"
            checks.append(
                f"2x SUMMARIZE means a profile in {needed:.2f} s; parsing alone "
                f"takes {floor:.2f} s at best: {reach} here"
            )
        good = prof["rss_mb"] < 1000
        checks.append(
            f"peak RSS < 1 GB: {prof['rss_mb']:.0f} MB, {'met' if good else 'NOT met'}"
        )
        for line in checks:
            prefix = "target throughput " if line.startswith(">=") else "target "
            print(prefix + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="rows to generate (default 10M)")
    parser.add_argument("--size", type=parse_size, help="target size, e.g. 100MB")
    parser.add_argument(
        "--sizes", help="several sizes in one run, e.g. 100MB,1GB (overrides --size)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--memory-limit", default="512MB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (median)")
    parser.add_argument("--tools", default=TOOLS, help="comma-separated")
    parser.add_argument(
        "--pandas-cap-mb",
        type=int,
        default=10_240,
        help="kill pandas past this RSS (default 10 GB)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        child(args.child, args.file, args.memory_limit, args.threads)
        return

    if args.sizes:
        sizes = [
            max(1, int(parse_size(s) / BYTES_PER_ROW)) for s in args.sizes.split(",")
        ]
    elif args.rows:
        sizes = [args.rows]
    elif args.size:
        sizes = [max(1, int(args.size / BYTES_PER_ROW))]
    else:
        sizes = [DEFAULT_ROWS]
    for rows in sizes:
        run_size(rows, args)


if __name__ == "__main__":
    main()
