"""Deleting expired sessions: what ``manage.py clearsessions`` runs.

The listing already proves most verdicts (``sessions_blob.listing``). Only
younger objects are read (in parallel, since each read is a round trip), and
expired ones are deleted in batches (one ``DeleteObjects`` per 1,000 on S3).
Receivers of ``sessions_deleted`` hear of each batch (reason ``"expired"``,
without the sessions' data: most were never read).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sessions_blob.conf import conf
from sessions_blob.listing import (
    batched,
    object_id_of,
    read_pool,
    session_objects,
    split_by_age,
)
from sessions_blob.records import CorruptRecord, SessionRecord, now
from sessions_blob.signals import DeletedSession, send_sessions_deleted
from sessions_blob.stores import ObjectInfo, ObjectStore, object_store

logger = logging.getLogger("sessions_blob")


@dataclass
class ClearResult:
    examined: int = 0  # session objects listed
    read: int = 0  # of those, read because the listing could not decide
    expired: int = 0
    deleted: int = 0
    delete_calls: int = 0
    dry_run: bool = False
    stopped_early: bool = False  # the time budget ran out: run again

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"examined {self.examined} sessions, read {self.read}, "
            f"{verb} {self.expired if self.dry_run else self.deleted} expired "
            f"in {self.delete_calls} delete calls"
        )


def _is_expired(store: ObjectStore, info: ObjectInfo, at: dt.datetime) -> bool:
    found = store.read(info.name)
    if found is None:  # deleted meanwhile (another cleaner, a logout)
        return False
    try:
        return SessionRecord.from_bytes(found.data).is_expired(at)
    except CorruptRecord:
        # Unreadable objects go once they are older than any session can live.
        return False


def clear_expired_sessions(
    *,
    dry_run: bool = False,
    progress: Callable[[ClearResult], None] | None = None,
    at: dt.datetime | None = None,
    budget: float | None = None,
) -> ClearResult:
    """Delete every expired session; with ``budget`` (seconds), stop after the
    batch that used it up and say so (``stopped_early``)."""
    from sessions_blob.backends import configured_engine
    from sessions_blob.backends.storage import SessionStore

    started = time.monotonic()
    store = object_store()
    engine = configured_engine() or SessionStore
    at = at or now()
    result = ClearResult(dry_run=dry_run)
    for batch in batched(session_objects(store), conf.CLEAR_BATCH_SIZE):
        result.examined += len(batch)
        expired, undecided = split_by_age(batch, at)
        result.read += len(undecided)
        verdicts = read_pool().map(lambda info: _is_expired(store, info, at), undecided)
        expired += [
            info for info, gone in zip(undecided, verdicts, strict=True) if gone
        ]
        result.expired += len(expired)
        if expired and not dry_run:
            result.delete_calls += store.delete_many(info.name for info in expired)
            result.deleted += len(expired)
            oids = [object_id_of(info) for info in expired]
            engine.forget(oids)
            send_sessions_deleted(
                engine, [DeletedSession(oid) for oid in oids], "expired"
            )
        if progress is not None:
            progress(result)
        if budget is not None and time.monotonic() - started > budget:
            result.stopped_early = True
            break
    logger.debug("clearsessions: %s", result.summary())
    return result
