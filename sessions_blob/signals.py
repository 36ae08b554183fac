"""Signals the engine sends, for apps that keep data beside their sessions.

``sessions_deleted`` is sent after session objects were deleted: by a logout
or ``flush()`` (``SessionStore.delete()``), by staff in the admin, by
``manage.py sessions_blob logout_user``, or by ``clearsessions`` and the
admin's "delete expired". Receivers get:

- ``sender``: the ``SessionStore`` class of ``SESSION_ENGINE``;
- ``sessions``: a list of :class:`DeletedSession`;
- ``reason``: one of ``REASONS`` (``"deleted"``, ``"staff"``,
  ``"logout_user"``, ``"expired"``).

``DeletedSession.data`` is the session's verified data as it was stored,
when the engine had read it anyway; ``None`` when the deletion was decided
without reading the object (``clearsessions`` proves most expiries from the
storage listing alone). An app that must clean up after every deleted
session therefore also needs a sweep of its own for data no live session
refers to, as ``clearsessions`` is for sessions.

The signal is sent with ``send_robust()``: the sessions are already gone, so
a receiver that fails is logged on the ``sessions_blob`` logger and never
turns a logout into an error. A session whose key changes (``cycle_key()``,
at login) lives on under its new key and is not reported as deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger("sessions_blob")

REASONS = ("deleted", "staff", "logout_user", "expired")

sessions_deleted = Signal()


@dataclass(frozen=True, slots=True)
class DeletedSession:
    #: SHA-256 of the session key: the name of the deleted object.
    object_id: str
    #: The verified session data, or None when it was not read.
    data: Mapping[str, Any] | None = None


def send_sessions_deleted(
    sender: type[Any], sessions: Sequence[DeletedSession], reason: str
) -> None:
    """Tell the receivers, logging (never raising) what they raise."""
    if not sessions or not sessions_deleted.has_listeners(sender):
        return
    assert reason in REASONS, reason
    for receiver, outcome in sessions_deleted.send_robust(
        sender, sessions=list(sessions), reason=reason
    ):
        if isinstance(outcome, Exception):
            logger.error(
                "A sessions_deleted receiver (%s) failed after %d sessions were "
                "deleted",
                getattr(receiver, "__qualname__", receiver),
                len(sessions),
                exc_info=outcome,
            )
