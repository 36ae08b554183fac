"""Storage tiers and an API client for the uploads tests.

Every API test runs twice: uploads and sessions on local disk, and both on
S3 (moto's server over real HTTP, a folder of its own in a shared bucket).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.core.files.storage import Storage, storages
from django.test import Client

from tests.support.direct import Call, DirectUpload, direct_upload
from tests.support.s3 import S3Endpoint
from tests.support.tiers import Tier
from tests.support.uploads import KEYS, key_of

BACKENDS = ["filesystem", "s3"]
GOOD_CSV = b"id,name,amount\n1,alice,1.5\n2,bob,2.5\n3,carol,\n"


@dataclass
class Backend:
    name: str

    @property
    def storage(self) -> Storage:
        return storages["default"]

    def files(self, folder: str = "") -> list[str]:
        """Every name in the uploads storage, recursively."""
        try:
            dirs, names = self.storage.listdir(folder)
        except FileNotFoundError:
            return []
        prefix = f"{folder}/" if folder else ""
        out = [prefix + n for n in names]
        for d in dirs:
            out += self.files(prefix + d)
        return sorted(out)

    def read(self, name: str) -> bytes:
        with self.storage.open(name, "rb") as fh:
            return fh.read()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, settings: Any) -> Backend:
    tag = uuid.uuid4().hex[:12]
    if request.param == "s3":
        s3: S3Endpoint = request.getfixturevalue("s3")
        bucket: str = request.getfixturevalue("s3_bucket")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": s3.storage(bucket, location=f"{tag}/files"),
            "sessions": s3.storage(bucket, location=f"{tag}/sessions"),
        }
    settings.SESSIONS_BLOB_PREFIX = f"sessions-{tag}/"
    return Backend(request.param)


@pytest.fixture
def s3_uploads(tier: Tier, settings: Any) -> None:
    """On the S3 tier the upload files go to S3 as well (a folder of their own
    in the tier's bucket)."""
    if tier.s3 is not None:
        assert tier.bucket is not None
        settings.STORAGES = {
            **settings.STORAGES,
            "default": tier.s3.storage(
                tier.bucket, location=f"files-{uuid.uuid4().hex[:8]}"
            ),
        }


def multipart(
    files: list[tuple[str, bytes] | tuple[str, bytes, str]], field: str = "files"
) -> tuple[bytes, str]:
    """A multipart body with file names exactly as given (the test client would
    strip directories from them)."""
    boundary = f"----b{uuid.uuid4().hex}"
    parts = []
    for item in files:
        name, content = item[0], item[1]
        content_type = item[2] if len(item) > 2 else "text/csv"  # type: ignore[misc]
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{quoted}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Api:
    """The API through Django's test client (which keeps cookies). Methods
    take an upload's public id and send its session key in X-Session-ID, as
    an API client that kept it would; any other value is sent as it is."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @staticmethod
    def _headers(session_id: str | None) -> dict[str, str]:
        return {"X-Session-ID": key_of(session_id)} if session_id else {}

    def remember(self, response: Any) -> Any:
        """Keep the key a creating response sends, for later calls."""
        key = response.headers.get("X-Session-ID")
        if response.status_code == 201 and key:
            KEYS[response.json()["id"]] = key
        return response

    def upload(
        self,
        *files: tuple[str, bytes] | tuple[str, bytes, str],
        session_id: str | None = None,
        field: str = "files",
    ) -> Any:
        body, content_type = multipart(list(files), field)
        return self.remember(
            self.client.generic(
                "POST",
                "/api/upload",
                body,
                content_type=content_type,
                headers=self._headers(session_id),
            )
        )

    def process(
        self, session_id: str | None = None, *, body: dict[str, Any] | None = None
    ) -> Any:
        return self.client.post(
            "/api/process",
            json.dumps(body) if body is not None else "",
            content_type="application/json",
            headers=self._headers(session_id),
        )

    def get(self, session_id: str, *, header: bool = True) -> Any:
        return self.client.get(
            f"/api/sessions/{session_id}",
            headers=self._headers(session_id if header else None),
        )

    def analytics(self, session_id: str, *, header: bool = True) -> Any:
        return self.client.get(
            f"/api/sessions/{session_id}/analytics",
            headers=self._headers(session_id if header else None),
        )

    def delete(self, session_id: str, *, header: bool = True) -> Any:
        return self.client.delete(
            f"/api/sessions/{session_id}",
            headers=self._headers(session_id if header else None),
        )

    def call(self, session_id: str | None = None) -> Call:
        """An API caller for the direct-upload client, sending X-Session-ID
        (``session_id``'s key, or the key the creating answer sends)."""
        held = {"key": key_of(session_id) if session_id else ""}

        def call(method: str, url: str, body: Any) -> tuple[int, Any]:
            headers = {"X-Session-ID": held["key"]} if held["key"] else {}
            response = self.client.generic(
                method,
                url,
                json.dumps(body) if body is not None else "",
                content_type="application/json",
                headers=headers,
            )
            if key := response.headers.get("X-Session-ID"):
                held["key"] = key
                KEYS[response.json()["uploadId"]] = key
            data = response.json() if response.content else None
            return response.status_code, data

        return call

    def put(self, url: str, headers: dict[str, str], body: bytes) -> int:
        """PUT to a signed URL: this site's (through the test client) or the
        store's (over HTTP)."""
        if url.startswith("http://testserver/"):
            response = self.client.generic(
                "PUT",
                url.removeprefix("http://testserver"),
                body,
                content_type="application/octet-stream",
            )
            return int(response.status_code)
        return int(
            requests.put(url, data=body, headers=headers, timeout=30).status_code
        )

    def direct_upload(
        self, name: str, data: bytes, session_id: str | None = None, **options: Any
    ) -> DirectUpload:
        return direct_upload(self.call(session_id), self.put, name, data, **options)

    def new_session(self, *files: tuple[str, bytes]) -> str:
        """A fresh upload (its key kept for the header, no cookie) holding
        ``files``; its public id."""
        response = self.upload(*(files or [("good.csv", GOOD_CSV)]))
        assert response.status_code == 201, response.json()
        self.client.cookies.clear()
        return str(response.json()["id"])


@pytest.fixture
def api(backend: Backend) -> Api:
    return Api(Client())


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level("INFO", logger="uploads")
    yield caplog


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert body["message"]
    return dict(body)
