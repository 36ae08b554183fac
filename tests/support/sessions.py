"""Sessions made and inspected the way the engine's tests and the site's need
them: saved through the engine, read back from the storage, and changed in
the bucket as someone with write access to it could."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings

from sessions_blob.backends.storage import SessionStore
from sessions_blob.records import SessionRecord, object_name
from sessions_blob.stores import object_store


def make_session(*, expired: bool = False, **data: Any) -> SessionStore:
    """A saved session holding ``data``, expired a minute ago if asked."""
    session = SessionStore()
    session.update(data)
    if expired:
        session.set_expiry(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    session.save()
    return session


def new_session(**data: Any) -> str:
    """The key of a saved session holding ``data``."""
    key = make_session(**data).session_key
    assert key is not None
    return key


def stored_record(key: str) -> SessionRecord | None:
    found = object_store().read(object_name(settings.SESSIONS_BLOB_PREFIX, key))
    return SessionRecord.from_bytes(found.data) if found else None


def session_exists(key: str) -> bool:
    return stored_record(key) is not None


def overwrite(key: str, body: bytes) -> None:
    name = object_name(settings.SESSIONS_BLOB_PREFIX, key)
    object_store().delete(name)
    object_store().create(name, body)


def tamper(key: str) -> None:
    """Change the stored data without the signing key, as a bucket writer could."""
    name = object_name(settings.SESSIONS_BLOB_PREFIX, key)
    found = object_store().read(name)
    assert found is not None
    doc = json.loads(found.data)
    forged = SessionStore().encode({"is_admin": True}).rsplit(":", 1)[0]
    doc["payload"] = forged + ":" + doc["payload"].rsplit(":", 1)[1]
    overwrite(key, json.dumps(doc).encode())
