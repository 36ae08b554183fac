"""What staff and operators do to sessions: delete, log out, count, purge.

Shared by the admin pages and ``manage.py sessions_blob``. Every function is
safe to run on two machines at once: deletes of objects already gone are not
errors and are not counted twice by one run, index updates are conditional
writes, and nothing is deleted on a verdict that a concurrent request could
change (an expired session is never written again under its key; upload
files younger than a grace period are kept).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import FileSystemStorage, Storage, storages

from sessions_blob import user_index
from sessions_blob.backends import configured_engine
from sessions_blob.backends.storage import SessionStore
from sessions_blob.cleanup import batched
from sessions_blob.conf import conf
from sessions_blob.inspect import (
    CORRUPT,
    EXPIRED,
    LIVE,
    MISSING,
    TAMPERED,
    SessionView,
    UploadInfo,
    now,
    read_views,
    session_objects,
)
from sessions_blob.stores import ObjectInfo, ObjectStore, object_store, object_store_for

logger = logging.getLogger("sessions_blob")

BATCH = 1000

Progress = Callable[[int, int | None], None]  # (done, total or None)


# -- upload files ---------------------------------------------------------------


def uploads_storage_alias() -> str:
    try:
        from uploads.conf import conf as uploads_conf
    except ImportError:
        return "default"
    return uploads_conf.STORAGE_ALIAS


def uploads_root() -> str:
    """The folder of every upload session's files (``uploads/``)."""
    try:
        from uploads.documents import upload_folder
    except ImportError:
        return "uploads/"
    return upload_folder("x").rpartition("/")[0] + "/"


def _upload_folder(uid: str) -> str:
    return f"{uploads_root()}{uid}/"


def _safe_paths(upload: UploadInfo) -> list[str]:
    """The document's paths that lie inside its own folder, nothing else."""
    if not upload.uid or not upload.uid.isalnum():
        return []
    folder = _upload_folder(upload.uid)
    return [
        p
        for p in upload.paths
        if p.startswith(folder) and ".." not in p.split("/") and "\\" not in p
    ]


def uploads_storage() -> Storage:
    return storages[uploads_storage_alias()]


def delete_upload_files(upload: UploadInfo) -> int:
    """Delete the files and analytics of one upload document, and anything
    else left in its folder. Returns how many objects were deleted."""
    if not upload.uid or not upload.uid.isalnum():
        return 0
    storage = uploads_storage()
    adapter = object_store_for(storage)
    folder = _upload_folder(upload.uid)
    names = set(_safe_paths(upload))
    names |= {info.name for info in adapter.list(folder)}
    if names:
        adapter.delete_many(sorted(names))
    _remove_empty_folder(storage, folder)
    return len(names)


def _remove_empty_folder(storage: Storage, folder: str) -> None:
    if isinstance(storage, FileSystemStorage):
        with contextlib.suppress(OSError):
            storage.delete(folder.rstrip("/"))  # rmdir: only when empty


# -- deleting sessions ------------------------------------------------------------


@dataclass
class DeleteResult:
    sessions: int = 0
    files: int = 0
    missing: int = 0  # already gone (another run, a logout)
    examined: int = 0
    read: int = 0
    dry_run: bool = False
    stopped_early: bool = False  # the time budget ran out: run again
    #: What was deleted, as read just before (delete_sessions, logout_user).
    deleted: list[SessionView] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        text = f"{verb} {self.sessions} sessions and {self.files} upload files"
        if self.missing:
            text += f" ({self.missing} already gone)"
        return text


def _delete_views(
    views: list[SessionView],
    store: ObjectStore,
    result: DeleteResult,
    *,
    keep: bool = True,
) -> None:
    """Delete upload files, then the session objects, then index entries.

    Files first: if the storage fails half-way, the session still points at
    what is left and can be deleted again.
    """
    present = [v for v in views if v.state != MISSING]
    result.missing += len(views) - len(present)
    if result.dry_run:
        result.sessions += len(present)
        result.files += sum(len(_safe_paths(v.upload)) for v in present if v.upload)
        return
    for view in present:
        if view.upload is not None:
            result.files += delete_upload_files(view.upload)
    if present:
        store.delete_many(v.name for v in present)
        (configured_engine() or SessionStore).forget(v.object_id for v in present)
    result.sessions += len(present)
    if keep:
        result.deleted += present
    users: dict[str, list[str]] = defaultdict(list)
    for view in present:
        if view.user_id is not None:
            users[view.user_id].append(view.object_id)
    for user, oids in users.items():
        try:
            user_index.update(user, remove=oids, store=store)
        except Exception:
            logger.exception("Could not update the user index after a delete")


def delete_sessions(oids: Iterable[str], *, dry_run: bool = False) -> DeleteResult:
    """Delete these sessions (object ids) with their upload files."""
    store = object_store()
    result = DeleteResult(dry_run=dry_run)
    for batch in batched(dict.fromkeys(oids), BATCH):
        views = read_views(batch, store=store)
        result.examined += len(batch)
        result.read += len(batch)
        _delete_views(views, store, result)
    return result


def delete_expired(
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    budget: float | None = None,
) -> DeleteResult:
    """Delete every expired session with its upload files.

    Like ``clearsessions``, but each expired object is read first to find its
    upload files, so the cost grows with the number of expired sessions.
    Objects older than ``SESSIONS_BLOB_MAX_AGE`` are expired whatever they
    hold; unreadable ones go only then. With ``budget`` (seconds) it stops
    after the batch that used it up, and says so (``stopped_early``).
    """
    started = time.monotonic()
    store = object_store()
    at = now()
    oldest_live = at - dt.timedelta(seconds=conf.MAX_AGE)
    result = DeleteResult(dry_run=dry_run)
    for batch in batched(session_objects(store), BATCH):
        result.examined += len(batch)
        views = read_views(batch, store=store, at=at)
        result.read += len(batch)
        doomed = [
            view
            for view, info in zip(views, batch, strict=True)
            if view.state == EXPIRED
            or (view.state != MISSING and info.last_modified < oldest_live)
        ]
        _delete_views(doomed, store, result, keep=False)
        if progress is not None:
            progress(result.examined, None)
        if budget is not None and time.monotonic() - started > budget:
            result.stopped_early = True
            break
    return result


