"""The whole flow across two real server processes and one worker process.

Two gunicorn servers (two workers each) on different ports and one
``manage.py db_worker`` share what a production deployment shares: one S3
bucket (moto's server), one Redis (the cached session tier, this machine's
Redis) and one PostgreSQL database (the job queue; a database of its own,
created here and dropped afterwards). Processing runs in queue mode, so every
step lands on another process: upload on A, process on B (202), poll on A
while the worker works, analytics on B, delete on A.
"""

from __future__ import annotations

import pickle
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests

from sessions_blob.backends.cached_storage import TOMBSTONE, TOMBSTONE_TIMEOUT
from sessions_blob.records import object_id
from tests.support.s3 import S3Endpoint
from tests.support.servers import django_server, manage, post_at_once, worker
from tests.uploads.conftest import GOOD_CSV

pytestmark = [pytest.mark.multiprocess, pytest.mark.s3]

POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/13"
CACHE_PREFIX = ":1:sessions_blob:"  # Django's key function: ":<version>:<key>"


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test; its DATABASE_URL."""
    name = f"many_instances_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _jobs(database: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database) as db:
        return db.execute(
            "SELECT status, args_kwargs, worker_ids, return_value "
            "FROM django_tasks_database_dbtaskresult ORDER BY enqueued_at"
        ).fetchall()


def _objects(s3: S3Endpoint, bucket: str, prefix: str) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def _poll(
    url: str, key: dict[str, str], timeout: float = 60
) -> tuple[dict[str, Any], list[str]]:
    """GET ``url`` every 50 ms until the session is completed or failed."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        body = requests.get(url, headers=key, timeout=10).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in {"completed", "failed"} or time.monotonic() > deadline:
            return body, seen
        time.sleep(0.05)


def test_upload_process_read_delete_across_two_servers_and_a_worker(
    s3: S3Endpoint, database: str, server_logs: Path, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    env = {
        **s3.env(bucket),
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "SESSION_ENGINE": "sessions_blob.backends.cached_storage",
        "UPLOADS_PROCESSING_MODE": "queue",
        "DJANGO_SECRET_KEY": f"one-for-all-{uuid.uuid4().hex}",
        "SESSION_COOKIE_SECURE": "0",  # plain HTTP on loopback
    }
    manage(env | {"VAR_DIR": str(tmp_path / "migrate")}, "migrate", "--noinput")
    cache = redis.Redis.from_url(REDIS_URL)
    with (
        django_server(env | {"VAR_DIR": str(tmp_path / "a")}, server_logs, "a", 2) as a,
        django_server(env | {"VAR_DIR": str(tmp_path / "b")}, server_logs, "b", 2) as b,
        worker(env | {"VAR_DIR": str(tmp_path / "w")}, server_logs, "the-worker"),
    ):
        # upload on A: a new session, in the bucket and in Redis
        created = requests.post(
            f"{a}/api/upload",
            files=[
                ("files", ("people.csv", GOOD_CSV, "text/csv")),
                ("files", ("semi.csv", b"x;y\n1;2\n3;4\n")),
            ],
            timeout=30,
        )
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        key = {"X-Session-ID": created.headers["X-Session-ID"]}
        assert created.json()["status"] == "uploaded"
        cache_key = CACHE_PREFIX + object_id(key["X-Session-ID"])
        assert cache.exists(cache_key)
        assert len(_objects(s3, bucket, "sessions/")) == 1
        assert len(_objects(s3, bucket, "uploads/")) == 2

        # process on B: queued, answered at once
        accepted = requests.post(f"{b}/api/process", headers=key, timeout=30)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["status"] == "queued"
        assert accepted.headers["Location"] == f"{b}/api/sessions/{session_id}"

        # poll on A until the worker has finished
        session, seen = _poll(f"{a}/api/sessions/{session_id}", key)
        assert session["status"] == "completed", session
        assert set(seen) <= {"queued", "processing", "completed"}
        [job] = _jobs(database)
        assert job == (
            "SUCCESSFUL",
            {"args": [key["X-Session-ID"]], "kwargs": {}},
            ["the-worker"],
            "completed",
        )

        # analytics on B
        analytics = requests.get(
            f"{b}/api/sessions/{session_id}/analytics", headers=key, timeout=30
        ).json()
        assert analytics["id"] == session_id
        assert analytics["files"][0]["profile"]["rowCount"] == 3
        assert analytics["files"][1]["profile"]["delimiter"] == ";"
        assert session["analyticsUrl"] == f"{a}/api/sessions/{session_id}/analytics"

        # two process calls at once, one per server: one is queued, one refused
        made = requests.post(
            f"{b}/api/upload", files=[("files", ("o.csv", GOOD_CSV))], timeout=30
        )
        other = made.json()["id"]
        other_key = {"X-Session-ID": made.headers["X-Session-ID"]}
        results = post_at_once(
            [f"{a}/api/process", f"{b}/api/process"], {"id": other}, 30, other_key
        )
        assert sorted(r.status_code for r in results) == [202, 409]
        assert _poll(f"{b}/api/sessions/{other}", other_key)[0]["status"] == "completed"
        assert len(_jobs(database)) == 2  # the refused call queued nothing

        # delete on A: gone on B, from the bucket, and a tombstone in Redis
        for sid, server, credential in [(session_id, a, key), (other, b, other_key)]:
            deleted = requests.delete(
                f"{server}/api/sessions/{sid}", headers=credential, timeout=30
            )
            assert deleted.status_code == 204
        gone = requests.get(f"{b}/api/sessions/{session_id}", headers=key, timeout=30)
        assert gone.status_code == 404
        assert gone.json()["code"] == "session_not_found"
        assert pickle.loads(cache.get(cache_key)) == TOMBSTONE  # Django's pickling
        assert cache.ttl(cache_key) <= TOMBSTONE_TIMEOUT
        assert _objects(s3, bucket, "uploads/") == []
        assert _objects(s3, bucket, "sessions/") == []
