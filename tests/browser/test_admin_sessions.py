"""The sessions admin in a real headless Chromium: log in, list, open a
session, delete two of them with the admin action.

Screenshots: docs/admin-sessions-list.png and docs/admin-session-detail.png
when run with SCREENSHOT_DIR=docs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from playwright.sync_api import Page, expect

from sessions_blob.backends.storage import SessionStore
from sessions_blob.records import object_id
from tests.support.sessions import make_session, tamper

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIST = "/admin/sessions_blob/storedsession/"
SALES = b"order_id,city,amount,paid\n" + b"".join(
    f"{n},{['Paris', 'Lyon', 'Oslo'][n % 3]},{n * 1.5:.2f},{n % 2 == 0}\n".encode()
    for n in range(1, 200)
)


def upload_session() -> str:
    """An upload session made by the uploads app itself: two files, processed."""
    from uploads.services import upload_session_add_files, upload_session_process

    session = SessionStore()
    upload_session_add_files(
        session=session,
        files=[
            SimpleUploadedFile("sales-2024.csv", SALES, "text/csv"),
            SimpleUploadedFile("sales-2025.csv", SALES[:900], "text/csv"),
        ],
        create=True,
    )
    assert session.session_key is not None
    upload_session_process(session=SessionStore(session.session_key))
    return session.session_key


def row(page: Page, key: str) -> Any:
    return page.locator(f'tr[data-object-id="{object_id(key)}"]')


def test_list_detail_and_delete(
    page: Page, django_user_model: Any, screenshot_dir: Path
) -> None:
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    ada = django_user_model.objects.create_user("ada", password="pw")
    upload = upload_session()
    cart = make_session(cart=["apple", "pear"], currency="EUR").session_key
    make_session(expired=True, theme="dark")
    broken = make_session(theme="light").session_key
    tamper(broken)
    laptop = Client()
    laptop.force_login(ada)
    files = [f["path"] for f in SessionStore(upload)["upload"]["files"]]
    assert all(storages["default"].exists(name) for name in files)

    # The admin has no favicon; Chromium's request for one is not the test's.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.goto(f"/admin/login/?next={LIST}")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(LIST) + "$"))
    expect(page.locator("#result_list tbody tr")).to_have_count(6)  # and boss's
    expect(row(page, upload).locator(".field-upload")).to_have_text(
        "completed, 2 files"
    )
    expect(row(page, broken).locator(".state")).to_have_text("tampered")
    expect(row(page, laptop.session.session_key).locator(".field-user")).to_have_text(
        "ada"
    )
    expect(page.locator(".listing-note")).to_contain_text("Newest first")
    page.click("#toggle-nav-sidebar")  # room for every column
    page.screenshot(path=screenshot_dir / "admin-sessions-list.png", full_page=True)

    row(page, upload).locator(".field-key a").click()
    expect(page.locator("#session-state")).to_have_text("live")
    expect(page.locator("#upload h2")).to_have_text("Upload session: completed")
    expect(page.locator("#upload")).to_contain_text("sales-2024.csv")
    expect(page.locator("#session-data")).to_contain_text('"status": "completed"')
    analytics = page.request.get(page.locator("#analytics-link").get_attribute("href"))
    assert analytics.ok and analytics.json()["files"][0]["name"] == "sales-2024.csv"
    page.screenshot(path=screenshot_dir / "admin-session-detail.png", full_page=True)

    page.go_back()
    row(page, upload).locator("input.action-select").check()
    row(page, cart).locator("input.action-select").check()
    expect(page.locator(".action-counter")).to_have_text("2 of 6 selected")
    page.select_option("select[name=action]", "delete_selected")
    page.click("button[name=index]")
    expect(page.locator("#content")).to_contain_text(
        "Are you sure you want to delete 2 sessions?"
    )
    expect(page.locator(".deletion-notes")).to_contain_text(
        "2 uploaded files and the analytics of 1 upload session"
    )
    page.click("input[type=submit][value^=Yes]")
    expect(page.locator(".messagelist")).to_contain_text("Deleted 2 sessions.")
    expect(page.locator("#result_list tbody tr")).to_have_count(4)
    expect(row(page, upload)).to_have_count(0)
    assert not any(storages["default"].exists(name) for name in files)

    page.goto(f"{LIST}{object_id(broken)}/")
    expect(page.locator("#session-problem")).to_contain_text(
        "signature does not verify"
    )
    expect(page.locator("#session-data")).to_have_count(0)
