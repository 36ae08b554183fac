"""Session engines: ``storage`` (object storage) and ``cached_storage``."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from sessions_blob.backends.storage import SessionStore


def configured_engine() -> type[SessionStore] | None:
    """``SESSION_ENGINE``'s ``SessionStore`` when it is this app's engine (or
    a subclass, such as ``cached_storage``), else None."""
    from sessions_blob.backends.storage import SessionStore

    try:
        engine = import_module(settings.SESSION_ENGINE).SessionStore
    except (ImportError, AttributeError):
        return None
    if isinstance(engine, type) and issubclass(engine, SessionStore):
        return engine
    return None
