"""Deleting the files uploads leaves in storage once no session needs them.

Two paths, as for sessions themselves:

- when the engine deletes a session it had read (a logout, the API's
  DELETE, staff in the admin, ``logout_user``), it sends
  ``sessions_blob.signals.sessions_deleted`` with the session's data, and
  :func:`delete_files_of_deleted_sessions` deletes that upload's files;
- at a login, an upload the session held before it is dropped with its files
  (:func:`drop_upload_at_login`);
- sessions that expire are deleted by ``clearsessions`` from the storage
  listing alone, without their data, so their files are found later by
  :func:`purge_orphans` (``manage.py uploads purge``, from cron).

Only names this app writes (``documents.owned_upload``) are ever deleted:
anything else in the storage, even under ``uploads/``, is left alone. The
engine's storage adapter lists the folder (one paged, flat listing on S3);
deletes go through the storage's own API, a few at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import FileSystemStorage, Storage

from sessions_blob import inspection
from sessions_blob.listing import batched
from sessions_blob.signals import DeletedSession
from sessions_blob.stores import ObjectInfo, object_store_for
from uploads.direct import S3DirectStore, is_s3
from uploads.documents import (
    SESSION_KEY,
    UPLOADS_ROOT,
    UploadDocument,
    now,
    owned_upload,
    upload_folder,
)
from uploads.services.files import uploads_storage

logger = logging.getLogger("uploads")

BATCH = 1000
#: Files deleted at once (each is one request on S3).
DELETE_WORKERS = 8

ProgressCallback = Callable[[int, int | None], None]  # (done, total or None)


def _delete(storage: Storage, names: Iterable[str]) -> int:
    """Delete ``names`` (deleting a missing file is not an error)."""
    names = list(names)
    with ThreadPoolExecutor(max_workers=DELETE_WORKERS) as pool:
        list(pool.map(storage.delete, names))
    return len(names)


def _remove_empty_folder(storage: Storage, folder: str) -> None:
    if isinstance(storage, FileSystemStorage):
        with contextlib.suppress(OSError):
            storage.delete(folder.rstrip("/"))  # rmdir: only when empty


def delete_upload_files(doc: UploadDocument) -> int:
    """Delete the files and analytics of ``doc``, and anything else of ours
    left in its folder (a file from an upload racing a delete). Returns how
    many objects were deleted."""
    storage = uploads_storage()
    folder = upload_folder(doc.uid) + "/"
    names = set(doc.owned_names())
    names |= {
        info.name
        for info in object_store_for(storage).list(folder)
        if owned_upload(info.name) == doc.uid
    }
    _delete(storage, sorted(names))
    if is_s3(storage):  # direct uploads under way: their parts go too
        S3DirectStore(storage).abort_open_uploads(folder, keep=lambda _n, _at: False)
    _remove_empty_folder(storage, folder)
    return len(names)


def delete_files_of_deleted_sessions(
    sender: Any, sessions: Sequence[DeletedSession], reason: str, **kwargs: Any
) -> None:
    """``sessions_deleted`` receiver: the files of each deleted upload session
    whose data the engine had read."""
    for deleted in sessions:
        doc = UploadDocument.from_session(deleted.data)
        if doc is None:
            continue
        count = delete_upload_files(doc)
        logger.info(
            "upload %s: %d file(s) deleted with its session (%s)",
            doc.uid[:8],
            count,
            reason,
        )


def drop_upload_at_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: an upload made before the login does not
    become the user's. The session (already under a new key: ``auth.login``
    cycles it) loses the document, and its files are deleted. Otherwise an
    attacker who planted a session in a victim's browser would hand the
    victim files of the attacker's choosing."""
    session = getattr(request, "session", None)
    doc = UploadDocument.from_session(session) if session is not None else None
    if doc is None or session is None:
        return
    session.pop(SESSION_KEY, None)
    count = delete_upload_files(doc)
    logger.info(
        "upload %s: made before a login; dropped with %d file(s)", doc.uid[:8], count
    )


@dataclass
class PurgeResult:
    files: int = 0  # files and analytics of ours, listed
    kept: int = 0
    young: int = 0  # unreferenced but within the grace period
    orphans: int = 0
    deleted: int = 0
    aborted: int = 0  # direct uploads to S3 left open by no live session
    bytes: int = 0
    sessions_read: int = 0
    unreadable_sessions: int = 0
    refused: bool = False  # unreadable sessions: nothing deleted
    dry_run: bool = False
    orphan_names: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run or self.refused else "deleted"
        count = self.orphans if self.dry_run or self.refused else self.deleted
        aborted = f", aborted {self.aborted} open uploads" if self.aborted else ""
        return (
            f"{self.files} upload files: {self.kept} belong to live sessions, "
            f"{self.young} too recent to judge, {verb} {count} orphans "
            f"({self.bytes:,} bytes){aborted}; read {self.sessions_read} sessions"
        )


def purge_orphans(
    *,
    min_age: int = 3600,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
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
    storage = uploads_storage()
    files: list[ObjectInfo] = [
        info
        for info in object_store_for(storage).list(UPLOADS_ROOT)
        if owned_upload(info.name)
    ]
    result.files = len(files)
    referenced: set[str] = set()
    for batch in inspection.scan(at=at, batch_size=BATCH):
        for session in batch.read:
            result.sessions_read += 1
            if session.state in {inspection.CORRUPT, inspection.TAMPERED}:
                result.unreadable_sessions += 1
            elif session.state == inspection.LIVE:
                doc = UploadDocument.from_session(session.data)
                if doc is not None:
                    referenced.update(doc.owned_names())
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
        for chunk in batched(orphans, BATCH):
            result.deleted += _delete(storage, (info.name for info in chunk))
        for folder in {info.name.rpartition("/")[0] for info in orphans}:
            _remove_empty_folder(storage, folder)
    if not dry_run and is_s3(storage):
        # Direct uploads no session waits for (the lifecycle rule of
        # ``manage.py uploads_storage setup`` catches any missed here).
        result.aborted = S3DirectStore(storage).abort_open_uploads(
            UPLOADS_ROOT,
            keep=lambda name, initiated: (
                not owned_upload(name) or name in referenced or initiated > cutoff
            ),
        )
    return result


@dataclass
class UploadStats:
    sessions: int = 0  # live sessions with an upload
    files: int = 0
    bytes: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def upload_stats(*, progress: ProgressCallback | None = None) -> UploadStats:
    """Upload sessions among the live sessions, and their files."""
    result = UploadStats()
    read = 0
    for batch in inspection.scan(batch_size=BATCH):
        for session in batch.read:
            read += 1
            doc = UploadDocument.from_session(session.data)
            if session.state != inspection.LIVE or doc is None:
                continue
            result.sessions += 1
            result.files += len(doc.files)
            result.bytes += sum(f.size for f in doc.files)
            result.by_status[doc.status] = result.by_status.get(doc.status, 0) + 1
        if progress is not None:
            progress(read, None)
    return result
