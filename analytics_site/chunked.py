"""Request bodies sent with ``Transfer-Encoding: chunked`` under WSGI.

A chunked body has no ``Content-Length``, and Django's WSGI request reads at
most ``CONTENT_LENGTH`` bytes: without one, an upload arrives empty ("No file
arrived"), although the server (gunicorn) decodes the chunks. This WSGI
middleware spools such a body to a temporary file (on disk past 2 MiB, never
whole in memory) and hands Django its length, up to the largest upload the
API accepts; a longer body gets the API's 413 before Django sees it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from uploads.conf import conf
from uploads.parsers import PART_OVERHEAD

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_SPOOL_IN_MEMORY = 2 * 1024 * 1024
_CHUNK = 64 * 1024


def _limit() -> int:
    """The longest body the upload endpoint accepts."""
    return conf.MAX_FILES * (conf.MAX_FILE_SIZE + PART_OVERHEAD) + PART_OVERHEAD


class ChunkedBodies:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked or environ.get("CONTENT_LENGTH"):
            return self.app(environ, start_response)
        limit = _limit()
        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115  (closed below)
            max_size=_SPOOL_IN_MEMORY, dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        size = 0
        source = environ["wsgi.input"]
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                spool.close()
                return _too_large(start_response, limit)
            spool.write(chunk)
        spool.seek(0)
        environ["wsgi.input"] = spool
        environ["CONTENT_LENGTH"] = str(size)
        try:
            return _closing(self.app(environ, start_response), spool)
        except BaseException:
            spool.close()
            raise


def _closing(body: Iterable[bytes], spool: Any) -> Iterable[bytes]:
    try:
        yield from body
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
        spool.close()


def _too_large(start_response: StartResponse, limit: int) -> list[bytes]:
    body = json.dumps(
        {
            "code": "request_too_large",
            "message": f"The request body is over {limit} bytes.",
        }
    ).encode()
    start_response(
        "413 Request Entity Too Large",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


__all__ = ["ChunkedBodies"]
