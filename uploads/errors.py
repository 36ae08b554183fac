"""The API's one error contract: ``{"code": ..., "message": ...}``.

The services raise plain exceptions (``uploads.exceptions``); the HTTP layer
(parsers, permissions, views) raises :class:`ApiError` for what only HTTP
knows. :func:`exception_handler` (DRF's ``EXCEPTION_HANDLER``) renders both,
DRF's own exceptions and the few Django exceptions a request can raise in
the same shape. ``CODES`` is the catalogue of every code and its HTTP status;
docs/api.md lists them all (a test checks).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFilesSent,
)
from django.http import Http404, UnreadablePostError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.middleware import RETRY_AFTER
from uploads.exceptions import UploadError
from uploads.limits import RateLimited

logger = logging.getLogger("uploads")

#: Every error code the API answers with, and its HTTP status.
CODES: dict[str, int] = {
    # requests
    "invalid": 400,
    "malformed_request": 400,
    "bad_request": 400,
    "empty_file": 400,
    "checksum_mismatch": 400,
    "csrf_failed": 403,
    "signed_url_invalid": 403,
    "signed_url_expired": 403,
    "permission_denied": 403,
    "not_found": 404,
    "session_not_found": 404,
    "file_not_found": 404,
    "analytics_not_ready": 404,
    "direct_upload_not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "nothing_to_process": 409,
    "already_processing": 409,
    "conflict": 409,
    "upload_incomplete": 409,
    "file_too_large": 413,
    "too_many_files": 413,
    "request_too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "internal_error": 500,
    "processing_error": 500,
    "storage_unavailable": 503,
    "queue_unavailable": 503,
}

STORAGE_UNAVAILABLE_MESSAGE = "The storage is unavailable; try again later."

#: Codes recorded in a session document (``error`` of the session or of a file),
#: never answered as an HTTP error: the profiler's codes and the session's own.
DOCUMENT_CODES: tuple[str, ...] = (
    "all_files_failed",
    "processing_error",
    "processing_timeout",
    "not_found",
    "empty_file",
    "not_csv",
    "undecodable",
    "too_many_columns",
    "parse_error",
    "out_of_memory",
    "checksum_mismatch",
)


class ApiError(exceptions.APIException):
    """A request the HTTP layer refuses, with a stable ``code`` and a human
    ``message`` (the services raise ``uploads.exceptions`` instead)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.code = code
        self.message = message
        self.status_code = status if status is not None else CODES[code]


_DRF_CODES: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.ValidationError, "invalid"),
    (exceptions.ParseError, "malformed_request"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.PermissionDenied, "permission_denied"),
)


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    """``{"files": ["This field is required."]}`` -> ``["files: This field ..."]``."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out += _flatten(value, "" if key == "non_field_errors" else name)
        return out
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, prefix)]
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def error_response(code: str, message: str, status_code: int) -> Response:
    return Response({"code": code, "message": message}, status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's ``EXCEPTION_HANDLER``: every failure as ``{"code", "message"}``."""
    if isinstance(exc, RateLimited):
        response = error_response(
            "rate_limited",
            f"Too many {'new sessions' if exc.what == 'sessions' else 'bytes'} "
            f"from this client; try again in {exc.retry_after} s.",
            429,
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, UploadError):
        set_rollback()
        return error_response(exc.code, exc.message, CODES[exc.code])
    if isinstance(exc, ApiError):
        set_rollback()
        return error_response(exc.code, exc.message, exc.status_code)
    if isinstance(exc, Http404):
        return error_response("not_found", "Not found.", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        return error_response(
            "permission_denied", str(exc) or "Permission denied.", 403
        )
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code = next(
            (c for cls, c in _DRF_CODES if isinstance(exc, cls)),
            str(exc.default_code),
        )
        lines = _flatten(exc.detail)
        response = error_response(code, "; ".join(lines), exc.status_code)
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        return response
    if isinstance(exc, RequestDataTooBig):
        return error_response("request_too_large", str(exc), 413)
    if isinstance(exc, TooManyFilesSent):
        return error_response("too_many_files", str(exc), 413)
    if isinstance(exc, SuspiciousOperation | UnreadablePostError):
        return error_response("bad_request", str(exc) or "Bad request.", 400)
    if isinstance(exc, StorageUnavailable):
        logger.error("Storage unavailable: %s", exc)
        response = error_response(
            "storage_unavailable", STORAGE_UNAVAILABLE_MESSAGE, 503
        )
        response["Retry-After"] = str(RETRY_AFTER)
        return response
    logger.exception("Unexpected error in %s", type(context.get("view")).__name__)
    return error_response("internal_error", "An unexpected error occurred.", 500)
