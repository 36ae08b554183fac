"""Which sessions belong to a user: a small index object per user.

``{prefix}-users/{sha256(user id)}.json`` lists the object ids of the
user's sessions. It sits beside the session folder, not inside it, so that
a lifecycle rule on the session prefix never expires it and listings of
sessions never see it.

The engine updates it only when the user of a session changes (a login, a
logout, a flush), so requests whose user did not change make no extra
storage call. Updates are conditional writes on the version read, retried on
conflicts, so two logins of one user at once both land.

A session is listed before it is written with its user, and unlisted after
it lost the user or was deleted. So the index may hold more than the live
sessions (a session that expired and was cleared, a write that failed):
readers check each object, and entries whose objects are gone are dropped
when the index next grows past ``PRUNE_AT``. It never misses a session whose
login completed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import SESSION_KEY as USER_KEY

from sessions_blob.conf import conf
from sessions_blob.exceptions import ConcurrentUpdateError
from sessions_blob.listing import read_pool
from sessions_blob.records import object_id, object_name_for_id
from sessions_blob.stores import (
    ObjectExists,
    ObjectMissing,
    ObjectStore,
    VersionMismatch,
    object_store,
)

logger = logging.getLogger("sessions_blob")

INDEX_FORMAT = 1
#: Entries beyond which an update first drops entries whose objects are gone.
PRUNE_AT = 64
MAX_ATTEMPTS = 10


def index_prefix() -> str:
    """The folder of the index objects, a sibling of the session folder."""
    prefix = conf.PREFIX.rstrip("/")
    return f"{prefix}-users/" if prefix else "sessions-blob-users/"


def index_name(user_id: str) -> str:
    digest = hashlib.sha256(str(user_id).encode()).hexdigest()
    return f"{index_prefix()}{digest}.json"


def _parse(data: bytes) -> list[str]:
    try:
        doc = json.loads(data)
        sessions = doc["sessions"] if doc.get("format") == INDEX_FORMAT else []
    except (ValueError, TypeError, KeyError, AttributeError):
        logger.warning("Unreadable user index object; starting it afresh")
        return []
    return [s for s in sessions if isinstance(s, str) and len(s) == 64]


def _body(sessions: Iterable[str]) -> bytes:
    doc = {"format": INDEX_FORMAT, "sessions": sorted(set(sessions))}
    return json.dumps(doc, separators=(",", ":")).encode()


def _prune(store: ObjectStore, sessions: set[str]) -> set[str]:
    ordered = sorted(sessions)
    alive = read_pool().map(
        lambda oid: store.exists(object_name_for_id(conf.PREFIX, oid)), ordered
    )
    return {oid for oid, ok in zip(ordered, alive, strict=True) if ok}


def update(
    user_id: str,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    store: ObjectStore | None = None,
) -> None:
    """Add and remove object ids in the user's index (one read, one write)."""
    store = store or object_store()
    added, removed = set(add), set(remove) - set(add)
    name = index_name(user_id)
    for attempt in range(MAX_ATTEMPTS):
        found = store.read(name)
        try:
            if found is None:
                if not added:
                    return
                store.create(name, _body(added))
                return
            current = set(_parse(found.data))
            wanted = (current | added) - removed
            if len(wanted) > PRUNE_AT:
                wanted = _prune(store, wanted - added) | added
            if wanted == current:
                return
            store.replace(name, _body(wanted), found.version)
            return
        except (ObjectExists, ObjectMissing, VersionMismatch):
            time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))
    raise ConcurrentUpdateError(
        f"The user index {name} changed {MAX_ATTEMPTS} times under this update."
    )


def session_ids(user_id: str, *, store: ObjectStore | None = None) -> list[str]:
    """Object ids listed for the user (some may be gone; callers check)."""
    found = (store or object_store()).read(index_name(user_id))
    return sorted(_parse(found.data)) if found is not None else []


def session_listed(session_key: str, user_id: str) -> None:
    """Called by the engine before it writes a session that has this user;
    raises when the index cannot be written (the login must not complete
    unlisted)."""
    update(user_id, add=[object_id(session_key)])


def session_unlisted(session_key: str, user_id: str) -> None:
    """Called by the engine once the session is deleted or no longer has this
    user. Best effort: an entry left behind is only checked and dropped later."""
    try:
        update(user_id, remove=[object_id(session_key)])
    except Exception:
        logger.exception("Could not update the user index of a session")


def user_of(data: Mapping[str, Any]) -> str | None:
    """The id of the user logged in to a session holding ``data``, if any."""
    user = data.get(USER_KEY)
    return None if user is None else str(user)


class SessionUser:
    """The index bookkeeping of one ``SessionStore``: which key and user its
    session last had, so that only a change of either costs an index write.

    A session is listed before the write that gives it a user (a login, a
    new key), so the index may name a session whose write then failed
    (readers check) but never misses one that was written; an index that
    cannot be written fails the save. It is unlisted after the write or
    delete that took the user away (a logout, another user on the same key,
    the old key after a new one), best effort.
    """

    def __init__(self) -> None:
        self.key: str | None = None
        self.user: str | None = None

    def loaded(self, session_key: str, data: Mapping[str, Any]) -> None:
        """The session was read: remember what it holds."""
        self.key, self.user = session_key, user_of(data)

    def before_write(self, session_key: str, data: Mapping[str, Any]) -> None:
        user = user_of(data)
        if user is not None and (self.key, self.user) != (session_key, user):
            session_listed(session_key, user)

    def after_write(self, session_key: str, data: Mapping[str, Any]) -> None:
        before_key, before_user = self.key, self.user
        self.key, self.user = session_key, user_of(data)
        if before_key is None or before_user is None:
            return
        if (before_key == session_key) != (before_user == self.user):
            session_unlisted(before_key, before_user)

    def after_delete(self, session_key: str) -> None:
        if self.key != session_key:
            return
        user, self.key, self.user = self.user, None, None
        if user is not None:
            session_unlisted(session_key, user)
