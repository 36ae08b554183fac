"""The upload page sends files straight to S3 (moto's server, behind the
fault proxy), in headless Chromium: presigned part URLs, byte progress,
retries of a failed part, and a clear message when the store refuses.
The signatures themselves are proven on Swift (tests/uploads/
test_direct_stores.py), since moto checks none.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from playwright.sync_api import Page, expect

from tests.browser.conftest import Problems, throttle_uploads
from tests.support.faultproxy import FaultProxy
from tests.support.s3 import S3Endpoint
from tests.uploads.test_direct import csv_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MiB = 1024 * 1024


@pytest.fixture
def on_s3(
    settings: Any,
    s3: S3Endpoint,
    s3_bucket: str,
    proxy: FaultProxy,
    live_server: Any,
) -> FaultProxy:
    """Files on S3 through the fault proxy (the browser's part URLs point at
    it too), parts of 5 MiB, and the bucket's CORS rule made by the
    documented command for the live server's origin."""
    tag = uuid.uuid4().hex[:12]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3.via(proxy.url).storage(s3_bucket, location=f"{tag}/files"),
        "sessions": s3.storage(s3_bucket, location=f"{tag}/sessions"),
    }
    settings.UPLOADS_DIRECT_PART_SIZE = 5 * MiB
    call_command("uploads_storage", "setup", "--origin", live_server.url, verbosity=0)
    return proxy


def stored_files() -> list[str]:
    storage = storages["default"]
    names: list[str] = []
    for folder in storage.listdir("uploads")[0]:
        names += [
            f"uploads/{folder}/{n}" for n in storage.listdir(f"uploads/{folder}")[1]
        ]
    return names


def part_puts(proxy: FaultProxy) -> list[tuple[str, str]]:
    return [
        (seen.path.split("partNumber=")[1].split("&")[0], seen.outcome)
        for seen in proxy.requests
        if seen.method == "PUT" and "partNumber=" in seen.path
    ]


def test_a_large_file_goes_to_s3_in_parts_with_progress_and_a_retry(
    page: Page, problems: Problems, on_s3: FaultProxy
) -> None:
    data = csv_of(11 * MiB)  # three parts: 5 + 5 + 1 MiB
    # The store fails part 2 once; the page signs it again and resends it.
    on_s3.error_from(
        lambda method, path: method == "PUT" and "partNumber=2" in path, count=1
    )
    problems.expected_statuses.add(503)
    page.goto("/")
    # About 4 s on the wire, so the progress bar is seen between 0 and 100.
    unthrottle = throttle_uploads(page, 3 * MiB)
    progress: list[float] = []
    page.expose_function("recordProgress", lambda value: progress.append(value))

    page.get_by_label("Drag and drop CSV files here or choose files").set_input_files(
        [{"name": "big.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.evaluate(
        """() => {
          const seen = () => {
            const bar = document.querySelector('.file-progress');
            if (bar) window.recordProgress(bar.value);
            if (!bar || bar.value < 100) requestAnimationFrame(seen);
          };
          seen();
        }"""
    )

    row = page.locator("#file-list .file")
    expect(row.locator(".file-badge")).to_have_text("Uploaded", timeout=30_000)
    expect(row.locator(".file-progress")).to_have_js_property("value", 100)
    expect(row.locator(".file-bytes")).to_have_attribute("data-loaded", str(len(data)))
    unthrottle(-1)
    assert any(0 < value < 100 for value in progress)  # byte progress on the way
    puts = part_puts(on_s3)
    assert sorted(set(puts)) == [
        ("1", "passed"),
        ("2", "error 503"),
        ("2", "passed"),
        ("3", "passed"),
    ]
    assert puts.count(("2", "error 503")) == 1
    # The bytes went to the bucket, not through the site, and arrived whole.
    [name] = stored_files()
    with storages["default"].open(name, "rb") as stored:
        assert stored.read() == data
    expect(page.locator("#status")).to_have_text(
        "1 file uploaded and ready to process."
    )


def test_a_store_that_refuses_is_named_and_nothing_joins(
    page: Page, problems: Problems, on_s3: FaultProxy
) -> None:
    on_s3.http_error(
        status=403, code="AccessDenied", only=lambda method, path: method == "PUT"
    )
    problems.expected_statuses.add(403)
    page.goto("/")

    page.get_by_label("Drag and drop CSV files here or choose files").set_input_files(
        [{"name": "small.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}]
    )

    row = page.locator("#file-list .file")
    expect(row).to_contain_text("Storage refused the upload", timeout=15_000)
    expect(row).to_contain_text("403 AccessDenied")
    expect(row.locator(".file-resume")).to_be_visible()
    assert stored_files() == []
