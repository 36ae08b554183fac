"""Deleting expired sessions: what ``manage.py clearsessions`` runs.

The listing proves most verdicts (``sessions_blob.listing``): a session last
written longer ago than ``SESSIONS_BLOB_MAX_AGE`` is expired, and a younger
one is live unless the expiry index (``records.expiry_marker_name``) has a
marker for it whose hour has come. Only those are read (in parallel, since
each read is a round trip), so a run over sessions saved with the default
expiry reads nothing. On S3 the listing itself runs as 16 at once
(``listing.session_objects``). Expired ones are deleted in batches (one
``DeleteObjects`` per 1,000 on S3), with their markers; markers whose session
is gone or no longer needs them go too. Receivers of ``sessions_deleted``
hear of each batch (reason ``"expired"``, without the sessions' data: most
were never read).
"""

from __future__ import annotations

import contextlib
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
from sessions_blob.records import (
    CorruptRecord,
    SessionRecord,
    expiry_index_prefix,
    expiry_marker_name,
    needs_expiry_marker,
    now,
    parse_expiry_marker,
)
from sessions_blob.signals import DeletedSession, send_sessions_deleted
from sessions_blob.stores import ObjectExists, ObjectInfo, ObjectStore, object_store

logger = logging.getLogger("sessions_blob")


@dataclass
class ClearResult:
    examined: int = 0  # session objects listed
    read: int = 0  # of those, read because the listing could not decide
    expired: int = 0
    deleted: int = 0
    delete_calls: int = 0  # sessions and expiry markers
    markers: int = 0  # expiry markers deleted (or, dry run, to delete)
    dry_run: bool = False
    stopped_early: bool = False  # the time budget ran out: run again

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        markers = f" and {self.markers} expiry markers" if self.markers else ""
        return (
            f"examined {self.examined} sessions, read {self.read}, "
            f"{verb} {self.expired if self.dry_run else self.deleted} expired"
            f"{markers} in {self.delete_calls} delete calls"
        )


class _Corrupt:
    """A session object that does not parse: kept until it is old."""


def _read_record(
    store: ObjectStore, info: ObjectInfo
) -> SessionRecord | _Corrupt | None:
    found = store.read(info.name)
    if found is None:  # deleted meanwhile (another cleaner, a logout)
        return None
    try:
        return SessionRecord.from_bytes(found.data)
    except CorruptRecord:
        return _Corrupt()


def _due_markers(store: ObjectStore, at: dt.datetime) -> dict[str, list[str]]:
    """Object id -> the names of its markers whose hour has begun."""
    due: dict[str, list[str]] = {}
    for info in store.list(expiry_index_prefix(conf.PREFIX)):
        parsed = parse_expiry_marker(conf.PREFIX, info.name)
        if parsed is not None and parsed[0] <= at:
            due.setdefault(parsed[1], []).append(info.name)
    return due


def _stale_markers(
    store: ObjectStore, oid: str, names: list[str], record: SessionRecord, dry_run: bool
) -> list[str]:
    """Of a live session's due markers, those its stored version does not need
    (it was saved again since); the one it needs is written if missing."""
    if not needs_expiry_marker(record, conf.MAX_AGE):
        return names
    wanted = expiry_marker_name(conf.PREFIX, oid, record.expires)
    if wanted not in names and not dry_run:
        with contextlib.suppress(ObjectExists):
            store.create(wanted, b"")
    return [name for name in names if name != wanted]


def clear_expired_sessions(
    *,
    dry_run: bool = False,
    progress: Callable[[ClearResult], None] | None = None,
    at: dt.datetime | None = None,
    budget: float | None = None,
) -> ClearResult:
    """Delete every expired session; with ``budget`` (seconds), stop after the
    batch of the listing that used it up (deleting what it found) and say so
    (``stopped_early``)."""
    from sessions_blob.backends import configured_engine
    from sessions_blob.backends.storage import SessionStore

    started = time.monotonic()
    store = object_store()
    engine = configured_engine() or SessionStore
    at = at or now()
    result = ClearResult(dry_run=dry_run)
    due = _due_markers(store, at)
    # Deleted a full batch at a time, not per listing page: with 10% expired
    # that is one call per 10,000 sessions listed, not one per 1,000.
    expired_pending: list[ObjectInfo] = []
    markers_pending: list[str] = []

    def flush(final: bool) -> None:
        size = conf.CLEAR_BATCH_SIZE
        while expired_pending and (final or len(expired_pending) >= size):
            chunk = expired_pending[:size]
            del expired_pending[:size]
            if dry_run:
                continue
            result.delete_calls += store.delete_many(info.name for info in chunk)
            result.deleted += len(chunk)
            oids = [object_id_of(info) for info in chunk]
            engine.forget(oids)
            send_sessions_deleted(
                engine, [DeletedSession(oid) for oid in oids], "expired"
            )
        while markers_pending and (final or len(markers_pending) >= size):
            names = markers_pending[:size]
            del markers_pending[:size]
            if not dry_run:
                result.delete_calls += store.delete_many(names)

    for batch in batched(session_objects(store), conf.CLEAR_BATCH_SIZE):
        result.examined += len(batch)
        expired, young = split_by_age(batch, at)
        undecided = [info for info in young if object_id_of(info) in due]
        result.read += len(undecided)
        records = read_pool().map(lambda info: _read_record(store, info), undecided)
        markers: list[str] = []
        for info in expired:
            markers += due.pop(object_id_of(info), [])
        for info, record in zip(undecided, records, strict=True):
            oid = object_id_of(info)
            names = due.pop(oid)
            if isinstance(record, SessionRecord) and record.is_expired(at):
                expired.append(info)
                markers += names
            elif isinstance(record, SessionRecord):
                markers += _stale_markers(store, oid, names, record, dry_run)
            else:  # gone meanwhile, or unreadable: judged by its age from now on
                markers += names
        result.expired += len(expired)
        result.markers += len(markers)
        expired_pending += expired
        markers_pending += markers
        flush(final=False)
        if progress is not None:
            progress(result)
        if budget is not None and time.monotonic() - started > budget:
            result.stopped_early = True
            break
    else:
        # Markers of sessions no longer listed (deleted by a logout, the
        # admin); only once their hour is over: a session written during
        # this run may be behind one of the current hour.
        over = at - dt.timedelta(hours=1)
        orphans = [
            name
            for names in due.values()
            for name in names
            if (parsed := parse_expiry_marker(conf.PREFIX, name)) and parsed[0] <= over
        ]
        result.markers += len(orphans)
        markers_pending += orphans
    flush(final=True)
    logger.debug("clearsessions: %s", result.summary())
    return result
