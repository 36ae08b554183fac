"""Django's SessionMiddleware, plus the ``X-Session-ID`` header for API clients.

Browsers carry the session by cookie; API clients send the session id in the
``X-Session-ID`` header, which wins over a cookie. The engine validates the
key's shape, so a junk id is simply a session that does not exist.
``session_source(request)`` tells later code where the id came from (the
CSRF rule depends on it). While the session storage is down, API requests get
the API's JSON error (``storage_unavailable``, 503) and pages the site's
``503.html``.
"""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers

from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.middleware import SessionMiddleware as BlobSessionMiddleware
from uploads.errors import STORAGE_UNAVAILABLE_MESSAGE

SESSION_HEADER = "X-Session-ID"
_META_KEY = "HTTP_X_SESSION_ID"
_SOURCE_ATTR = "_uploads_session_source"

Source = Literal["header", "cookie", "none"]


def session_source(request: HttpRequest) -> Source:
    """``header``, ``cookie`` or ``none``: where the request's session id came from."""
    return getattr(request, _SOURCE_ATTR, "none")


class SessionMiddleware(BlobSessionMiddleware):
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

    def storage_unavailable_response(
        self, request: HttpRequest, exc: StorageUnavailable | str
    ) -> HttpResponse:
        match = request.resolver_match
        if match is not None and "uploads" in match.app_names:
            body = {
                "code": "storage_unavailable",
                "message": STORAGE_UNAVAILABLE_MESSAGE,
            }
            return JsonResponse(body, status=503)
        return super().storage_unavailable_response(request, exc)
