"""Upload, process and read served by two different server processes (gunicorn)
that share one bucket: every step may land on another instance."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests

from tests.support.s3 import S3Endpoint
from tests.support.servers import django_server, post_at_once
from tests.uploads.conftest import GOOD_CSV

pytestmark = [pytest.mark.multiprocess, pytest.mark.s3]


def _objects(s3: S3Endpoint, bucket: str, prefix: str) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_upload_process_and_read_on_two_servers(
    s3: S3Endpoint, server_logs: Path, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    env = {
        **s3.env(bucket),
        "DJANGO_SECRET_KEY": f"same-for-both-{uuid.uuid4().hex}",
        "SESSION_COOKIE_SECURE": "0",  # plain HTTP on loopback
        "UPLOADS_MAX_FILE_SIZE": "100000",
    }
    with (
        django_server(
            env | {"VAR_DIR": str(tmp_path / "a")}, server_logs, "uploads-a"
        ) as a,
        django_server(
            env | {"VAR_DIR": str(tmp_path / "b")}, server_logs, "uploads-b"
        ) as b,
    ):
        # upload on A: a new session
        created = requests.post(
            f"{a}/api/upload",
            files=[
                ("files", ("people.csv", GOOD_CSV, "text/csv")),
                ("files", ("junk.csv", b"\x89PNG\r\n\x1a\n\x00")),
            ],
            timeout=30,
        )
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        key = created.headers["X-Session-ID"]  # the credential, sent this once
        header = {"X-Session-ID": key}

        # more files and processing on B
        added = requests.post(
            f"{b}/api/upload",
            files=[("files", ("more.csv", b"x;y\n1;2\n"))],
            headers=header,
            timeout=30,
        )
        assert added.status_code == 201, added.text
        assert [f["name"] for f in added.json()["files"]] == [
            "people.csv",
            "junk.csv",
            "more.csv",
        ]
        processed = requests.post(
            f"{b}/api/process", json={}, headers=header, timeout=60
        )
        assert processed.status_code == 200, processed.text
        assert processed.json()["status"] == "completed"

        # read on A, by header and by cookie
        session = requests.get(
            f"{a}/api/sessions/{session_id}", headers=header, timeout=30
        ).json()
        assert session["status"] == "completed"
        assert [f["error"] and f["error"]["code"] for f in session["files"]] == [
            None,
            "not_csv",
            None,
        ]
        assert requests.get(session["files"][0]["url"], timeout=30).content == GOOD_CSV
        by_cookie = requests.get(
            f"{a}/api/sessions/{session_id}/files/{session['files'][2]['id']}",
            cookies={"sessionid": key},
            allow_redirects=False,
            timeout=30,
        )
        assert by_cookie.status_code == 302  # to a signed URL
        assert (
            requests.get(by_cookie.headers["Location"], timeout=30).content
            == b"x;y\n1;2\n"
        )
        analytics = requests.get(
            session["analyticsUrl"], headers=header, timeout=30
        ).json()
        assert analytics["id"] == session_id
        assert analytics["files"][0]["profile"]["rowCount"] == 3
        assert analytics["files"][2]["profile"]["delimiter"] == ";"

        # a file over the limit gets a clean 413 over real HTTP (body drained)
        too_big = requests.post(
            f"{b}/api/upload",
            files=[("files", ("big.csv", b"1,2\n" * 50_000))],
            headers=header,
            timeout=30,
        )
        assert too_big.status_code == 413
        assert too_big.json()["code"] == "file_too_large"

        # two process calls at once, one per server: exactly one runs
        made = requests.post(
            f"{a}/api/upload", files=[("files", ("o.csv", GOOD_CSV * 2000))], timeout=30
        )
        other, other_header = (
            made.json()["id"],
            {"X-Session-ID": made.headers["X-Session-ID"]},
        )
        results = post_at_once(
            [f"{a}/api/process", f"{b}/api/process"], {"id": other}, 60, other_header
        )
        assert sorted(r.status_code for r in results) == [200, 409]

        # delete on B; gone on A, and from the bucket
        assert (
            requests.delete(
                f"{b}/api/sessions/{session_id}", headers=header, timeout=30
            ).status_code
            == 204
        )
        assert (
            requests.delete(
                f"{a}/api/sessions/{other}", headers=other_header, timeout=30
            ).status_code
            == 204
        )
        gone = requests.get(
            f"{a}/api/sessions/{session_id}", headers=header, timeout=30
        )
        assert gone.status_code == 404
        assert gone.json()["code"] == "session_not_found"
        assert _objects(s3, bucket, "uploads/") == []
        assert _objects(s3, bucket, "sessions/") == []
