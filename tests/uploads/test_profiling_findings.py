"""Issue 14: real files profiled right, and the profile's new parts.

Each finding is reproduced on a small committed fixture of the same shape as
the file it was found on (tests/uploads/fixtures/, written for these tests);
every expected figure is computed here from the fixture with the csv and
statistics modules, never copied from a profile.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from uploads.profiling import NullMarkers, profile_csv

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_var_dir() -> None:
    """The profiler needs no Django settings (see test_profiling.py)."""


def profile(path: Path, **kwargs: Any) -> dict[str, Any]:
    doc = profile_csv(path, **kwargs)
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    return doc


def col(doc: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in doc["columns"] if c["name"] == name]
    return found


def read(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ findings


@pytest.mark.parametrize(
    "name", ["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"]
)
def test_r_na_is_missing_and_the_column_numeric(name: str) -> None:
    """flights: NA made these columns Text with Missing 0 and "NA" on top."""
    rows = read("flights_like.csv")
    values = [int(r[name]) for r in rows if r[name] != "NA"]
    missing = sum(1 for r in rows if r[name] == "NA")
    assert missing  # the fixture reproduces the finding

    c = col(profile(FIXTURES / "flights_like.csv"), name)

    assert c["type"] == "integer"
    assert c["nullCount"] == missing
    assert c["markerCounts"] == {"NA": missing}
    assert (c["min"], c["max"]) == (min(values), max(values))
    assert c["mean"] == pytest.approx(statistics.mean(values))
    assert c["std"] == pytest.approx(statistics.stdev(values))
    assert "topValues" not in c


def test_one_na_does_not_make_a_numeric_column_text() -> None:
    """weather: one NA among the temperatures made temp Text, no mean."""
    rows = read("weather_like.csv")
    temps = [float(r["temp"]) for r in rows if r["temp"] != "NA"]
    assert len(temps) == len(rows) - 1

    temp = col(profile(FIXTURES / "weather_like.csv"), "temp")

    assert temp["type"] == "float"
    assert (temp["nullCount"], temp["markerCounts"]) == (1, {"NA": 1})
    assert temp["mean"] == pytest.approx(statistics.mean(temps))
    assert sum(temp["histogram"]["counts"]) == len(temps)


def test_a_mostly_na_column_shows_its_missing_share() -> None:
    """weather: wind_gust is mostly NA and showed Missing 0."""
    rows = read("weather_like.csv")
    missing = sum(1 for r in rows if r["wind_gust"] == "NA")
    assert missing / len(rows) > 0.5

    gust = col(profile(FIXTURES / "weather_like.csv"), "wind_gust")

    assert gust["nullCount"] == missing
    assert gust["nullShare"] == pytest.approx(missing / len(rows))
    assert "mostly_null" in gust["warnings"]


def test_z_timestamps_keep_their_timezone() -> None:
    """weather: time_hour ends in Z and showed no timezone."""
    rows = read("weather_like.csv")
    stamps = sorted(r["time_hour"] for r in rows)

    stamp = col(profile(FIXTURES / "weather_like.csv"), "time_hour")

    assert stamp["type"] == "datetime"
    assert stamp["timezone"] == "UTC"
    assert (stamp["min"], stamp["max"]) == (stamps[0], stamps[-1])
    assert stamp["histogram"]["edges"][-1] == stamps[-1]


def test_date_histogram_ends_at_the_latest_date() -> None:
    """seattle-weather: the last bin ended at 2016-01-20, after 2015-12-31."""
    rows = read("seattle_weather_like.csv")
    dates = sorted(r["date"] for r in rows)

    date = col(profile(FIXTURES / "seattle_weather_like.csv"), "date")

    assert (
        (date["min"], date["max"])
        == (dates[0], dates[-1])
        == ("2012-01-01", "2015-12-31")
    )
    edges = date["histogram"]["edges"]
    assert (edges[0], edges[-1]) == (dates[0], dates[-1])
    assert edges == sorted(edges)
    # each value in its bin: [edge_i, edge_i+1), the last bin closed
    counts = [0] * (len(edges) - 1)
    for d in dates:
        k = next(
            i for i in range(len(counts)) if d < edges[i + 1] or i == len(counts) - 1
        )
        counts[k] += 1
    assert date["histogram"]["counts"] == counts


def test_sample_rows_show_no_float_noise() -> None:
    """randhie: sample rows showed 6.0760000000000005."""
    raw = (FIXTURES / "randhie_like.csv").read_text()
    assert "6.0760000000000005" in raw

    doc = profile(FIXTURES / "randhie_like.csv")

    lpi = doc["sampleRows"][1][3]
    assert lpi == "6.076"
    # a value with real digits keeps them all
    assert doc["sampleRows"][0][3] == "6.907755278982137"


def test_correlations_cover_every_numeric_column() -> None:
    """fertility: correlations silently stopped at 30 of 54 numeric columns."""
    with (FIXTURES / "fertility_like.csv").open(newline="") as fh:
        header = next(csv.reader(fh))
    years = header[4:]
    assert len(years) == 54

    doc = profile(FIXTURES / "fertility_like.csv")

    assert doc["hasHeader"] is True  # years as column names
    corr = doc["correlations"]
    assert corr["columns"] == years
    assert corr["omitted"] == []
    assert len(corr["pearson"]) == len(corr["spearman"]) == 54


def test_an_all_distinct_column_is_unique_not_also_high_cardinality(
    tmp_path: Path,
) -> None:
    rows = "\n".join(f"id-{k},{k % 3}" for k in range(80))
    doc = profile(write(tmp_path, "code,group\n" + rows + "\n"))
    assert col(doc, "code")["warnings"] == ["unique"]
    half = "\n".join(f"c{k % 60}" for k in range(100))
    doc = profile(write(tmp_path, "code\n" + half + "\n", "b.csv"))
    assert col(doc, "code")["warnings"] == ["high_cardinality"]


def test_header_only_file_has_no_rows() -> None:
    doc = profile(FIXTURES / "header_only.csv")
    assert (doc["rowCount"], doc["columnCount"]) == (0, 15)
    assert doc["sampleRows"] == doc["randomRows"] == []
    assert doc["missing"] == {"ranges": [], "counts": []}


# -------------------------------------------------------------- null markers


def test_default_markers_and_their_case(tmp_path: Path) -> None:
    text = "v,w\n1,a\nNA,NULL\nnull,None\n#N/A,\\N\nnan,N/A\nNaN,na\n7,Na\n"
    doc = profile(write(tmp_path, text))
    v, w = col(doc, "v"), col(doc, "w")
    assert v["type"] == "integer"
    assert v["markerCounts"] == {"#N/A": 1, "NA": 1, "NaN": 1, "nan": 1, "null": 1}
    assert (v["nullCount"], v["min"], v["max"]) == (5, 1, 7)
    # matching is case-sensitive: "na" and "Na" are values
    assert w["markerCounts"] == {"N/A": 1, "NULL": 1, "None": 1, "\\N": 1}
    assert {t["value"] for t in w["topValues"]} == {"a", "na", "Na"}
    assert doc["nullMarkers"]["numericOnly"] == ["-"]


def test_dash_is_missing_only_in_a_numeric_column(tmp_path: Path) -> None:
    text = "amount,grade\n1.5,A\n-,-\n2.5,B\n-,-\n-4,C\n"
    doc = profile(write(tmp_path, text))
    amount, grade = col(doc, "amount"), col(doc, "grade")
    assert amount["type"] == "float"
    assert amount["markerCounts"] == {"-": 2}
    assert amount["min"] == -4.0  # a minus sign is not a marker
    assert grade["type"] == "text"
    assert grade["markerCounts"] == {}
    assert {"value": "-", "count": 2} in grade["topValues"]


def test_dash_in_a_quoted_numeric_column_is_missing(tmp_path: Path) -> None:
    text = '"n"\n"1"\n"-"\n"3"\n'
    n = col(profile(write(tmp_path, text)), "n")
    assert (n["type"], n["nullCount"], n["markerCounts"]) == ("integer", 1, {"-": 1})
    assert n["mean"] == pytest.approx(2.0)


def test_null_markers_override(tmp_path: Path) -> None:
    # "NA" is Namibia here, and this export wrote "n/a" and -999 for nothing
    text = "country,score\nNA,1\nDE,n/a\nFR,-999\nNA,4\n"
    path = write(tmp_path, text)
    default = profile(path)
    assert col(default, "country")["nullCount"] == 2
    assert col(default, "score")["type"] == "text"

    doc = profile(path, null_markers=NullMarkers(add=["n/a", "-999"], remove=["NA"]))

    country, score = col(doc, "country"), col(doc, "score")
    assert country["nullCount"] == 0
    assert country["topValues"][0] == {"value": "NA", "count": 2}
    assert score["type"] == "integer"
    assert score["markerCounts"] == {"-999": 1, "n/a": 1}
    assert (score["min"], score["max"]) == (1, 4)
    assert "NA" not in doc["nullMarkers"]["everywhere"]
    assert doc["nullMarkers"]["everywhere"][-2:] == ["n/a", "-999"]


@pytest.mark.parametrize(
    ("add", "remove", "message"),
    [
        ([""], [], "empty"),
        (["x"], ["x"], "both added and removed"),
        (["x" * 65], [], "longer than 64"),
        ([f"m{k}" for k in range(60)], [], "more than 64"),
    ],
)
def test_bad_null_markers_are_refused(
    add: list[str], remove: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        NullMarkers(add=add, remove=remove)


# ------------------------------------------------------------ the new parts


def test_extreme_values_are_the_smallest_and_largest_distinct(tmp_path: Path) -> None:
    values = [0] * 80 + [1] * 70 + list(range(2, 40)) + [100] * 3 + [99, 98]
    doc = profile(write(tmp_path, "v\n" + "\n".join(map(str, values)) + "\n"))
    counts = Counter(values)
    ordered = sorted(counts)
    ext = col(doc, "v")["extremes"]
    assert ext["smallest"] == [{"value": v, "count": counts[v]} for v in ordered[:5]]
    assert ext["largest"] == [
        {"value": v, "count": counts[v]} for v in reversed(ordered[-5:])
    ]


def test_duplicate_rows_are_listed_with_counts(tmp_path: Path) -> None:
    lines = ["a,b", "1,x", "2,y", "1,x", "3,", "2,y", "1,x", "3,", "4,z"]
    doc = profile(write(tmp_path, "\n".join(lines) + "\n"))
    assert doc["duplicateRows"] == 4
    assert doc["duplicateExamples"] == [
        {"count": 3, "firstRow": 1, "cells": ["1", "x"]},
        {"count": 2, "firstRow": 2, "cells": ["2", "y"]},
        {"count": 2, "firstRow": 4, "cells": ["3", None]},
    ]


def test_random_rows_are_real_rows_after_the_head(tmp_path: Path) -> None:
    lines = [f"{k},n{k}" for k in range(500)]
    path = write(tmp_path, "k,name\n" + "\n".join(lines) + "\n")
    doc = profile(path, sample_rows=3, random_rows=7)
    assert doc["sampleRows"] == [["0", "n0"], ["1", "n1"], ["2", "n2"]]
    picked = doc["randomRows"]
    assert len(picked) == 7
    assert [r["row"] for r in picked] == sorted({r["row"] for r in picked})
    for r in picked:
        assert r["row"] > 3
        assert r["cells"] == [str(r["row"] - 1), f"n{r['row'] - 1}"]
    assert profile(path, sample_rows=3, random_rows=7)["randomRows"] == picked
    many = profile(path, sample_rows=1000, random_rows=1000)
    assert (len(many["sampleRows"]), len(many["randomRows"])) == (100, 100)


def test_missing_values_overview(tmp_path: Path) -> None:
    rows = [
        f"{k},{'NA' if k < 10 else k},{'' if k % 4 == 0 else 'x'}" for k in range(40)
    ]
    doc = profile(write(tmp_path, "k,early,sparse\n" + "\n".join(rows) + "\n"))
    overview = doc["missing"]
    assert len(overview["ranges"]) == 20
    assert overview["ranges"][0] == {"firstRow": 1, "lastRow": 2}
    assert overview["ranges"][-1] == {"firstRow": 39, "lastRow": 40}
    k, early, sparse = overview["counts"]
    assert k == [0] * 20
    assert early == [2] * 5 + [0] * 15
    for i, r in enumerate(overview["ranges"]):
        rows_in = range(r["firstRow"] - 1, r["lastRow"])
        assert sparse[i] == sum(1 for j in rows_in if j % 4 == 0)
    assert sum(early) == col(doc, "early")["nullCount"]


def test_spearman_beside_pearson(tmp_path: Path) -> None:
    xs = [k % 37 for k in range(300)]  # ties
    ys = [x**3 - 5 * (k % 4) for k, x in enumerate(xs)]  # monotone-ish
    zs = [None if k % 7 == 0 else (k * 13) % 101 for k in range(300)]  # missing
    lines = [
        f"{x},{y},{'NA' if z is None else z}"
        for x, y, z in zip(xs, ys, zs, strict=True)
    ]
    doc = profile(write(tmp_path, "x,y,z\n" + "\n".join(lines) + "\n"))
    corr = doc["correlations"]
    assert corr["columns"] == ["x", "y", "z"]
    pairs = [(xs, ys), (xs, zs), (ys, zs)]
    cells = [(0, 1), (0, 2), (1, 2)]
    for (a, b), (i, j) in zip(pairs, cells, strict=True):
        both = [
            (p, q) for p, q in zip(a, b, strict=True) if p is not None and q is not None
        ]
        pa, pb = [p for p, _ in both], [q for _, q in both]
        assert corr["pearson"][i][j] == pytest.approx(statistics.correlation(pa, pb))
        expected = statistics.correlation(pa, pb, method="ranked")
        assert corr["spearman"][i][j] == pytest.approx(expected)
        assert corr["spearman"][j][i] == corr["spearman"][i][j]
    assert [corr["spearman"][k][k] for k in range(3)] == [1.0, 1.0, 1.0]
    assert "spearman" in doc["exact"]


def test_strongly_correlated_pairs_are_flagged_with_a_grid(tmp_path: Path) -> None:
    xs = list(range(200))
    ys = [2 * x + (x % 5) for x in xs]
    noise = [(x * 7919) % 13 for x in xs]
    lines = [f"{x},{y},{n}" for x, y, n in zip(xs, ys, noise, strict=True)]
    doc = profile(write(tmp_path, "x,y,noise\n" + "\n".join(lines) + "\n"))
    (pair,) = doc["correlations"]["pairs"]
    assert (pair["x"], pair["y"]) == ("x", "y")
    assert pair["pearson"] == pytest.approx(statistics.correlation(xs, ys))
    grid = pair["grid"]
    assert len(grid["xEdges"]) == len(grid["counts"]) + 1 == 21
    assert sum(map(sum, grid["counts"])) == 200
    # every row is on the diagonal or next to it: y rises with x
    near = [
        grid["counts"][i][j] for i in range(20) for j in range(20) if abs(i - j) <= 1
    ]
    assert sum(near) == 200
    assert "correlated" in col(doc, "x")["warnings"]
    assert "correlated" not in col(doc, "noise")["warnings"]
    assert doc["correlations"]["threshold"] == 0.7


def test_spearman_of_a_large_file_is_sampled_and_says_so(tmp_path: Path) -> None:
    n = 200_500
    xs = [(k * 7919) % 100_003 for k in range(n)]
    ys = [x + (k * 31) % 5_000 for k, x in enumerate(xs)]
    lines = "\n".join(f"{x},{y}" for x, y in zip(xs, ys, strict=True))
    doc = profile(write(tmp_path, "x,y\n" + lines + "\n"), sample_rows=0, random_rows=0)
    assert "spearman" in doc["approximate"] and "spearman" not in doc["exact"]
    assert "pearson" in doc["exact"]
    exact = statistics.correlation(xs, ys, method="ranked")
    assert doc["correlations"]["spearman"][0][1] == pytest.approx(exact, abs=0.01)
    assert doc["correlations"]["pearson"][0][1] == pytest.approx(
        statistics.correlation(xs, ys)
    )


def test_every_phase_is_one_the_api_names(tmp_path: Path) -> None:
    """The API's progress (uploads.documents.PHASES) words each phase."""
    from uploads.documents import PHASES

    text = "name,n,x\n" + "".join(f"caf\xe9,{k % 3},{k}\n" for k in range(30)) * 2
    path = tmp_path / "cp.csv"
    path.write_bytes(text.encode("cp1252"))
    phases: list[str] = []
    profile_csv(path, progress=phases.append)
    assert {"transcoding", "duplicates", "distributions", "done"} <= set(phases)
    assert set(phases) <= set(PHASES)
