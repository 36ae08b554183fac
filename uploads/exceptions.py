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
            or "No such upload session (for this id, cookie or X-Session-ID): it "
            "never existed, has expired or was deleted."
        )


class FileNotFound(UploadError):
    code = "file_not_found"


class DirectUploadNotFound(UploadError):
    code = "direct_upload_not_found"

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "This session has no direct upload with this id: it was completed, "
            "aborted or has expired."
        )


class UploadIncomplete(UploadError):
    """``complete`` came before every part was stored (or a part has the
    wrong size): send ``parts`` (again), then complete."""

    code = "upload_incomplete"

    def __init__(self, parts: list[int]) -> None:
        self.parts = parts
        shown = ", ".join(str(n) for n in parts[:20]) + (
            ", …" if len(parts) > 20 else ""
        )
        noun = "Part" if len(parts) == 1 else "Parts"
        verb = "is" if len(parts) == 1 else "are"
        super().__init__(
            f"{noun} {shown} {verb} not stored yet (or not whole): upload "
            f"{'it' if len(parts) == 1 else 'them'}, then complete again."
        )


class ChecksumMismatch(UploadError):
    """The bytes stored are not the ones declared (their SHA-256 or size)."""

    code = "checksum_mismatch"


class SignedUrlInvalid(UploadError):
    """A signed upload URL of the Django-served store that was altered, or
    is not one."""

    code = "signed_url_invalid"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or "This upload URL is not valid.")


class SignedUrlExpired(UploadError):
    code = "signed_url_expired"

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "This upload URL has expired: ask for a new one (POST "
            "/api/direct-uploads/{id}/parts)."
        )


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
