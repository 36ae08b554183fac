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
