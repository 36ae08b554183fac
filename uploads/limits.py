"""Per-client limits on what anonymous clients can make the site store.

Two budgets per client address and window (``UPLOADS_RATE_WINDOW`` seconds):
new sessions (``UPLOADS_NEW_SESSIONS_PER_WINDOW``) and upload bytes
(``UPLOADS_UPLOAD_BYTES_PER_WINDOW``, charged from ``Content-Length`` before
the body is read, or a direct upload's declared size before it is signed).
Over either, the API answers 429 ``rate_limited`` with ``Retry-After`` (the
seconds left in the window).

Fixed windows counted in Django's cache (``cache.incr``, atomic on Redis):
with ``REDIS_URL`` every instance shares the counters; the embedded default's
per-process memory cache counts per process. django-ratelimit counts
requests, not bytes, so the few lines here do both budgets the same way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest

from uploads.conf import conf


@dataclass(frozen=True)
class RateLimited(Exception):
    """A budget is spent; ``retry_after`` seconds until the window ends."""

    what: str
    retry_after: int


def client_address(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind a proxy the last
    address it appended to ``UPLOADS_CLIENT_IP_HEADER`` (X-Forwarded-For)."""
    header = conf.CLIENT_IP_HEADER
    if header:
        forwarded = request.headers.get(header, "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return str(request.META.get("REMOTE_ADDR", "unknown"))


def _charge(budget: str, client: str, amount: int, limit: int) -> None:
    window = conf.RATE_WINDOW
    now = time.time()
    key = f"uploads:limit:{budget}:{client}:{int(now // window)}"
    cache.add(key, 0, timeout=window + 5)
    try:
        total = cache.incr(key, amount)
    except ValueError:  # evicted between add() and incr(): start it again
        cache.add(key, amount, timeout=window + 5)
        total = amount
    if total > limit:
        raise RateLimited(budget, max(1, math.ceil(window - now % window)))


def charge_upload(
    request: HttpRequest, *, new_session: bool, size: int | None = None
) -> None:
    """Charge an upload to its client: ``size`` bytes (a direct upload's
    declared size), else the request's own ``Content-Length``. ``RateLimited``
    when over."""
    client = client_address(request)
    if new_session:
        _charge("sessions", client, 1, conf.NEW_SESSIONS_PER_WINDOW)
    length = int(request.META.get("CONTENT_LENGTH") or 0) if size is None else size
    if length:
        _charge("bytes", client, length, conf.UPLOAD_BYTES_PER_WINDOW)
