"""Removing one file from an upload session, and the analytics with it."""

from __future__ import annotations

import json
import logging

from django.contrib.sessions.backends.base import SessionBase
from django.core.files.base import ContentFile

from uploads.documents import UploadDocument, UploadSession, analytics_path
from uploads.exceptions import Conflict, FileNotFound
from uploads.services.analytics import failure_of
from uploads.services.files import (
    check_can_change,
    delete_quietly,
    storage_errors,
    uploads_storage,
)
from uploads.services.sessions import upload_session_for
from uploads.services.store import existing, update_document

logger = logging.getLogger("uploads")


def upload_file_delete(
    *, session: SessionBase, upload_id: str, file_id: str
) -> UploadSession:
    """Take one file out of the caller's upload and delete it.

    A processed session keeps the other files' profiles: its analytics are
    written again without this file (a new document, swapped in by the same
    compare-and-set that drops the file), so nothing is profiled twice. Not
    while the session is queued or processing (409).
    """
    found = upload_session_for(session=session, upload_id=upload_id)
    stored = found.doc.file(file_id)
    if stored is None:
        raise FileNotFound("This session has no file with this id.")
    check_can_change(found.doc)
    storage = uploads_storage()
    old_analytics = found.doc.analytics_path
    new_analytics: str | None = None
    remaining = [f for f in found.doc.files if f.id != file_id]
    if old_analytics is not None and remaining:
        with storage_errors("read the analytics"), storage.open(old_analytics) as fh:
            document = json.load(fh)
        document["files"] = [e for e in document["files"] if e["fileId"] != file_id]
        body = json.dumps(document, ensure_ascii=False, allow_nan=False).encode()
        with storage_errors("store the analytics"):
            new_analytics = storage.save(
                analytics_path(found.doc.uid, revision=True), ContentFile(body)
            )

    def remove(doc: UploadDocument) -> None:
        check_can_change(doc)
        if doc.file(file_id) is None:
            raise FileNotFound("This session has no file with this id.")
        if doc.analytics_path != old_analytics:
            raise Conflict("The session was processed meanwhile; retry.")
        doc.files = [f for f in doc.files if f.id != file_id]
        doc.analytics_path = new_analytics
        if new_analytics is None:  # nothing processed, or nothing left
            doc.status, doc.error = "uploaded", None
        else:
            doc.status, doc.error = failure_of(doc.files)

    try:
        changed = update_document(found.key, existing(remove))
    except BaseException:
        if new_analytics is not None:
            delete_quietly(storage, [new_analytics])
        raise
    delete_quietly(storage, [stored.path, *([old_analytics] if old_analytics else [])])
    logger.info("upload %s: file %s removed", found.doc.uid[:8], file_id[:8])
    return changed
