"""Upload sessions as the uploads app writes them, for the site's tests of the
admin, the commands and the cleanup (without going through the API)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import storages

from sessions_blob.backends.storage import SessionStore
from tests.support.sessions import make_session

CSV = b"id,name\n1,alice\n2,bob\n"


def iso(moment: dt.datetime) -> str:
    return (
        moment.astimezone(dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def upload_document(
    *, files: int = 2, analytics: bool = True, status: str = "completed"
) -> tuple[dict[str, Any], list[str]]:
    """An upload document with its files stored in the "default" storage.
    Returns the document and every stored name."""
    storage = storages["default"]
    uid = uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC)
    stored = []
    for n in range(files):
        file_id = uuid.uuid4().hex
        name = storage.save(f"uploads/{uid}/{file_id}.csv", ContentFile(CSV))
        stored.append(
            {
                "id": file_id,
                "name": f"data-{n}.csv",
                "size": len(CSV),
                "path": name,
                "sha256": "0" * 64,
                "content_type": "text/csv",
                "uploaded_at": iso(now),
                "error": None,
            }
        )
    analytics_path = None
    if analytics:
        body = json.dumps({"schema_version": "1", "files": []}).encode()
        analytics_path = storage.save(
            f"uploads/{uid}/analytics.json", ContentFile(body)
        )
    doc = {
        "version": 1,
        "uid": uid,
        "created_at": iso(now),
        "expires_at": iso(now + dt.timedelta(days=1)),
        "status": status,
        "files": stored,
        "error": None,
        "analytics_path": analytics_path,
        "run": None,
        "processing_since": None,
    }
    names = [f["path"] for f in stored] + ([analytics_path] if analytics_path else [])
    return doc, names


def make_upload_session(
    *, expired: bool = False, **options: Any
) -> tuple[SessionStore, list[str]]:
    doc, names = upload_document(**options)
    return make_session(expired=expired, upload=doc), names


def upload_exists(name: str) -> bool:
    return storages["default"].exists(name)


def orphan_files(count: int = 2) -> list[str]:
    """Files of an upload no session refers to (its session is gone)."""
    storage = storages["default"]
    uid = uuid.uuid4().hex
    return [
        storage.save(f"uploads/{uid}/{uuid.uuid4().hex}.csv", ContentFile(b"a\n1\n"))
        for _ in range(count)
    ]


def edit_upload(session_key: str, change: Any) -> None:
    """Change a session's upload document as another instance would: read
    the session, ``change(doc)``, save it (the engine merges, as for any
    request)."""
    from uploads.documents import SESSION_KEY, UploadDocument

    store = SessionStore(session_key)
    doc = UploadDocument.from_session(store)
    assert doc is not None, "no upload document in this session"
    change(doc)
    store[SESSION_KEY] = doc.to_dict()
    store.save()
