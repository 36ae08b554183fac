"""What the uploads services refuse, as plain exceptions.

Each carries a stable ``code`` and a human message; only the API's exception
handler (``uploads.errors``) turns them into HTTP answers, and callers tell
them apart by class, never by comparing code strings.
"""

from __future__ import annotations

from typing import ClassVar


class UploadError(Exception):
    """A request the uploads services refuse."""

    code: ClassVar[str] = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidUpload(UploadError):
    code = "invalid"


class EmptyFile(UploadError):
    code = "empty_file"


class FileTooLarge(UploadError):
    code = "file_too_large"


class TooManyFiles(UploadError):
    code = "too_many_files"


class SessionNotFound(UploadError):
    code = "session_not_found"

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "No upload session with this id: it never existed, has expired or "
            "was deleted."
        )


class FileNotFound(UploadError):
    code = "file_not_found"


class AnalyticsNotReady(UploadError):
    code = "analytics_not_ready"


class AlreadyProcessing(UploadError):
    code = "already_processing"


class NothingToProcess(UploadError):
    code = "nothing_to_process"


class Conflict(UploadError):
    """The session kept changing under a request (compare-and-set gave up),
    or a run no longer holds it."""

    code = "conflict"


class QueueUnavailable(UploadError):
    code = "queue_unavailable"


class ProcessingFailed(UploadError):
    """Processing failed for a reason of the server's; the session records it."""

    code = "processing_error"


class RunTakenOver(Conflict):
    """The run no longer holds the session: it finished, timed out, or was
    taken over by a newer run."""

    def __init__(self, message: str = "The run no longer holds the session.") -> None:
        super().__init__(message)
