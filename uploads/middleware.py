"""Django's SessionMiddleware, plus the ``X-Session-ID`` header for API clients.

Browsers carry the session by cookie; API clients send the session key in the
``X-Session-ID`` header, which wins over a cookie. The header is a transport
of the API alone: it is read only under ``UPLOADS_API_PREFIX`` (the admin and
the pages never see it), and a session that arrived by it never
authenticates a Django user (its login keys read as absent), so a key sent
by header opens no staff page and carries no login. The engine validates the
key's shape, so a junk key is simply a session that does not exist.

``session_source(request)`` tells later code where the key came from (the
CSRF rule depends on it). While the session storage is down, API requests get
the API's JSON error (``storage_unavailable``, 503) and pages the site's
``503.html``.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers

from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.middleware import SessionMiddleware as BlobSessionMiddleware
from uploads.conf import conf
from uploads.errors import STORAGE_UNAVAILABLE_MESSAGE

SESSION_HEADER = "X-Session-ID"
_META_KEY = "HTTP_X_SESSION_ID"
_SOURCE_ATTR = "_uploads_session_source"

Source = Literal["header", "cookie", "none"]
#: What Django's auth keeps in a session: never read from a header session.
_LOGIN_KEYS = frozenset({SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY})


@functools.cache
def header_session_class(store_class: type[SessionBase]) -> type[SessionBase]:
    """``store_class`` whose login keys read as absent: an API credential for
    an upload session, never a login."""

    # Django salts signatures with the class's name: sign as the engine does.
    salt = str(store_class().key_salt)

    class HeaderSession(store_class):  # type: ignore[valid-type,misc]
        key_salt = salt

        def __getitem__(self, key: str) -> Any:
            if key in _LOGIN_KEYS:
                raise KeyError(key)
            return super().__getitem__(key)

        def get(self, key: str, default: Any = None) -> Any:
            return default if key in _LOGIN_KEYS else super().get(key, default)

        def __contains__(self, key: object) -> bool:
            return key not in _LOGIN_KEYS and super().__contains__(key)

    HeaderSession.__name__ = f"Header{store_class.__name__}"
    return HeaderSession


def session_source(request: HttpRequest) -> Source:
    """``header``, ``cookie`` or ``none``: where the request's session id came from."""
    return getattr(request, _SOURCE_ATTR, "none")


class SessionMiddleware(BlobSessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        key = request.META.get(_META_KEY, "").strip()
        if key and request.path_info.startswith(conf.API_PREFIX):
            request.session = header_session_class(self.SessionStore)(key)
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