# -- users ----------------------------------------------------------------------


def user_sessions(user_id: str) -> list[SessionView]:
    """The user's sessions from the index, each read (gone ones left out)."""
    store = object_store()
    views = read_views(user_index.session_ids(user_id, store=store), store=store)
    return [v for v in views if v.state != MISSING and v.user_id == str(user_id)]


def logout_user(user_id: str, *, dry_run: bool = False) -> DeleteResult:
    """End every session of the user (with their upload files)."""
    store = object_store()
    result = DeleteResult(dry_run=dry_run)
    oids = user_index.session_ids(user_id, store=store)
    views = read_views(oids, store=store)
    result.examined = result.read = len(views)
    # An entry whose object now belongs to someone else cannot happen (keys
    # are never reused), but a tampered object is not trusted either way.
    ours = [v for v in views if v.state == MISSING or v.user_id == str(user_id)]
    _delete_views(ours, store, result)
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
    upload_sessions: int = 0
    upload_files: int = 0
    authenticated: int = 0
    users_indexed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in self.__dict__.items()
        }


def stats(*, progress: Progress | None = None) -> Stats:
    """Counts from the listing; objects young enough to be live are read."""
    store = object_store()
    at = now()
    oldest_live = at - dt.timedelta(seconds=conf.MAX_AGE)
    result = Stats()
    for batch in batched(session_objects(store), BATCH):
        result.sessions += len(batch)
        for info in batch:
            result.bytes += info.size
            if result.oldest is None or info.last_modified < result.oldest:
                result.oldest = info.last_modified
            if result.newest is None or info.last_modified > result.newest:
                result.newest = info.last_modified
        old = [info for info in batch if info.last_modified < oldest_live]
        young = [info for info in batch if info.last_modified >= oldest_live]
        result.expired += len(old)
        result.read += len(young)
        for view in read_views(young, store=store, at=at):
            if view.state == LIVE:
                result.live += 1
                result.authenticated += view.user_id is not None
                if view.upload is not None:
                    result.upload_sessions += 1
                    result.upload_files += len(view.upload.files)
            elif view.state == EXPIRED:
                result.expired += 1
            elif view.state in {CORRUPT, TAMPERED}:
                result.unreadable += 1
            else:  # deleted since the listing
                result.sessions -= 1
        if progress is not None:
            progress(result.sessions, None)
    result.users_indexed = sum(1 for _ in store.list(user_index.index_prefix()))
    return result


# -- orphaned upload files ----------------------------------------------------


@dataclass
class PurgeResult:
    files: int = 0  # upload files and analytics listed
    kept: int = 0
    young: int = 0  # unreferenced but within the grace period
    orphans: int = 0
    deleted: int = 0
    bytes: int = 0
    sessions_read: int = 0
    unreadable_sessions: int = 0
    refused: bool = False  # unreadable sessions: nothing deleted
    dry_run: bool = False
    orphan_names: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run or self.refused else "deleted"
        count = self.orphans if self.dry_run or self.refused else self.deleted
        return (
            f"{self.files} upload files: {self.kept} belong to live sessions, "
            f"{self.young} too recent to judge, {verb} {count} orphans "
            f"({self.bytes:,} bytes); read {self.sessions_read} sessions"
        )


def purge_uploads(
    *,
    min_age: int = 3600,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> PurgeResult:
    """Delete upload files and analytics that belong to no live session.

    The files are listed first, then every session that may be live is read;
    a file is an orphan when no live session refers to it and it is older
    than ``min_age`` seconds (an upload stores its files before it records
    them in the session). If a possibly live session cannot be read (a bad
    signature after a SECRET_KEY change, say), nothing is deleted unless
    ``force``: its files may be someone's.
    """
    at = now()
    result = PurgeResult(dry_run=dry_run)
    adapter = object_store_for(uploads_storage())
    files: list[ObjectInfo] = list(adapter.list(uploads_root()))
    result.files = len(files)
    referenced: set[str] = set()
    store = object_store()
    oldest_live = at - dt.timedelta(seconds=conf.MAX_AGE)
    for batch in batched(session_objects(store), BATCH):
        young = [info for info in batch if info.last_modified >= oldest_live]
        for view in read_views(young, store=store, at=at):
            result.sessions_read += 1
            if view.state in {CORRUPT, TAMPERED}:
                result.unreadable_sessions += 1
            elif view.state == LIVE and view.upload is not None:
                referenced.update(_safe_paths(view.upload))
        if progress is not None:
            progress(result.sessions_read, None)
    cutoff = at - dt.timedelta(seconds=min_age)
    orphans = []
    for info in files:
        if info.name in referenced:
            result.kept += 1
        elif info.last_modified > cutoff:
            result.young += 1
        else:
            orphans.append(info)
    result.orphans = len(orphans)
    result.bytes = sum(info.size for info in orphans)
    result.orphan_names = [info.name for info in orphans]
    if result.unreadable_sessions and not force:
        result.refused = True
        return result
    if not dry_run and orphans:
        for batch in batched(orphans, BATCH):
            adapter.delete_many(info.name for info in batch)
            result.deleted += len(batch)
        storage = uploads_storage()
        for folder in {info.name.rpartition("/")[0] for info in orphans}:
            _remove_empty_folder(storage, folder)
    return result
