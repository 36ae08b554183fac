"""The upload document's persistence: a compare-and-set on the session.

State lives in the Django session (the upload document under ``"upload"``),
so any instance can serve any step. Every change of the document is a
compare-and-set (the engine's ``save_if_unchanged``) on a freshly loaded copy
of the session, retried on conflicts after re-checking the document: two
requests can never both move a session to ``processing``, and a file upload
can never overwrite a status written meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.core.exceptions import ImproperlyConfigured

from sessions_blob.exceptions import ConflictError
from uploads.documents import SESSION_KEY, UploadDocument, UploadSession, parse_iso
from uploads.exceptions import Conflict, SessionNotFound

#: Compare-and-set attempts before answering 409 ``conflict``.
MAX_ATTEMPTS = 8

Change = Callable[[UploadDocument | None], UploadDocument]


def session_store(session_key: str | None = None) -> SessionBase:
    """A session object of ``SESSION_ENGINE`` (not loaded yet)."""
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key)
    return store


def open_session(session_key: str | None) -> SessionBase | None:
    """A freshly loaded copy of the session, or None when it does not exist."""
    if not session_key:
        return None
    store = session_store(session_key)
    store.get(SESSION_KEY)  # loads; a missing or expired session drops its key
    return store if store.session_key is not None else None


def document(store: SessionBase) -> UploadDocument | None:
    return UploadDocument.from_session(store)


def put_document(store: SessionBase, doc: UploadDocument) -> None:
    store[SESSION_KEY] = doc.to_dict()
    store.set_expiry(parse_iso(doc.expires_at))


def _compare_and_set(store: SessionBase) -> None:
    save = getattr(store, "save_if_unchanged", None)
    if save is None:
        raise ImproperlyConfigured(
            f"SESSION_ENGINE {settings.SESSION_ENGINE!r} has no save_if_unchanged(): "
            "the uploads API needs sessions_blob.backends.storage."
        )
    save()


def update_document(session_key: str, change: Change) -> UploadSession:
    """Apply ``change`` to the stored document with compare-and-set.

    ``change`` gets the current document (None when the session has none) and
    returns the new one, or raises an ``UploadError``; after a conflict it
    runs again on the newer version, so its checks always see what it
    overwrites.
    """
    for _attempt in range(MAX_ATTEMPTS):
        store = open_session(session_key)
        if store is None:
            raise SessionNotFound
        doc = change(document(store))
        put_document(store, doc)
        try:
            _compare_and_set(store)
        except ConflictError:
            continue
        except UpdateError:  # deleted meanwhile
            raise SessionNotFound from None
        assert store.session_key is not None
        return UploadSession(key=store.session_key, doc=doc)
    raise Conflict("The session kept changing under this request; retry.")


def existing(change: Callable[[UploadDocument], None]) -> Change:
    """``change`` applied in place to a document that must exist."""

    def apply(doc: UploadDocument | None) -> UploadDocument:
        if doc is None:
            raise SessionNotFound
        change(doc)
        return doc

    return apply
