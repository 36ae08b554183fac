"""Exceptions raised by the session engine beyond Django's own.

Django's ``CreateError`` and ``UpdateError`` keep their meaning; these cover
what Django's database backend never meets: an object store that is down, a
session that outgrew its limit, a store that cannot honour conditional writes.
"""

from django.contrib.sessions.backends.base import UpdateError
from django.core.exceptions import ImproperlyConfigured


class StorageUnavailable(Exception):
    """The session storage could not be reached or answered with an error.

    Raised instead of treating the session as missing, so that an outage never
    logs users out by saving an empty session over their real one.
    """


class SessionTooLarge(ValueError):
    """The encoded session is bigger than ``SESSIONS_BLOB_MAX_SIZE``."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"Session object is {size} bytes, over the limit of {limit} bytes "
            "(SESSIONS_BLOB_MAX_SIZE). Keep large data in storage and put a "
            "reference in the session."
        )


class ConflictError(UpdateError):
    """``save_if_unchanged()`` found a version newer than the one loaded."""


class ConcurrentUpdateError(UpdateError):
    """Every retry of an optimistic update met a newer version."""


class ConditionalWritesUnsupported(ImproperlyConfigured):
    """The store rejects conditional PUTs and strict mode is on."""
