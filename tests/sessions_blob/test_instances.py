"""The seed's bug: each instance kept sessions in its own memory, so the next
request, served by another instance, found no session. Two real server
processes share one bucket here; with Django's in-process cache backend the
same flow fails, which proves the test can fail."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request
from pathlib import Path

import pytest

from tests.support.s3 import S3Endpoint
from tests.support.servers import django_server

pytestmark = pytest.mark.multiprocess


class Browser:
    """One client carrying one cookie jar across servers."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, url: str) -> dict[str, int]:
        with self.opener.open(url, timeout=10) as response:
            return json.loads(response.read())


def run_flow(engine: str, s3: S3Endpoint, logs: Path, tmp_path: Path) -> list[int]:
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.sessions_blob.settings",
        "SESSIONS_TEST_STORAGE": json.dumps(s3.storage(s3.new_bucket())),
        "DJANGO_SECRET_KEY": "shared-by-every-instance",
        "SESSION_ENGINE": engine,
        "VAR_DIR": str(tmp_path),
    }
    app = "django.core.wsgi:get_wsgi_application()"
    browser = Browser()
    with (
        django_server(env, logs, "instance-a", app=app) as a,
        django_server(env, logs, "instance-b", app=app) as b,
    ):
        return [
            browser.get(f"{a}/increment")["count"],  # created on A
            browser.get(f"{b}/read")["count"],  # read on B
            browser.get(f"{b}/increment")["count"],  # updated on B
            browser.get(f"{a}/read")["count"],  # seen again on A
        ]


def test_session_created_on_one_instance_is_read_and_updated_on_another(
    s3: S3Endpoint, server_logs: Path, tmp_path: Path
) -> None:
    counts = run_flow("sessions_blob.backends.storage", s3, server_logs, tmp_path)
    assert counts == [1, 1, 2, 2]


def test_in_process_cache_sessions_are_lost_between_instances(
    s3: S3Endpoint, server_logs: Path, tmp_path: Path
) -> None:
    counts = run_flow(
        "django.contrib.sessions.backends.cache", s3, server_logs, tmp_path
    )
    assert counts[1] == 0  # B never saw A's session: the seed's 404
    assert counts != [1, 1, 2, 2]
