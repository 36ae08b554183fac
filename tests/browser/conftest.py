"""Headless Chromium, driven by Playwright, against pytest-django's live_server.

The browser is Debian's (``tests/browser/install.sh`` installs it; nothing is
downloaded by ``playwright install``). ``live_server`` runs the site in a
thread of this process, so the test settings (local-disk storages in
``tmp_path``, ``settings`` fixture overrides) are the server's settings.

Every page records console errors and warnings, uncaught exceptions and
Content-Security-Policy violations in :class:`Problems`; tests assert there
are none (``problems.assert_none()``) and the fixture checks again at teardown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    sync_playwright,
)

_ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Screenshots go here when SCREENSHOT_DIR is set (``SCREENSHOT_DIR=docs``),
#: else to the test's temporary directory.
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR")
ROOT = Path(__file__).resolve().parents[2]

# Reports CSP violations on the console, where the Problems collector sees them
# (Chromium logs most of them itself; this catches every one).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ` +
    `${e.blockedURI || "inline code"} (${e.sourceFile}:${e.lineNumber})`);
});
"""
_HTTP_ERROR = re.compile(
    r"Failed to load resource: the server responded with a status of (\d+)"
)


class Problems:
    """Console errors and warnings, page errors and CSP violations of a page."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        #: HTTP statuses a test expects the API to answer (logged by Chromium).
        self.expected_statuses: set[int] = set()

    def console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.messages.append(f"console.{message.type}: {message.text}")

    def page_error(self, error: Exception) -> None:
        self.messages.append(f"uncaught: {error}")

    def unexpected(self) -> list[str]:
        out = []
        for text in self.messages:
            status = _HTTP_ERROR.search(text)
            if status and int(status.group(1)) in self.expected_statuses:
                continue
            out.append(text)
        return out

    def assert_none(self) -> None:
        assert self.unexpected() == []


def _launch() -> tuple[object, Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run tests/browser/install.sh")
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    return playwright, browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module.

    While Playwright runs, its event loop counts as running in this thread, and
    Django refuses synchronous database calls here (live_server's flush, test
    data) unless ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set: it is, for as long as
    the browser lives, and no longer (module scope keeps later tests strict).
    """
    previous = os.environ.get(_ASYNC_UNSAFE)
    os.environ[_ASYNC_UNSAFE] = "true"
    playwright, browser = _launch()
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()  # type: ignore[attr-defined]
        if previous is None:
            os.environ.pop(_ASYNC_UNSAFE, None)
        else:
            os.environ[_ASYNC_UNSAFE] = previous


@pytest.fixture
def problems() -> Problems:
    return Problems()


def watch(page: Page, problems: Problems) -> Page:
    page.add_init_script(_CSP_LISTENER)
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    return page


@pytest.fixture
def context(browser: Browser, live_server: object) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=str(live_server.url),  # type: ignore[attr-defined]
        viewport={"width": 1280, "height": 900},
        device_scale_factor=1,
        color_scheme="light",
        reduced_motion="reduce",
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, problems: Problems) -> Iterator[Page]:
    page = watch(context.new_page(), problems)
    yield page
    problems.assert_none()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    if SCREENSHOT_DIR:
        folder = Path(SCREENSHOT_DIR)
        return folder if folder.is_absolute() else ROOT / folder
    return tmp_path


def session_key(page: Page) -> str:
    """The session key of the page's browser: its HttpOnly cookie, which the
    page itself never sees (the tests read it from the browser's cookie jar)."""
    from django.conf import settings

    for cookie in page.context.cookies():
        if cookie["name"] == settings.SESSION_COOKIE_NAME:
            return str(cookie["value"])
    raise AssertionError("no session cookie")


def throttle_uploads(page: Page, bytes_per_second: int) -> Callable[[int], None]:
    """Slow the page's uploads down (DevTools network emulation), so that the
    progress bars move visibly on loopback; -1 lifts the limit."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")

    def apply(rate: int) -> None:
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 0,
                "downloadThroughput": -1,
                "uploadThroughput": rate,
            },
        )

    apply(bytes_per_second)
    return apply
