"""The uploaded files: stored under the server's own ids (never a client's
file name), recorded in the session's document, read back for processing
and downloads."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.files.base import File
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.utils.http import content_disposition_header

from sessions_blob.exceptions import StorageUnavailable
from uploads.conf import conf
from uploads.documents import (
    StoredFile,
    UploadDocument,
    UploadSession,
    display_name,
    file_path,
    iso,
    new_id,
    now,
)
from uploads.exceptions import (
    AlreadyProcessing,
    EmptyFile,
    FileNotFound,
    FileTooLarge,
    InvalidUpload,
    SessionNotFound,
    TooManyFiles,
)
from uploads.services.liveness import BUSY, is_stale, retry_until_done
from uploads.services.store import document, open_session, put_document, update_document

logger = logging.getLogger("uploads")

#: A content type as clients may declare it (recorded, never trusted).
CONTENT_TYPE_PATTERN = re.compile(r"[\w.+-]{1,60}/[\w.+-]{1,60}")


def uploads_storage() -> Storage:
    return storages[conf.STORAGE_ALIAS]


def _storage_fault(exc: BaseException) -> bool:
    """Whether ``exc`` means the store could not be reached or refused to
    work (as opposed to a missing file or a bug)."""
    try:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # a project without the S3 client: nothing to translate
        return False
    return isinstance(exc, BotoCoreError | ClientError | Boto3Error)


@contextlib.contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Faults of the uploads storage as ``StorageUnavailable``: the API
    answers them 503 with Retry-After, like the session storage's. A missing
    object (404) stays ``FileNotFoundError``."""
    try:
        yield
    except StorageUnavailable:
        raise
    except Exception as exc:
        if not _storage_fault(exc):
            raise
        status = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if status in {"404", "NoSuchKey"}:
            raise FileNotFoundError(action) from exc
        raise StorageUnavailable(
            f"The uploads storage failed to {action}: {exc}"
        ) from exc


def abort_multipart_uploads(storage: Storage, names: Sequence[str]) -> bool:
    """Abort the multipart uploads left open under ``names`` (a PUT cut off
    half way cannot always abort its own: the store was down). True when
    done, or nothing to do; False when the store still refuses."""
    from uploads.direct import S3DirectStore, is_s3

    if not is_s3(storage) or not names:
        return True  # not S3: no multipart uploads
    s3 = S3DirectStore(storage)
    wanted = set(names)
    try:
        for name in names:
            s3.abort_open_uploads(name, keep=lambda found, _at: found not in wanted)
    except Exception as exc:
        if not _storage_fault(exc):
            raise
        return False
    return True


