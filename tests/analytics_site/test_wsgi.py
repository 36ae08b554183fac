"""The site under gunicorn, as clients reach it: a chunked upload body
(``Transfer-Encoding: chunked``, no Content-Length) arrives whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.servers import django_server

pytestmark = pytest.mark.multiprocess
BOUNDARY = "chunked-test-boundary"


def _body(payload: bytes) -> Iterator[bytes]:
    """A multipart body yielded in pieces: requests sends it chunked."""
    yield f"--{BOUNDARY}\r\n".encode()
    yield b'Content-Disposition: form-data; name="files"; filename="a.csv"\r\n'
    yield b"Content-Type: text/csv\r\n\r\n"
    for start in range(0, len(payload), 7):
        yield payload[start : start + 7]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def test_a_chunked_upload_arrives(server_logs: Path, tmp_path: Path) -> None:
    env = {
        "VAR_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": uuid.uuid4().hex,
        "UPLOADS_MAX_FILE_SIZE": "1000",
        "UPLOADS_MAX_FILES": "2",
    }
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    with django_server(env, server_logs, "chunked") as url:
        csv = b"id,name\n" + b"".join(b"%d,n%d\n" % (i, i) for i in range(40))
        made = requests.post(
            f"{url}/api/upload", data=_body(csv), headers=headers, timeout=30
        )
        assert made.status_code == 201, made.text
        assert made.request.headers.get("Transfer-Encoding") == "chunked"
        assert made.json()["files"][0]["size"] == len(csv)
        too_big = requests.post(
            f"{url}/api/upload",
            data=_body(b"x" * 300_000),
            headers=headers,
            timeout=30,
        )
        assert too_big.status_code == 413
        assert too_big.json()["code"] == "request_too_large"
