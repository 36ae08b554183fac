"""Django's SessionMiddleware, answering 503 while the session storage is down.

With Django's own middleware a failed session load or save is an unhandled
exception, so the client gets a 500 as if the site were broken. Here the
engine's ``StorageUnavailable`` becomes ``503 Service Unavailable`` (rendered
from a ``503.html`` template when the project has one): the client may retry,
and nothing was saved over the stored session. So does a write that met a
newer version on every one of its ``SESSIONS_BLOB_MAX_RETRIES``
(``ConcurrentUpdateError``, which Django's middleware answers with 400),
with ``Retry-After: 1``.

Use it in place of ``django.contrib.sessions.middleware.SessionMiddleware``;
override ``storage_unavailable_response()`` to answer in another format.
"""

from __future__ import annotations

import logging

from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import (
    SessionMiddleware as DjangoSessionMiddleware,
)
from django.http import HttpRequest, HttpResponse
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from sessions_blob.exceptions import ConcurrentUpdateError, StorageUnavailable

logger = logging.getLogger("sessions_blob")

#: Seconds a client is asked to wait before trying again.
RETRY_AFTER = 5
#: The same when other requests kept changing the session under a write
#: (``ConcurrentUpdateError``): they are done in a moment.
CONTENDED_RETRY_AFTER = 1

_PLAIN_BODY = "<h1>Service unavailable</h1><p>Please try again in a moment.</p>"


class SessionMiddleware(DjangoSessionMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        session = getattr(request, "session", None)
        if response.status_code == 500 and getattr(
            session, "storage_unavailable", False
        ):
            # The load failed where process_exception cannot see it (another
            # middleware's process_view, e.g. LoginRequiredMiddleware), and
            # Django already made a 500 of it.
            return self._unavailable(request, "a session load failed")
        try:
            return super().process_response(request, response)
        except StorageUnavailable as exc:  # the save failed
            return self._unavailable(request, exc)
        except SessionInterrupted as exc:
            # Django's answer (400) to any UpdateError. When the session was
            # still there but changed under every retry of this request's
            # write, the client did nothing wrong: the same request may well
            # succeed in a moment.
            if not isinstance(exc.__context__, ConcurrentUpdateError):
                raise
            return self._contended(request, exc.__context__)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if isinstance(exception, StorageUnavailable):  # a view's load failed
            return self._unavailable(request, exception)
        return None

    def storage_unavailable_response(
        self, request: HttpRequest, exc: StorageUnavailable | str
    ) -> HttpResponse:
        """The answer while the storage is down; ``503.html`` if there is one.

        Rendered without the request: context processors would touch
        ``request.user`` and so the session that cannot be loaded.
        """
        body: str
        try:
            body = render_to_string("503.html")
        except TemplateDoesNotExist:
            body = _PLAIN_BODY
        return HttpResponse(body, status=503)

    def _contended(
        self, request: HttpRequest, exc: ConcurrentUpdateError
    ) -> HttpResponse:
        logger.warning(
            "Session not saved during %s %s: %s", request.method, request.path, exc
        )
        response = self.storage_unavailable_response(request, str(exc))
        response["Retry-After"] = str(CONTENDED_RETRY_AFTER)
        response["Cache-Control"] = "no-store"
        return response

    def _unavailable(
        self, request: HttpRequest, exc: StorageUnavailable | str
    ) -> HttpResponse:
        logger.error(
            "Session storage unavailable during %s %s: %s",
            request.method,
            request.path,
            exc,
        )
        response = self.storage_unavailable_response(request, exc)
        response["Retry-After"] = str(RETRY_AFTER)
        # Never cached: the next try may well succeed.
        response["Cache-Control"] = "no-store"
        return response
