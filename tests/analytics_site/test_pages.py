"""The site's pages through Django's test client: upload page, dashboard,
404s, the Content-Security-Policy and the chart geometry."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from analytics_site import charts
from tests.support.uploads import edit_upload
from uploads.documents import UploadDocument

GOOD_CSV = b"id,city,amount,day,paid\n" + b"".join(
    f"{i},{['Paris', 'Lyon', 'Oslo'][i % 3]},{i * 1.5},2024-01-{i % 28 + 1:02d},"
    f"{'true' if i % 2 else 'false'}\n".encode()
    for i in range(1, 61)
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"

#: The site's policy (settings.SECURE_CSP, sent by Django's CSP middleware).
POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def upload(client: Client, *files: tuple[str, bytes]) -> dict[str, Any]:
    response = client.post(
        "/api/upload",
        {"files": [SimpleUploadedFile(name, data) for name, data in files]},
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def process(client: Client) -> dict[str, Any]:
    response = client.post("/api/process", "{}", content_type="application/json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def assert_strict_page(response: Any) -> str:
    """The page obeys the strict policy: no inline script or style at all."""
    assert response["Content-Security-Policy"] == POLICY
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html), "style attribute"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    return html


# ------------------------------------------------------------------ upload page


def test_home_sets_the_csrf_cookie_and_a_strict_policy(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    assert "no-store" in response["Cache-Control"]
    html = assert_strict_page(response)
    # The drop zone is the label of a real file input: keyboard and screen readers.
    assert re.search(r'<input type="file" id="file-input"[^>]*multiple', html)
    assert '<label for="file-input" id="dropzone"' in html
    assert 'data-url-upload="/api/upload"' in html
    assert 'data-url-session="/api/sessions/UPLOAD_ID"' in html
    assert "Add CSV files to begin." in html
    assert re.search(r'<script src="/static/js/upload\.js[^"]*" defer>', html)


def test_home_renders_the_current_session(client: Client) -> None:
    session = upload(client, ("sales.csv", GOOD_CSV), ("stock.csv", GOOD_CSV))
    html = assert_strict_page(client.get("/"))
    assert f'data-upload-id="{session["id"]}"' in html
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert key not in html  # the credential stays in the HttpOnly cookie
    assert html.count('class="file" data-state="uploaded"') == 2
    assert "sales.csv" in html and "stock.csv" in html
    assert "2 files uploaded and ready to process." in html
    assert re.search(r'id="process-button"[^>]*>Process files', html)  # enabled


def test_home_after_processing_links_to_the_dashboard(client: Client) -> None:
    session = upload(client, ("sales.csv", GOOD_CSV))
    process(client)
    html = client.get("/").content.decode()
    assert 'data-status="completed"' in html
    assert f'href="/sessions/{session["id"]}/">Open the dashboard' in html
    assert re.search(r'id="process-button"[^>]*disabled hidden', html)


def test_home_says_when_the_session_has_expired(client: Client) -> None:
    client.cookies["sessionid"] = "a" * 32  # the shape of a key, but no session
    html = client.get("/").content.decode()
    assert '<div id="page-alert" class="alert alert-warning" role="alert">' in html
    assert "Your session has expired." in html


def test_home_shows_why_processing_failed(client: Client) -> None:
    upload(client, ("photo.csv", PNG))
    assert process(client)["status"] == "failed"
    html = client.get("/").content.decode()
    assert (
        'id="session-error" class="alert alert-error" role="alert" tabindex="-1">'
        in html
    )
    assert "No file could be profiled: photo.csv:" in html
    assert "Not a CSV file." in html  # the file's own error


def test_home_shows_the_progress_of_processing(client: Client) -> None:
    upload(client, ("a.csv", GOOD_CSV), ("b.csv", GOOD_CSV))

    def running(doc: UploadDocument) -> None:
        doc.status, doc.run = "processing", "a-run"
        doc.progress = {"file": 2, "files": 2, "phase": "quantiles"}

    edit_upload(client.cookies[django_settings.SESSION_COOKIE_NAME].value, running)
    html = client.get("/").content.decode()
    assert "Processing. File 2 of 2: computing quantiles…" in html
    rows = html.split('id="file-list"')[1].split("</ul>")[0]
    badges = re.findall(r'<span class="file-badge">([^<]*)</span>', rows)
    assert badges == ["Processing", "Profiling…"]  # as upload.js's polls show


@pytest.mark.django_db  # the job row of the queue
def test_home_shows_a_queued_session(client: Client, settings: Any) -> None:
    """Queue mode: the session waits for a worker; the page says so (and
    upload.js, which polls a queued session, says the same)."""
    settings.UPLOADS_PROCESSING_MODE = "queue"
    upload(client, ("a.csv", GOOD_CSV), ("b.csv", GOOD_CSV))
    response = client.post("/api/process", "{}", content_type="application/json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"

    html = assert_strict_page(client.get("/"))
    assert 'data-status="queued"' in html
    assert re.search(
        r'<p id="status"[^>]*data-status="queued">Queued: waiting for a worker…</p>',
        html,
    )
    assert ">Add CSV files to begin.<" not in html  # shown nowhere
    assert html.count('<span class="file-badge">Queued</span>') == 2
    assert re.search(r'id="process-button"[^>]*disabled>Process files', html)
    assert '<span class="step-label step-label-queued">Queued</span>' in html


# ------------------------------------------------------------------ dashboard


def test_dashboard_draws_a_chart_per_column(client: Client) -> None:
    session = upload(client, ("sales.csv", GOOD_CSV))
    process(client)
    response = client.get(f"/sessions/{session['id']}/")
    assert response.status_code == 200
    html = assert_strict_page(response)
    cards = re.findall(r'<article class="column-card type-(\w+)"', html)
    assert cards == ["integer", "text", "float", "date", "boolean"]
    charts_ = re.findall(r'<svg class="chart-svg"[^>]*data-chart="(\w+)"', html)
    assert charts_ == ["histogram", "bars", "histogram", "histogram", "bars"]
    # Accessible: each SVG is an image named by its title and description...
    for svg in re.findall(r'<svg class="chart-svg"[^>]*>', html):
        assert 'role="img"' in svg
        for attribute in ("aria-labelledby", "aria-describedby"):
            ref = re.search(attribute + r'="([^"]+)"', svg)
            assert ref is not None
            assert f'id="{ref.group(1)}"' in html
    # ...with its data as a table, and the figures as text.
    assert html.count('<details class="chart-data">') == 5
    assert "Distribution of amount" in html
    assert "Most frequent values of city" in html
    assert "<dt>Rows</dt><dd>60</dd>" in html
    assert "<dt>Median</dt><dd>45.75</dd>" in html


def test_dashboard_shows_each_files_error(client: Client) -> None:
    session = upload(client, ("sales.csv", GOOD_CSV), ("photo.csv", PNG))
    process(client)
    html = client.get(f"/sessions/{session['id']}/").content.decode()
    assert "1 of 2 files could not be profiled." in html
    assert 'data-code="not_csv"' in html
    assert "Not a CSV file." in html
    assert "PNG image" in html


def test_dashboard_renders_unusual_files(client: Client) -> None:
    """Header only, a column with no value, a unique text column, Windows-1252."""
    unique = b"code,empty,score\n" + b"".join(
        f"C{i:03d},,{i % 7}\n".encode() for i in range(40)
    )
    session = upload(
        client,
        ("header.csv", b"a;b;c\n"),
        ("unique.csv", unique),
        ("latin.csv", "name,city\nJos\u00e9,S\u00e3o Paulo\n".encode("cp1252")),
    )
    process(client)
    response = client.get(f"/sessions/{session['id']}/")
    assert response.status_code == 200
    html = assert_strict_page(response)
    assert "<dt>Rows</dt><dd>0</dd>" in html
    assert "No values to chart." in html  # header only, and the empty column
    assert "No value repeats: 40 distinct values, the first 3 shown." in html
    assert 'data-warning="all_null"' in html
    assert "Windows-1252" in html
    assert "S\u00e3o Paulo" in html


def test_dashboard_of_another_browser_is_a_404(client: Client) -> None:
    session = upload(client, ("sales.csv", GOOD_CSV))
    process(client)
    response = Client().get(f"/sessions/{session['id']}/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "These analytics are not available" in html
    assert '<a class="button button-primary" href="/">Upload files</a>' in html
    assert session["id"] not in html


@pytest.mark.parametrize("session_id", ["a" * 32, "not-a-key", "x"])
def test_dashboard_of_an_unknown_session_is_a_404(
    client: Client, session_id: str
) -> None:
    upload(client, ("sales.csv", GOOD_CSV))
    response = client.get(f"/sessions/{session_id}/")
    assert response.status_code == 404
    assert b"These analytics are not available" in response.content


def test_dashboard_of_a_deleted_session_is_a_404(client: Client) -> None:
    session = upload(client, ("sales.csv", GOOD_CSV))
    process(client)
    cookie = client.cookies["sessionid"].value
    assert client.delete(f"/api/sessions/{session['id']}").status_code == 204
    client.cookies["sessionid"] = cookie  # as a second tab still holding it
    response = client.get(f"/sessions/{session['id']}/")
    assert response.status_code == 404


def test_dashboard_before_processing_goes_to_the_upload_page(client: Client) -> None:
    session = upload(client, ("sales.csv", GOOD_CSV))
    response = client.get(f"/sessions/{session['id']}/")
    assert response.status_code == 302
    assert response["Location"] == "/"


# ------------------------------------------------------------------ site-wide


def test_unknown_pages_are_a_friendly_404(client: Client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Page not found" in response.content


def test_server_error_page_stands_alone(rf: RequestFactory) -> None:
    """Django renders 500.html without a request; it still has the styles."""
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b'href="/static/css/site.css"' in response.content


def test_api_errors_stay_json(client: Client) -> None:
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response["Content-Security-Policy"] == POLICY


def test_static_files_are_served_with_whitenoise(client: Client) -> None:
    response = client.get("/static/css/site.css")
    assert response.status_code == 200
    assert "text/css" in response["Content-Type"]
    assert client.get("/static/js/upload.js").status_code == 200


def test_swagger_ui_alone_may_use_inline_code(client: Client) -> None:
    policy = client.get("/api/docs/")["Content-Security-Policy"]
    assert "'unsafe-inline'" in policy
    assert "'unsafe-inline'" not in POLICY
    assert "'unsafe-eval'" not in policy


# ------------------------------------------------------------------ charts


def test_histogram_geometry() -> None:
    chart = charts.histogram_chart("x", [0, 1, 2, 3, 4], [5, 10, 0, 1], rows=16)
    assert chart is not None
    heights = [bar.height for bar in chart.bars]
    assert heights[1] == chart.plot_height  # the fullest bin fills the plot
    assert heights[0] == chart.plot_height / 2
    assert heights[2] == 0
    assert heights[3] >= 1.5  # a non-empty bin stays visible
    assert [bar.label for bar in chart.bars][-1] == "3 to 4 (inclusive)"
    assert [label.text for label in chart.x_labels] == ["0", "2", "4"]
    assert chart.table_rows[1] == ("1 to 2", "10", "62%")
    assert "The fullest, 1 to 2, holds 10 values." in chart.description
    assert charts.histogram_chart("x", [0, 1], [], rows=0) is None


def test_date_histogram_labels() -> None:
    chart = charts.histogram_chart(
        "t", ["2024-01-10T10:00:00", "2024-01-11T00:00:00"], [3], rows=3
    )
    assert chart is not None
    assert chart.bars[0].label == "2024-01-10 10:00 to 2024-01-11 (inclusive)"


def test_bar_chart_geometry() -> None:
    chart = charts.bar_chart(
        "city", [("Paris", 50), ("Lyon", 25), ("x" * 80, 1)], rows=100, title="Top"
    )
    assert chart is not None
    # bars are the share of rows (issue 14: they were scaled to the largest
    # count, so a rare value could draw a full-width bar)
    assert [bar.width for bar in chart.bars] == [
        charts.WIDTH / 2,
        charts.WIDTH / 4,
        3.2,
    ]
    rare = charts.bar_chart("v", [("rare", 3)], rows=10_000, title="Top")
    assert rare is not None and rare.bars[0].width == 2.0  # visible, not full
    assert chart.bars[2].short_label == "x" * 29 + "…"
    assert chart.bars[2].label == "x" * 80
    assert chart.height == 3 * 28
    assert chart.table_rows[0] == ("Paris", "50", "50%")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "\u2013"),
        (2000, "2,000"),
        (2000.0, "2,000"),
        (32.63, "32.63"),
        (1234.56, "1,234.6"),
        (0.05123, "0.0512"),
        (1.5e12 + 0.25, "1.5e+12"),
        (1.5e12, "1,500,000,000,000"),
        (-0.0001, "-0.0001"),
    ],
)
def test_fmt_num(value: Any, text: str) -> None:
    assert charts.fmt_num(value) == text


def test_fmt_pct_and_compact() -> None:
    assert charts.fmt_pct(1, 3) == "33%"
    assert charts.fmt_pct(1, 2000) == "<0.1%"
    assert charts.fmt_pct(51, 1000) == "5.1%"
    assert charts.fmt_pct(1, 0) == "\u2013"
    assert charts.fmt_compact(12345) == "12.3k"
    assert charts.fmt_compact(987) == "987"
