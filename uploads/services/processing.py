"""Profiling a session's files: in the request (inline mode) or by a worker
(queue mode, the Django task defined here), always as one run that holds the
session in ``processing`` until it ends ``completed`` or ``failed``.

The move to ``processing`` is a compare-and-set: a second caller gets
``AlreadyProcessing``. A run whose worker died is taken over once
``UPLOADS_PROCESSING_TIMEOUT`` passes without a sign of life (``liveness``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.tasks import task

from sessions_blob.exceptions import StorageUnavailable
from uploads.conf import conf
from uploads.documents import (
    ErrorInfo,
    StoredFile,
    UploadDocument,
    UploadSession,
    analytics_path,
    iso,
    new_id,
    now,
)
from uploads.exceptions import (
    AlreadyProcessing,
    NothingToProcess,
    ProcessingFailed,
    QueueUnavailable,
    RunTakenOver,
    SessionNotFound,
)
from uploads.services.analytics import analytics_document, failure_of
from uploads.services.files import (
    delete_quietly,
    local_copy,
    storage_errors,
    uploads_storage,
)
from uploads.services.liveness import (
    BUSY,
    ProgressRecorder,
    heartbeat,
    is_stale,
    require_run,
    retry_until_done,
)
from uploads.services.sessions import upload_session_for
from uploads.services.store import existing, update_document

logger = logging.getLogger("uploads")


def _check_can_process(doc: UploadDocument) -> None:
    """Refuse to start a run on ``doc``, or log the takeover of a dead one."""
    if doc.status in BUSY:
        if not is_stale(doc):
            raise AlreadyProcessing("The session is already queued or being processed.")
        logger.warning(
            "upload %s: run %s %s since %s; taking over",
            doc.uid[:8],
            (doc.run or "")[:8],
            doc.status,
            doc.processing_since,
        )
    if not doc.files:
        raise NothingToProcess("The session has no files.")
    if doc.status == "completed":
        raise NothingToProcess(
            "Every file of the session has been processed; upload more files to "
            "process again."
        )
    if not doc.worth_processing_again():
        raise NothingToProcess(
            "No file of the session can be profiled (each failed for what it is); "
            "remove them or upload other files."
        )


def _start(doc: UploadDocument, run: str) -> None:
    doc.status, doc.run, doc.processing_since = "processing", run, iso(now())
    doc.error = None


def upload_session_process(
    *, session: SessionBase, upload_id: str | None = None
) -> UploadSession:
    """Profile every file of the caller's upload and store the analytics
    document (``upload_id``, when given, must name that upload).

    Files that cannot be profiled get their error; the session is
    ``completed`` when at least one file was profiled, else ``failed``
    (``all_files_failed``). If anything else goes wrong the session is marked
    ``failed`` (``processing_error``) and ``ProcessingFailed`` is raised: it is
    never left ``processing``, and its files are kept.
    """
    session_key = upload_session_for(session=session, upload_id=upload_id).key
    run = new_id()

    def begin(doc: UploadDocument) -> None:
        _check_can_process(doc)
        _start(doc, run)

    held = update_document(session_key, existing(begin))
    return _run(session_key, held, run)


def upload_session_enqueue(
    *, session: SessionBase, upload_id: str | None = None
) -> UploadSession:
    """Queue mode: mark the session ``queued`` and hand its key to a worker.

    The same checks and compare-and-set as :func:`upload_session_process`,
    then one Django task (:func:`process_upload_session`) carrying only the
    session key. If the queue refuses the job the session gets its previous
    state back and ``QueueUnavailable`` is raised.
    """
    session_key = upload_session_for(session=session, upload_id=upload_id).key
    run = new_id()
    before: dict[str, Any] = {}

    def queue(doc: UploadDocument) -> None:
        _check_can_process(doc)
        before.update(status=doc.status, error=doc.error)
        doc.status, doc.run, doc.processing_since = "queued", run, iso(now())
        doc.error = None

    queued = update_document(session_key, existing(queue))
    try:
        job = process_upload_session.using(backend=conf.TASK_BACKEND).enqueue(
            session_key
        )
    except Exception as exc:
        logger.exception("upload %s: could not queue the job", queued.doc.uid[:8])

        def restore(doc: UploadDocument) -> None:
            if doc.status == "queued" and doc.run == run:
                doc.status, doc.error = before["status"], before["error"]
                doc.release()

        with contextlib.suppress(Exception):
            update_document(session_key, existing(restore))
        raise QueueUnavailable(
            f"The processing queue is unavailable ({type(exc).__name__}); "
            "try again later."
        ) from exc
    logger.info("upload %s: queued for processing (job %s)", queued.doc.uid[:8], job.id)
    return queued


def upload_session_run_queued(*, session_key: str) -> str:
    """The worker's side of queue mode: run the job queued for this session.

    Starts only a session still ``queued`` (compare-and-set to
    ``processing``); a job whose session was deleted, taken over, timed out or
    already run is obsolete and does nothing. Returns the session's final
    status, or ``skipped``/``gone``. The session records any failure.
    """
    run = new_id()
    skipped: list[str] = []

    def begin(doc: UploadDocument) -> None:
        skipped.clear()
        if doc.status == "queued":
            _start(doc, run)
        else:
            skipped.append(doc.status)

    try:
        session = update_document(session_key, existing(begin))
    except SessionNotFound:
        logger.info("A queued session is gone (deleted or expired); job dropped.")
        return "gone"
    if skipped:
        logger.info(
            "upload %s: the session is %s, not queued; job dropped.",
            session.doc.uid[:8],
            skipped[0],
        )
        return "skipped"
    try:
        return _run(session_key, session, run).doc.status
    except SessionNotFound:
        return "gone"
    except ProcessingFailed:
        return "failed"  # recorded in the session


@task()
def process_upload_session(session_key: str) -> str:
    """Process the upload session ``session_key``; returns its final status."""
    return upload_session_run_queued(session_key=session_key)


# -- one run ----------------------------------------------------------------


def _profile_file(
    storage: Storage,
    doc: UploadDocument,
    index: int,
    stored: StoredFile,
    report: Callable[[int, str], None],
) -> tuple[dict[str, Any] | None, ErrorInfo | None]:
    # Imported here: DuckDB loads only when a file is profiled.
    from uploads import profiling

    started = time.monotonic()
    label = f"upload {doc.uid[:8]}: file {index}/{len(doc.files)} ({stored.size} bytes)"

    def progress(phase: str) -> None:
        logger.info("%s: %s after %.1fs", label, phase, time.monotonic() - started)
        report(index, phase)

    progress("reading")
    try:
        with local_copy(storage, stored.path) as path:
            if not stored.sha256_checked:
                problem = _check_sha256(path, stored)
                if problem is not None:
                    logger.warning("%s: %s", label, problem["message"])
                    return None, problem
            profile = profiling.profile_csv(
                path,
                memory_limit=conf.PROFILE_MEMORY_LIMIT,
                threads=conf.PROFILE_THREADS,
                progress=progress,
            )
    except profiling.ProfileError as exc:
        logger.info("%s: %s", label, exc)
        return None, {"code": exc.code, "message": exc.message}
    except FileNotFoundError:
        logger.error("%s: the stored file %s is missing", label, stored.path)
        return None, {"code": "not_found", "message": "The stored file is missing."}
    return profile, None


def _check_sha256(path: str, stored: StoredFile) -> ErrorInfo | None:
    """Hash a file whose SHA-256 was never computed from its bytes (a direct
    multipart upload's): record it, or refuse the file if the client had
    declared another."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    actual = digest.hexdigest()
    if stored.sha256 and actual != stored.sha256:
        return {
            "code": "checksum_mismatch",
            "message": "The stored file's SHA-256 is not the one declared when it "
            "was uploaded; it was not profiled. Upload it again.",
        }
    stored.sha256, stored.sha256_checked = actual, True
    return None


def _finish(
    run: str, errors: dict[str, ErrorInfo | None], saved: str, hashes: dict[str, str]
) -> Callable[[UploadDocument], None]:
    def finish(current: UploadDocument) -> None:
        require_run(current, run)
        for f in current.files:
            f.error = errors.get(f.id)
            if f.id in hashes:
                f.sha256, f.sha256_checked = hashes[f.id], True
        current.status, current.error = failure_of(current.files)
        current.analytics_path = saved
        current.release()

    return finish


def _run(session_key: str, session: UploadSession, run: str) -> UploadSession:
    """Profile the files of ``session``, which ``run`` holds in ``processing``."""
    doc = session.doc
    storage = uploads_storage()
    logger.info("upload %s: processing %d file(s)", doc.uid[:8], len(doc.files))
    started = time.monotonic()
    saved: str | None = None
    try:
        results = []
        report = ProgressRecorder(session_key, run, len(doc.files))
        with heartbeat(session_key, run):
            for index, stored in enumerate(doc.files, start=1):
                profile, problem = _profile_file(storage, doc, index, stored, report)
                results.append((stored, profile, problem))
        name = analytics_path(doc.uid)
        body = json.dumps(
            analytics_document(results), ensure_ascii=False, allow_nan=False
        ).encode()
        with storage_errors("store the analytics"):
            storage.delete(name)  # a leftover of an earlier, failed run
            saved = storage.save(name, ContentFile(body))
        errors = {stored.id: error for stored, _profile, error in results}
        hashes = {
            stored.id: stored.sha256
            for stored, _profile, _error in results
            if stored.sha256_checked
        }
        try:
            session = update_document(
                session_key, existing(_finish(run, errors, saved, hashes))
            )
        except SessionNotFound:  # deleted while we worked
            delete_quietly(storage, [saved])
            raise
    except (SessionNotFound, RunTakenOver):
        raise
    except StorageUnavailable as exc:
        # The store went away under the run: the caller gets 503 and may
        # retry; the session is released (marked failed, files kept) now, or
        # by a background retry as soon as the store is back.
        logger.error(
            "upload %s: the storage failed while processing: %s", doc.uid[:8], exc
        )
        failure: ErrorInfo = {
            "code": "storage_unavailable",
            "message": "The storage could not be reached while processing; the "
            "files are kept. Process again.",
        }
        retry_until_done(lambda: _mark_failed(session_key, run, failure, saved))
        raise
    except BaseException as exc:
        logger.exception("upload %s: processing failed", doc.uid[:8])
        reason = (
            f"Processing failed unexpectedly ({type(exc).__name__}); "
            "the files are kept."
        )
        broken: ErrorInfo = {"code": "processing_error", "message": reason}
        retry_until_done(lambda: _mark_failed(session_key, run, broken, saved))
        if not isinstance(exc, Exception):
            raise
        raise ProcessingFailed(reason) from exc
    logger.info(
        "upload %s: %s in %.1fs",
        doc.uid[:8],
        session.doc.status,
        time.monotonic() - started,
    )
    return session


def _mark_failed(
    session_key: str, run: str, error: ErrorInfo, saved: str | None = None
) -> bool:
    """Record that ``run`` failed (and drop what it saved). True when done,
    or nothing is left to do; False while the storage is unavailable."""

    def fail(doc: UploadDocument) -> None:
        if doc.status == "processing" and doc.run == run:
            doc.status, doc.error = "failed", error
            doc.release()

    try:
        update_document(session_key, existing(fail))
    except (SessionNotFound, RunTakenOver):
        pass  # deleted meanwhile, or taken over: nothing to mark
    except StorageUnavailable:
        return False
    except Exception:
        logger.exception("Could not mark the session failed")
    if saved is not None:
        delete_quietly(uploads_storage(), [saved])
    return True
