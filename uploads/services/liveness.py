"""Whether the run that holds a session (``queued`` or ``processing``) is
alive: its heartbeat and progress writes, and the timeout that gives up on a
run whose worker died."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Iterator

from uploads.conf import conf
from uploads.documents import RunProgress, UploadDocument, iso, now, parse_iso
from uploads.exceptions import RunTakenOver, SessionNotFound, UploadError
from uploads.services.store import existing, update_document

logger = logging.getLogger("uploads")

#: Statuses held by a run (a request, or a queued job and then its worker).
BUSY = ("queued", "processing")
#: Least seconds between two progress writes within one file.
PROGRESS_INTERVAL = 1.0


def is_stale(doc: UploadDocument) -> bool:
    """A run queued or started more than ``UPLOADS_PROCESSING_TIMEOUT`` seconds
    ago is presumed dead: its worker was killed, or its job was lost."""
    if doc.status not in BUSY or doc.processing_since is None:
        return False
    age = (now() - parse_iso(doc.processing_since)).total_seconds()
    return age > conf.PROCESSING_TIMEOUT


def mark_timed_out(session_key: str, doc: UploadDocument) -> UploadDocument:
    """Mark a stale run ``failed`` (``processing_timeout``), so that no session
    shows ``queued`` or ``processing`` forever. A compare-and-set: a run that
    finished or was taken over meanwhile is left alone."""
    run = doc.run
    status = doc.status
    timeout = conf.PROCESSING_TIMEOUT

    def expire(current: UploadDocument) -> None:
        if current.run == run and is_stale(current):
            current.status = "failed"
            current.error = {
                "code": "processing_timeout",
                "message": f"Processing was {status} for more than {timeout} s "
                "(UPLOADS_PROCESSING_TIMEOUT) without finishing: its worker "
                "stopped. The files are kept; process the session again.",
            }
            current.release()

    session = update_document(session_key, existing(expire))
    logger.warning(
        "upload %s: run %s %s for over %d s; marked failed",
        doc.uid[:8],
        (run or "")[:8],
        status,
        timeout,
    )
    return session.doc


def require_run(doc: UploadDocument, run: str) -> None:
    """Raise ``RunTakenOver`` unless ``run`` still holds ``doc``."""
    if doc.status != "processing" or doc.run != run:
        raise RunTakenOver


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
            require_run(doc, self.run)
            doc.progress = progress
            doc.processing_since = iso(now())

        try:
            update_document(self.session_key, existing(mark))
        except UploadError as exc:
            logger.info("Progress not recorded: %s", exc.message)
        except Exception:
            logger.warning("Could not record progress", exc_info=True)


@contextlib.contextmanager
def heartbeat(session_key: str, run: str) -> Iterator[None]:
    """While ``run`` works, refresh its ``processing_since`` every quarter of
    ``UPLOADS_PROCESSING_TIMEOUT``: a live run never goes stale, however long
    it takes, and the timeout only catches runs whose process died."""
    stop = threading.Event()
    interval = max(0.1, conf.PROCESSING_TIMEOUT / 4)

    def beat(doc: UploadDocument) -> None:
        require_run(doc, run)
        doc.processing_since = iso(now())

    def loop() -> None:
        while not stop.wait(interval):
            try:
                update_document(session_key, existing(beat))
            except (RunTakenOver, SessionNotFound):
                return  # taken over, timed out or deleted: the run finds out
            except UploadError as exc:
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
