"""The work behind the uploads API: keyword-only, typed functions.

State lives in the Django session (the upload document under ``"upload"``),
so any instance can serve any step. Every change of the document is a
compare-and-set (``save_if_unchanged``) on a freshly loaded copy of the
session, retried on conflicts after re-checking the document: two requests
can never both move a session to ``processing``, and a file upload can
never overwrite a status written meanwhile. The request's own
``request.session`` is written only to create a new session (so that the
middleware sets the browser's cookie).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.utils.http import content_disposition_header

from sessions_blob.exceptions import ConflictError
from uploads.conf import conf
from uploads.documents import (
    SESSION_KEY,
    ErrorInfo,
    RunProgress,
    StoredFile,
    UploadDocument,
    UploadSession,
    analytics_path,
    display_name,
    file_path,
    iso,
    new_id,
    now,
    parse_iso,
)
from uploads.errors import ApiError

logger = logging.getLogger("uploads")

ANALYTICS_SCHEMA_VERSION = "1"
#: Compare-and-set attempts before answering 409 ``conflict``.
MAX_ATTEMPTS = 8
_CONTENT_TYPE = re.compile(r"[\w.+-]{1,60}/[\w.+-]{1,60}")


# ------------------------------------------------------------------ helpers


def _storage() -> Storage:
    return storages[conf.STORAGE_ALIAS]


def _session_store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key)
    return store


def _not_found() -> ApiError:
    return ApiError(
        "session_not_found",
        "No upload session with this id: it never existed, has expired or was deleted.",
    )


def _open(session_key: str | None) -> SessionBase | None:
    """A freshly loaded copy of the session, or None when it does not exist."""
    if not session_key:
        return None
    store = _session_store(session_key)
    store.get(SESSION_KEY)  # loads; a missing or expired session drops its key
    return store if store.session_key is not None else None


def _document(store: SessionBase) -> UploadDocument | None:
    return UploadDocument.from_session(store)


def _put(store: SessionBase, doc: UploadDocument) -> None:
    store[SESSION_KEY] = doc.to_dict()
    store.set_expiry(parse_iso(doc.expires_at))


def _compare_and_set(store: SessionBase) -> None:
    save = getattr(store, "save_if_unchanged", None)
    if save is None:
        raise ImproperlyConfigured(
            f"SESSION_ENGINE {settings.SESSION_ENGINE!r} has no save_if_unchanged(): "
            "the uploads API needs sessions_blob.backends.storage."
        )
    save()


def _update(
    session_key: str, change: Callable[[UploadDocument | None], UploadDocument]
) -> UploadSession:
    """Apply ``change`` to the stored document with compare-and-set.

    ``change`` gets the current document (None when the session has none) and
    returns the new one, or raises ``ApiError``; after a conflict it runs
    again on the newer version, so its checks always see what it overwrites.
    """
    for _attempt in range(MAX_ATTEMPTS):
        store = _open(session_key)
        if store is None:
            raise _not_found()
        doc = change(_document(store))
        _put(store, doc)
        try:
            _compare_and_set(store)
        except ConflictError:
            continue
        except UpdateError:  # deleted meanwhile
            raise _not_found() from None
        assert store.session_key is not None
        return UploadSession(key=store.session_key, doc=doc)
    raise ApiError("conflict", "The session kept changing under this request; retry.")


def _existing(
    change: Callable[[UploadDocument], None],
) -> Callable[..., UploadDocument]:
    def apply(doc: UploadDocument | None) -> UploadDocument:
        if doc is None:
            raise _not_found()
        change(doc)
        return doc

    return apply


#: Statuses held by a run (a request, or a queued job and then its worker).
BUSY = ("queued", "processing")


def _is_stale(doc: UploadDocument) -> bool:
    """A run queued or started more than ``UPLOADS_PROCESSING_TIMEOUT`` seconds
    ago is presumed dead: its worker was killed, or its job was lost."""
    if doc.status not in BUSY or doc.processing_since is None:
        return False
    age = (now() - parse_iso(doc.processing_since)).total_seconds()
    return age > conf.PROCESSING_TIMEOUT


def _timed_out(session_key: str, doc: UploadDocument) -> UploadDocument:
    """Mark a stale run ``failed`` (``processing_timeout``), so that no session
    shows ``queued`` or ``processing`` forever. A compare-and-set: a run that
    finished or was taken over meanwhile is left alone."""
    run = doc.run
    status = doc.status
    timeout = conf.PROCESSING_TIMEOUT

    def expire(current: UploadDocument) -> None:
        if current.run == run and _is_stale(current):
            current.status = "failed"
            current.error = {
                "code": "processing_timeout",
                "message": f"Processing was {status} for more than {timeout} s "
                "(UPLOADS_PROCESSING_TIMEOUT) without finishing: its worker "
                "stopped. The files are kept; process the session again.",
            }
            current.release()

    session = _update(session_key, _existing(expire))
    logger.warning(
        "upload %s: run %s %s for over %d s; marked failed",
        doc.uid[:8],
        (run or "")[:8],
        status,
        timeout,
    )
    return session.doc


def _delete_quietly(storage: Storage, names: Sequence[str]) -> None:
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


# ------------------------------------------------------------------ reading


def upload_session_get(*, session_key: str | None) -> UploadSession:
    """The live upload session with this id; 404 ``session_not_found`` otherwise."""
    store = _open(session_key)
    doc = _document(store) if store is not None else None
    if store is None or doc is None or store.session_key is None:
        raise _not_found()
    if _is_stale(doc):
        doc = _timed_out(store.session_key, doc)
    return UploadSession(key=store.session_key, doc=doc)


def upload_file_get(
    *, session_key: str | None, file_id: str
) -> tuple[UploadSession, StoredFile]:
    session = upload_session_get(session_key=session_key)
    stored = session.doc.file(file_id)
    if stored is None:
        raise ApiError("file_not_found", "This session has no file with this id.")
    return session, stored


def upload_file_signed_url(*, file: StoredFile) -> str | None:
    """A short-lived signed URL where the storage can make one (S3), else None."""
    storage = _storage()
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
    """The stored file, opened for reading (404 ``file_not_found`` when gone)."""
    try:
        return _storage().open(file.path, "rb")
    except FileNotFoundError:
        raise ApiError("file_not_found", "The stored file is missing.") from None


def upload_session_analytics(*, session_key: str | None) -> dict[str, Any]:
    """The analytics document of a processed session."""
    session = upload_session_get(session_key=session_key)
    name = session.doc.analytics_path
    if name is None:
        raise ApiError(
            "analytics_not_ready",
            f"The session is {session.doc.status!r}: analytics exist once it has "
            "been processed (POST /api/process).",
        )
    try:
        with _storage().open(name, "rb") as fh:
            stored = json.load(fh)
    except FileNotFoundError:
        raise ApiError(
            "analytics_not_ready", "The analytics document is missing."
        ) from None
    return {
        "schema_version": stored["schema_version"],
        "session_id": session.key,
        "generated_at": stored.get("generated_at"),
        "files": stored["files"],
    }


# ------------------------------------------------------------------ upload


def _check_files(files: Sequence[UploadedFile]) -> None:
    if not files:
        raise ApiError("invalid", "No file was sent in the field 'files'.")
    if len(files) > conf.MAX_FILES:
        raise ApiError(
            "too_many_files",
            f"{len(files)} files sent; at most {conf.MAX_FILES} are accepted "
            "(UPLOADS_MAX_FILES).",
        )
    for upload in files:
        if not upload.size:
            raise ApiError(
                "empty_file", f"{display_name(upload.name or '')!r} is empty (0 bytes)."
            )
        if upload.size > conf.MAX_FILE_SIZE:
            raise ApiError(
                "file_too_large",
                f"{display_name(upload.name or '')!r} is larger than "
                f"{conf.MAX_FILE_SIZE} bytes (UPLOADS_MAX_FILE_SIZE).",
            )


def _check_can_add(doc: UploadDocument, count: int) -> None:
    if doc.status in BUSY and not _is_stale(doc):
        raise ApiError(
            "already_processing",
            "The session is queued or being processed; add files once it is done.",
        )
    if len(doc.files) + count > conf.MAX_FILES:
        raise ApiError(
            "too_many_files",
            f"The session has {len(doc.files)} files; {count} more would exceed "
            f"{conf.MAX_FILES} (UPLOADS_MAX_FILES).",
        )


def _sha256(upload: UploadedFile) -> str:
    known = getattr(upload, "sha256", "")
    if known:
        return str(known)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _store_file(storage: Storage, uid: str, upload: UploadedFile) -> StoredFile:
    file_id = new_id()
    sha = _sha256(upload)  # before save(): local storage moves the temporary file
    claimed = (upload.content_type or "").strip()
    name = display_name(upload.name or "")
    size = int(upload.size or 0)
    upload.content_type = "text/csv"  # what the storage serves it as
    path = storage.save(file_path(uid, file_id), upload)
    return StoredFile(
        id=file_id,
        name=name,
        size=size,
        path=path,
        sha256=sha,
        content_type=claimed if _CONTENT_TYPE.fullmatch(claimed) else "",
        uploaded_at=iso(now()),
    )


def upload_session_add_files(
    *, session: SessionBase, files: Sequence[UploadedFile], create: bool
) -> UploadSession:
    """Store ``files`` and record them in ``session``'s upload document.

    ``session`` is the caller's (``request.session``). Without a live session
    a new one is created on it when ``create`` is true (browsers, first
    upload), else 404 ``session_not_found`` (an explicit id that is gone).
    Files are stored first; if recording them fails they are deleted again.
    """
    _check_files(files)
    key = session.session_key
    store = _open(key)
    if store is None and not create:
        raise _not_found()
    current = _document(store) if store is not None else None
    if current is not None:
        _check_can_add(current, len(files))  # fail before storing anything
    uid = current.uid if current is not None else new_id()
    storage = _storage()
    stored: list[StoredFile] = []
    replaced_analytics: list[str] = []
    try:
        for upload in files:
            stored.append(_store_file(storage, uid, upload))
        if store is None:
            doc = UploadDocument.new(settings.SESSION_COOKIE_AGE)
            doc.uid, doc.files = uid, list(stored)
            _put(session, doc)
            session.create()
            assert session.session_key is not None
            result = UploadSession(key=session.session_key, doc=doc)
        else:
            assert key is not None

            def add(doc: UploadDocument | None) -> UploadDocument:
                replaced_analytics.clear()
                if doc is None:
                    doc = UploadDocument.new(settings.SESSION_COOKIE_AGE)
                    doc.uid = uid
                _check_can_add(doc, len(stored))
                if doc.analytics_path:  # the analytics no longer cover every file
                    replaced_analytics.append(doc.analytics_path)
                doc.files += stored
                doc.status, doc.error, doc.analytics_path = "uploaded", None, None
                doc.release()
                return doc

            result = _update(key, add)
    except BaseException:
        _delete_quietly(storage, [f.path for f in stored])
        raise
    _delete_quietly(storage, replaced_analytics)
    logger.info(
        "upload %s: stored %d file(s), %d bytes",
        result.doc.uid[:8],
        len(stored),
        sum(f.size for f in stored),
    )
    return result


# ------------------------------------------------------------------ process


@contextlib.contextmanager
def _local_copy(storage: Storage, name: str) -> Iterator[str]:
    """A local path of the stored file: the file itself on local disk, else a
    temporary copy downloaded in chunks (never whole in memory)."""
    if _has_path(storage):
        path = storage.path(name)
        if not os.path.isfile(path):
            raise FileNotFoundError(name)
        yield path
        return
    with tempfile.NamedTemporaryFile(
        prefix="upload-", suffix=".csv", dir=settings.FILE_UPLOAD_TEMP_DIR
    ) as tmp:
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


def _profile_file(
    storage: Storage,
    doc: UploadDocument,
    index: int,
    stored: StoredFile,
    report: Callable[[int, str], None],
) -> tuple[dict[str, Any] | None, ErrorInfo | None]:
    from uploads.profiling import ProfileError, profile_csv

    started = time.monotonic()
    label = f"upload {doc.uid[:8]}: file {index}/{len(doc.files)} ({stored.size} bytes)"

    def progress(phase: str) -> None:
        logger.info("%s: %s after %.1fs", label, phase, time.monotonic() - started)
        report(index, phase)

    progress("reading")
    try:
        with _local_copy(storage, stored.path) as path:
            profile = profile_csv(
                path,
                memory_limit=conf.PROFILE_MEMORY_LIMIT,
                threads=conf.PROFILE_THREADS,
                progress=progress,
            )
    except ProfileError as exc:
        logger.info("%s: %s", label, exc)
        return None, {"code": exc.code, "message": exc.message}
    except FileNotFoundError:
        logger.error("%s: the stored file %s is missing", label, stored.path)
        return None, {"code": "not_found", "message": "The stored file is missing."}
    return profile, None


def _check_can_process(doc: UploadDocument) -> None:
    """Refuse to start a run on ``doc`` (409), or log the takeover of a dead one."""
    if doc.status in BUSY:
        if not _is_stale(doc):
            raise ApiError(
                "already_processing",
                "The session is already queued or being processed.",
            )
        logger.warning(
            "upload %s: run %s %s since %s; taking over",
            doc.uid[:8],
            (doc.run or "")[:8],
            doc.status,
            doc.processing_since,
        )
    if not doc.files:
        raise ApiError("nothing_to_process", "The session has no files.")
    if doc.status == "completed":
        raise ApiError(
            "nothing_to_process",
            "Every file of the session has been processed; upload more files to "
            "process again.",
        )


def _start(doc: UploadDocument, run: str) -> None:
    doc.status, doc.run, doc.processing_since = "processing", run, iso(now())
    doc.error = None


def upload_session_process(*, session_key: str | None) -> UploadSession:
    """Profile every file of the session and store the analytics document.

    The move to ``processing`` is a compare-and-set: a second caller gets 409
    ``already_processing``. Files that cannot be profiled get their error; the
    session is ``completed`` when at least one file was profiled, else
    ``failed`` (``all_files_failed``). If anything else goes wrong the session
    is marked ``failed`` (``processing_error``) and 500 ``processing_error``
    is raised: it is never left ``processing``, and its files are kept.
    """
    if not session_key:
        raise _not_found()
    run = new_id()

    def begin(doc: UploadDocument) -> None:
        _check_can_process(doc)
        _start(doc, run)

    session = _update(session_key, _existing(begin))
    return _run(session_key, session, run)


def upload_session_enqueue(*, session_key: str | None) -> UploadSession:
    """Queue mode: mark the session ``queued`` and hand its id to a worker.

    The same checks and compare-and-set as :func:`upload_session_process`
    (409 ``already_processing``, ``nothing_to_process``), then one Django task
    (``uploads.tasks.process_upload_session``) carrying only the session id.
    If the queue refuses the job the session gets its previous state back and
    503 ``queue_unavailable`` is raised.
    """
    from uploads.tasks import process_upload_session

    if not session_key:
        raise _not_found()
    run = new_id()
    before: dict[str, Any] = {}

    def queue(doc: UploadDocument) -> None:
        _check_can_process(doc)
        before.update(status=doc.status, error=doc.error)
        doc.status, doc.run, doc.processing_since = "queued", run, iso(now())
        doc.error = None

    session = _update(session_key, _existing(queue))
    try:
        job = process_upload_session.using(backend=conf.TASK_BACKEND).enqueue(
            session_key
        )
    except Exception as exc:
        logger.exception("upload %s: could not queue the job", session.doc.uid[:8])

        def restore(doc: UploadDocument) -> None:
            if doc.status == "queued" and doc.run == run:
                doc.status, doc.error = before["status"], before["error"]
                doc.release()

        with contextlib.suppress(Exception):
            _update(session_key, _existing(restore))
        raise ApiError(
            "queue_unavailable",
            f"The processing queue is unavailable ({type(exc).__name__}); "
            "try again later.",
        ) from exc
    logger.info(
        "upload %s: queued for processing (job %s)", session.doc.uid[:8], job.id
    )
    return session


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
        session = _update(session_key, _existing(begin))
    except ApiError as exc:
        if exc.code != "session_not_found":
            raise
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
    except ApiError as exc:
        if exc.code == "session_not_found":
            return "gone"
        if exc.code == "processing_error":
            return "failed"  # recorded in the session
        raise


#: Least seconds between two progress writes within one file.
PROGRESS_INTERVAL = 1.0


class ProgressRecorder:
    """Records a run's progress in its session document, for status readers.

    Each write costs a read and a write of the session, so it writes when a
    file starts and then at most every ``PROGRESS_INTERVAL`` seconds. Best
    effort: a write that fails is logged and the run goes on (its end says
    whether it still held the session). A write is a sign of life too.
    """

    def __init__(self, session_key: str, run: str, files: int) -> None:
        self.session_key, self.run, self.files = session_key, run, files
        self._file = 0
        self._written_at = -math.inf

    def __call__(self, file: int, phase: str) -> None:
        moment = time.monotonic()
        if file == self._file and moment - self._written_at < PROGRESS_INTERVAL:
            return
        self._file, self._written_at = file, moment
        progress: RunProgress = {"file": file, "files": self.files, "phase": phase}

        def mark(doc: UploadDocument) -> None:
            if doc.status != "processing" or doc.run != self.run:
                raise ApiError("conflict", "The run no longer holds the session.")
            doc.progress = progress
            doc.processing_since = iso(now())

        try:
            _update(self.session_key, _existing(mark))
        except ApiError as exc:
            logger.info("RunProgress not recorded: %s", exc.message)
        except Exception:
            logger.warning("Could not record progress", exc_info=True)


@contextlib.contextmanager
def _heartbeat(session_key: str, run: str) -> Iterator[None]:
    """While ``run`` works, refresh its ``processing_since`` every quarter of
    ``UPLOADS_PROCESSING_TIMEOUT``: a live run never goes stale, however long
    it takes, and the timeout only catches runs whose process died."""
    stop = threading.Event()
    interval = max(0.1, conf.PROCESSING_TIMEOUT / 4)

    lost: list[bool] = []

    def beat(doc: UploadDocument) -> None:
        if doc.status != "processing" or doc.run != run:
            lost.append(True)
            raise ApiError("conflict", "The run no longer holds the session.")
        doc.processing_since = iso(now())

    def loop() -> None:
        while not stop.wait(interval):
            try:
                _update(session_key, _existing(beat))
            except ApiError as exc:
                if lost or exc.code == "session_not_found":
                    return  # taken over, timed out or deleted: the run finds out
                logger.warning("Could not refresh a running session: %s", exc.code)
            except Exception:
                logger.warning("Could not refresh a running session", exc_info=True)

    thread = threading.Thread(target=loop, name="uploads-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _run(session_key: str, session: UploadSession, run: str) -> UploadSession:
    """Profile the files of ``session``, which ``run`` holds in ``processing``."""
    doc = session.doc
    storage = _storage()
    logger.info("upload %s: processing %d file(s)", doc.uid[:8], len(doc.files))
    started = time.monotonic()
    saved: str | None = None
    try:
        errors: dict[str, ErrorInfo | None] = {}
        entries = []
        report = ProgressRecorder(session_key, run, len(doc.files))
        with _heartbeat(session_key, run):
            for index, stored in enumerate(doc.files, start=1):
                profile, error = _profile_file(storage, doc, index, stored, report)
                errors[stored.id] = error
                entries.append(
                    {
                        "file_id": stored.id,
                        "name": stored.name,
                        "profile": profile,
                        "error": error,
                    }
                )
        analytics = {
            "schema_version": ANALYTICS_SCHEMA_VERSION,
            "generated_at": iso(now()),
            "files": entries,
        }
        name = analytics_path(doc.uid)
        storage.delete(name)  # a leftover of an earlier, failed run
        body = json.dumps(analytics, ensure_ascii=False, allow_nan=False).encode()
        saved = storage.save(name, ContentFile(body))

        def finish(current: UploadDocument) -> None:
            if current.status != "processing" or current.run != run:
                raise ApiError("conflict", "Another run took this session over.")
            for f in current.files:
                f.error = errors.get(f.id)
            good = [f for f in current.files if f.error is None]
            current.status = "completed" if good else "failed"
            current.error = (
                None
                if good
                else {
                    "code": "all_files_failed",
                    "message": "No file could be profiled: "
                    + "; ".join(
                        f"{f.name}: {f.error['message']}"
                        for f in current.files
                        if f.error
                    ),
                }
            )
            current.analytics_path = saved
            current.release()

        try:
            session = _update(session_key, _existing(finish))
        except ApiError as exc:
            if exc.code == "session_not_found":  # deleted while we worked
                _delete_quietly(storage, [saved])
            raise
    except ApiError:
        raise
    except BaseException as exc:
        logger.exception("upload %s: processing failed", doc.uid[:8])
        reason = (
            f"Processing failed unexpectedly ({type(exc).__name__}); "
            "the files are kept."
        )
        _mark_failed(session_key, run, {"code": "processing_error", "message": reason})
        if saved is not None:
            _delete_quietly(storage, [saved])
        if not isinstance(exc, Exception):
            raise
        raise ApiError("processing_error", reason) from exc
    logger.info(
        "upload %s: %s in %.1fs",
        doc.uid[:8],
        session.doc.status,
        time.monotonic() - started,
    )
    return session


def _mark_failed(session_key: str, run: str, error: ErrorInfo) -> None:
    def fail(doc: UploadDocument) -> None:
        if doc.status == "processing" and doc.run == run:
            doc.status, doc.error = "failed", error
            doc.release()

    try:
        _update(session_key, _existing(fail))
    except ApiError:
        pass  # deleted meanwhile, or taken over: nothing to mark
    except Exception:
        logger.exception("Could not mark the session failed")


# ------------------------------------------------------------------ delete


def upload_session_delete(
    *, session_key: str | None, current: SessionBase | None = None
) -> None:
    """Delete the upload session: the session itself, then (through the
    engine's ``sessions_deleted`` signal, see ``uploads.cleanup``) its files
    and analytics. ``current`` is the caller's own session: when it is the
    one deleted it is flushed, so that the middleware drops its cookie.

    A storage failure while deleting the session changes nothing (503); one
    while deleting the files leaves them to ``manage.py purge_uploads``.
    """
    own = current is not None and current.session_key == session_key
    store = current if own else _open(session_key)
    doc = _document(store) if store is not None else None
    if store is None or doc is None:
        raise _not_found()
    if own:
        store.flush()
    else:
        store.delete()
    logger.info("upload %s: deleted with %d file(s)", doc.uid[:8], len(doc.files))
