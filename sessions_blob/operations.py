"""What staff and operators do to sessions: delete, log out, count.

Shared by the admin pages and ``manage.py sessions_blob``. Every function is
safe to run on two machines at once: deletes of objects already gone are not
errors and are not counted twice by one run, index updates are conditional
writes, and nothing is deleted on a verdict that a concurrent request could
change (an expired session is never written again under its key).

Only session objects and the engine's own index objects are ever deleted.
Apps that keep data beside a session hear of its deletion through the
``sessions_deleted`` signal (``sessions_blob.signals``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sessions_blob import user_index
from sessions_blob.backends import configured_engine
from sessions_blob.backends.storage import SessionStore
from sessions_blob.inspection import (
    CORRUPT,
    EXPIRED,
    LIVE,
    MISSING,
    TAMPERED,
    SessionObject,
    read_many,
    scan,
)
from sessions_blob.listing import batched
from sessions_blob.records import now
from sessions_blob.signals import DeletedSession, send_sessions_deleted
from sessions_blob.stores import ObjectStore, object_store

logger = logging.getLogger("sessions_blob")

BATCH = 1000

ProgressCallback = Callable[[int, int | None], None]  # (done, total or None)


# -- deleting sessions ------------------------------------------------------------


@dataclass
class DeleteResult:
    sessions: int = 0
    missing: int = 0  # already gone (another run, a logout)
    examined: int = 0
    read: int = 0
    dry_run: bool = False
    #: What was deleted, as read just before.
    deleted: list[SessionObject] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        text = f"{verb} {self.sessions} sessions"
        if self.missing:
            text += f" ({self.missing} already gone)"
        return text


def _delete(
    sessions: list[SessionObject],
    store: ObjectStore,
    result: DeleteResult,
    reason: str,
) -> None:
    """Delete the session objects, tell the receivers, drop index entries."""
    present = [s for s in sessions if s.state != MISSING]
    result.missing += len(sessions) - len(present)
    result.sessions += len(present)
    if result.dry_run or not present:
        return
    store.delete_many(s.name for s in present)
    engine = configured_engine() or SessionStore
    engine.forget(s.object_id for s in present)
    result.deleted += present
    send_sessions_deleted(
        engine, [DeletedSession(s.object_id, s.data) for s in present], reason
    )
    users: dict[str, list[str]] = defaultdict(list)
    for session in present:
        if session.user_id is not None:
            users[session.user_id].append(session.object_id)
    for user, oids in users.items():
        try:
            user_index.update(user, remove=oids, store=store)
        except Exception:
            logger.exception("Could not update the user index after a delete")


def delete_sessions(oids: Iterable[str], *, dry_run: bool = False) -> DeleteResult:
    """Delete these sessions (object ids): staff's action."""
    store = object_store()
    result = DeleteResult(dry_run=dry_run)
    for batch in batched(dict.fromkeys(oids), BATCH):
        sessions = read_many(batch, store=store)
        result.examined += len(batch)
        result.read += len(batch)
        _delete(sessions, store, result, "staff")
    return result


# -- users ----------------------------------------------------------------------


def user_sessions(user_id: str) -> list[SessionObject]:
    """The user's sessions from the index, each read (gone ones left out)."""
    store = object_store()
    sessions = read_many(user_index.session_ids(user_id, store=store), store=store)
    return [s for s in sessions if s.state != MISSING and s.user_id == str(user_id)]


def logout_user(user_id: str, *, dry_run: bool = False) -> DeleteResult:
    """End every session of the user."""
    store = object_store()
    result = DeleteResult(dry_run=dry_run)
    oids = user_index.session_ids(user_id, store=store)
    sessions = read_many(oids, store=store)
    result.examined = result.read = len(sessions)
    # An entry whose object now belongs to someone else cannot happen (keys
    # are never reused), but a tampered object is not trusted either way.
    ours = [s for s in sessions if s.state == MISSING or s.user_id == str(user_id)]
    _delete(ours, store, result, "logout_user")
    if not dry_run:
        user_index.update(user_id, remove=oids, store=store)
    return result


# -- statistics -----------------------------------------------------------------


@dataclass
class Stats:
    sessions: int = 0
    bytes: int = 0
    live: int = 0
    expired: int = 0
    unreadable: int = 0
    read: int = 0
    oldest: dt.datetime | None = None  # oldest last write
    newest: dt.datetime | None = None
    authenticated: int = 0
    users_indexed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in self.__dict__.items()
        }


def stats(*, progress: ProgressCallback | None = None) -> Stats:
    """Counts from the listing; objects young enough to be live are read."""
    store = object_store()
    result = Stats()
    for batch in scan(store=store, at=now(), batch_size=BATCH):
        result.sessions += len(batch.listed)
        for info in batch.listed:
            result.bytes += info.size
            if result.oldest is None or info.last_modified < result.oldest:
                result.oldest = info.last_modified
            if result.newest is None or info.last_modified > result.newest:
                result.newest = info.last_modified
        result.expired += len(batch.old)
        result.read += len(batch.read)
        for session in batch.read:
            if session.state == LIVE:
                result.live += 1
                result.authenticated += session.user_id is not None
            elif session.state == EXPIRED:
                result.expired += 1
            elif session.state in {CORRUPT, TAMPERED}:
                result.unreadable += 1
            else:  # deleted since the listing
                result.sessions -= 1
        if progress is not None:
            progress(result.sessions, None)
    result.users_indexed = sum(1 for _ in store.list(user_index.index_prefix()))
    return result
