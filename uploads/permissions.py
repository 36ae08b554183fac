"""The API's CSRF rule, in one place.

DRF's views are exempt from Django's CSRF middleware. A browser request whose
session comes only from the cookie is what CSRF attacks forge, so such a
request must pass Django's CSRF check (token in ``X-CSRFToken``, as for any
Django form). So must a browser's request without a session: a cross-site
form (which SameSite=Lax sends without the cookie) would otherwise create a
session of the attacker's choosing and plant it in the visitor's cookie. A
request naming its session in the ``X-Session-ID`` header cannot be forged
cross-site (a custom header needs CORS), and API clients without a session
send no ``Origin`` or ``Sec-Fetch-Site``: neither is checked.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.authentication import CSRFCheck
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from uploads.errors import ApiError
from uploads.middleware import session_source


def _no_response(request: Any) -> None:
    return None


def from_a_browser(request: Request | HttpRequest) -> bool:
    """Browsers send ``Origin`` on cross-origin and unsafe requests, and
    ``Sec-Fetch-Site`` on every request; API clients send neither."""
    meta = request.META
    return "HTTP_ORIGIN" in meta or "HTTP_SEC_FETCH_SITE" in meta


class CsrfForCookieSessions(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        source = session_source(request._request)
        if source == "header" or (source == "none" and not from_a_browser(request)):
            return True
        check = CSRFCheck(_no_response)
        check.process_request(request)  # reads the CSRF cookie into META
        reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
        if reason:
            raise ApiError("csrf_failed", f"CSRF check failed: {reason.rstrip('.')}.")
        return True
