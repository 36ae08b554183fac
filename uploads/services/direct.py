"""Direct uploads, the session's side: a declared file holds a place in the
upload document (``pending``) while its bytes go to the storage, and joins
the session's files once ``complete`` has checked them.

    begin      declare name, size, SHA-256; limits checked before anything is
               signed; a single-part file gets its signed request at once
    sign       signed requests for parts (each with its own SHA-256)
    status     the parts the store holds (to resume)
    complete   check the parts, join them, add the file to the session
    abort      discard it

Every step needs the caller's session (cookie or X-Session-ID), like the
rest of the API; the signed requests themselves need none, as on S3.
Uploads left past ``UPLOADS_DIRECT_UPLOAD_EXPIRY`` are aborted by the next
change of the document.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

from uploads.conf import conf
from uploads.direct import ReceivedPart, ServedDirectStore, SignedPart, direct_store
from uploads.documents import (
    PendingFile,
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
    DirectUploadNotFound,
    EmptyFile,
    FileTooLarge,
    InvalidUpload,
    SessionNotFound,
    SignedUrlInvalid,
)
from uploads.services.files import (
    CONTENT_TYPE_PATTERN,
    add_to_document,
    check_can_add,
    create_session_with,
    delete_quietly,
    storage_errors,
    uploads_storage,
)
from uploads.services.liveness import retry_until_done
from uploads.services.sessions import upload_session_for
from uploads.services.store import existing, open_session, update_document

logger = logging.getLogger("uploads")

#: Parts signed by one request.
MAX_PARTS_PER_REQUEST = 100


@dataclass(frozen=True)
class DirectUpload:
    """A direct upload under way in ``session``, with ``signed`` requests
    (those just made) and, when asked for, the parts the store holds."""

    session: UploadSession
    pending: PendingFile
    signed: Sequence[SignedPart] = ()
    received: Sequence[ReceivedPart] = ()


def _check_declared(size: int, name: str, sha256: str) -> None:
    if size <= 0:
        raise EmptyFile(f"{name!r} is empty (0 bytes).")
    if size > conf.MAX_FILE_SIZE:
        raise FileTooLarge(
            f"{name!r} is larger than {conf.MAX_FILE_SIZE} bytes "
            "(UPLOADS_MAX_FILE_SIZE)."
        )
    if not sha256 and size <= conf.DIRECT_PART_SIZE:
        raise InvalidUpload(
            f"A file of one part (up to {conf.DIRECT_PART_SIZE} bytes) needs its "
            "SHA-256 (sha256): it is signed into the upload URL."
        )


def _url_expiry(pending: PendingFile) -> dt.datetime:
    latest = now() + dt.timedelta(seconds=conf.DIRECT_URL_EXPIRY)
    return min(latest, dt.datetime.fromisoformat(pending.expires_at))


def _abort_quietly(pending: Sequence[PendingFile]) -> None:
    """Discard what abandoned uploads stored, now or once the store is back."""
    store = direct_store()

    def abort() -> bool:
        for item in pending:
            try:
                with storage_errors("abort a direct upload"):
                    store.abort(item)
            except Exception:
                logger.exception("Could not abort a direct upload")
                return False
        return True

    if pending:
        retry_until_done(abort)


def direct_upload_begin(
    *,
    session: SessionBase,
    name: str,
    size: int,
    content_type: str,
    sha256: str,
    create: bool,
) -> DirectUpload:
    """Declare a file the client will send to the storage itself.

    ``session`` is the caller's; without one a new session is created when
    ``create`` (browsers, API clients without a session), else
    ``SessionNotFound``. Limits (size, count, status) are checked before
    anything is signed. A file of one part comes with its signed request.
    """
    name = display_name(name)
    _check_declared(size, name, sha256)
    key = session.session_key
    live = open_session(key)
    if live is None and not create:
        raise SessionNotFound
    current = UploadDocument.from_session(live) if live is not None else None
    if current is not None:
        check_can_add(current, 1)  # fail before the store starts anything
    uid = current.uid if current is not None else new_id()
    started = now()
    file_id = new_id()
    pending = PendingFile(
        id=file_id,
        name=name,
        size=size,
        sha256=sha256,
        content_type=(
            content_type if CONTENT_TYPE_PATTERN.fullmatch(content_type) else ""
        ),
        path=file_path(uid, file_id),
        part_size=conf.DIRECT_PART_SIZE,
        multipart_id="",
        started_at=iso(started),
        expires_at=iso(started + dt.timedelta(seconds=conf.DIRECT_UPLOAD_EXPIRY)),
    )
    store = direct_store()
    with storage_errors("start a direct upload"):
        pending.multipart_id = store.begin(pending)
    expired: list[PendingFile] = []
    try:
        if live is None:
            doc = UploadDocument.new(settings.SESSION_COOKIE_AGE)
            doc.uid, doc.pending = uid, [pending]
            result = create_session_with(session, doc)
        else:
            assert key is not None

            def add(doc: UploadDocument | None) -> UploadDocument:
                if doc is None:
                    doc = UploadDocument.new(settings.SESSION_COOKIE_AGE)
                    doc.uid = uid
                expired[:] = doc.drop_expired_pending(started)
                check_can_add(doc, 1)
                doc.pending.append(pending)
                return doc

            result = update_document(key, add)
    except BaseException:
        _abort_quietly([pending])
        raise
    _abort_quietly(expired)
    signed: list[SignedPart] = []
    if pending.part_count == 1:
        with storage_errors("sign an upload URL"):
            signed.append(store.sign_part(pending, 1, sha256, _url_expiry(pending)))
    logger.info(
        "upload %s: direct upload of %d bytes in %d part(s) begun",
        result.doc.uid[:8],
        size,
        pending.part_count,
    )
    return DirectUpload(session=result, pending=pending, signed=signed)


def _find(session: SessionBase, file_id: str) -> tuple[UploadSession, PendingFile]:
    found = upload_session_for(session=session)
    pending = found.doc.pending_file(file_id)
    if pending is None or pending.expired(now()):
        raise DirectUploadNotFound
    return found, pending


def direct_upload_sign(
    *, session: SessionBase, file_id: str, parts: Sequence[tuple[int, str]]
) -> DirectUpload:
    """Signed requests for ``parts``: ``(number, sha256)`` pairs."""
    found, pending = _find(session, file_id)
    if len(parts) > MAX_PARTS_PER_REQUEST:
        raise InvalidUpload(
            f"At most {MAX_PARTS_PER_REQUEST} parts are signed per request."
        )
    for number, sha256 in parts:
        if not 1 <= number <= pending.part_count:
            raise InvalidUpload(
                f"Part {number} does not exist: this upload has parts 1 to "
                f"{pending.part_count}."
            )
        if pending.part_count == 1 and sha256 != pending.sha256:
            raise InvalidUpload(
                "The only part of a file is the file: its SHA-256 is the declared one."
            )
    store = direct_store()
    expires = _url_expiry(pending)
    with storage_errors("sign an upload URL"):
        signed = [store.sign_part(pending, n, sha, expires) for n, sha in parts]
    return DirectUpload(session=found, pending=pending, signed=signed)


def direct_upload_status(*, session: SessionBase, file_id: str) -> DirectUpload:
    """The upload and the parts the store holds so far."""
    found, pending = _find(session, file_id)
    with storage_errors("list an upload's parts"):
        received = direct_store().received_parts(pending)
    return DirectUpload(session=found, pending=pending, received=received)


def direct_upload_complete(*, session: SessionBase, file_id: str) -> UploadSession:
    """Check the stored parts, join them, and add the file to the session.

    ``UploadIncomplete`` names parts still to send; ``ChecksumMismatch``
    means the bytes were not the declared ones (discarded; the upload stays
    open to be sent again). Completing twice answers the session again.
    """
    found = upload_session_for(session=session)
    if found.doc.file(file_id) is not None:
        return found  # completed already: a retry whose answer was lost
    found, pending = _find(session, file_id)
    check_can_add(found.doc, 0)  # not while processing: try again after it
    with storage_errors("complete a direct upload"):
        completed = direct_store().complete(pending)
    stored = StoredFile(
        id=pending.id,
        name=pending.name,
        size=pending.size,
        path=pending.path,
        sha256=completed.sha256,
        content_type=pending.content_type,
        uploaded_at=iso(now()),
        sha256_checked=completed.checked,
    )
    replaced: list[str] = []

    def join(doc: UploadDocument) -> None:
        replaced.clear()
        if doc.file(stored.id) is not None:
            return  # a concurrent complete got there first
        if doc.pending_file(stored.id) is None:
            raise DirectUploadNotFound  # aborted meanwhile
        doc.pending = [p for p in doc.pending if p.id != stored.id]
        if analytics := add_to_document(doc, [stored]):
            replaced.append(analytics)

    result = update_document(found.key, existing(join))
    delete_quietly(uploads_storage(), replaced)
    logger.info(
        "upload %s: direct upload of %d bytes complete", result.doc.uid[:8], stored.size
    )
    return result


def direct_upload_abort(*, session: SessionBase, file_id: str) -> None:
    """Forget the upload and discard what it stored."""
    found, pending = _find(session, file_id)

    def forget(doc: UploadDocument) -> None:
        doc.pending = [p for p in doc.pending if p.id != file_id]

    update_document(found.key, existing(forget))
    with storage_errors("abort a direct upload"):
        direct_store().abort(pending)


def direct_part_receive(*, token: str, body: IO[bytes], length: int | None) -> int:
    """The Django-served store's signed PUT: store one part. Returns its
    number. Only where the storage signs no URLs of its own."""
    store = direct_store()
    if not isinstance(store, ServedDirectStore):
        raise SignedUrlInvalid("This storage takes uploads at its own URLs.")
    with storage_errors("store a part"):
        return store.receive(token, body, length)
