"""The standalone HTML report of a profile (analytics_site.report)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from analytics_site.report import render_profile_report
from uploads.profiling import profile_csv

FIXTURES = Path(__file__).resolve().parents[1] / "uploads" / "fixtures"


def test_the_report_stands_alone() -> None:
    profile = profile_csv(FIXTURES / "weather_like.csv")
    html = render_profile_report(
        profile,
        file_name="weather.csv",
        size=24_603,
        generated_at=dt.datetime(2026, 1, 2, 3, 4),
    )
    assert html.startswith("<!doctype html>")
    # loads nothing: no script, no link, no external reference
    assert "<script" not in html
    assert not re.search(r"<link\b", html)
    assert not re.search(r"""(?:src|href)=["'](?!#)""", html)
    assert "url(" not in html
    assert "<style>" in html and ".column-card" in html  # the inlined stylesheet
    # the figures and the charts, inline
    assert html.count('<article class="column-card') == 15
    assert html.count('<svg class="chart-svg"') == 15  # a chart per column
    assert 'data-chart="missing"' in html
    assert "Profiled 2 Jan 2026, 03:04 UTC" in html
    assert "24.0\u00a0KB" in html
    assert "NA: 240" in html  # wind_gust's markers


def test_names_from_the_file_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('"<b>col</b>",n\n"<script>alert(1)</script>",1\nx,2\n')
    html = render_profile_report(profile_csv(path), file_name="<img src=x>.csv")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x>" not in html
    assert "<b>col</b>" not in html


def test_a_document_that_is_not_a_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="not a profile"):
        render_profile_report({"files": []}, file_name="x.csv")


def test_a_schema_1_profile_still_renders() -> None:
    """Sessions processed before the switch to camelCase keep their stored
    schema-1 profiles until they expire: the dashboard reads them."""
    v1 = {
        "schema_version": "1",
        "encoding": "utf-8",
        "lossy_decode": False,
        "delimiter": ",",
        "has_header": True,
        "row_count": 3,
        "column_count": 2,
        "duplicate_rows": 1,
        "rejected_count": 0,
        "rejected_rows": [],
        "columns": [
            {
                "name": "score",
                "type": "float",
                "null_count": 1,
                "empty_count": 0,
                "distinct_count": 2,
                "min": 1.5,
                "max": 2.5,
                "mean": 2.0,
                "std": 0.7,
                "quantiles": None,
                "histogram": {"edges": [1.5, 2.5], "counts": [2]},
                "warnings": [],
            },
            {
                "name": "city",
                "type": "text",
                "null_count": 0,
                "empty_count": 0,
                "distinct_count": 2,
                "top_values": [{"value": "Oslo", "count": 2}],
                "length": {"min": 4, "max": 4, "mean": 4.0},
                "warnings": [],
            },
        ],
        "correlations": {"columns": ["score"], "matrix": [[1.0]]},
        "sample_rows": [["1.5", "Oslo"]],
        "exact": [],
        "approximate": [],
    }
    html = render_profile_report(v1, file_name="old.csv")
    assert "<dt>Rows</dt><dd>3</dd>" in html
    assert "<dt>Duplicate rows</dt><dd>1" in html
    assert "Most frequent values of city" in html
    assert "Distribution of score" in html
    assert "No data rows" not in html
