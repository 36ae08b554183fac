"""What uploads deletes, and never deletes: the files of deleted sessions (on
the engine's ``sessions_deleted`` signal), orphans (``manage.py
purge_uploads``), and never a project's own files beside them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from sessions_blob.backends.storage import SessionStore
from tests.support.machines import on_machines
from tests.support.sessions import make_session, session_exists, tamper
from tests.support.tiers import Tier
from tests.support.uploads import make_upload_session, orphan_files, upload_exists

pytestmark = pytest.mark.django_db
LOCAL_AND_S3 = pytest.mark.parametrize("tier", ["filesystem", "s3"], indirect=True)
ROOT = Path(__file__).resolve().parents[2]


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_uploads", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def exit_code(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("purge_uploads", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def backdate(name: str, hours: float) -> None:
    """Make a local file look ``hours`` old (S3 cannot be backdated)."""
    path = storages["default"].path(name)
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))


def project_files() -> list[str]:
    """A project's own files in the same storage, some under ``uploads/``."""
    storage = storages["default"]
    return [
        storage.save(name, ContentFile(b"not ours"))
        for name in (
            "uploads/avatars/ada.png",
            "uploads/invoices/2026-11.pdf",
            f"uploads/{uuid.uuid4().hex}/notes.txt",  # our folder shape, not our file
            f"uploads/{uuid.uuid4().hex}.csv",
            "reports/2026.csv",
        )
    ]


# -- the files of deleted sessions --------------------------------------------


@LOCAL_AND_S3
def test_a_logout_deletes_the_upload_of_the_session(
    tier: Tier, s3_uploads: None
) -> None:
    session, names = make_upload_session(files=2)
    loaded = SessionStore(session.session_key)
    assert loaded["upload"]["status"] == "completed"
    loaded.flush()  # what auth.logout() does
    assert not session_exists(session.session_key)
    assert not any(upload_exists(n) for n in names)


@LOCAL_AND_S3
def test_a_new_key_at_login_keeps_the_files(tier: Tier, s3_uploads: None) -> None:
    """cycle_key() deletes the old object, but the session lives on."""
    session, names = make_upload_session(files=1)
    loaded = SessionStore(session.session_key)
    loaded.cycle_key()
    assert all(upload_exists(n) for n in names)
    assert SessionStore(loaded.session_key)["upload"]["uid"]


@LOCAL_AND_S3
def test_deleting_through_the_api_deletes_the_files(
    tier: Tier, s3_uploads: None
) -> None:
    client = Client()
    made = client.post(
        "/api/upload",
        {"files": [SimpleUploadedFile("a.csv", b"x,y\n1,2\n", "text/csv")]},
    )
    assert made.status_code == 201
    names = [n for n in _listed("uploads/")]
    assert names
    assert client.delete(f"/api/sessions/{made.json()['id']}").status_code == 204
    assert not any(upload_exists(n) for n in names)


def _listed(prefix: str) -> list[str]:
    from sessions_blob.stores import object_store_for

    return [i.name for i in object_store_for(storages["default"]).list(prefix)]


@LOCAL_AND_S3
def test_a_receiver_never_deletes_a_project_file(tier: Tier, s3_uploads: None) -> None:
    """A session whose upload document names the project's files (forged in
    the session data, or a bug) deletes nothing of the project's."""
    theirs = project_files()
    session, _names = make_upload_session(files=1)
    doc = session["upload"]
    doc["files"][0]["path"] = theirs[0]
    doc["analytics_path"] = theirs[1]
    session["upload"] = doc
    session.save()
    SessionStore(session.session_key).flush()
    assert all(storages["default"].exists(n) for n in theirs)


# -- purge_uploads ------------------------------------------------------------------


