"""The API's CSRF rule, in one place.

DRF's views are exempt from Django's CSRF middleware. A browser request whose
session comes only from the cookie is what CSRF attacks forge, so such a
request must pass Django's CSRF check (token in ``X-CSRFToken``, as for any
Django form). A request naming its session in the ``X-Session-ID`` header
cannot be forged cross-site (a custom header needs CORS), and one without a
session cookie has nothing to ride on: neither is checked.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import CSRFCheck
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from uploads.errors import ApiError
from uploads.middleware import session_source


def _no_response(request: Any) -> None:
    return None


class CsrfForCookieSessions(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if session_source(request._request) != "cookie":
            return True
        check = CSRFCheck(_no_response)
        check.process_request(request)  # reads the CSRF cookie into META
        reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
        if reason:
            raise ApiError("csrf_failed", f"CSRF check failed: {reason.rstrip('.')}.")
        return True
