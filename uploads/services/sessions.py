"""Reading and deleting an upload session."""

from __future__ import annotations

import logging

from django.contrib.sessions.backends.base import SessionBase

from uploads.documents import StoredFile, UploadSession
from uploads.exceptions import FileNotFound, SessionNotFound
from uploads.services.liveness import is_stale, mark_timed_out
from uploads.services.store import document, open_session

logger = logging.getLogger("uploads")


def upload_session_get(*, session_key: str | None) -> UploadSession:
    """The live upload session with this key; ``SessionNotFound`` otherwise.
    A run presumed dead is marked failed on the way (``liveness``)."""
    store = open_session(session_key)
    doc = document(store) if store is not None else None
    if store is None or doc is None or store.session_key is None:
        raise SessionNotFound
    if is_stale(doc):
        doc = mark_timed_out(store.session_key, doc)
    return UploadSession(key=store.session_key, doc=doc)


def upload_file_get(
    *, session_key: str | None, file_id: str
) -> tuple[UploadSession, StoredFile]:
    session = upload_session_get(session_key=session_key)
    stored = session.doc.file(file_id)
    if stored is None:
        raise FileNotFound("This session has no file with this id.")
    return session, stored


def upload_session_delete(
    *, session_key: str | None, current: SessionBase | None = None
) -> None:
    """Delete the upload session: the session itself, then (through the
    engine's ``sessions_deleted`` signal, see ``uploads.cleanup``) its files
    and analytics. ``current`` is the caller's own session: when it is the
    one deleted it is flushed, so that the middleware drops its cookie.

    A storage failure while deleting the session changes nothing (503); one
    while deleting the files leaves them to ``manage.py purge_uploads``.
    """
    own = current is not None and current.session_key == session_key
    store = current if own else open_session(session_key)
    doc = document(store) if store is not None else None
    if store is None or doc is None:
        raise SessionNotFound
    if own:
        store.flush()
    else:
        store.delete()
    logger.info("upload %s: deleted with %d file(s)", doc.uid[:8], len(doc.files))
