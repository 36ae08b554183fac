"""Deleting expired sessions: what ``manage.py clearsessions`` runs.

The listing already proves most verdicts: every write clamps a session's
expiry to ``SESSIONS_BLOB_MAX_AGE`` after that write, so an object last
modified longer ago than that is expired without reading it. Only younger
objects are read (in parallel, since each read is a round trip), and expired
ones are deleted in batches (one ``DeleteObjects`` per 1,000 on S3).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from sessions_blob.conf import conf
from sessions_blob.records import CorruptRecord, SessionRecord, object_id_from_name
from sessions_blob.stores import ObjectInfo, ObjectStore, object_store

T = TypeVar("T")

logger = logging.getLogger("sessions_blob")

READ_WORKERS = 8


@dataclass
class ClearResult:
    examined: int = 0  # session objects listed
    read: int = 0  # of those, read because the listing could not decide
    expired: int = 0
    deleted: int = 0
    delete_calls: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"examined {self.examined} sessions, read {self.read}, "
            f"{verb} {self.expired if self.dry_run else self.deleted} expired "
            f"in {self.delete_calls} delete calls"
        )


Progress = Callable[[ClearResult], None]


def session_objects(store: ObjectStore) -> Iterator[ObjectInfo]:
    """Listed session objects (other files under the prefix are skipped)."""
    for info in store.list(conf.PREFIX):
        if object_id_from_name(conf.PREFIX, info.name) is not None:
            yield info


def _is_expired(store: ObjectStore, info: ObjectInfo, now: dt.datetime) -> bool:
    found = store.read(info.name)
    if found is None:  # deleted meanwhile (another cleaner, a logout)
        return False
    try:
        return SessionRecord.from_bytes(found.data).is_expired(now)
    except CorruptRecord:
        # Unreadable objects go once they are older than any session can live.
        return False


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def clear_expired_sessions(
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> ClearResult:
    store = object_store()
    now = now or dt.datetime.now(dt.UTC)
    oldest_live = now - dt.timedelta(seconds=conf.MAX_AGE)
    result = ClearResult(dry_run=dry_run)
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        for batch in batched(session_objects(store), conf.CLEAR_BATCH_SIZE):
            result.examined += len(batch)
            expired = [info for info in batch if info.last_modified < oldest_live]
            undecided = [info for info in batch if info.last_modified >= oldest_live]
            result.read += len(undecided)
            verdicts = pool.map(lambda info: _is_expired(store, info, now), undecided)
            expired += [
                info for info, gone in zip(undecided, verdicts, strict=True) if gone
            ]
            result.expired += len(expired)
            if expired and not dry_run:
                result.delete_calls += store.delete_many(info.name for info in expired)
                result.deleted += len(expired)
            if progress is not None:
                progress(result)
    logger.debug("clearsessions: %s", result.summary())
    return result
