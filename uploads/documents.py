"""The upload session document, kept in the Django session under ``"upload"``.

Small on purpose (the session object has a size limit): names, sizes, storage
paths and hashes of the files, the status and errors. The files and the
analytics document live in the uploads storage, under paths made from the
server's own ids (``uploads/<uid>/<file id>.csv``), never from a client's
file name or from the session key.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypedDict

from django.contrib.sessions.backends.base import SessionBase

logger = logging.getLogger("uploads")

SESSION_KEY = "upload"
DOCUMENT_VERSION = 1
MAX_NAME_LENGTH = 255

Status = Literal["uploaded", "queued", "processing", "completed", "failed"]
STATUSES: tuple[Status, ...] = (
    "uploaded",
    "queued",  # handed to the worker queue (UPLOADS_PROCESSING_MODE = "queue")
    "processing",
    "completed",
    "failed",
)


class ErrorInfo(TypedDict):
    code: str
    message: str


class RunProgress(TypedDict):
    """Where a run is: file ``file`` of ``files`` (from 1), in ``phase``."""

    file: int
    files: int
    phase: str


#: The phases of profiling a file (``RunProgress.phase``), as people read them.
PHASES: dict[str, str] = {
    "reading": "reading the file",
    "transcoding": "converting the text to UTF-8",
    "sniffing": "detecting delimiter, header and types",
    "aggregating": "computing column statistics",
    "quantiles": "computing quantiles",
    "distributions": "computing histograms and correlations",
    "top_values": "counting top values",
    "duplicates": "counting duplicate rows",
    "sampling": "sampling rows",
    "done": "finishing",
}


def progress_message(progress: RunProgress) -> str:
    """``File 2 of 3: computing quantiles``."""
    phase = PHASES.get(progress["phase"], progress["phase"])
    return f"File {progress['file']} of {progress['files']}: {phase}"


#: What the page says before there is a session.
EMPTY_STATUS_MESSAGE = "Add CSV files to begin."


def status_message(doc: UploadDocument) -> str:
    """What the session's status means, for people: the page shows it, and
    the API returns it as ``statusMessage`` so that clients need no wording
    of their own."""
    count = len(doc.files)
    files = f"{count} file{'s' if count != 1 else ''}"
    if doc.status == "processing" and doc.progress:
        return f"Processing. {progress_message(doc.progress)}…"
    return {
        "uploaded": f"{files} uploaded and ready to process.",
        "queued": "Queued: waiting for a worker…",
        "processing": f"Processing {files}…",
        "completed": "Completed. The dashboard is ready.",
        "failed": "Processing failed. Add other files and process again, or start "
        "over.",
    }[doc.status]


def file_badge(doc: UploadDocument, index: int) -> tuple[str, str]:
    """The ``(state, label)`` of file ``index`` (from 1) of ``doc`` in the
    upload list: the page draws it, and the API returns it as ``badge``."""
    stored = doc.files[index - 1]
    if stored.error:
        return "error", "Not profiled"
    if doc.status == "completed":
        return "profiled", "Profiled"
    if doc.status == "queued":
        return "uploaded", "Queued"
    if doc.status == "processing":
        current = bool(doc.progress and doc.progress["file"] == index)
        return "uploaded", "Profiling…" if current else "Processing"
    return "uploaded", "Uploaded"


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return (
        moment.astimezone(dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def display_name(name: str, limit: int = MAX_NAME_LENGTH) -> str:
    """A client's file name made safe to show: no control or format characters
    (NUL, newlines, bidi overrides), surrounding spaces trimmed, at most
    ``limit`` characters keeping the extension. Never used as a path."""
    cleaned = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf"})
    cleaned = cleaned.strip() or "unnamed"
    if len(cleaned) > limit:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and stem and len(ext) < 16:
            cleaned = stem[: limit - len(ext) - 1] + "." + ext
        else:
            cleaned = cleaned[:limit]
    return cleaned


#: The folder of every upload's files. Only names of the shapes below are
#: ever written there, and only they are ever deleted: a project's own files
#: under the same folder (``uploads/avatars/...``) are never touched.
UPLOADS_ROOT = "uploads/"
_ID = r"[0-9a-f]{32}"
#: ``uploads/<uid>/<file id>.csv`` and ``uploads/<uid>/analytics.json``, with
#: the suffix Django's storages add when a name is taken.
_SUFFIX = r"(?:_[A-Za-z0-9]{7})?"
_OWNED_NAME = re.compile(
    rf"{re.escape(UPLOADS_ROOT)}(?P<uid>{_ID})/"
    rf"(?:{_ID}{_SUFFIX}\.csv|analytics{_SUFFIX}\.json)"
)


def owned_upload(name: str) -> str | None:
    """The upload id if ``name`` is a file this app writes, else None."""
    match = _OWNED_NAME.fullmatch(name)
    return match.group("uid") if match else None


def upload_folder(uid: str) -> str:
    return f"{UPLOADS_ROOT}{uid}"


def file_path(uid: str, file_id: str) -> str:
    return f"{upload_folder(uid)}/{file_id}.csv"


def analytics_path(uid: str) -> str:
    return f"{upload_folder(uid)}/analytics.json"


@dataclass
class StoredFile:
    id: str
    name: str
    size: int
    path: str
    sha256: str
    content_type: str
    uploaded_at: str
    error: ErrorInfo | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredFile:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            size=int(data["size"]),
            path=str(data["path"]),
            sha256=str(data["sha256"]),
            content_type=str(data.get("content_type") or ""),
            uploaded_at=str(data["uploaded_at"]),
            error=data.get("error"),
        )


@dataclass
class UploadDocument:
    uid: str  # names the storage folder; not the session key
    created_at: str
    expires_at: str
    status: Status = "uploaded"
    files: list[StoredFile] = field(default_factory=list)
    error: ErrorInfo | None = None
    analytics_path: str | None = None
    run: str | None = None  # id of the run that holds "queued" or "processing"
    processing_since: str | None = None  # when queued, started, last seen alive
    progress: RunProgress | None = None  # while processing

    @classmethod
    def new(cls, lifetime: int) -> UploadDocument:
        """A new document living ``lifetime`` seconds from now (not extended)."""
        created = now()
        expires = created + dt.timedelta(seconds=lifetime)
        return cls(uid=new_id(), created_at=iso(created), expires_at=iso(expires))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UploadDocument:
        status = data.get("status", "uploaded")
        return cls(
            uid=str(data["uid"]),
            created_at=str(data["created_at"]),
            expires_at=str(data["expires_at"]),
            status=status if status in STATUSES else "failed",
            files=[StoredFile.from_dict(f) for f in data.get("files", [])],
            error=data.get("error"),
            analytics_path=data.get("analytics_path"),
            run=data.get("run"),
            processing_since=data.get("processing_since"),
            progress=data.get("progress"),
        )

    @classmethod
    def from_session(
        cls, data: Mapping[str, Any] | SessionBase | None
    ) -> UploadDocument | None:
        """The upload document kept in a session (its data, or the session
        itself, which this loads), or None when there is none or it cannot be
        read (logged: it is ignored, never trusted)."""
        raw = data.get(SESSION_KEY) if data is not None else None
        if not isinstance(raw, dict):
            return None
        try:
            return cls.from_dict(raw)
        except (KeyError, TypeError, ValueError):
            logger.warning("Unreadable upload document in a session; ignored.")
            return None

    def to_dict(self) -> dict[str, Any]:
        return {"version": DOCUMENT_VERSION, **asdict(self)}

    def owned_names(self) -> list[str]:
        """The storage names this document points at that this app wrote
        (files, then analytics): never anything outside its own folder."""
        names = [f.path for f in self.files] + [self.analytics_path or ""]
        return [n for n in names if owned_upload(n) == self.uid]

    def release(self) -> None:
        """Forget the run that held the session (it ended, or was given up)."""
        self.run = self.processing_since = None
        self.progress = None

    def file(self, file_id: str) -> StoredFile | None:
        return next((f for f in self.files if f.id == file_id), None)


@dataclass(frozen=True)
class UploadSession:
    """A live session (its key is the API's session id) and its document."""

    key: str
    doc: UploadDocument
