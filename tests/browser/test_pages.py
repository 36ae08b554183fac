"""The upload page and the dashboard in a real headless Chromium.

Few and broad on purpose (each test walks a whole flow): upload two files
with visible progress, process, read the dashboard; and the errors a person
meets (a file over the limit, a file that is not CSV, an expired session).
Screenshots of each state land in SCREENSHOT_DIR (``SCREENSHOT_DIR=docs``
refreshes the README's).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Problems, session_key, throttle_uploads, watch
from tests.support.uploads import edit_upload
from uploads import services
from uploads.documents import UploadDocument

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
# Status of the upload page, recorded on every change of #status's data-status.
_RECORD_STATUS = """() => {
  const status = document.getElementById("status");
  window.recordStatus(status.dataset.status);
  new MutationObserver(() => window.recordStatus(status.dataset.status))
    .observe(status, {attributes: true, attributeFilter: ["data-status"]});
}"""


def sales_csv(rows: int = 6000) -> bytes:
    rng = random.Random(7)
    cities = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "Oslo", "Vienna", "Lisbon"]
    lines = ["order_id,city,amount,quantity,ordered_on,paid,note"]
    for i in range(1, rows + 1):
        amount = f"{rng.lognormvariate(3.5, 0.6):.2f}" if rng.random() > 0.05 else ""
        day = 1 + int(rng.triangular(0, 364, 200))
        month, mday = _month_day(day)
        note = rng.choice(["", "gift", "express", "", "fragile"])
        city = rng.choice(cities[: rng.randint(1, len(cities))])
        paid = rng.choice(["true", "false"])
        quantity = rng.randint(1, 9)
        lines.append(
            f"{i},{city},{amount},{quantity},2024-{month:02d}-{mday:02d},{paid},{note}"
        )
    return ("\n".join(lines) + "\n").encode()


def stock_csv(rows: int = 5000) -> bytes:
    rng = random.Random(11)
    lines = ["sku;warehouse;level;updated"]
    for i in range(rows):
        lines.append(
            f"SKU-{i:05d};{rng.choice(['north', 'south', 'east', 'west'])};"
            f"{rng.gauss(100, 20):.1f};2024-{rng.randint(1, 9):02d}-"
            f"{rng.randint(10, 28)} {rng.randint(8, 18):02d}:"
            f"{rng.choice(['00', '30'])}:00"
        )
    return ("\n".join(lines) + "\n").encode()


def _month_day(day_of_year: int) -> tuple[int, int]:
    months = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    for month, length in enumerate(months, start=1):
        if day_of_year <= length:
            return month, day_of_year
        day_of_year -= length
    return 12, 31


def csv_file(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "text/csv", "buffer": data}


def drop_files(page: Page, files: list[tuple[str, bytes]]) -> None:
    """Drop files on the drop zone, as a drag and drop from the desktop does."""
    page.evaluate(
        """(files) => {
          const transfer = new DataTransfer();
          for (const f of files) {
            const bytes = new Uint8Array(f.bytes);
            transfer.items.add(new File([bytes], f.name, {type: "text/csv"}));
          }
          const zone = document.getElementById("dropzone");
          for (const type of ["dragenter", "dragover", "drop"]) {
            const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
            zone.dispatchEvent(new DragEvent(type, init));
          }
        }""",
        [{"name": name, "bytes": list(data)} for name, data in files],
    )


def test_upload_two_files_process_and_read_the_dashboard(
    page: Page, problems: Problems, browser: Browser, screenshot_dir: Path
) -> None:
    sales, stock = sales_csv(), stock_csv()
    page.goto("/")
    expect(page.get_by_role("heading", name="Profile your CSV files")).to_be_visible()
    # The drop zone is the label of a real file input, reachable by keyboard.
    picker = page.get_by_label("Drag and drop CSV files here or choose files")
    expect(picker).to_have_attribute("type", "file")
    page.keyboard.press("Tab")  # skip link
    for _ in range(5):
        if page.evaluate("document.activeElement.id") == "file-input":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file-input"
    page.evaluate("document.activeElement.blur()")
    expect(page.locator("#status")).to_have_text("Add CSV files to begin.")
    page.screenshot(path=screenshot_dir / "page-upload.png", full_page=True)

    # Upload: each file's progress, in bytes and percent, up to 100%.
    unthrottle = throttle_uploads(page, 160 * 1024)
    picker.set_input_files([csv_file("sales.csv", sales), csv_file("stock.csv", stock)])
    rows = page.locator("#file-list .file")
    expect(rows).to_have_count(2)
    page.wait_for_function(
        "() => { const p = document.querySelector('.file-progress');"
        " return p && p.value >= 40 && p.value < 90; }"
    )
    first_bytes = rows.nth(0).locator(".file-bytes")
    expect(first_bytes).to_have_text(
        re.compile(r"^\d+(\.\d)?\s(KB|bytes) of 2\d\d\.\d\sKB$")
    )
    expect(rows.nth(1).locator(".file-badge")).to_have_text("Waiting")
    page.screenshot(path=screenshot_dir / "page-progress.png", full_page=True)
    for row, data in ((rows.nth(0), sales), (rows.nth(1), stock)):
        expect(row.locator(".file-badge")).to_have_text("Uploaded", timeout=20_000)
        expect(row.locator(".file-progress")).to_have_js_property("value", 100)
        expect(row.locator(".file-percent")).to_have_text("100%")
        expect(row.locator(".file-bytes")).to_have_attribute(
            "data-loaded", str(len(data))
        )
        expect(row.locator(".file-bytes")).to_have_text(re.compile(r"^(.+) of \1$"))
    unthrottle(-1)
    expect(page.locator("#status")).to_have_text(
        "2 files uploaded and ready to process."
    )
    session_id = page.locator("[data-upload-page]").get_attribute("data-upload-id")
    assert session_id

    # A reload shows the same session, rendered by the server.
    page.reload()
    expect(page.locator("#file-list .file[data-file-id]")).to_have_count(2)
    expect(page.locator("[data-upload-page]")).to_have_attribute(
        "data-upload-id", session_id
    )

    # Process: the status moves uploaded -> processing -> completed, then the
    # dashboard opens.
    statuses: list[str] = []
    page.expose_function("recordStatus", lambda status: statuses.append(status))
    page.evaluate(_RECORD_STATUS)
    page.get_by_role("button", name="Process files").click()
    page.wait_for_url(f"**/sessions/{session_id}/")
    assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == [
        "uploaded",
        "processing",
        "completed",
    ]

    # The dashboard: a summary per file, a card with a chart per column.
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    reports = page.locator("section.report")
    expect(reports).to_have_count(2)
    sales_report, stock_report = reports.nth(0), reports.nth(1)
    expect(sales_report.locator(".tile").first).to_contain_text("6,000")
    expect(sales_report.locator(".column-card")).to_have_count(7)
    expect(stock_report.locator(".column-card")).to_have_count(4)
    expect(stock_report.locator(".badges")).to_contain_text("semicolon-separated")
    kinds = {
        "order_id": "histogram",
        "city": "bars",
        "amount": "histogram",
        "ordered_on": "histogram",
        "paid": "bars",
        "updated": "histogram",
        "warehouse": "bars",
    }
    for column, kind in kinds.items():
        card = page.locator(f'.column-card[data-column="{column}"]')
        chart = card.locator(f'svg[role="img"][data-chart="{kind}"]')
        expect(chart).to_have_count(1)
        expect(chart.locator("rect.bar-fill").first).to_be_visible()
        assert chart.locator("rect.bar-fill").count() >= 2
    city = page.locator('.column-card[data-column="city"] svg')
    expect(city).to_have_accessible_name("Most frequent values of city")
    expect(city).to_have_accessible_description(re.compile(r"^8 bars\. The most"))
    # The top of the page: the summary and the first row of column cards.
    page.screenshot(
        path=screenshot_dir / "page-dashboard.png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": 1400},
    )
    problems.assert_none()

    # Another browser (no cookie) gets a 404 page that leads back to upload.
    stranger = browser.new_context(base_url=page.url.split("/sessions/")[0])
    other = stranger.new_page()
    response = other.goto(f"/sessions/{session_id}/")
    assert response is not None and response.status == 404
    expect(other.get_by_role("heading")).to_have_text(
        "These analytics are not available"
    )
    other.get_by_role("link", name="Upload files").click()
    expect(other.get_by_role("heading", name="Profile your CSV files")).to_be_visible()
    stranger.close()


def test_errors_are_specific(
    page: Page, problems: Problems, settings: Any, screenshot_dir: Path
) -> None:
    page.goto("/")
    # The limit is lowered after the page was rendered: the page lets the file
    # go, and shows the API's own 413 file_too_large.
    settings.UPLOADS_MAX_FILE_SIZE = 64 * 1024
    problems.expected_statuses |= {413}
    drop_files(page, [("photo.csv", PNG), ("big.csv", sales_csv(2000))])
    rows = page.locator("#file-list .file")
    expect(rows).to_have_count(2)
    big = rows.nth(1)
    expect(big.locator(".file-badge")).to_have_text("Failed")
    expect(big.locator(".file-message")).to_contain_text("File too large.")
    expect(big.locator(".file-message")).to_contain_text(
        "'big.csv' is larger than 65536 bytes (UPLOADS_MAX_FILE_SIZE)."
    )
    expect(rows.nth(0).locator(".file-badge")).to_have_text("Uploaded")

    # Processing a PNG named .csv fails, with the reason.
    page.get_by_role("button", name="Process files").click()
    error = page.locator("#session-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(
        "No file could be profiled: photo.csv: The file is a PNG image"
    )
    expect(page.locator("#status")).to_have_attribute("data-status", "failed")
    photo = page.locator("#file-list .file[data-file-id]")
    expect(photo.locator(".file-message")).to_contain_text("Not a CSV file.")
    expect(page.locator(".step-label-failed")).to_be_visible()
    # The same bytes would fail the same way: no "Process again".
    expect(page.locator("#process-button")).to_be_hidden()
    page.screenshot(path=screenshot_dir / "page-error.png", full_page=True)

    # A reloaded page knows the limit and refuses an oversized file at once.
    page.reload()
    expect(page.locator("#upload-limits")).to_contain_text("64.0\u00a0KB each")
    drop_files(page, [("big-again.csv", sales_csv(2000))])
    refused = page.locator("#file-list .file").last
    expect(refused.locator(".file-badge")).to_have_text("Too large")
    expect(refused.locator(".file-message")).to_contain_text(
        "the largest accepted file is 64.0\u00a0KB"
    )

    expect(page.locator("#process-button")).to_be_hidden()  # rendered so too

    # The file that cannot be a CSV is removed; a good one takes its place.
    page.get_by_role("button", name="Remove photo.csv").click()
    expect(page.locator("#file-list .file[data-file-id]")).to_have_count(0)
    drop_files(page, [("good.csv", sales_csv(50))])
    good = page.locator("#file-list .file").last
    expect(good.locator(".file-badge")).to_have_text("Uploaded")
    expect(page.get_by_role("button", name="Process files")).to_be_enabled()

    # The session expires (here: is deleted elsewhere): the page says so and
    # leads back to a fresh upload.
    session_id = page.locator("[data-upload-page]").get_attribute("data-upload-id")
    assert session_id
    gone = page.request.delete(
        f"/api/sessions/{session_id}", headers={"X-Session-ID": session_key(page)}
    )
    assert gone.status == 204
    problems.expected_statuses |= {404}
    page.get_by_role("button", name="Process files").click()
    alert = page.locator("#page-alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Your session has expired.")
    # A fresh start: no row is left, not even the one refused here.
    expect(page.locator("#file-list .file")).to_have_count(0)
    expect(page.locator("#file-count")).to_have_text("0")
    expect(page.locator("#empty-note")).to_be_visible()
    expect(page.locator("#status")).to_have_text("Add CSV files to begin.")
    alert.get_by_role("link", name="Start a new upload").click()
    expect(page.locator("#status")).to_have_text("Add CSV files to begin.")
    problems.assert_none()


def test_the_status_follows_the_progress_of_processing(
    page: Page, problems: Problems
) -> None:
    """The run's progress, written to the session by whichever instance runs
    it (here: this test), reaches the page through its polls."""
    page.goto("/")
    drop_files(page, [("a.csv", sales_csv(50)), ("b.csv", sales_csv(60))])
    expect(page.locator("#file-list .file .file-badge")).to_have_text(
        ["Uploaded", "Uploaded"]
    )
    session_id = page.locator("[data-upload-page]").get_attribute("data-upload-id")
    assert session_id

    def run(phase: str, file: int = 2) -> None:
        def change(doc: UploadDocument) -> None:
            doc.status, doc.run = "processing", "elsewhere"
            doc.progress = {"file": file, "files": 2, "phase": phase}

        edit_upload(session_key(page), change)

    run("reading", file=1)
    page.reload()  # a processing session: the page polls it
    status = page.locator("#status")
    expect(status).to_have_text("Processing. File 1 of 2: reading the file…")
    run("quantiles")
    expect(status).to_have_text("Processing. File 2 of 2: computing quantiles…")
    badges = page.locator("#file-list .file .file-badge")
    expect(badges).to_have_text(["Processing", "Profiling…"])

    def fail(doc: UploadDocument) -> None:
        doc.status = "failed"
        doc.error = {"code": "processing_timeout", "message": "Gave up."}
        doc.release()

    edit_upload(session_key(page), fail)
    expect(status).to_have_attribute("data-status", "failed")
    expect(page.locator("#session-error")).to_contain_text("Gave up.")
    problems.assert_none()


def test_queue_mode_follows_the_worker_to_the_dashboard(
    page: Page, problems: Problems, settings: Any
) -> None:
    """Queue mode: POST /api/process answers 202 ``queued`` and a worker runs
    the job later. The page (and a second tab) says it waits for a worker,
    keeps polling, and opens the dashboard once the worker has finished (the
    worker's job runs here, in the test, while the pages poll)."""
    settings.UPLOADS_PROCESSING_MODE = "queue"
    page.goto("/")
    drop_files(page, [("a.csv", sales_csv(50)), ("b.csv", stock_csv(40))])
    badges = page.locator("#file-list .file .file-badge")
    expect(badges).to_have_text(["Uploaded", "Uploaded"])
    session_id = page.locator("[data-upload-page]").get_attribute("data-upload-id")
    assert session_id
    status_url = f"/api/sessions/{session_id}"

    def is_poll(request: Any) -> bool:
        return request.method == "GET" and request.url.endswith(status_url)

    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/api/process")
    ) as processed:
        page.get_by_role("button", name="Process files").click()
    assert processed.value.status == 202
    status = page.locator("#status")
    expect(status).to_have_text("Queued: waiting for a worker…")
    expect(status).to_have_attribute("data-status", "queued")
    expect(page.locator("#steps")).to_have_attribute("data-status", "queued")
    expect(page.locator(".step-label-queued")).to_be_visible()
    expect(page.locator(".step-label-processing")).to_be_hidden()
    expect(badges).to_have_text(["Queued", "Queued"])
    expect(page.locator("#process-button")).to_be_disabled()
    expect(page.locator("#file-input")).to_be_disabled()
    # Still queued, and the page keeps asking.
    for _ in range(2):
        with page.expect_request(is_poll):
            pass
    expect(status).to_have_text("Queued: waiting for a worker…")

    # Another tab (or a reload) renders the queued session and follows it too.
    other = watch(page.context.new_page(), problems)
    with other.expect_request(is_poll):
        other.goto("/")
    expect(other.locator("#status")).to_have_text("Queued: waiting for a worker…")
    expect(other.locator("#file-list .file .file-badge")).to_have_text(
        ["Queued", "Queued"]
    )
    expect(other.locator("#process-button")).to_be_disabled()

    # The worker picks the job up and completes it: both pages open the dashboard.
    assert (
        services.upload_session_run_queued(session_key=session_key(page)) == "completed"
    )
    page.wait_for_url(f"**/sessions/{session_id}/")
    other.wait_for_url(f"**/sessions/{session_id}/")
    expect(page.locator("section.report")).to_have_count(2)
    other.close()
    problems.assert_none()


