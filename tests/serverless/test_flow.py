"""The whole flow on a serverless platform, every request on a fresh instance.

The site is deployed as its Lambda handler (``analytics_site.lambda_handler``)
in a read-only copy of the code; each request becomes an API Gateway HTTP API
event (payload 2.0) handed to a new process that has never seen the session
(tests/support/serverless.py). A front refuses bodies over 4.5 MB with 413,
as Vercel does. The function writes only to this test's temporary directory
(``VAR_DIR``, ``TMPDIR``; the job queue in a SQLite file there, shared with
the worker); sessions and uploads live in S3 (moto's server).

A 50 MB CSV goes straight to the bucket in signed parts, is processed in
queue mode by a ``db_worker`` process, read back as status, analytics and the
dashboard page, then deleted. The same file through the streaming upload
(``POST /api/upload``) is refused at the front: the tier can fail.
"""

from __future__ import annotations

import math
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.direct import direct_upload
from tests.support.s3 import S3Endpoint
from tests.support.serverless import (
    BODY_LIMIT,
    Browser,
    Front,
    Function,
    put,
    read_only_copy,
    run_restricted,
    worker,
    writable_again,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.s3, pytest.mark.serverless]

MiB = 1024 * 1024
ROWS_PER_BLOCK = 10_000


@dataclass
class Deployment:
    code: Path
    env: dict[str, str]
    bucket: str
    s3: S3Endpoint
    logs: Path

    def front(self, name: str) -> Front:
        return Front(Function(self.code, self.env, self.logs / f"{name}.log"))

    def objects(self) -> list[str]:
        listed = self.s3.client().list_objects_v2(Bucket=self.bucket)
        return [o["Key"] for o in listed.get("Contents", [])]


@pytest.fixture(scope="module")
def deployment(
    s3: S3Endpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("serverless")
    writable = root / "tmp"  # the function's /tmp
    for folder in ("var", "tmp", "home"):
        (writable / folder).mkdir(parents=True)
    code = read_only_copy(root / "code")
    bucket = s3.new_bucket()
    env = {
        **s3.env(bucket),
        "DJANGO_SECRET_KEY": f"serverless-{uuid.uuid4().hex}",
        "DJANGO_ALLOWED_HOSTS": Front.host,
        "DJANGO_BEHIND_TLS_PROXY": "1",
        "DATABASE_URL": f"sqlite:///{writable / 'var' / 'db.sqlite3'}",
        "VAR_DIR": str(writable / "var"),
        "TMPDIR": str(writable / "tmp"),
        "HOME": str(writable / "home"),
        "UPLOADS_PROCESSING_MODE": "queue",
        # the page's CSP names the bucket without a boto3 client
        "UPLOADS_DIRECT_ORIGIN": s3.url,
    }
    migrated = run_restricted(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        code,
        env,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr.decode()
    try:
        yield Deployment(code, env, bucket, s3, root)
    finally:
        writable_again(code)


def snapshot(tree: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(tree)), p.lstat().st_mtime_ns, p.lstat().st_size)
        for p in tree.rglob("*")
    )


def big_csv(size: int) -> bytes:
    """At least ``size`` bytes of CSV, fast: one block of varied rows,
    repeated."""
    block = b"".join(
        b"%d,%s,%d.%02d,2024-%02d-%02d\n"
        % (i, b"abcdefgh"[i % 8 :], i % 977, i % 100, i % 12 + 1, i % 28 + 1)
        for i in range(ROWS_PER_BLOCK)
    )
    return b"id,label,amount,day\n" + block * math.ceil(size / len(block))


def test_the_deployed_code_is_read_only_for_the_function(
    deployment: Deployment,
) -> None:
    probe = run_restricted(
        [
            sys.executable,
            "-c",
            "import os, pathlib, analytics_site.lambda_handler as h\n"
            "print(pathlib.Path(h.__file__).is_relative_to(os.getcwd()))\n"
            "for attempt in (lambda: open('analytics_site/new.py', 'w'),\n"
            "                lambda: open('manage.py', 'a'),\n"
            "                lambda: os.chmod('analytics_site', 0o777)):\n"
            "    try:\n"
            "        attempt()\n"
            "        print('written')\n"
            "    except PermissionError:\n"
            "        print('refused')\n"
            "pathlib.Path(os.environ['VAR_DIR'], 'probe').write_text('ok')\n",
        ],
        deployment.code,
        deployment.env,
        timeout=60,
    )

    assert probe.returncode == 0, probe.stderr.decode()
    assert probe.stdout.decode().split() == ["True", "refused", "refused", "refused"]
    assert (Path(deployment.env["VAR_DIR"]) / "probe").read_text() == "ok"


