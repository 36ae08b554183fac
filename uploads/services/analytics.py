"""The analytics document of a processed session: one profile (or error) per
file, stored beside the files (``uploads/<uid>/analytics.json``)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from uploads.documents import ErrorInfo, Status, StoredFile, iso, now
from uploads.exceptions import AnalyticsNotReady, FileNotFound
from uploads.services.files import uploads_storage
from uploads.services.sessions import upload_session_for

#: Version of the analytics document's own shape (the profiles inside carry
#: the profiler's version). 2: camelCase keys, as everywhere in the API.
ANALYTICS_SCHEMA_VERSION = "2"


def analytics_document(
    files: list[tuple[StoredFile, dict[str, Any] | None, ErrorInfo | None]],
) -> dict[str, Any]:
    """The document stored for one run: each file's profile or error."""
    return {
        "schemaVersion": ANALYTICS_SCHEMA_VERSION,
        "generatedAt": iso(now()),
        "files": [
            {"fileId": f.id, "name": f.name, "profile": profile, "error": error}
            for f, profile, error in files
        ],
    }


def failure_of(files: list[StoredFile]) -> tuple[Status, ErrorInfo | None]:
    """The status of a processed session with ``files``, and its error when
    no file could be profiled."""
    if any(f.error is None for f in files):
        return "completed", None
    reasons = "; ".join(f"{f.name}: {f.error['message']}" for f in files if f.error)
    return "failed", {
        "code": "all_files_failed",
        "message": f"No file could be profiled: {reasons}",
    }


def upload_session_analytics(*, session: SessionBase, upload_id: str) -> dict[str, Any]:
    """The analytics document of the caller's processed upload."""
    found = upload_session_for(session=session, upload_id=upload_id)
    name = found.doc.analytics_path
    if name is None:
        raise AnalyticsNotReady(
            f"The session is {found.doc.status!r}: analytics exist once it has "
            "been processed (POST /api/process)."
        )
    try:
        with uploads_storage().open(name, "rb") as fh:
            stored = json.load(fh)
    except FileNotFoundError:
        raise AnalyticsNotReady("The analytics document is missing.") from None
    return {
        "schemaVersion": stored["schemaVersion"],
        "id": found.doc.uid,
        "generatedAt": stored.get("generatedAt"),
        "files": stored["files"],
    }


def upload_file_profile(
    *, session: SessionBase, upload_id: str, file_id: str
) -> tuple[StoredFile, dict[str, Any]]:
    """One file of the caller's processed upload and its profile (for export).
    ``FileNotFound`` for no such file; ``AnalyticsNotReady`` when the session
    is not processed, or the file could not be profiled (with the reason)."""
    found = upload_session_for(session=session, upload_id=upload_id)
    stored = found.doc.file(file_id)
    if stored is None:
        raise FileNotFound("This session has no file with this id.")
    analytics = upload_session_analytics(session=session, upload_id=upload_id)
    entry = next((e for e in analytics["files"] if e["fileId"] == file_id), None)
    if entry is None:
        raise AnalyticsNotReady("This file was added after the session was processed.")
    if entry["profile"] is None:
        reason = (entry.get("error") or {}).get("message", "")
        raise AnalyticsNotReady(f"This file could not be profiled. {reason}".strip())
    return stored, entry["profile"]
