from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support.faultproxy import FaultProxy
from tests.support.servers import moto_server

S3_CREDENTIALS = {"access_key": "testing", "secret_key": "testing"}
_bucket_numbers = itertools.count()


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"test-{next(_bucket_numbers)}-{uuid.uuid4().hex[:8]}"
        self.client().create_bucket(Bucket=name)
        return name

    def storage(self, bucket: str, **options: Any) -> dict[str, Any]:
        """A STORAGES entry for django-storages' S3Storage on this endpoint."""
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": self.url,
                "region_name": self.region,
                "access_key": self.access_key,
                "secret_key": self.secret_key,
                "default_acl": None,
                "addressing_style": "path",
                **options,
            },
        }

    def via(self, url: str) -> S3Endpoint:
        """The same store reached through another address (a proxy)."""
        return replace(self, url=url)

    def env(self, bucket: str) -> dict[str, str]:
        """Environment variables that point the project at this bucket."""
        return {
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": self.url,
            "S3_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


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
    """Every test gets its own local-disk storages."""
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