def test_the_page_refuses_files_over_the_session_limit(
    page: Page, problems: Problems, settings: Any
) -> None:
    """The page knows UPLOADS_MAX_FILES: a file over it is refused before it
    crosses the network (no 413 too_many_files), counting the session's files
    and the uploads still waiting."""
    settings.UPLOADS_MAX_FILES = 3
    page.goto("/")
    expect(page.locator("#upload-limits")).to_contain_text("Up to 3 files")
    uploads: list[str] = []
    page.on(
        "request",
        lambda r: (
            uploads.append(r.url) if r.url.endswith("/api/direct-uploads") else None
        ),
    )
    drop_files(page, [("a.csv", sales_csv(20)), ("b.csv", sales_csv(30))])
    rows = page.locator("#file-list .file")
    expect(rows.locator(".file-badge")).to_have_text(["Uploaded", "Uploaded"])

    # Two in the session: of two more, the first fits and the second does not.
    drop_files(page, [("c.csv", sales_csv(40)), ("d.csv", sales_csv(50))])
    expect(rows.locator(".file-badge")).to_have_text(
        ["Uploaded", "Uploaded", "Uploaded", "Too many"]
    )
    refused = rows.nth(3)
    expect(refused.locator(".file-message")).to_have_text(
        "Too many files. 'd.csv' would be file 4 of the session; at most 3 are "
        "accepted (UPLOADS_MAX_FILES)."
    )
    expect(refused.locator(".file-progress-wrap")).to_be_hidden()
    expect(page.locator("#file-count")).to_have_text("3")
    expect(page.locator("#status")).to_have_text(
        "3 files uploaded and ready to process."
    )

    # A full session refuses at once; nothing more went over the network.
    drop_files(page, [("e.csv", sales_csv(10))])
    expect(rows.last.locator(".file-badge")).to_have_text("Too many")
    expect(rows.last.locator(".file-message")).to_contain_text(
        "'e.csv' would be file 4"
    )
    page.wait_for_timeout(200)
    assert len(uploads) == 3
    expect(page.get_by_role("button", name="Process files")).to_be_enabled()
    problems.assert_none()


