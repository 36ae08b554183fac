"""The dashboard's views of issue 14, and the standalone report, in Chromium.

Files shaped like the real ones (tests/uploads/fixtures/) go through the
upload page and processing; the dashboard then shows the missing-values
overview, Pearson and Spearman with the correlated pairs' density charts,
column search, jump and per-file folds, sample and duplicate rows, extreme
values and null markers. The standalone report is opened from disk in a
browser context that is offline. Screenshots land in SCREENSHOT_DIR
(``SCREENSHOT_DIR=docs``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from analytics_site.report import render_profile_report
from tests.browser.conftest import Problems, watch
from tests.browser.test_pages import drop_files
from uploads.profiling import profile_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIXTURES = Path(__file__).resolve().parents[1] / "uploads" / "fixtures"
DUPLICATES = b"sku,store,qty\n" + b"".join(
    f"{['A1', 'B2', 'C3'][k % 3]},{['north', 'south'][k % 2]},{k % 4}\n".encode()
    for k in range(40)
)


def fixture(name: str) -> tuple[str, bytes]:
    return name, (FIXTURES / name).read_bytes()


def open_dashboard(page: Page, files: list[tuple[str, bytes]]) -> None:
    page.goto("/")
    drop_files(page, files)
    expect(page.locator("#file-list .file-badge").last).to_have_text(
        "Uploaded", timeout=20_000
    )
    expect(page.get_by_role("button", name="Process files")).to_be_enabled()
    page.get_by_role("button", name="Process files").click()
    page.wait_for_url(re.compile(r".*/sessions/[0-9a-z]+/$"), timeout=60_000)


def report(page: Page, name: str) -> Any:
    return page.locator(f'section.report[data-file="{name}"]')


def test_dashboard_views(page: Page, problems: Problems, screenshot_dir: Path) -> None:
    open_dashboard(
        page,
        [
            fixture("flights_like.csv"),
            fixture("weather_like.csv"),
            ("stock.csv", DUPLICATES),
            fixture("header_only.csv"),
        ],
    )
    flights = report(page, "flights_like.csv")
    expect(page.locator("section.report")).to_have_count(4)

    # Null markers are missing values, with the markers seen; years plain.
    delay = flights.locator('.column-card[data-column="dep_delay"]')
    expect(delay.locator(".type-badge")).to_have_text("Integer")
    expect(delay.locator(".markers")).to_have_text("NA: 13")
    expect(delay.locator(".extreme-list").first).to_contain_text("Smallest values")
    expect(delay.locator(".extreme-list").first.locator("li")).to_have_count(5)
    year = flights.locator('.column-card[data-column="year"]')
    expect(year.locator(".stat").first).to_have_text("Min2013")
    delay.scroll_into_view_if_needed()
    delay.screenshot(path=screenshot_dir / "page-dashboard-column.png")

    # The missing-values overview: a named, described SVG matrix with its table.
    missing = flights.locator("figure.grid-missing")
    chart = missing.locator('svg[role="img"]')
    expect(chart).to_have_accessible_name("Missing values by column and row range")
    expect(chart).to_have_accessible_description(re.compile(r"^13 columns by 20 "))
    assert chart.locator("rect.cell").count() == 13 * 20
    assert chart.locator("rect.level-0").count() < 13 * 20
    missing.locator("summary").click()
    expect(missing.locator("tbody tr")).to_have_count(13)
    expect(missing.locator("tbody tr").nth(3)).to_contain_text("dep_time")
    missing.locator("summary").click()
    missing.scroll_into_view_if_needed()
    missing.screenshot(path=screenshot_dir / "page-dashboard-missing.png")

    # Correlations: Pearson and Spearman, the strong pairs listed as warnings,
    # each with a density view.
    expect(flights.locator('table.corr-table[data-method="pearson"]')).to_be_visible()
    flights.get_by_role("heading", name="Spearman").click()
    expect(flights.locator('table.corr-table[data-method="spearman"]')).to_be_visible()
    pairs = flights.locator(".correlated-pairs li")
    assert pairs.count() >= 2
    expect(pairs.filter(has_text="dep_delay and arr_delay")).to_have_count(1)
    pair_card = flights.locator(".pair-card").filter(
        has=page.get_by_role("heading", name="arr_delay against dep_delay")
    )
    density = pair_card.locator('svg[role="img"][data-chart="density"]')
    expect(density).to_have_accessible_name("arr_delay against dep_delay")
    assert density.locator("rect.cell").count() >= 5
    expect(pair_card).to_contain_text(re.compile(r"Pearson 0\.\d\d · Spearman 0\.\d\d"))
    pairs.filter(has_text="dep_delay and arr_delay").get_by_role("link").click()
    expect(pair_card).to_be_in_viewport()
    flights.locator(".pair-grid").screenshot(
        path=screenshot_dir / "page-dashboard-correlations.png"
    )

    # Column search (by name or type), jump to a column, fold a file.
    search = flights.get_by_label("Search columns")
    search.fill("delay")
    cards = flights.locator(".column-card")
    expect(cards.filter(visible=True)).to_have_count(2)
    expect(flights.locator(".column-search-count")).to_have_text("2 of 13 columns")
    flights.locator(".columns-head").screenshot(
        path=screenshot_dir / "page-dashboard-search.png"
    )
    search.fill("date & time")
    expect(cards.filter(visible=True)).to_have_count(1)
    search.press("Escape")
    expect(cards.filter(visible=True)).to_have_count(13)
    flights.get_by_text("Jump to a column").click()
    flights.locator(".column-index").get_by_role("link", name="air_time").click()
    expect(flights.locator('.column-card[data-column="air_time"]')).to_be_in_viewport()

    weather = report(page, "weather_like.csv")
    fold = weather.locator("details.report-fold")
    weather.locator("summary.report-head").click()
    expect(fold).not_to_have_attribute("open", "")
    expect(weather.locator(".tiles")).to_be_hidden()
    page.goto(page.url.split("#")[0] + "#f2-c15")  # a column inside the fold
    expect(fold).to_have_attribute("open", "")
    stamp = weather.locator('.column-card[data-column="time_hour"]')
    expect(stamp).to_be_in_viewport()
    expect(stamp.locator(".stat").first).to_contain_text("UTC")

    # Sample rows: the head and rows drawn at random; duplicate rows.
    stock = report(page, "stock.csv")
    stock.get_by_role("heading", name=re.compile("^Sample rows")).click()
    expect(stock.locator(".sample-table tbody tr")).to_have_count(10)
    expect(stock.locator(".sample-table tr.random-row")).to_have_count(5)
    stock.get_by_role("heading", name=re.compile("^Duplicate rows")).click()
    dups = stock.locator(".duplicates-panel tbody tr")
    expect(dups).to_have_count(10)
    expect(dups.first).to_contain_text("A1")
    stock.locator(".duplicates-panel").screenshot(
        path=screenshot_dir / "page-dashboard-duplicates.png"
    )
    stock.locator(".sample-panel").screenshot(
        path=screenshot_dir / "page-dashboard-samples.png"
    )

    # A header-only file says so, with no card of empty charts.
    empty = report(page, "header_only.csv")
    expect(empty.locator(".no-rows")).to_contain_text("No data rows.")
    expect(empty.locator(".column-card")).to_have_count(0)
    expect(empty.locator(".column-name-item")).to_have_count(15)
    empty.screenshot(path=screenshot_dir / "page-dashboard-no-rows.png")
    problems.assert_none()


def test_standalone_report_opens_offline(
    browser: Browser, tmp_path: Path, screenshot_dir: Path
) -> None:
    profile = profile_csv(FIXTURES / "flights_like.csv")
    html = render_profile_report(profile, file_name="flights <2013>.csv")
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")

    context = browser.new_context(
        offline=True,
        viewport={"width": 1280, "height": 900},
        color_scheme="light",
        reduced_motion="reduce",
    )
    problems = Problems()
    page = watch(context.new_page(), problems)
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(request.url)

    page.on("request", record)
    page.goto(path.as_uri())
    expect(page).to_have_title("Profile of flights <2013>.csv")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Profile of flights <2013>.csv"
    )
    expect(page.locator(".column-card")).to_have_count(13)
    charts = page.locator('svg[role="img"]')
    assert charts.count() >= 13 + 1  # a chart per column, the missing values...
    expect(page.locator("figure.grid-missing svg")).to_be_visible()
    expect(page.locator(".pair-card").first.locator("svg")).to_be_visible()
    # styled by the inlined stylesheet: tiles sit side by side
    boxes = [page.locator(".tile").nth(k).bounding_box() for k in range(2)]
    assert boxes[0] and boxes[1] and boxes[0]["y"] == boxes[1]["y"]
    assert page.locator(".column-tools").count() == 0  # no script, no search
    page.locator("details.report-fold > summary").click()
    expect(page.locator(".tiles")).to_be_hidden()
    page.locator("details.report-fold > summary").click()
    assert requests == [path.as_uri()]  # nothing else was fetched
    page.screenshot(
        path=screenshot_dir / "report-standalone.png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": 1600},
    )
    problems.assert_none()
    context.close()