def delete_quietly(storage: Storage, names: Sequence[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("Could not delete %s from the uploads storage", name)


def _has_path(storage: Storage) -> bool:
    try:
        storage.path("x")
    except NotImplementedError:
        return False
    return True


# -- storing ------------------------------------------------------------------


def _check_files(files: Sequence[UploadedFile]) -> None:
    if not files:
        raise InvalidUpload("No file was sent in the field 'files'.")
    if len(files) > conf.MAX_FILES:
        raise TooManyFiles(
            f"{len(files)} files sent; at most {conf.MAX_FILES} are accepted "
            "(UPLOADS_MAX_FILES)."
        )
    for upload in files:
        if not upload.size:
            raise EmptyFile(f"{display_name(upload.name or '')!r} is empty (0 bytes).")
        if upload.size > conf.MAX_FILE_SIZE:
            raise FileTooLarge(
                f"{display_name(upload.name or '')!r} is larger than "
                f"{conf.MAX_FILE_SIZE} bytes (UPLOADS_MAX_FILE_SIZE)."
            )


def check_can_change(doc: UploadDocument) -> None:
    """``doc``'s files may change: it is not queued or being processed."""
    if doc.status in BUSY and not is_stale(doc):
        raise AlreadyProcessing(
            "The session is queued or being processed; change its files once it "
            "is done."
        )


def check_can_add(doc: UploadDocument, count: int) -> None:
    """``count`` more files may join ``doc`` (direct uploads under way hold
    their places)."""
    check_can_change(doc)
    held = len(doc.files) + len(doc.pending)
    if held + count > conf.MAX_FILES:
        under_way = f" ({len(doc.pending)} uploading)" if doc.pending else ""
        raise TooManyFiles(
            f"The session has {held} files{under_way}; {count} more would exceed "
            f"{conf.MAX_FILES} (UPLOADS_MAX_FILES)."
        )


def add_to_document(doc: UploadDocument, stored: Sequence[StoredFile]) -> str | None:
    """Add ``stored`` to ``doc``, which is ready to process again. Returns
    the analytics it no longer covers (the caller deletes them once the
    document is saved)."""
    check_can_add(doc, len(stored))
    replaced = doc.analytics_path
    doc.files += stored
    doc.status, doc.error, doc.analytics_path = "uploaded", None, None
    doc.release()
    return replaced


def create_session_with(session: SessionBase, doc: UploadDocument) -> UploadSession:
    """Create ``session`` (the caller's, which has none yet) holding ``doc``."""
    put_document(session, doc)
    session.create()
    assert session.session_key is not None
    return UploadSession(key=session.session_key, doc=doc)


def _sha256(upload: UploadedFile) -> str:
    known = getattr(upload, "sha256", "")
    if known:
        return str(known)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _store_file(
    storage: Storage, uid: str, upload: UploadedFile, attempted: list[str]
) -> StoredFile:
    file_id = new_id()
    sha = _sha256(upload)  # before save(): local storage moves the temporary file
    claimed = (upload.content_type or "").strip()
    name = display_name(upload.name or "")
    size = int(upload.size or 0)
    upload.content_type = "text/csv"  # what the storage serves it as
    attempted.append(file_path(uid, file_id))
    with storage_errors("store an upload"):
        path = storage.save(file_path(uid, file_id), upload)
    return StoredFile(
        id=file_id,
        name=name,
        size=size,
        path=path,
        sha256=sha,
        content_type=claimed if CONTENT_TYPE_PATTERN.fullmatch(claimed) else "",
        uploaded_at=iso(now()),
    )


def upload_session_add_files(
    *, session: SessionBase, files: Sequence[UploadedFile], create: bool
) -> UploadSession:
    """Store ``files`` and record them in ``session``'s upload document.

    ``session`` is the caller's (``request.session``). Without a live session
    a new one is created on it when ``create`` is true (browsers, first
    upload), else ``SessionNotFound`` (an explicit id that is gone). Files
    are stored first; if recording them fails they are deleted again.
    """
    _check_files(files)
    key = session.session_key
    store = open_session(key)
    if store is None and not create:
        raise SessionNotFound
    current = document(store) if store is not None else None
    if current is not None:
        check_can_add(current, len(files))  # fail before storing anything
    uid = current.uid if current is not None else new_id()
    storage = uploads_storage()
    stored: list[StoredFile] = []
    attempted: list[str] = []
    replaced_analytics: list[str] = []
    try:
        for upload in files:
            stored.append(_store_file(storage, uid, upload, attempted))
        if store is None:
            doc = UploadDocument.new(settings.SESSION_COOKIE_AGE)
            doc.uid, doc.files = uid, list(stored)
            result = create_session_with(session, doc)
        else:
            assert key is not None

            def add(doc: UploadDocument | None) -> UploadDocument:
                replaced_analytics.clear()
                if doc is None:
                    doc = UploadDocument.new(settings.SESSION_COOKIE_AGE)
                    doc.uid = uid
                if replaced := add_to_document(doc, stored):
                    replaced_analytics.append(replaced)
                return doc

            result = update_document(key, add)
    except BaseException as exc:
        delete_quietly(storage, [f.path for f in stored])
        if isinstance(exc, StorageUnavailable):
            # A save cut off half way can leave an open multipart upload
            # (billed, invisible): abort it, now or once the store is back.
            retry_until_done(lambda: abort_multipart_uploads(storage, attempted))
        raise
    delete_quietly(storage, replaced_analytics)
    logger.info(
        "upload %s: stored %d file(s), %d bytes",
        result.doc.uid[:8],
        len(stored),
        sum(f.size for f in stored),
    )
    return result


# -- reading ------------------------------------------------------------------


def upload_file_signed_url(*, file: StoredFile) -> str | None:
    """A short-lived signed URL where the storage can make one (S3), else None."""
    storage = uploads_storage()
    if not getattr(storage, "querystring_auth", False):
        return None
    disposition = content_disposition_header(True, file.name)
    url: str = storage.url(  # type: ignore[call-arg]
        file.path,
        parameters={"ResponseContentDisposition": disposition},
        expire=conf.URL_EXPIRY,
    )
    return url


def upload_file_open(*, file: StoredFile) -> File:
    """The stored file, opened for reading (``FileNotFound`` when gone)."""
    try:
        return uploads_storage().open(file.path, "rb")
    except FileNotFoundError:
        raise FileNotFound("The stored file is missing.") from None


@contextlib.contextmanager
def local_copy(storage: Storage, name: str) -> Iterator[str]:
    """A local path of the stored file: the file itself on local disk, else a
    temporary copy downloaded in chunks (never whole in memory)."""
    if _has_path(storage):
        path = storage.path(name)
        if not os.path.isfile(path):
            raise FileNotFoundError(name)
        yield path
        return
    with (
        tempfile.NamedTemporaryFile(
            prefix="upload-", suffix=".csv", dir=settings.FILE_UPLOAD_TEMP_DIR
        ) as tmp,
        storage_errors("read an upload"),
    ):
        with storage.open(name, "rb") as src:
            obj = getattr(src, "obj", None)
            if obj is not None and hasattr(obj, "download_fileobj"):
                # S3: boto3 streams the object in parts; S3File.read() would
                # spool it whole into memory first.
                obj.download_fileobj(
                    tmp, Config=getattr(storage, "transfer_config", None)
                )
            else:
                for chunk in src.chunks():
                    tmp.write(chunk)
        tmp.flush()
        yield tmp.name