def test_a_50_mb_csv_from_upload_to_delete_each_request_on_a_fresh_instance(
    deployment: Deployment,
) -> None:
    code_before = snapshot(deployment.code)
    front = deployment.front("flow")
    browser = Browser(front)
    data = big_csv(50 * MiB)
    rows = data.count(b"\n") - 1

    # the page: a CSRF cookie, no session yet
    page = browser.request("GET", "/")
    assert page.status_code == 200, page.text
    assert "csrftoken" in browser.jar and "sessionid" not in browser.jar
    assert front.function.loaded == [[]]  # a page without a session: no boto3

    # straight to the bucket in signed parts; the function only signs
    sent = direct_upload(browser.call, put, "big.csv", data, workers=2)
    assert sent.complete_status == 200, sent.complete
    assert len(sent.put_statuses) == math.ceil(len(data) / (16 * MiB))
    assert set(sent.put_statuses.values()) == {200}
    session_id = sent.complete["id"]
    [joined] = sent.complete["files"]
    stored = deployment.s3.client().head_object(
        Bucket=deployment.bucket, Key=f"uploads/{session_id}/{joined['id']}.csv"
    )
    assert stored["ContentLength"] == len(data) == joined["size"]
    assert "sessionid" in browser.jar  # a browser's session: by cookie only
    assert front.refused == 0

    # processing is queued: the function answers at once, the worker profiles
    with worker(deployment.code, deployment.env, deployment.logs / "worker.log"):
        status, accepted = browser.call("POST", "/api/process", {"id": session_id})
        assert status == 202, accepted
        assert accepted["status"] == "queued"
        seen = [accepted["status"]]
        deadline = time.monotonic() + 60
        while seen[-1] not in {"completed", "failed"}:
            assert time.monotonic() < deadline, seen
            status, body = browser.call("GET", f"/api/sessions/{session_id}", None)
            assert status == 200, body
            if body["status"] != seen[-1]:
                seen.append(body["status"])
    assert seen[-1] == "completed", body.get("error")
    assert set(seen) <= {"queued", "processing", "completed"}

    status, analytics = browser.call(
        "GET", f"/api/sessions/{session_id}/analytics", None
    )
    assert status == 200, analytics
    [profile] = [f["profile"] for f in analytics["files"]]
    assert profile["rowCount"] == rows

    dashboard = browser.request("GET", f"/sessions/{session_id}/")
    assert dashboard.status_code == 200, dashboard.text
    assert "big.csv" in dashboard.text
    # its stylesheet comes from the read-only code, by WhiteNoise
    [stylesheet, *_] = re.findall(r'href="(/static/[^"]+\.css)"', dashboard.text)
    css = browser.request("GET", stylesheet)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    css_loaded = front.function.loaded[-1]

    cookie = f"sessionid={browser.jar['sessionid']}"
    deleted = browser.request("DELETE", f"/api/sessions/{session_id}")
    assert deleted.status_code == 204, deleted.text
    assert "sessionid" not in browser.jar
    gone = front.request("GET", f"/api/sessions/{session_id}", cookies=[cookie])
    assert gone.status_code == 404 and gone.json()["code"] == "session_not_found"
    assert deployment.objects() == []
    assert snapshot(deployment.code) == code_before  # nothing written there
    # no request loaded the profiler's engines; only those that reached the
    # store loaded boto3 (not the first page, not the stylesheet)
    # at least: page, begin, sign, complete, process, one poll, analytics,
    # dashboard, stylesheet, delete, gone (more polls when the worker is slow)
    assert front.function.invocations == len(front.function.loaded) >= 11
    assert {name for names in front.function.loaded for name in names} == {"boto3"}
    assert css_loaded == []


def test_the_same_file_through_the_streaming_upload_is_refused(
    deployment: Deployment,
) -> None:
    front = deployment.front("streaming")
    browser = Browser(front)
    assert browser.request("GET", "/").status_code == 200
    prepared = requests.Request(
        "POST",
        f"{front.origin}/api/upload",
        files=[("files", ("big.csv", big_csv(50 * MiB), "text/csv"))],
    ).prepare()
    assert isinstance(prepared.body, bytes) and len(prepared.body) > BODY_LIMIT

    refused = browser.request(
        "POST",
        "/api/upload",
        body=prepared.body,
        headers={"content-type": prepared.headers["Content-Type"]},
    )

    assert refused.status_code == 413
    assert front.refused == 1 and front.function.invocations == 1  # GET / only
    assert [k for k in deployment.objects() if k.startswith("uploads/")] == []
