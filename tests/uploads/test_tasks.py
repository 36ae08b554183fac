"""Queue mode: ``POST /api/process`` answers 202 and a worker does the work.

In-process tests run django-tasks-db's real worker loop (``Worker``, what
``manage.py db_worker`` runs) on the test database, on local disk and on S3.
The last test runs gunicorn and a real ``db_worker`` process on one SQLite
file and kills the worker with SIGKILL in the middle of a job.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tests.support.servers import django_server, manage, worker
from tests.support.uploads import key_of
from tests.uploads.conftest import GOOD_CSV, Api, Backend, assert_error
from tests.uploads.test_api import _doc, _set_doc
from uploads.conf import conf

#: The job table; transactional because the worker loop manages connections.
jobs_db = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _queue_mode(settings: Any) -> None:
    settings.UPLOADS_PROCESSING_MODE = "queue"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def run_worker() -> None:
    """Run every queued job, as ``manage.py db_worker --batch`` does."""
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="in-process",
        excluded_queue_names=[],
    ).run()


def _jobs() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.order_by("enqueued_at"))


@jobs_db
def test_process_answers_202_and_the_worker_completes(
    api: Api, backend: Backend
) -> None:
    session_id = api.new_session(("a.csv", GOOD_CSV), ("b.csv", b"x;y\n1;2\n"))

    response = api.process(session_id)

    assert response.status_code == 202
    body = response.json()
    status_url = f"http://testserver/api/sessions/{session_id}"
    assert response["Location"] == body["statusUrl"] == status_url
    assert body["id"] == session_id and "X-Session-ID" not in response
    assert response["Retry-After"] == "1"
    assert body["status"] == "queued" and body["analyticsUrl"] is None
    # the job carries the session id and nothing else
    [job] = _jobs()
    assert job.status == "READY"
    assert job.args_kwargs == {"args": [key_of(session_id)], "kwargs": {}}
    assert job.task_path == "uploads.services.processing.process_upload_session"
    assert api.get(session_id).json()["status"] == "queued"
    assert not any(name.endswith("analytics.json") for name in backend.files())

    run_worker()

    session = api.get(session_id).json()
    assert session["status"] == "completed"
    assert [f["error"] for f in session["files"]] == [None, None]
    analytics = api.analytics(session_id).json()
    assert analytics["files"][0]["profile"]["rowCount"] == 3
    assert analytics["files"][1]["profile"]["delimiter"] == ";"
    [job] = _jobs()
    assert job.status == "SUCCESSFUL"
    assert job.return_value == "completed"
    assert job.worker_ids == ["in-process"]


@jobs_db
def test_a_queued_session_refuses_more_work(api: Api, backend: Backend) -> None:
    session_id = api.new_session()
    assert api.process(session_id).status_code == 202

    assert_error(api.process(session_id), 409, "already_processing")
    assert_error(
        api.upload(("b.csv", GOOD_CSV), session_id=session_id),
        409,
        "already_processing",
    )
    assert len(_jobs()) == 1  # the refused call queued nothing
    run_worker()
    assert_error(api.process(session_id), 409, "nothing_to_process")


@jobs_db
def test_a_job_whose_session_was_deleted_does_nothing(
    api: Api, backend: Backend
) -> None:
    session_id = api.new_session()
    assert api.process(session_id).status_code == 202
    assert api.delete(session_id).status_code == 204

    run_worker()

    [job] = _jobs()
    assert job.status == "SUCCESSFUL" and job.return_value == "gone"
    assert backend.files() == []


@jobs_db
def test_a_job_for_a_session_no_longer_queued_is_dropped(
    api: Api, backend: Backend, settings: Any
) -> None:
    session_id = api.new_session()
    assert api.process(session_id).status_code == 202
    run_worker()
    # the same job delivered again (a redelivery, or a job left from a
    # takeover) finds the session completed and leaves it alone
    from uploads.services import process_upload_session

    before = _doc(session_id)
    assert process_upload_session.call(key_of(session_id)) == "skipped"
    assert _doc(session_id) == before


@jobs_db
def test_a_session_that_fails_in_the_worker_is_failed(
    api: Api, backend: Backend
) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    session_id = api.new_session(("photo.csv", png))
    assert api.process(session_id).status_code == 202

    run_worker()

    session = api.get(session_id).json()
    assert session["status"] == "failed"
    assert session["error"]["code"] == "all_files_failed"
    assert session["files"][0]["error"]["code"] == "not_csv"
    [job] = _jobs()
    assert job.return_value == "failed"


@jobs_db
@pytest.mark.parametrize("status", ["queued", "processing"])
def test_a_stale_run_is_marked_failed_on_the_next_read(
    api: Api, backend: Backend, settings: Any, status: str
) -> None:
    settings.UPLOADS_PROCESSING_TIMEOUT = 60
    session_id = api.new_session()
    _set_doc(
        session_id, status=status, run="r", processing_since="2999-01-01T00:00:00Z"
    )
    assert api.get(session_id).json()["status"] == status  # not stale yet

    _set_doc(session_id, processing_since="2000-01-01T00:00:00Z")
    session = api.get(session_id).json()

    assert session["status"] == "failed"
    assert session["error"]["code"] == "processing_timeout"
    assert "UPLOADS_PROCESSING_TIMEOUT" in session["error"]["message"]
    assert _doc(session_id)["run"] is None
    assert len(session["files"]) == 1  # kept
    # and it can be processed again
    assert api.process(session_id).status_code == 202
    run_worker()
    assert api.get(session_id).json()["status"] == "completed"


@jobs_db
def test_a_stale_run_is_taken_over_by_process(
    api: Api, backend: Backend, settings: Any
) -> None:
    settings.UPLOADS_PROCESSING_TIMEOUT = 60
    session_id = api.new_session()
    _set_doc(
        session_id, status="queued", run="r", processing_since="2000-01-01T00:00:00Z"
    )

    assert api.process(session_id).status_code == 202
    assert _doc(session_id)["run"] != "r"


# No django_db mark: pytest-django refuses database access, as a queue whose
# database is down would.
def test_a_queue_that_refuses_the_job_leaves_the_session_as_it_was(
    api: Api, backend: Backend
) -> None:
    session_id = api.new_session()
    before = _doc(session_id)

    assert_error(api.process(session_id), 503, "queue_unavailable")

    assert _doc(session_id) == before
    assert api.get(session_id).json()["status"] == "uploaded"


def test_an_unknown_mode_is_refused(settings: Any) -> None:
    settings.UPLOADS_PROCESSING_MODE = "later"
    with pytest.raises(ImproperlyConfigured, match="UPLOADS_PROCESSING_MODE"):
        conf.PROCESSING_MODE  # noqa: B018


def test_inline_is_the_default(settings: Any) -> None:
    del settings.UPLOADS_PROCESSING_MODE
    assert conf.PROCESSING_MODE == "inline"


def test_a_live_run_longer_than_the_timeout_is_not_failed(
    settings: Any, tmp_path: Path
) -> None:
    """The heartbeat: a run taking longer than UPLOADS_PROCESSING_TIMEOUT, read
    all along, stays ``processing`` and completes."""
    settings.UPLOADS_PROCESSING_MODE = "inline"
    settings.UPLOADS_PROCESSING_TIMEOUT = 1
    settings.UPLOADS_PROFILE_THREADS = 1
    api = Api(Client())
    with _big_csv(tmp_path / "big.csv", rows=3_000_000).open("rb") as fh:
        created = api.remember(api.client.post("/api/upload", {"files": fh}))
    session_id = created.json()["id"]
    api.client.cookies.clear()
    answer: list[Any] = []
    run = threading.Thread(target=lambda: answer.append(api.process(session_id)))
    started = time.monotonic()
    run.start()
    seen = set()
    while run.is_alive():
        seen.add(api.get(session_id).json()["status"])
        time.sleep(0.05)
    run.join()

    assert time.monotonic() - started > 1.5  # well past the timeout
    assert seen <= {"uploaded", "processing", "completed"}
    assert answer[0].status_code == 200, answer[0].json()
    assert answer[0].json()["status"] == "completed"


# -- a real worker process, killed mid-job --------------------------------------


def _big_csv(path: Path, rows: int = 2_000_000) -> Path:
    """About 64 MB: long enough to profile (over a second on one thread) that
    the worker is surely killed in the middle."""
    lines = [b"id,name,amount,day\n"]
    lines += [
        b"%d,name%d,%d.%d,2024-01-%02d\n" % (i, i % 997, i % 1000, i % 7, i % 28 + 1)
        for i in range(rows)
    ]
    path.write_bytes(b"".join(lines))
    return path


def _poll(
    url: str, key: str, done: Callable[[dict[str, Any]], bool], timeout: float
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        body = requests.get(url, headers={"X-Session-ID": key}, timeout=10).json()
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


@pytest.mark.multiprocess
def test_a_worker_killed_mid_job_leaves_the_session_failed_then_it_is_retried(
    server_logs: Path, tmp_path: Path
) -> None:
    timeout = 4
    env = {
        "VAR_DIR": str(tmp_path / "var"),  # SQLite queue + local disk, one machine
        "DJANGO_SECRET_KEY": f"shared-{uuid.uuid4().hex}",
        "SESSION_COOKIE_SECURE": "0",
        "UPLOADS_PROCESSING_MODE": "queue",
        "UPLOADS_PROCESSING_TIMEOUT": str(timeout),
        "UPLOADS_PROFILE_THREADS": "1",
    }
    manage(env, "migrate", "--noinput", "-v", "0")
    big = _big_csv(tmp_path / "big.csv")
    with django_server(env, server_logs, "queue-web") as web:
        with big.open("rb") as fh:
            created = requests.post(
                f"{web}/api/upload", files=[("files", ("big.csv", fh))], timeout=60
            )
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        key = {"X-Session-ID": created.headers["X-Session-ID"]}
        status_url = f"{web}/api/sessions/{session_id}"

        with worker(env, server_logs, "doomed-worker") as doomed:
            accepted = requests.post(
                f"{web}/api/process",
                json={"id": session_id},
                headers=key,
                timeout=30,
            )
            assert accepted.status_code == 202, accepted.text
            assert accepted.headers["Location"] == status_url
            seen = _poll(
                status_url,
                key["X-Session-ID"],
                lambda b: b["status"] != "queued",
                timeout=30,
            )
            assert seen["status"] == "processing"
            os.killpg(doomed.pid, signal.SIGKILL)
            assert doomed.wait(10) == -signal.SIGKILL
            killed_at = time.monotonic()

        # dead mid-job: nothing finishes it, its job row is stuck "RUNNING"
        status = requests.get(status_url, headers=key, timeout=10).json()["status"]
        assert status == "processing"
        with sqlite3.connect(tmp_path / "var" / "db.sqlite3") as db:
            rows = db.execute(
                "SELECT status, worker_ids FROM django_tasks_database_dbtaskresult"
            ).fetchall()
        assert rows == [("RUNNING", '["doomed-worker"]')]

        # the timeout rule: the next read after UPLOADS_PROCESSING_TIMEOUT
        failed = _poll(
            status_url,
            key["X-Session-ID"],
            lambda b: b["status"] != "processing",
            timeout + 10,
        )
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "processing_timeout"
        assert time.monotonic() - killed_at >= timeout - 1.5
        assert [f["name"] for f in failed["files"]] == ["big.csv"]  # files kept

        # retried: processed again by a new worker, to completion
        with worker(env, server_logs, "next-worker"):
            again = requests.post(f"{web}/api/process", headers=key, timeout=30)
            assert again.status_code == 202, again.text
            done = _poll(
                status_url,
                key["X-Session-ID"],
                lambda b: b["status"] in {"completed", "failed"},
                timeout=60,
            )
        assert done["status"] == "completed", done["error"]
        analytics = requests.get(done["analyticsUrl"], headers=key, timeout=30).json()
        assert analytics["files"][0]["profile"]["rowCount"] == 2_000_000
