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
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from sessions_blob.conf import conf
from sessions_blob.records import object_id
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


def _session_name(oid: str) -> str:
    return f"{conf.PREFIX}{oid}.json"


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
    with ThreadPoolExecutor(max_workers=8) as pool:
        alive = pool.map(lambda oid: store.exists(_session_name(oid)), sorted(sessions))
        return {oid for oid, ok in zip(sorted(sessions), alive, strict=True) if ok}


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
    raise RuntimeError(f"user index {name} kept changing; gave up")


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
