"""Issue 14, item 5: files shaped like R's and pandas' exports, every figure
checked against values computed here, independently, with Python's csv and
statistics modules (nothing is downloaded; the files are generated).

Shapes: R's ``write.csv`` (a quoted row-name column, quoted strings, bare
``NA``, ``TRUE``/``FALSE``), readr's ``write_csv`` (``NA``, ISO datetimes with
``Z``), pandas' ``to_csv`` (an index column, empty fields or ``na_rep``
markers, ``True``/``False``, floats with binary noise, ``+00:00`` offsets),
and a wide file of 60 columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from uploads.profiling import profile_csv

MARKERS = {"NA", "N/A", "NaN", "nan", "NULL", "null", "None", "#N/A", "\\N"}


@pytest.fixture(autouse=True)
def _isolated_var_dir() -> None:
    """The profiler needs no Django settings (see test_profiling.py)."""


# ----------------------------------------------------------------- the files


def r_write_csv(rng: random.Random, n: int) -> str:
    """R: write.csv(df) -- row names, every string quoted, NA bare."""
    out = ['"","year","carrier","dep_delay","distance","on_time","day"']
    for k in range(1, n + 1):
        delay = "NA" if k % 11 == 0 else str(rng.randint(-15, 120))
        carrier = (
            "NA" if k % 29 == 0 else '"' + rng.choice(["UA", "AA", "B6", "DL"]) + '"'
        )
        on_time = "NA" if k % 17 == 0 else rng.choice(["TRUE", "FALSE"])
        day = (dt.date(2013, 1, 1) + dt.timedelta(days=rng.randrange(365))).isoformat()
        out.append(
            f'"{k}",{2013 + k % 3},{carrier},{delay},{rng.randint(80, 4983)},'
            f'{on_time},"{day}"'
        )
    return "\n".join(out) + "\n"


def readr_write_csv(rng: random.Random, n: int) -> str:
    """readr: write_csv(df) -- no quotes unless needed, NA, datetimes in Z."""
    out = ["origin,time_hour,temp,wind_gust,note"]
    start = dt.datetime(2013, 1, 1, 1)
    for k in range(n):
        stamp = (start + dt.timedelta(hours=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
        temp = "NA" if k == n - 3 else f"{rng.uniform(10, 95):.2f}"
        gust = f"{rng.uniform(15, 40):.4f}" if k % 4 == 0 else "NA"
        note = rng.choice(["clear", "light rain", '"windy, cold"', "fog"])
        out.append(f"{rng.choice(['EWR', 'JFK', 'LGA'])},{stamp},{temp},{gust},{note}")
    return "\n".join(out) + "\n"


def pandas_to_csv(rng: random.Random, n: int, na_rep: str) -> str:
    """pandas: df.to_csv(na_rep=...) -- an unnamed index column, floats in
    repr (with binary noise), True/False, tz-aware datetimes as +00:00."""
    out = [",price,ratio,flag,when,label"]
    for k in range(n):
        price = na_rep if k % 13 == 0 else repr(rng.randint(1, 999) / 10 + 0.1 * 0.2)
        ratio = na_rep if k % 7 == 3 else repr(rng.random())
        flag = rng.choice(["True", "False"])
        when = (
            dt.datetime(2020, 5, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=37 * k)
        ).isoformat(sep=" ")
        label = na_rep if k % 19 == 0 else rng.choice(["north", "south", "east"])
        out.append(f"{k},{price},{ratio},{flag},{when},{label}")
    return "\n".join(out) + "\n"


def wide_csv(rng: random.Random, n: int) -> str:
    """A wide export: an id, then 59 numeric columns with NA here and there."""
    names = ["id"] + [f"y{1960 + j}" for j in range(59)]
    out = [",".join(names)]
    for k in range(n):
        cells = [f"C{k:03d}"]
        for j in range(59):
            cells.append("NA" if (k * 7 + j) % 23 == 0 else f"{rng.gauss(j, 3):.3f}")
        out.append(",".join(cells))
    return "\n".join(out) + "\n"


# ------------------------------------------------------ independent figures


def parse(kind: str, text: str) -> Any:
    if kind == "integer":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "boolean":
        return text.lower() == "true"
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "datetime":
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return text


def missing(kind: str, cell: str) -> bool:
    return (
        cell == "" or cell in MARKERS or (kind in ("integer", "float") and cell == "-")
    )


def check(doc: dict[str, Any], text: str, kinds: dict[str, str]) -> None:
    """Every figure of every column, against the csv module's reading."""
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert doc["rowCount"] == len(body)
    assert doc["columnCount"] == len(header)
    assert doc["rejectedCount"] == 0
    assert doc["hasHeader"] is True
    numeric: dict[int, list[Any]] = {}
    for i, column in enumerate(doc["columns"]):
        kind = kinds.get(header[i], "text") if header[i] else "integer"
        cells = [r[i] for r in body]
        assert column["type"] == kind, (header[i], column["type"])
        gone = [c for c in cells if missing(kind, c)]
        values = [parse(kind, c) for c in cells if not missing(kind, c)]
        assert column["nullCount"] == len(gone), header[i]
        assert column["markerCounts"] == dict(Counter(c for c in gone if c)), header[i]
        assert column["emptyCount"] == 0
        assert column["distinctCount"] == len(set(values)), header[i]
        if kind in ("integer", "float"):
            numeric[i] = [None if missing(kind, c) else parse(kind, c) for c in cells]
            assert column["min"] == min(values) and column["max"] == max(values)
            assert column["mean"] == pytest.approx(statistics.mean(values), rel=1e-12)
            assert column["std"] == pytest.approx(statistics.stdev(values), rel=1e-9)
            cuts = statistics.quantiles(values, n=100, method="inclusive")
            for p in (5, 25, 50, 75, 95):
                assert column["quantiles"][f"p{p}"] == pytest.approx(
                    cuts[p - 1], rel=1e-12
                )
            edges = column["histogram"]["edges"]
            counts = [0] * (len(edges) - 1)
            for v in values:
                k = next(
                    (j for j in range(len(counts)) if v < edges[j + 1]), len(counts) - 1
                )
                counts[k] += 1
            assert column["histogram"]["counts"] == counts, header[i]
            tally = Counter(values)
            ordered = sorted(tally)
            assert column["extremes"]["smallest"] == [
                {"value": v, "count": tally[v]} for v in ordered[:5]
            ]
            assert column["extremes"]["largest"] == [
                {"value": v, "count": tally[v]} for v in ordered[::-1][:5]
            ]
        elif kind == "boolean":
            assert column["trueCount"] == sum(values)
            assert column["falseCount"] == len(values) - sum(values)
        elif kind in ("date", "datetime"):
            low, high = min(values), max(values)
            if kind == "date":
                assert (column["min"], column["max"]) == (
                    low.isoformat(),
                    high.isoformat(),
                )
            else:
                shown = [
                    v.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"
                    for v in (low, high)
                ]
                assert [column["min"], column["max"]] == shown
                assert column["timezone"] == "UTC"
            assert sum(column["histogram"]["counts"]) == len(values)
        else:
            tally = Counter(values)
            top = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
            assert column["topValues"] == [{"value": v, "count": c} for v, c in top]
            lengths = [len(v) for v in values]
            assert column["length"]["min"] == min(lengths)
            assert column["length"]["max"] == max(lengths)
            assert column["length"]["mean"] == pytest.approx(statistics.mean(lengths))
    corr = doc["correlations"]
    order = [
        i for i, c in enumerate(doc["columns"]) if c["type"] in ("integer", "float")
    ]
    assert corr["columns"] == [doc["columns"][i]["name"] for i in order]
    for a, i in enumerate(order):
        for b, j in enumerate(order):
            if a >= b:
                continue
            both = [
                (x, y)
                for x, y in zip(numeric[i], numeric[j], strict=True)
                if x is not None and y is not None
            ]
            xs, ys = [float(x) for x, _ in both], [float(y) for _, y in both]
            if len(set(xs)) < 2 or len(set(ys)) < 2:
                continue
            assert corr["pearson"][a][b] == pytest.approx(
                statistics.correlation(xs, ys), abs=1e-9
            )
            assert corr["spearman"][a][b] == pytest.approx(
                statistics.correlation(xs, ys, method="ranked"), abs=1e-9
            )
    for k, row in enumerate(doc["sampleRows"]):
        for i, cell in enumerate(row):
            raw = body[k][i]
            kind = doc["columns"][i]["type"]
            if missing(kind, raw):
                assert cell is None
            elif kind == "float":
                assert math.isclose(float(cell), float(raw), rel_tol=1e-12)
            elif kind in ("integer", "text"):
                assert cell == raw