def test_pages_keep_a_strict_policy_without_violations(
    browser: Browser, live_server: Any
) -> None:
    """A CSP violation would be reported: prove the listener works on a page
    that breaks the policy on purpose."""
    context = browser.new_context(base_url=live_server.url)
    problems = Problems()
    page = watch(context.new_page(), problems)
    page.goto("/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = 1'; document.body.append(s); }"
    )
    page.wait_for_timeout(100)
    assert page.evaluate("window.ran") is None
    assert any("CSP violation: script-src" in m for m in problems.messages)
    context.close()


def test_the_page_changes_the_null_markers_of_an_upload(
    page: Page, problems: Problems
) -> None:
    page.goto("/")
    drop_files(page, [("scores.csv", b"country,score\nNA,-999\nFR,12\nNA,7\n")])
    expect(page.locator("#file-list .file .file-badge")).to_have_text("Uploaded")
    page.get_by_text("Missing values", exact=True).click()
    page.get_by_label("Also missing").fill("-999, ?")
    page.get_by_label("Not missing").fill("NA")

    page.get_by_role("button", name="Process files").click()

    session_id = page.locator("[data-upload-page]").get_attribute("data-upload-id")
    page.wait_for_url(f"**/sessions/{session_id}/")
    score = page.locator('.column-card[data-column="score"]')
    expect(score).to_contain_text("Missing")
    analytics = page.request.get(f"/api/sessions/{session_id}/analytics").json()
    columns = {c["name"]: c for c in analytics["files"][0]["profile"]["columns"]}
    assert columns["score"]["nullCount"] == 1 and columns["country"]["nullCount"] == 0
    # The upload page shows the upload's markers again.
    page.goto("/")
    expect(page.get_by_label("Also missing")).to_have_value("-999, ?")
    expect(page.get_by_label("Not missing")).to_have_value("NA")
    problems.assert_none()
