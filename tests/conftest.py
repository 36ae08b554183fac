from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.casfront import CasFront
from tests.support.faultproxy import FaultProxy
from tests.support.outage import CLIENT_CONFIG
from tests.support.s3 import S3_CREDENTIALS, S3Endpoint
from tests.support.servers import ROOT, free_port, moto_server, serve

pytest_plugins = ["tests.support.tiers"]


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def s3(server_logs: Path) -> Iterator[S3Endpoint]:
    """moto's S3 server over real HTTP, one for the whole test run."""
    with moto_server(server_logs) as url:
        yield S3Endpoint(url=url, **S3_CREDENTIALS)


@pytest.fixture(scope="session")
def s3_bucket(s3: S3Endpoint) -> str:
    return s3.new_bucket()


@pytest.fixture
def proxy(s3: S3Endpoint) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of moto (``s3.via(proxy.url)``)."""
    with FaultProxy(s3.url) as proxy:
        yield proxy


@pytest.fixture
def bucket(settings: Any, s3: S3Endpoint, s3_bucket: str, proxy: FaultProxy) -> str:
    """The sessions storage, reached through the fault proxy. Without the
    first-use race of conditional writes: its requests would count among
    the ones a test expects, and moto, whose checks are not atomic, may lose
    it (then the engine falls back to check-then-write, a HEAD per write).
    Tests of the race turn it on."""
    settings.SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES = False
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": s3.via(proxy.url).storage(s3_bucket, client_config=CLIENT_CONFIG),
    }
    return s3_bucket


@pytest.fixture(scope="session")
def s3cas(s3: S3Endpoint, server_logs: Path) -> Iterator[S3Endpoint]:
    """moto behind ``CasFront`` (a process of its own): conditional writes
    atomic, as S3's are."""
    port = free_port()
    command = [sys.executable, "-m", "tests.support.casfront", s3.url, str(port)]
    with serve(command, server_logs / f"casfront-{port}.log", port=port, cwd=ROOT):
        yield s3.via(f"http://127.0.0.1:{port}")


@pytest.fixture(scope="session")
def s3cas_bucket(s3cas: S3Endpoint) -> str:
    return s3cas.new_bucket()


@pytest.fixture
def cas_proxy(s3: S3Endpoint) -> Iterator[CasFront]:
    """A fault proxy with atomic conditional writes in front of moto
    (``s3.via(cas_proxy.url)``), for a test that switches its modes."""
    with CasFront(s3.url) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """A real OpenStack Swift s3api (Debian's packages), which checks signatures
    and, unlike AWS, refuses conditional PUTs."""
    from tests.swift.server import SwiftServer, swift_available

    if not swift_available():
        pytest.fail(
            "Swift is not installed: run tests/swift/install.sh (make test does)"
        )
    with SwiftServer(tmp_path_factory.mktemp("swift")) as server:
        endpoint = server.start()
        yield S3Endpoint(
            url=endpoint.endpoint_url,
            access_key=endpoint.access_key,
            secret_key=endpoint.secret_key,
            region=endpoint.region,
        )


@pytest.fixture(scope="session")
def swift_bucket(swift: S3Endpoint) -> str:
    return swift.new_bucket()


@pytest.fixture(autouse=True)
def _isolated_var_dir(settings: Any, tmp_path: Path) -> None:
    """Every test gets its own local-disk storages, and (the whole run is one
    client, 127.0.0.1) rate limits out of the way; tests/uploads/
    test_limits.py sets its own."""
    settings.UPLOADS_NEW_SESSIONS_PER_WINDOW = 10**9
    settings.UPLOADS_UPLOAD_BYTES_PER_WINDOW = 10**15
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "uploads", "base_url": None},
        },
        "sessions": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "sessions", "base_url": None},
        },
    }
