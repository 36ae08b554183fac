"""The engine's suite: fixtures of its own (the tiers are in tests/support)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _own_prefix(settings: Any) -> None:
    """A prefix of its own keeps each test's listing to its own sessions."""
    settings.SESSIONS_BLOB_PREFIX = f"sessions-{uuid.uuid4().hex[:12]}/"
