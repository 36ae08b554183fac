"""A strict Content-Security-Policy header on every response.

Django 5.2 has no CSP support of its own, and one header does not need a
dependency. The site's pages load scripts and styles only from their own
static files (no inline ``<script>``, no ``style`` attributes, no ``eval``), and
draw charts as inline SVG, so the policy is ``'self'`` for everything.

The one exception is drf-spectacular's Swagger UI at ``/api/docs/``, whose
page has an inline ``<style>`` and an inline init ``<script>``: it gets
``'unsafe-inline'`` for both, on that path only (configurable).

Settings, read on each response:

- ``CONTENT_SECURITY_POLICY: str`` — the policy (default :data:`POLICY`).
- ``CONTENT_SECURITY_POLICY_PATHS: dict[str, str]`` — path prefix → policy for
  pages that cannot satisfy the default (default :data:`PATH_POLICIES`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

POLICY = (
    "default-src 'self'; "
    "img-src 'self' data:; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)

PATH_POLICIES = {
    "/api/docs/": POLICY
    + "; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'",
}


def policy_for(path: str) -> str:
    paths: dict[str, str] = getattr(
        settings, "CONTENT_SECURITY_POLICY_PATHS", PATH_POLICIES
    )
    for prefix, policy in paths.items():
        if path.startswith(prefix):
            return policy
    return str(getattr(settings, "CONTENT_SECURITY_POLICY", POLICY))


class ContentSecurityPolicyMiddleware:
    """Adds the policy unless the response already has one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy_for(request.path)
        return response
