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
from django.utils.crypto import get_random_string

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
    if doc.status == "uploaded" and not doc.files:
        return "Uploading…" if doc.pending else EMPTY_STATUS_MESSAGE
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
#: the suffix Django's storages add when a name is taken, and the parts of a
#: direct upload to local disk (``uploads/<uid>/<file id>.part00001``).
_SUFFIX = r"(?:_[A-Za-z0-9]{7})?"
_OWNED_NAME = re.compile(
    rf"{re.escape(UPLOADS_ROOT)}(?P<uid>{_ID})/"
    rf"(?:{_ID}{_SUFFIX}\.csv|analytics{_SUFFIX}\.json|{_ID}\.part\d{{5}})"
)


def owned_upload(name: str) -> str | None:
    """The upload id if ``name`` is a file this app writes, else None."""
    match = _OWNED_NAME.fullmatch(name)
    return match.group("uid") if match else None


def upload_folder(uid: str) -> str:
    return f"{UPLOADS_ROOT}{uid}"


def file_path(uid: str, file_id: str) -> str:
    return f"{upload_folder(uid)}/{file_id}.csv"


def analytics_path(uid: str, *, revision: bool = False) -> str:
    """The analytics document's name; a ``revision`` has a name of its own
    (``analytics_<7 chars>.json``), so it is written beside the one it
    replaces."""
    suffix = f"_{get_random_string(7)}" if revision else ""
    return f"{upload_folder(uid)}/analytics{suffix}.json"


def part_path(file_path: str, number: int) -> str:
    """Where part ``number`` of a direct upload to ``file_path`` waits on
    local disk until the upload completes."""
    return f"{file_path.removesuffix('.csv')}.part{number:05d}"


#: File errors that processing the same bytes again would repeat.
PERMANENT_FILE_ERRORS = frozenset(
    {
        "empty_file",
        "not_csv",
        "undecodable",
        "too_many_columns",
        "parse_error",
        "checksum_mismatch",
    }
)


@dataclass
class StoredFile:
    id: str
    name: str
    size: int
    path: str
    sha256: str  # hex; empty until known (a direct multipart upload to S3)
    content_type: str
    uploaded_at: str
    error: ErrorInfo | None = None
    #: Whether ``sha256`` was checked against the stored bytes. A direct
    #: multipart upload's parts are checked by the store; its whole-file hash,
    #: if the client declared one, when processing first reads the file.
    sha256_checked: bool = True

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
            sha256_checked=bool(data.get("sha256_checked", True)),
        )


@dataclass
class PendingFile:
    """A direct upload under way: declared, signed, not yet part of the
    session. Its bytes go straight to the storage; ``complete`` checks them
    and turns it into a :class:`StoredFile`."""

    id: str  # the file's id once it joins
    name: str
    size: int
    sha256: str  # hex as declared; empty if not (multipart only)
    content_type: str
    path: str  # where the complete file will be
    part_size: int
    multipart_id: str  # the store's id of a multipart upload (S3), else ""
    started_at: str
    expires_at: str

    @property
    def part_count(self) -> int:
        return max(1, -(-self.size // self.part_size))

    def part_length(self, number: int) -> int:
        """Bytes of part ``number`` (from 1): all parts but the last are full."""
        if number < self.part_count:
            return self.part_size
        return self.size - self.part_size * (self.part_count - 1)

    def expired(self, moment: dt.datetime) -> bool:
        return parse_iso(self.expires_at) <= moment

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingFile:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            size=int(data["size"]),
            sha256=str(data.get("sha256") or ""),
            content_type=str(data.get("content_type") or ""),
            path=str(data["path"]),
            part_size=int(data["part_size"]),
            multipart_id=str(data.get("multipart_id") or ""),
            started_at=str(data["started_at"]),
            expires_at=str(data["expires_at"]),
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
    pending: list[PendingFile] = field(default_factory=list)  # direct uploads

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
            pending=[PendingFile.from_dict(p) for p in data.get("pending", [])],
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
        (files, analytics, direct uploads under way and their parts): never
        anything outside its own folder."""
        names = [f.path for f in self.files] + [self.analytics_path or ""]
        for pending in self.pending:
            names.append(pending.path)
            names += [
                part_path(pending.path, n) for n in range(1, pending.part_count + 1)
            ]
        return [n for n in names if owned_upload(n) == self.uid]

    def release(self) -> None:
        """Forget the run that held the session (it ended, or was given up)."""
        self.run = self.processing_since = None
        self.progress = None

    def worth_processing_again(self) -> bool:
        """Whether processing could change anything: not when every file failed
        for what it is (not a CSV, empty, ...): the same bytes fail the same
        way."""
        return not self.files or any(
            f.error is None or f.error.get("code") not in PERMANENT_FILE_ERRORS
            for f in self.files
        )

    def file(self, file_id: str) -> StoredFile | None:
        return next((f for f in self.files if f.id == file_id), None)

    def pending_file(self, file_id: str) -> PendingFile | None:
        return next((p for p in self.pending if p.id == file_id), None)

    def drop_expired_pending(self, moment: dt.datetime) -> list[PendingFile]:
        """Forget direct uploads past their expiry; returns them (their
        storage is the caller's to clean)."""
        expired = [p for p in self.pending if p.expired(moment)]
        self.pending = [p for p in self.pending if not p.expired(moment)]
        return expired


@dataclass(frozen=True)
class UploadSession:
    """A live session (its key is the API's session id) and its document."""

    key: str
    doc: UploadDocument
