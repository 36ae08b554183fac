"""Django's SessionMiddleware, plus the ``X-Session-ID`` header for API clients.

Browsers carry the session by cookie; API clients send the session id in the
``X-Session-ID`` header, which wins over a cookie. The engine validates the
key's shape, so a junk id is simply a session that does not exist.
``session_source(request)`` tells later code where the id came from (the
CSRF rule depends on it).
"""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from django.contrib.sessions.middleware import (
    SessionMiddleware as DjangoSessionMiddleware,
)
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

SESSION_HEADER = "X-Session-ID"
_META_KEY = "HTTP_X_SESSION_ID"
_SOURCE_ATTR = "_uploads_session_source"

Source = Literal["header", "cookie", "none"]


def session_source(request: HttpRequest) -> Source:
    """``header``, ``cookie`` or ``none``: where the request's session id came from."""
    return getattr(request, _SOURCE_ATTR, "none")


class SessionMiddleware(DjangoSessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        key = request.META.get(_META_KEY, "").strip()
        if key:
            request.session = self.SessionStore(key)
            source: Source = "header"
        else:
            super().process_request(request)
            cookie = settings.SESSION_COOKIE_NAME in request.COOKIES
            source = "cookie" if cookie else "none"
        setattr(request, _SOURCE_ATTR, source)

    def process_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        if session_source(request) == "header":
            patch_vary_headers(response, (SESSION_HEADER,))
            # The header names the session: leave the browser's cookie alone
            # (Django's middleware would delete it when the header's id is
            # junk) unless the session itself changed and must be saved.
            if not getattr(request.session, "modified", False):
                return response
        return super().process_response(request, response)