@LOCAL_AND_S3
def test_purge_uploads(tier: Tier, s3_uploads: None) -> None:
    live, live_files = make_upload_session(files=2)
    _expired, expired_files = make_upload_session(files=1, expired=True)
    orphans = orphan_files(2)
    stray = storages["default"].save(
        f"uploads/{live['upload']['uid']}/{uuid.uuid4().hex}.csv", ContentFile(b"x\n")
    )
    assert "would delete 5 orphans" in purge("--dry-run", "--min-age", "0")
    assert all(upload_exists(n) for n in live_files + expired_files + orphans + [stray])
    # Within the grace period nothing is judged.
    assert "deleted 0 orphans" in purge()
    output = purge("--min-age", "0")
    assert "3 belong to live sessions, 0 too recent to judge, deleted 5" in output
    assert all(upload_exists(n) for n in live_files)
    assert not any(upload_exists(n) for n in expired_files + orphans + [stray])
    assert session_exists(live.session_key)


@LOCAL_AND_S3
def test_purge_uploads_leaves_the_projects_files_alone(
    tier: Tier, s3_uploads: None
) -> None:
    """A project with its own media under uploads/ in the same storage: the
    nightly purge deletes only what this app wrote (issue 10's finding)."""
    theirs = project_files()
    orphans = orphan_files(1)
    output = purge("--min-age", "0")
    assert "1 upload files:" in output and "deleted 1 orphans" in output
    assert all(storages["default"].exists(n) for n in theirs)
    assert not upload_exists(orphans[0])


@pytest.mark.parametrize("tier", ["filesystem"], indirect=True)
def test_purge_uploads_keeps_recent_files(tier: Tier) -> None:
    old, recent = orphan_files(1), orphan_files(1)
    backdate(old[0], hours=2)
    assert "1 too recent to judge, deleted 1 orphans" in purge()
    assert not upload_exists(old[0]) and upload_exists(recent[0])


@LOCAL_AND_S3
def test_purge_uploads_refuses_while_sessions_are_unreadable(
    tier: Tier, s3_uploads: None
) -> None:
    session, files = make_upload_session(files=1)
    tamper(session.session_key)  # its files can no longer be told from orphans
    code, output = exit_code("--min-age", "0")
    assert code == 3
    assert "1 sessions could not be read" in output
    assert upload_exists(files[0])
    assert "deleted 2 orphans" in purge("--min-age", "0", "--force")
    assert not upload_exists(files[0])


@LOCAL_AND_S3
def test_purge_uploads_on_two_machines_at_once(tier: Tier, s3_uploads: None) -> None:
    _live, live_files = make_upload_session(files=2)
    orphans = orphan_files(6)
    errors = on_machines(lambda: purge("--min-age", "0"))
    assert errors == []
    assert all(upload_exists(n) for n in live_files)
    assert not any(upload_exists(n) for n in orphans)


@pytest.mark.parametrize("tier", ["filesystem"], indirect=True)
def test_purge_uploads_with_real_upload_sessions(tier: Tier) -> None:
    """Through the uploads app itself: its files are found and kept."""
    from uploads.services import upload_session_add_files, upload_session_delete

    kept, dropped = SessionStore(), SessionStore()
    for session in (kept, dropped):
        upload_session_add_files(
            session=session,
            files=[SimpleUploadedFile("a.csv", b"x,y\n1,2\n", "text/csv")],
            create=True,
        )
    names = {
        s: [f["path"] for f in SessionStore(s.session_key)["upload"]["files"]]
        for s in (kept, dropped)
    }
    SessionStore(dropped.session_key).delete()  # as clearsessions would
    assert "1 belong to live sessions, 0 too recent to judge, deleted 1" in purge(
        "--min-age", "0"
    )
    assert upload_exists(names[kept][0]) and not upload_exists(names[dropped][0])
    upload_session_delete(session_key=kept.session_key)
    assert not upload_exists(names[kept][0])


@pytest.mark.parametrize("tier", ["filesystem"], indirect=True)
def test_upload_stats(tier: Tier) -> None:
    make_upload_session(files=2)
    make_upload_session(files=1, status="uploaded")
    make_upload_session(files=3, expired=True)
    make_session(a=1)
    out = StringIO()
    call_command("upload_stats", "--json", stdout=out, stderr=StringIO())
    stats = json.loads(out.getvalue())
    assert stats["sessions"] == 2 and stats["files"] == 3
    assert stats["by_status"] == {"completed": 1, "uploaded": 1}


def test_purge_uploads_is_silent_at_verbosity_0(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "purge_uploads", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "VAR_DIR": str(tmp_path), "STORAGE_BACKEND": "filesystem"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
