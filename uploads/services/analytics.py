"""The analytics document of a processed session: one profile (or error) per
file, stored beside the files (``uploads/<uid>/analytics.json``)."""

from __future__ import annotations

import json
from typing import Any

from uploads.documents import ErrorInfo, StoredFile, iso, now
from uploads.exceptions import AnalyticsNotReady
from uploads.services.files import uploads_storage
from uploads.services.sessions import upload_session_get

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


def upload_session_analytics(*, session_key: str | None) -> dict[str, Any]:
    """The analytics document of a processed session."""
    session = upload_session_get(session_key=session_key)
    name = session.doc.analytics_path
    if name is None:
        raise AnalyticsNotReady(
            f"The session is {session.doc.status!r}: analytics exist once it has "
            "been processed (POST /api/process)."
        )
    try:
        with uploads_storage().open(name, "rb") as fh:
            stored = json.load(fh)
    except FileNotFoundError:
        raise AnalyticsNotReady("The analytics document is missing.") from None
    return {
        "schemaVersion": stored["schemaVersion"],
        "id": session.key,
        "generatedAt": stored.get("generatedAt"),
        "files": stored["files"],
    }
