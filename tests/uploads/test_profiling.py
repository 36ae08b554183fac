"""Tests for uploads.profiling (pure Python + DuckDB; no Django needed).

Run: python -m pytest tests/uploads/test_profiling.py -p no:django -q
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import statistics
from pathlib import Path
from typing import Any

import pytest

from uploads.profiling import PROFILE_SCHEMA_VERSION, ProfileError, profile_csv

#: The head the profiler reads in Python to sniff encodings (docs/profiling.md).
SNIFF_BYTES = 64 * 1024

# --------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _isolated_var_dir() -> None:
    """Override the suite-wide autouse fixture, which needs Django settings: the
    profiler is pure Python and these tests also run with ``-p no:django``."""


def write(tmp_path: Path, data: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


def profile(path: Path, **kwargs: Any) -> dict[str, Any]:
    doc = profile_csv(path, **kwargs)
    # strict JSON: no NaN/Infinity, only plain types
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    return doc


def col(doc: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [c for c in doc["columns"] if c["name"] == name]
    assert len(matches) == 1, [c["name"] for c in doc["columns"]]
    return matches[0]


def pcts(data: list[float]) -> dict[str, float]:
    """p5..p95 by hand: linear interpolation between order statistics."""
    cuts = statistics.quantiles(data, n=100, method="inclusive")
    return {f"p{p}": cuts[p - 1] for p in (5, 25, 50, 75, 95)}


def csv_lines(header: str, rows: list[str]) -> str:
    return header + "\n" + "\n".join(rows) + "\n"


# ------------------------------------------------------------ dialect & shape


@pytest.mark.parametrize(
    ("delimiter", "expected"),
    [(",", ","), (";", ";"), ("\t", "\t"), ("|", "|")],
)
def test_delimiters_are_detected(tmp_path: Path, delimiter: str, expected: str) -> None:
    rows = [delimiter.join([str(i), f"name {i}", f"{i}.5"]) for i in range(12)]
    path = write(tmp_path, csv_lines(delimiter.join(["id", "name", "score"]), rows))
    doc = profile(path)
    assert doc["delimiter"] == expected
    assert doc["hasHeader"] is True
    assert [c["name"] for c in doc["columns"]] == ["id", "name", "score"]
    assert [c["type"] for c in doc["columns"]] == ["integer", "text", "float"]
    assert doc["rowCount"] == 12
    assert doc["columnCount"] == 3
    assert doc["schemaVersion"] == PROFILE_SCHEMA_VERSION


def test_semicolon_file_with_decimal_commas_keeps_semicolon(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b\n1;2,5\n3;4,5\n5;6,5\n")
    doc = profile(path)
    assert doc["delimiter"] == ";"
    assert col(doc, "b")["topValues"][0] == {"value": "2,5", "count": 1}


def test_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfname,age\nZo\xc3\xab,3\nAnn,4\n")
    doc = profile(path)
    assert doc["encoding"] == "utf-8-sig"
    assert doc["lossyDecode"] is False
    assert [c["name"] for c in doc["columns"]] == ["name", "age"]
    assert {"value": "Zoë", "count": 1} in col(doc, "name")["topValues"]


def test_plain_utf8(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "city\nZürich\nZürich\nKöln\n"))
    assert doc["encoding"] == "utf-8"
    assert col(doc, "city")["topValues"] == [
        {"value": "Zürich", "count": 2},
        {"value": "Köln", "count": 1},
    ]


def test_cp1252_file_is_transcoded(tmp_path: Path) -> None:
    path = write(
        tmp_path, b"name,city\nRen\xe9,Z\xfcrich\nAnn,Paris\n\x80uro,Gen\xe8ve\n"
    )
    doc = profile(path)
    assert doc["encoding"] == "cp1252"
    assert doc["lossyDecode"] is False
    names = {t["value"] for t in col(doc, "name")["topValues"]}
    assert names == {"René", "Ann", "€uro"}
    assert doc["sampleRows"][0] == ["René", "Zürich"]
    assert path.read_bytes().startswith(b"name,city\nRen\xe9")  # source untouched


def test_cp1252_with_undefined_byte_is_lossy(tmp_path: Path) -> None:
    body = "".join(f"caf\xe9 {i},{i}\n" for i in range(300)).encode("cp1252")
    path = write(tmp_path, b"word,n\n" + body + b"odd\x81,300\n")
    doc = profile(path)
    assert doc["encoding"] == "cp1252"
    assert doc["lossyDecode"] is True
    assert doc["rowCount"] == 301
    assert col(doc, "word")["distinctCount"] == 301


def test_late_non_utf8_bytes_fall_back_to_cp1252(tmp_path: Path) -> None:
    # the first 64 KiB are ASCII; DuckDB meets the 0xE9 later: no row is lost
    rows = "".join(f"{i},plain\n" for i in range(20_000)).encode()
    path = write(tmp_path, b"n,word\n" + rows + b"20000,caf\xe9\n")
    assert path.stat().st_size > SNIFF_BYTES
    doc = profile(path)
    assert doc["encoding"] == "cp1252"
    assert doc["rowCount"] == 20_001
    assert doc["rejectedCount"] == 0
    assert {"value": "café", "count": 1} in col(doc, "word")["topValues"]


@pytest.mark.parametrize(
    ("encoding", "text"),
    [("cp1251", "Москва,Иван"), ("cp1253", "Αθήνα,Γιώργος"), ("gbk", "北京,王伟")],
)
def test_other_8bit_encodings_are_undecodable(
    tmp_path: Path, encoding: str, text: str
) -> None:
    """Read as cp1252 they decode without an error, into nonsense."""
    body = "city,name\n" + "".join(f"{text} {i}\n" for i in range(30))
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, body.encode(encoding)))
    assert err.value.code == "undecodable"
    assert "Save it as UTF-8" in err.value.message


@pytest.mark.parametrize(
    "text",
    [
        "Besançon,Müller,Straße,été",
        "Ærø,Æbelø,København,Søren",  # Danish: short words, many letters
        "Ñandú,Peña,Año,Olé",
        "Coração,Ações,São Paulo,não",  # Portuguese: ç and ã side by side
        "12,50 €,20 °C,± 3 µm",  # symbols, not letters
    ],
)
def test_western_cp1252_text_is_read(tmp_path: Path, text: str) -> None:
    body = "a,b,c,d\n" + "".join(f"{text} {i}\n" for i in range(30))
    doc = profile(write(tmp_path, body.encode("cp1252")))
    assert doc["encoding"] == "cp1252"
    assert doc["rowCount"] == 30
    assert doc["sampleRows"][0] == [*text.split(",")[:3], text.split(",")[3] + " 0"]


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("saison", ["été", "hiver", "printemps", "automne"]),
        ("riktning", ["N", "S", "Ö", "V"]),  # Swedish: Öster
        ("unit", ["µ"]),
        ("geschmack", ["süß", "sauer"]),
    ],
)
def test_western_value_repeated_on_every_row_is_read(
    tmp_path: Path, column: str, values: list[str]
) -> None:
    """One short accented word on many rows is still Western text."""
    rows = [f"{i},{values[i % len(values)]}" for i in range(40)]
    doc = profile(write(tmp_path, csv_lines(f"id,{column}", rows).encode("cp1252")))
    assert doc["encoding"] == "cp1252"
    assert doc["rowCount"] == 40
    assert {t["value"] for t in col(doc, column)["topValues"]} == set(values)


def test_a_few_cyrillic_letters_are_undecodable(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, b"city\n" + "Москва\n".encode("cp1251")))
    assert err.value.code == "undecodable"
    assert "'Ìîñêâà'" in err.value.message  # the garbled text, as cp1252 reads it


def test_late_other_encoding_is_undecodable(tmp_path: Path) -> None:
    # the first 64 KiB are ASCII: only the rows DuckDB finds invalid show it
    rows = "".join(f"{i},plain\n" for i in range(20_000)).encode()
    late = "".join(f"{i},Санкт-Петербург\n" for i in range(50)).encode("cp1251")
    path = write(tmp_path, b"n,city\n" + rows + late)
    assert path.stat().st_size > SNIFF_BYTES
    with pytest.raises(ProfileError) as err:
        profile_csv(path)
    assert err.value.code == "undecodable"
    assert "Save it as UTF-8" in err.value.message


def test_late_cp1252_after_utf8_cyrillic_is_read(tmp_path: Path) -> None:
    # valid UTF-8 Cyrillic near the late bytes is not taken for garbled cp1252
    rows = "".join(f"{i},Москва\n" for i in range(8_000)).encode()
    path = write(tmp_path, b"n,word\n" + rows + b"8000,caf\xe9 cr\xe8me\n")
    assert path.stat().st_size > SNIFF_BYTES
    doc = profile(path)
    assert doc["encoding"] == "cp1252"
    assert doc["rowCount"] == 8_001
    assert {"value": "café crème", "count": 1} in col(doc, "word")["topValues"]


def test_utf16_with_bom_is_transcoded(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "a,b\n1,é\n2,ü\n".encode("utf-16")))
    assert doc["encoding"] == "utf-16"
    assert doc["rowCount"] == 2
    assert col(doc, "a")["type"] == "integer"


def test_header_only_file_is_a_valid_empty_profile(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "alpha,beta,gamma\n"))
    assert doc["rowCount"] == 0
    assert doc["columnCount"] == 3
    assert [c["name"] for c in doc["columns"]] == ["alpha", "beta", "gamma"]
    assert all(c["nullCount"] == 0 and c["warnings"] == [] for c in doc["columns"])
    assert doc["sampleRows"] == []
    assert doc["duplicateRows"] == 0


# ---------------------------------------------------------------------- errors


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, b""))
    assert err.value.code == "empty_file"
    assert err.value.message


def test_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, b"\n\n  \n"))
    assert err.value.code == "empty_file"


def test_binary_junk(tmp_path: Path) -> None:
    junk = random.Random(7).randbytes(4096)
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, junk))
    assert err.value.code == "not_csv"


def test_png_named_csv(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, png, "picture.csv"))
    assert err.value.code == "not_csv"
    assert "PNG" in err.value.message


def test_zip_named_csv(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, b"PK\x03\x04" + b"xl/workbook.xml" * 20))
    assert err.value.code == "not_csv"


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b'{"a": 1, "b": [1, 2, 3]}', "JSON"),
        (b'{"a": 1}\n{"a": 2}\n' * 3, "JSON"),  # JSON Lines
        (b"\xef\xbb\xbf  [1, 2, 3]\n", "JSON"),
        (b"<!DOCTYPE html><html><body>hi, there</body></html>", "HTML page"),
        (b"  <html lang=en>\n<p>a,b</p>\n</html>\n", "HTML page"),
        (b'<?xml version="1.0"?>\n<rows><row a="1,2"/></rows>\n', "XML document"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF document"),
    ],
)
def test_text_formats_named_csv_are_not_csv(
    tmp_path: Path, data: bytes, what: str
) -> None:
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, data))
    assert err.value.code == "not_csv"
    assert what in err.value.message


def test_csv_that_merely_starts_with_a_bracket_is_read(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "[id],name\n1,a\n2,b\n"))
    assert [c["name"] for c in doc["columns"]] == ["[id]", "name"]


def test_json_document_longer_than_the_sniffed_head_is_not_csv(
    tmp_path: Path,
) -> None:
    records = [{"id": i, "name": f"n{i}", "tags": ["a", "b"]} for i in range(3_000)]
    path = write(tmp_path, json.dumps(records, indent=2))
    assert path.stat().st_size > SNIFF_BYTES
    with pytest.raises(ProfileError) as err:
        profile_csv(path)
    assert err.value.code == "not_csv"
    assert "JSON" in err.value.message


def test_long_csv_that_starts_with_a_brace_is_read(tmp_path: Path) -> None:
    rows = [f"{i},x{i}" for i in range(20_000)]
    path = write(tmp_path, csv_lines("{id},name", rows))
    assert path.stat().st_size > SNIFF_BYTES
    doc = profile(path)
    assert [c["name"] for c in doc["columns"]] == ["{id}", "name"]
    assert doc["rowCount"] == 20_000


def test_a_file_of_which_no_row_can_be_read_is_a_parse_error(tmp_path: Path) -> None:
    """An open quote on the first row swallows the rest of the file."""
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, 'a,b\n1,"open\n2,3\n4,5\n'))
    assert err.value.code == "parse_error"
    assert err.value.message.startswith("No row could be read: line 2:")


def test_control_characters_are_not_csv(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, b"a,b\n" + b"\x01\x02\x03\x04,\x05\n" * 50))
    assert err.value.code == "not_csv"


def test_undecodable_text(tmp_path: Path) -> None:
    # neither UTF-8 nor cp1252: bytes cp1252 leaves undefined, many of them
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, b"a,b\n" + b"x,\x81\x8d\x8f\x90\x9d\n" * 20))
    assert err.value.code == "undecodable"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        profile_csv(tmp_path / "nope.csv")
    assert err.value.code == "not_found"


def test_too_many_columns(tmp_path: Path) -> None:
    # the documented limit is 1,000 columns
    header = ",".join(f"c{k}" for k in range(1_001))
    row = ",".join(str(k) for k in range(1_001))
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, f"{header}\n{row}\n"))
    assert err.value.code == "too_many_columns"
    assert "1001 columns" in err.value.message


# ------------------------------------------------------------ parsing details


def test_ragged_rows_are_rejected_with_line_numbers(tmp_path: Path) -> None:
    text = "id,name,score\n1,a,1.5\n2,b,2.5,EXTRA\n3,c,3.5\n4,d\n5,e,5.5\n"
    doc = profile(write(tmp_path, text))
    assert doc["rowCount"] == 3
    assert doc["rejectedCount"] == 2
    assert [r["line"] for r in doc["rejectedRows"]] == [3, 5]
    assert "TOO MANY COLUMNS" in doc["rejectedRows"][0]["reason"]
    assert "MISSING COLUMNS" in doc["rejectedRows"][1]["reason"]
    assert col(doc, "id")["min"] == 1
    assert col(doc, "id")["max"] == 5
    assert col(doc, "score")["mean"] == pytest.approx((1.5 + 3.5 + 5.5) / 3)


def test_rejected_rows_are_capped(tmp_path: Path) -> None:
    rows = [f"{i},x" if i % 2 else f"{i},x,extra" for i in range(40)]
    doc = profile(write(tmp_path, csv_lines("a,b", rows)), max_rejects=5)
    assert doc["rejectedCount"] == 20
    assert [r["line"] for r in doc["rejectedRows"]] == [2, 4, 6, 8, 10]
    assert doc["rowCount"] == 20


def test_quoted_newlines_and_quotes(tmp_path: Path) -> None:
    text = 'id,text\n1,"two\nlines"\n2,"a ""quoted"" word"\n3,plain\n4,x,extra\n'
    doc = profile(write(tmp_path, text))
    assert doc["rowCount"] == 3
    values = {t["value"] for t in col(doc, "text")["topValues"]}
    assert values == {"two\nlines", 'a "quoted" word', "plain"}
    assert doc["sampleRows"][0] == ["1", "two\nlines"]
    # physical line (as an editor counts), after the two-line field
    assert [r["line"] for r in doc["rejectedRows"]] == [6]


def test_value_not_matching_sniffed_type_retypes_column(tmp_path: Path) -> None:
    # the sniffer samples the start; a late non-number must not reject its row
    rows = [f"{i},x" for i in range(30_000)] + ["oops,x"]
    doc = profile(write(tmp_path, csv_lines("n,t", rows)))
    assert doc["rowCount"] == 30_001
    assert doc["rejectedCount"] == 0
    n = col(doc, "n")
    assert n["type"] == "text"
    assert "numbers_as_text" in n["warnings"]


# ------------------------------------------------------------------- types


def test_each_type_is_inferred(tmp_path: Path) -> None:
    text = csv_lines(
        "i,f,b,d,t,s",
        [
            "1,1.5,true,2024-01-02,2024-01-02 10:00:00,x",
            "2,2.5,false,2024-02-03,2024-02-03 11:30:00,y",
            "3,,true,2024-03-04,2024-03-04 12:00:00,z",
        ],
    )
    doc = profile(write(tmp_path, text))
    types = {c["name"]: c["type"] for c in doc["columns"]}
    assert types == {
        "i": "integer",
        "f": "float",
        "b": "boolean",
        "d": "date",
        "t": "datetime",
        "s": "text",
    }
    assert col(doc, "b")["trueCount"] == 2
    assert col(doc, "b")["falseCount"] == 1
    assert col(doc, "d")["min"] == "2024-01-02"
    assert col(doc, "d")["max"] == "2024-03-04"
    assert col(doc, "t")["min"] == "2024-01-02T10:00:00"
    assert col(doc, "t")["max"] == "2024-03-04T12:00:00"
    assert col(doc, "f")["nullCount"] == 1
    assert col(doc, "s")["length"] == {"min": 1, "max": 1, "mean": 1.0}


def test_quoted_columns_with_blanks_are_retyped(tmp_path: Path) -> None:
    # QUOTE_ALL exports: "" in a numeric column is a blank, not text
    text = (
        '"n","flag","day"\n'
        '"1","true","2024-01-01"\n'
        '"","","2024-01-02"\n'
        '"3","false",""\n'
    )
    doc = profile(write(tmp_path, text))
    n, flag, day = col(doc, "n"), col(doc, "flag"), col(doc, "day")
    assert (n["type"], n["emptyCount"], n["nullCount"]) == ("integer", 1, 0)
    assert n["min"] == 1 and n["max"] == 3 and n["mean"] == pytest.approx(2.0)
    assert (flag["type"], flag["trueCount"], flag["falseCount"]) == ("boolean", 1, 1)
    assert (day["type"], day["min"], day["max"]) == ("date", "2024-01-01", "2024-01-02")


def test_nulls_versus_empty_strings(tmp_path: Path) -> None:
    # missing field -> null; quoted "" -> empty string (not a value)
    text = 'id,v\n1,""\n2,\n3,x\n4,"y"\n5,x\n6,""\n'
    doc = profile(write(tmp_path, text))
    v = col(doc, "v")
    assert v["nullCount"] == 1
    assert v["emptyCount"] == 2
    assert v["nullShare"] == pytest.approx(1 / 6)
    assert v["distinctCount"] == 2
    assert v["topValues"] == [{"value": "x", "count": 2}, {"value": "y", "count": 1}]
    assert v["length"] == {"min": 1, "max": 1, "mean": 1.0}
    assert doc["sampleRows"][:2] == [["1", ""], ["2", None]]


# ----------------------------------------------------------------- figures


def test_duplicates_are_counted_exactly(tmp_path: Path) -> None:
    text = "a,b\n1,x\n1,x\n2,y\n1,x\n2,y\n3,\n3,\n4,z\n"
    doc = profile(write(tmp_path, text))
    # (1,x) x3 -> 2 extra, (2,y) x2 -> 1, (3,null) x2 -> 1
    assert doc["duplicateRows"] == 4
    assert doc["rowCount"] == 8


def test_no_duplicates(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "a,b\n1,x\n2,x\n1,y\n"))
    assert doc["duplicateRows"] == 0


def test_numeric_figures_match_hand_computation(tmp_path: Path) -> None:
    rng = random.Random(42)
    data = [round(rng.gauss(50, 15), 3) for _ in range(997)]
    ints = [rng.randint(-500, 500) for _ in range(997)]
    rows = [f"{x},{i}" for x, i in zip(data, ints, strict=True)]
    doc = profile(write(tmp_path, csv_lines("x,i", rows)))
    x = col(doc, "x")
    assert x["type"] == "float"
    assert x["min"] == min(data)
    assert x["max"] == max(data)
    assert x["mean"] == pytest.approx(statistics.mean(data))
    assert x["std"] == pytest.approx(statistics.stdev(data))
    assert x["quantiles"] == pytest.approx(pcts(data))
    assert x["distinctCount"] == len(set(data))
    i = col(doc, "i")
    assert (i["min"], i["max"]) == (min(ints), max(ints))
    assert isinstance(i["min"], int)
    assert i["quantiles"] == pytest.approx(pcts([float(v) for v in ints]))


def test_quantiles_of_clustered_values_with_heavy_ties(tmp_path: Path) -> None:
    # clusters six orders of magnitude apart and a tie holding a fifth of the
    # values: every order statistic must still be exact
    rng = random.Random(3)
    data = [rng.choice([1.0, 2.0, 2.0, 1e6]) + rng.random() for _ in range(3000)]
    data += [7.0] * 800  # a heavy tie
    rng.shuffle(data)
    rows = [repr(v) for v in data]
    doc = profile(write(tmp_path, csv_lines("v", rows)))
    # order statistics are exact; only the interpolation's last bit may differ
    assert col(doc, "v")["quantiles"] == pytest.approx(pcts(data), rel=1e-13, abs=0)


def test_quantiles_of_sorted_input_with_ties(tmp_path: Path) -> None:
    data = sorted([i // 7 for i in range(5000)])
    doc = profile(write(tmp_path, csv_lines("v", [str(v) for v in data])))
    assert col(doc, "v")["quantiles"] == pytest.approx(
        pcts([float(v) for v in data]), rel=0, abs=0
    )


def test_histogram_bins_are_left_closed(tmp_path: Path) -> None:
    values = list(range(11))  # 0..10, 5 bins of width 2: [0,2) [2,4) ... [8,10]
    doc = profile(
        write(tmp_path, csv_lines("v", [str(v) for v in values])), histogram_bins=5
    )
    h = col(doc, "v")["histogram"]
    assert h["edges"] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert h["counts"] == [2, 2, 2, 2, 3]


def test_histogram_matches_hand_binning(tmp_path: Path) -> None:
    rng = random.Random(5)
    data = [round(rng.uniform(-3, 9), 2) for _ in range(500)]
    doc = profile(write(tmp_path, csv_lines("v", [str(v) for v in data])))
    h = col(doc, "v")["histogram"]
    lo, hi = min(data), max(data)
    width = (hi - lo) / 20
    expected_edges = [lo + k * width for k in range(20)] + [hi]
    assert h["edges"] == pytest.approx(expected_edges)
    edges = h["edges"]
    counts = [
        sum(1 for v in data if edges[k] <= v < edges[k + 1] or (k == 19 and v == hi))
        for k in range(20)
    ]
    assert h["counts"] == counts
    assert sum(h["counts"]) == 500


def test_constant_numeric_column_histogram(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, csv_lines("v", ["4"] * 5)))
    v = col(doc, "v")
    assert v["histogram"] == {"edges": [4.0, 4.0], "counts": [5]}
    assert v["quantiles"] == {"p5": 4.0, "p25": 4.0, "p50": 4.0, "p75": 4.0, "p95": 4.0}
    assert v["std"] == 0.0


def test_date_histogram(tmp_path: Path) -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=k) for k in range(10)]
    rows = [d.isoformat() for d in days] + ["2024-01-01"]
    doc = profile(write(tmp_path, csv_lines("d", rows)), histogram_bins=5)
    h = col(doc, "d")["histogram"]
    assert h["edges"] == [
        "2024-01-01",
        "2024-01-03",
        "2024-01-05",
        "2024-01-07",
        "2024-01-09",
        "2024-01-10",  # the last bin is closed and ends at the latest date
    ]
    assert h["counts"] == [3, 2, 2, 2, 2]


def test_datetime_histogram(tmp_path: Path) -> None:
    rows = ["2024-01-01 00:00:00", "2024-01-01 06:00:00", "2024-01-01 12:00:00"]
    rows += ["2024-01-01 18:00:00", "2024-01-02 00:00:00"]
    doc = profile(write(tmp_path, csv_lines("t", rows)), histogram_bins=4)
    h = col(doc, "t")["histogram"]
    assert h["edges"] == [
        "2024-01-01T00:00:00",
        "2024-01-01T06:00:00",
        "2024-01-01T12:00:00",
        "2024-01-01T18:00:00",
        "2024-01-02T00:00:00",
    ]
    assert h["counts"] == [1, 1, 1, 2]


def test_correlations(tmp_path: Path) -> None:
    rng = random.Random(9)
    xs = [rng.uniform(0, 10) for _ in range(200)]
    ys = [2 * x + rng.gauss(0, 1) for x in xs]
    zs = [rng.uniform(0, 1) for _ in xs]
    rows = [
        f"{x!r},{y!r},{z!r},w{k % 3}"
        for k, (x, y, z) in enumerate(zip(xs, ys, zs, strict=True))
    ]
    doc = profile(write(tmp_path, csv_lines("x,y,z,label", rows)))
    corr = doc["correlations"]
    assert corr["columns"] == ["x", "y", "z"]
    m = corr["pearson"]
    assert m[0][0] == m[1][1] == m[2][2] == 1.0
    assert m[0][1] == pytest.approx(statistics.correlation(xs, ys))
    assert m[1][0] == m[0][1]
    assert m[0][2] == pytest.approx(statistics.correlation(xs, zs))
    assert m[1][2] == pytest.approx(statistics.correlation(ys, zs))


def test_top_values_order_and_limit(tmp_path: Path) -> None:
    rows = ["b"] * 3 + ["a"] * 3 + ["c"] * 5 + ["d", "e"]
    doc = profile(write(tmp_path, csv_lines("v", rows)), top_values=3)
    assert col(doc, "v")["topValues"] == [
        {"value": "c", "count": 5},
        {"value": "a", "count": 3},
        {"value": "b", "count": 3},
    ]


def test_sample_rows(tmp_path: Path) -> None:
    rows = [f"{k},n{k}" for k in range(10)]
    doc = profile(write(tmp_path, csv_lines("k,name", rows)), sample_rows=3)
    assert doc["sampleRows"] == [["0", "n0"], ["1", "n1"], ["2", "n2"]]


def test_exactness_is_declared(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "a\n1\n2\n"))
    assert doc["approximate"] == []
    for figure in ("distinctCount", "quantiles", "duplicateRows", "topValues"):
        assert figure in doc["exact"]


def test_progress_phases(tmp_path: Path) -> None:
    phases: list[str] = []
    profile(write(tmp_path, "a,b\n1,x\n2,y\n1,x\n"), progress=phases.append)
    assert phases[0] == "sniffing"
    assert "aggregating" in phases
    assert "distributions" in phases
    assert "duplicates" in phases
    assert phases[-1] == "done"


def test_temporary_files_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    profile(write(tmp_path, b"name\nRen\xe9\n"))  # transcodes into the work dir
    assert os.listdir(tmp_path / "tmp") == []


# ----------------------------------------------------------------- warnings


def test_warning_constant_and_unique(tmp_path: Path) -> None:
    rows = [f"{k},same" for k in range(6)]
    doc = profile(write(tmp_path, csv_lines("id,kind", rows)))
    assert col(doc, "id")["warnings"] == ["unique"]
    assert col(doc, "kind")["warnings"] == ["constant"]


def test_warning_all_null_and_mostly_null(tmp_path: Path) -> None:
    rows = ["1,,", "2,,5", "3,,", "4,,", "5,,7"]
    doc = profile(write(tmp_path, csv_lines("id,empty,sparse", rows)))
    assert "all_null" in col(doc, "empty")["warnings"]
    assert col(doc, "empty")["nullCount"] == 5
    sparse = col(doc, "sparse")
    assert sparse["nullShare"] == pytest.approx(0.6)
    assert "mostly_null" in sparse["warnings"]
    assert "mostly_null" not in col(doc, "id")["warnings"]


def test_warning_high_cardinality(tmp_path: Path) -> None:
    rows = [f"v{k % 40}" for k in range(60)]  # 40 distinct of 60 values
    doc = profile(write(tmp_path, csv_lines("code", rows)))
    code = col(doc, "code")
    assert code["distinctCount"] == 40
    assert code["warnings"] == ["high_cardinality"]
    low = profile(
        write(tmp_path, csv_lines("code", [f"v{k % 20}" for k in range(60)]), "b.csv")
    )
    assert col(low, "code")["warnings"] == []


def test_warning_skewed(tmp_path: Path) -> None:
    data = [1] * 30 + [1000]
    doc = profile(write(tmp_path, csv_lines("v", [str(v) for v in data])))
    assert "skewed" in col(doc, "v")["warnings"]
    even = profile(
        write(tmp_path, csv_lines("v", [str(k % 5) for k in range(30)]), "b.csv")
    )
    assert "skewed" not in col(even, "v")["warnings"]


def test_warning_numbers_as_text(tmp_path: Path) -> None:
    rows = [str(k) for k in range(19)] + ["n/a"]
    doc = profile(write(tmp_path, csv_lines("v", rows)))
    v = col(doc, "v")
    assert v["type"] == "text"
    assert "numbers_as_text" in v["warnings"]
    assert "mixed_types" not in v["warnings"]


def test_warning_mixed_types(tmp_path: Path) -> None:
    rows = ["1", "2", "3", "apple", "pear", "fig", "4.5", "kiwi", "plum", "lime"]
    doc = profile(write(tmp_path, csv_lines("v", rows)))
    v = col(doc, "v")
    assert "mixed_types" in v["warnings"]
    assert "numbers_as_text" not in v["warnings"]


def test_no_nan_or_infinity_in_output(tmp_path: Path) -> None:
    # one value: std/skewness/correlation undefined -> None, not NaN
    doc = profile(write(tmp_path, "a,b\n1,2\n"))
    a = col(doc, "a")
    assert a["std"] is None
    assert doc["correlations"]["pearson"][0][1] is None
    assert not math.isnan(a["mean"])


# ------------------------------------------------------------------ odd inputs


def test_printable_magic_in_a_header_is_still_csv(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "MZ code,value\nA1,3\nB2,4\n"))
    assert [c["name"] for c in doc["columns"]] == ["MZ code", "value"]
    assert doc["rowCount"] == 2


def test_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, b"a,b\r\n1,x\r\n2,y"))
    assert doc["rowCount"] == 2
    assert doc["sampleRows"] == [["1", "x"], ["2", "y"]]


def test_file_without_header(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "1,2.5,x\n3,4.5,y\n5,6.5,z\n"))
    assert doc["hasHeader"] is False
    assert doc["rowCount"] == 3
    assert [c["type"] for c in doc["columns"]] == ["integer", "float", "text"]


def test_non_finite_floats_are_ignored_by_statistics(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "v\n1.5\nnan\ninf\n2.5\n"))
    v = col(doc, "v")
    assert (v["min"], v["max"], v["mean"]) == (1.5, 2.5, 2.0)
    assert sum(v["histogram"]["counts"]) == 2
    assert v["quantiles"]["p50"] == 2.0


def test_invalid_settings_are_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DuckDB settings"):
        profile_csv(write(tmp_path, "a\n1\n"), memory_limit="lots")


def test_late_decimal_in_integer_column_is_not_rounded(tmp_path: Path) -> None:
    # DuckDB would round "9.5" into the sniffed BIGINT column without an error
    data = list(range(30_000))
    rows = [str(v) for v in data] + ["9.5"]
    doc = profile(write(tmp_path, csv_lines("v", rows)))
    v = col(doc, "v")
    assert v["type"] == "float"
    assert v["mean"] == pytest.approx((sum(data) + 9.5) / 30_001, rel=1e-12)
    assert v["distinctCount"] == 30_001


def test_late_time_in_date_column_makes_it_datetime(tmp_path: Path) -> None:
    rows = [f"2024-01-{k % 28 + 1:02d}" for k in range(30_000)]
    rows.append("2024-02-01 10:30:00")
    doc = profile(write(tmp_path, csv_lines("d", rows)))
    d = col(doc, "d")
    assert d["type"] == "datetime"
    assert d["max"] == "2024-02-01T10:30:00"


def test_integers_beyond_double_precision_stay_exact(tmp_path: Path) -> None:
    doc = profile(write(tmp_path, "v\n9007199254740993\n1\n9007199254740992\n"))
    v = col(doc, "v")
    assert v["type"] == "integer"
    assert (v["min"], v["max"]) == (1, 9_007_199_254_740_993)
    assert v["distinctCount"] == 3


def test_bad_value_on_a_malformed_row_does_not_retype(tmp_path: Path) -> None:
    text = "id,price\n1,9.5\n2,12\n3,oops,extra\n4,7.25\n"
    doc = profile(write(tmp_path, text))
    price = col(doc, "price")
    assert price["type"] == "float"
    assert (price["min"], price["max"]) == (7.25, 12.0)
    assert doc["rejectedCount"] == 1
    assert len(doc["rejectedRows"]) == 1
    assert "TOO MANY COLUMNS" in doc["rejectedRows"][0]["reason"]


@pytest.mark.parametrize("columns", [10_000, 50_000])
def test_a_very_wide_header_is_too_many_columns(tmp_path: Path, columns: int) -> None:
    """Counted before DuckDB reads the file: a 10,000-column header once
    answered parse_error with DuckDB's out-of-memory text."""
    header = ",".join(f"column_{k}" for k in range(columns))
    row = ",".join("1" for _ in range(columns))
    with pytest.raises(ProfileError) as err:
        profile_csv(write(tmp_path, f"{header}\n{row}\n{row}\n"))
    assert err.value.code == "too_many_columns"
    assert f"{columns} columns" in err.value.message
