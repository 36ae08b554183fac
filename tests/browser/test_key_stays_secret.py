"""A staff member logs in, uploads, processes and reads the dashboard in
Chromium, against the site under gunicorn: the session key is in the cookie
and nowhere else. Not in any address the browser visited or requested, not
in any page's DOM, not in any response header but Set-Cookie, not in
gunicorn's access log (issue 11)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Request, Response

from tests.browser.conftest import CHROMIUM_ARGS, Problems, session_key, watch
from tests.browser.test_pages import drop_files, sales_csv
from tests.support.servers import django_server, manage

pytestmark = [pytest.mark.browser, pytest.mark.multiprocess]


def test_a_staff_flow_leaves_the_key_only_in_the_cookie(
    browser: Browser, server_logs: Path, tmp_path: Path
) -> None:
    env = {
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SECRET_KEY": f"key-test-{uuid.uuid4().hex}",
        "SESSION_COOKIE_SECURE": "0",  # plain HTTP on loopback
        "DJANGO_SUPERUSER_PASSWORD": "pw-of-the-boss",
    }
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(
        env,
        "createsuperuser",
        "--noinput",
        "--username",
        "boss",
        "--email",
        "boss@example.com",
    )
    urls: list[str] = []
    headers: list[str] = []
    doms: list[str] = []

    def requested(request: Request) -> None:
        urls.append(request.url)
        headers.append(str({k: v for k, v in request.headers.items() if k != "cookie"}))

    def answered(response: Response) -> None:
        headers.append(
            str({k: v for k, v in response.headers.items() if k != "set-cookie"})
        )

    with django_server(env, server_logs, "key-test") as url:
        context = browser.new_context(base_url=url)
        context.set_default_timeout(15_000)
        problems = Problems()
        page = watch(context.new_page(), problems)
        page.on("request", requested)
        page.on("response", answered)
        page.on("framenavigated", lambda frame: urls.append(frame.url))

        page.goto("/admin/login/?next=/")
        page.fill("#id_username", "boss")
        page.fill("#id_password", "pw-of-the-boss")
        page.click("input[type=submit]")
        page.wait_for_url(f"{url}/")
        doms.append(page.content())
        drop_files(page, [("sales.csv", sales_csv(300))])
        page.locator("#status").filter(has_text="1 file uploaded").wait_for()
        doms.append(page.content())
        page.get_by_role("button", name="Process files").click()
        page.wait_for_url("**/sessions/*/")
        page.locator("h1").first.wait_for()
        doms.append(page.content())
        page.goto("/")
        doms.append(page.content())
        key = session_key(page)
        context.close()
        problems.assert_none()

    log = next(server_logs.glob("key-test-*.log")).read_text()
    assert "GET /sessions/" in log and "POST /api/direct-uploads" in log  # logged
    assert len(key) == 32
    places: dict[str, Any] = {
        "addresses": urls,
        "DOM": doms,
        "headers": headers,
        "access log": [log],
    }
    for where, texts in places.items():
        assert not [t for t in texts if key in t], f"the session key is in the {where}"
    assert any("/sessions/" in u for u in urls)  # the flow did reach the dashboard


@pytest.fixture(scope="module")
def browser() -> Any:
    """A Chromium of this module's own (the shared one goes with live_server)."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
