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

It is sync and async capable. Under ASGI (an async middleware chain) it saves
with the engine's ``asave()``, on the engine's thread pool, where Django's
own middleware would hop to the request's sync thread for the whole response
phase. The cookie it sets is the one Django's middleware sets.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import (
    SessionMiddleware as DjangoSessionMiddleware,
)
from django.http import HttpRequest, HttpResponse
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

from sessions_blob.exceptions import ConcurrentUpdateError, StorageUnavailable

logger = logging.getLogger("sessions_blob")

#: Seconds a client is asked to wait before trying again.
RETRY_AFTER = 5
#: The same when other requests kept changing the session under a write
#: (``ConcurrentUpdateError``): they are done in a moment.
CONTENDED_RETRY_AFTER = 1

_PLAIN_BODY = "<h1>Service unavailable</h1><p>Please try again in a moment.</p>"


_INTERRUPTED = (
    "The request's session was deleted before the request completed. The user "
    "may have logged out in a concurrent request, for example."
)


class SessionMiddleware(DjangoSessionMiddleware):
    sync_capable = True
    async_capable = True

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        # MiddlewareMixin would run both phases through sync_to_async; making
        # the (lazy) session store does no I/O, and the save is awaited.
        self.process_request(request)
        pending: Any = self.get_response(request)  # a coroutine in async mode
        return await self.aprocess_response(request, await pending)

    def process_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        if self._load_failed(request, response):
            return self._unavailable(request, "a session load failed")
        saving = self._must_save(request, response)
        if saving:
            try:
                request.session.save()
            except (StorageUnavailable, UpdateError) as exc:
                return self._save_failed(request, exc)
        return self._set_cookie(request, response, saved=saving)

    async def aprocess_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        """``process_response()`` for the async chain: saves with ``asave()``."""
        if self._load_failed(request, response):
            return self._unavailable(request, "a session load failed")
        saving = self._must_save(request, response)
        if saving:
            try:
                await request.session.asave()
            except (StorageUnavailable, UpdateError) as exc:
                return self._save_failed(request, exc)
        return self._set_cookie(request, response, saved=saving)

    def _save_failed(self, request: HttpRequest, exc: Exception) -> HttpResponse:
        """The answer when the session could not be saved: 503 while the store
        is down or the retries ran out, else Django's SessionInterrupted."""
        if isinstance(exc, StorageUnavailable):
            return self._unavailable(request, exc)
        if isinstance(exc, ConcurrentUpdateError):
            return self._contended(request, exc)
        raise SessionInterrupted(_INTERRUPTED) from exc  # the cause says which

    @staticmethod
    def _load_failed(request: HttpRequest, response: HttpResponse) -> bool:
        # The load failed where process_exception cannot see it (another
        # middleware's process_view, e.g. LoginRequiredMiddleware), and
        # Django already made a 500 of it.
        session = getattr(request, "session", None)
        return response.status_code == 500 and bool(
            getattr(session, "storage_unavailable", False)
        )

    @staticmethod
    def _must_save(request: HttpRequest, response: HttpResponse) -> bool:
        """Django's rule: a changed (or, with SESSION_SAVE_EVERY_REQUEST, any)
        non-empty session is saved, unless the response is a server error."""
        session: Any = getattr(request, "session", None)
        if session is None or session.is_empty():
            return False
        changed = session.modified or settings.SESSION_SAVE_EVERY_REQUEST
        return bool(changed) and response.status_code < 500

    @staticmethod
    def _set_cookie(
        request: HttpRequest, response: HttpResponse, *, saved: bool
    ) -> HttpResponse:
        """The cookie after the save (no storage call): deleted for a session
        emptied, refreshed for one saved; ``Vary: Cookie`` once it was used."""
        session: Any = getattr(request, "session", None)
        if session is None:
            return response
        cookie: Any = settings  # django-stubs types the settings narrower
        name = cookie.SESSION_COOKIE_NAME
        vary = session.accessed
        if name in request.COOKIES and session.is_empty():
            response.delete_cookie(
                name,
                path=cookie.SESSION_COOKIE_PATH,
                domain=cookie.SESSION_COOKIE_DOMAIN,
                samesite=cookie.SESSION_COOKIE_SAMESITE,
            )
            vary = True
        elif saved:
            max_age: int | None = None
            expires: str | None = None
            if not session.get_expire_at_browser_close():
                max_age = session.get_expiry_age()
                expires = http_date(time.time() + max_age)
            response.set_cookie(
                name,
                session.session_key,
                max_age=max_age,
                expires=expires,
                domain=cookie.SESSION_COOKIE_DOMAIN,
                path=cookie.SESSION_COOKIE_PATH,
                secure=bool(cookie.SESSION_COOKIE_SECURE),
                httponly=bool(cookie.SESSION_COOKIE_HTTPONLY),
                samesite=cookie.SESSION_COOKIE_SAMESITE,
            )
            vary = True
        if vary:
            patch_vary_headers(response, ("Cookie",))
        return response

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
