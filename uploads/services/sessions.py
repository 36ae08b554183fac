"""Reading and deleting an upload session, and who may.

An upload has a public id of its own (``UploadDocument.uid``, which names
its storage folder): every URL, JSON field and page names it, never the
session key. Holding that id grants nothing: every route needs the session
itself (its cookie, or ``X-Session-ID`` for API clients), and
:func:`upload_session_for` answers the same ``SessionNotFound`` for "not
yours" and "does not exist".
"""

from __future__ import annotations

import logging

from django.contrib.sessions.backends.base import SessionBase

from uploads.documents import SESSION_KEY, StoredFile, UploadDocument, UploadSession
from uploads.exceptions import FileNotFound, SessionNotFound
from uploads.services.liveness import is_stale, mark_timed_out
from uploads.services.store import remove_document

logger = logging.getLogger("uploads")


def upload_session_for(
    *, session: SessionBase, upload_id: str | None = None
) -> UploadSession:
    """The caller's upload session (``session`` is the request's), if it is
    the one ``upload_id`` names (any, without one); ``SessionNotFound``
    otherwise. A run presumed dead is marked failed on the way (``liveness``)."""
    doc = UploadDocument.from_session(session)  # loads; a gone session drops its key
    key = session.session_key
    if key is None or doc is None or (upload_id is not None and doc.uid != upload_id):
        raise SessionNotFound
    if is_stale(doc):
        doc = mark_timed_out(key, doc)
    return UploadSession(key=key, doc=doc)


def upload_session_get(*, session: SessionBase, upload_id: str) -> UploadSession:
    return upload_session_for(session=session, upload_id=upload_id)


def upload_file_get(
    *, session: SessionBase, upload_id: str, file_id: str
) -> tuple[UploadSession, StoredFile]:
    found = upload_session_for(session=session, upload_id=upload_id)
    stored = found.doc.file(file_id)
    if stored is None:
        raise FileNotFound("This session has no file with this id.")
    return found, stored


def upload_session_delete(*, session: SessionBase, upload_id: str) -> None:
    """Delete the upload: its files, its analytics, its document.

    A session that held nothing else (an API client's, an anonymous
    browser's) is deleted whole, and the engine's ``sessions_deleted`` signal
    takes the files with it (``uploads.cleanup``); the middleware drops the
    cookie. A session that holds more (a logged-in user's) keeps the rest: the
    document is removed with a compare-and-set, then the files deleted. A
    storage failure deleting the session changes nothing (503); one deleting
    the files leaves them to ``manage.py purge_uploads``.
    """
    from uploads.cleanup import delete_upload_files

    found = upload_session_for(session=session, upload_id=upload_id)
    doc = found.doc
    # SessionBase has keys() but no __iter__; its expiry is the session's own.
    others = set(session.keys()) - {SESSION_KEY, "_session_expiry"}
    if not others:
        session.flush()
    else:
        remove_document(session, doc.uid)
        delete_upload_files(doc)
    logger.info("upload %s: deleted with %d file(s)", doc.uid[:8], len(doc.files))