# --------------------------------------------------------------------- tests


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_r_write_csv(tmp_path: Path) -> None:
    text = r_write_csv(random.Random(1), 400)
    doc = profile_csv(write(tmp_path, text))
    kinds = {
        "year": "integer",
        "dep_delay": "integer",
        "distance": "integer",
        "on_time": "boolean",
        "day": "date",
    }
    check(doc, text, kinds)
    assert doc["columns"][0]["warnings"] == ["unique"]  # R's row names


def test_readr_write_csv(tmp_path: Path) -> None:
    text = readr_write_csv(random.Random(2), 300)
    doc = profile_csv(write(tmp_path, text))
    check(doc, text, {"time_hour": "datetime", "temp": "float", "wind_gust": "float"})


@pytest.mark.parametrize("na_rep", ["", "NaN", "NA", "NULL"])
def test_pandas_to_csv(tmp_path: Path, na_rep: str) -> None:
    text = pandas_to_csv(random.Random(3), 350, na_rep)
    doc = profile_csv(write(tmp_path, text))
    kinds = {"price": "float", "ratio": "float", "flag": "boolean", "when": "datetime"}
    check(doc, text, kinds)


def test_wide_export_of_60_columns(tmp_path: Path) -> None:
    text = wide_csv(random.Random(4), 120)
    doc = profile_csv(write(tmp_path, text))
    kinds = {f"y{1960 + j}": "float" for j in range(59)}
    check(doc, text, kinds)
    assert len(doc["correlations"]["columns"]) == 59
