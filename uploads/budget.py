"""A bound on the time one request may spend waiting for the storage.

botocore bounds each call (connect and read timeouts, a few attempts with
backoff), but a request makes several calls, and a stalled store can hold
one for longer than the server's worker timeout (gunicorn's 30 s), which
kills it with a bare 500. ``StorageBudgetMiddleware`` gives each request a
budget of ``UPLOADS_STORAGE_TIME_BUDGET`` seconds of waiting for S3 (time
from sending a request to its answer or failure, every attempt counted;
not the client's upload time, nor profiling). Each request of
``uploads.s3storage.BudgetedS3Storage``'s clients checks it before it is
sent and, once it is spent, fails at once with ``StorageTimeBudgetSpent``, a
botocore error: the engine and the API answer 503 ``storage_unavailable``
with Retry-After. The worst case is the budget plus one call's timeouts:
keep that below the server's timeout.

Requests sent from other threads (s3transfer's part uploads) are bounded by
botocore's timeouts alone.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from uploads.conf import conf

HANDLER_ID = "uploads-storage-time-budget"


@dataclass
class Budget:
    limit: float
    spent: float = 0.0
    sent_at: float | None = None


_budget: ContextVar[Budget | None] = ContextVar("uploads_storage_budget", default=None)


@functools.cache
def _budget_error() -> Any:
    from botocore.exceptions import BotoCoreError  # only where S3 is used

    class StorageTimeBudgetSpent(BotoCoreError):
        fmt = "This request waited {spent:.1f} s for the storage (budget {limit} s)."

    return StorageTimeBudgetSpent


@contextlib.contextmanager
def storage_budget(seconds: float) -> Iterator[Budget]:
    """Storage requests sent from this context wait ``seconds`` at most in all."""
    budget = Budget(limit=seconds)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def before_send(**_kwargs: Any) -> None:
    """botocore's ``before-send`` hook: refuse once the budget is spent."""
    budget = _budget.get()
    if budget is None:
        return
    if budget.spent >= budget.limit:
        raise _budget_error()(spent=budget.spent, limit=budget.limit)
    budget.sent_at = time.monotonic()


def response_received(**_kwargs: Any) -> None:
    """botocore's ``response-received`` hook (answers and failures alike)."""
    budget = _budget.get()
    if budget is not None and budget.sent_at is not None:
        budget.spent += time.monotonic() - budget.sent_at
        budget.sent_at = None


class StorageBudgetMiddleware:
    """Gives each request its storage budget; first in ``MIDDLEWARE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with storage_budget(conf.STORAGE_TIME_BUDGET):
            return self.get_response(request)
