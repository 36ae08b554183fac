"""The engine under real servers and Django's async stack.

One boto3 client per server process, whatever the server does with threads:
gunicorn's threaded workers and uvicorn (ASGI, where each request's sync code
runs on a thread of its own) each serve 200 requests from 20 concurrent
clients, and every process reports the clients it made (counted by botocore's
``creating-client-class`` event, tests/sessions_blob/counting.py). Then the
async middleware: sessions through Django's AsyncClient and an async view,
saved with ``asave()``, and 503 with Retry-After when the store is down, in
process and under uvicorn.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.test import AsyncClient

from tests.sessions_blob.counting import SaveRecordingStore
from tests.support.faultproxy import FaultProxy
from tests.support.s3 import S3Endpoint
from tests.support.servers import BIN, ROOT, free_port, serve
from tests.support.tiers import Tier

pytestmark = pytest.mark.django_db(databases=[])

REQUESTS = 200
CLIENTS = 20
COOKIE = django_settings.SESSION_COOKIE_NAME


def server_command(kind: str, port: int) -> list[str]:
    if kind == "gunicorn":  # 2 workers x 4 threads
        return [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "django.core.wsgi:get_wsgi_application()",
        ]
    return [
        str(BIN / "uvicorn"),
        "--factory",
        "django.core.asgi:get_asgi_application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--no-access-log",
    ]


@pytest.fixture(scope="module")
def fault_proxy(s3: S3Endpoint) -> Iterator[FaultProxy]:
    with FaultProxy(s3.url) as proxy:
        yield proxy


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(
    request: pytest.FixtureRequest,
    s3: S3Endpoint,
    fault_proxy: FaultProxy,
    server_logs: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The engine's test project on S3 (through the fault proxy, passing
    everything until a test says otherwise) under one of the servers."""
    kind = request.param
    storage = s3.via(fault_proxy.url).storage(s3.new_bucket())
    storage["BACKEND"] = "tests.sessions_blob.counting.CountingS3Storage"
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.sessions_blob.settings",
        "SESSIONS_TEST_STORAGE": json.dumps(storage),
        "DJANGO_SECRET_KEY": "one for every worker",
        "VAR_DIR": str(tmp_path_factory.mktemp(kind)),
        # Outages fail fast: botocore reads these from the environment.
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "2",
    }
    port = free_port()
    with serve(
        server_command(kind, port),
        server_logs / f"{kind}-{port}.log",
        port=port,
        ready="/untouched",
        cwd=ROOT,
        env={**os.environ, **env},
    ) as url:
        yield url


def test_one_storage_client_per_server_process(server: str) -> None:
    def browse(n: int) -> list[dict[str, Any]]:
        with requests.Session() as browser:  # its own cookie
            answers = []
            for _ in range(n):
                response = browser.get(f"{server}/clients", timeout=30)
                assert response.status_code == 200
                answers.append(response.json())
            return answers

    per_client = [
        REQUESTS // CLIENTS + (i < REQUESTS % CLIENTS) for i in range(CLIENTS)
    ]
    with ThreadPoolExecutor(CLIENTS) as pool:
        runs = list(pool.map(browse, per_client))
    assert sum(len(run) for run in runs) == REQUESTS
    for run in runs:  # each session kept every increment
        assert [a["count"] for a in run] == list(range(1, len(run) + 1))
    clients: dict[int, int] = defaultdict(int)
    for answer in (a for run in runs for a in run):
        clients[answer["pid"]] = max(clients[answer["pid"]], answer["clients"])
    assert clients and all(made <= 1 for made in clients.values()), clients


def test_outage_answers_503_and_keeps_the_cookie(
    server: str, fault_proxy: FaultProxy
) -> None:
    with requests.Session() as browser:
        assert browser.get(f"{server}/increment", timeout=30).json() == {"count": 1}
        cookie = browser.cookies[COOKIE]
        fault_proxy.refuse()
        try:
            response = browser.get(f"{server}/increment", timeout=30)
        finally:
            fault_proxy.passthrough()
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.headers["Cache-Control"] == "no-store"
        assert "set-cookie" not in response.headers
        assert browser.cookies[COOKIE] == cookie
        assert browser.get(f"{server}/increment", timeout=30).json() == {"count": 2}


# -- in process, through Django's async stack -------------------------------------


@pytest.mark.urls("tests.sessions_blob.urls")
@pytest.mark.parametrize("tier", ["filesystem", "s3"], indirect=True)
@pytest.mark.parametrize("view", ["increment", "aincrement"])
def test_async_client_keeps_the_session(tier: Tier, view: str) -> None:
    async def scenario() -> tuple[list[Any], Any]:
        client = AsyncClient()
        counts = [(await client.get(f"/{view}")).json()["count"] for _ in range(2)]
        tier.calls.clear()
        third = await client.get(f"/{view}")
        counts.append(third.json()["count"])
        return counts, third

    counts, third = async_to_sync(scenario)()
    assert counts == [1, 2, 3]
    assert tier.calls == {"read": 1, "replace": 1}
    assert third.cookies[COOKIE]["httponly"]
    assert "Cookie" in third["Vary"]


@pytest.mark.urls("tests.sessions_blob.urls")
@pytest.mark.parametrize("tier", ["filesystem"], indirect=True)
def test_async_chain_saves_with_asave(tier: Tier, settings: Any) -> None:
    settings.SESSION_ENGINE = "tests.sessions_blob.counting"
    SaveRecordingStore.calls.clear()

    async def scenario() -> int:
        return int((await AsyncClient().get("/increment")).json()["count"])

    assert async_to_sync(scenario)() == 1
    assert SaveRecordingStore.calls[0] == "asave"


@pytest.mark.urls("tests.sessions_blob.urls")
@pytest.mark.parametrize("fault", ["refuse", "drop_write"])
def test_async_client_outage_answers_503(
    proxy: FaultProxy, bucket: str, fault: str
) -> None:
    """A failed load (refuse) or save (drop_write) under the async chain."""

    async def scenario() -> tuple[Any, Any, Any]:
        client = AsyncClient()
        first = await client.get("/increment")
        getattr(proxy, fault)()
        failed = await client.get("/increment")
        proxy.passthrough()
        again = await client.get("/increment")
        return first, failed, again

    first, failed, again = async_to_sync(scenario)()
    assert first.json() == {"count": 1}
    assert failed.status_code == 503
    assert failed["Retry-After"] == "5"
    assert COOKIE not in failed.cookies
    assert again.json() == {"count": 2}
