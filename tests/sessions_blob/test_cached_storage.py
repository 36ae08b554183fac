"""The cached tier: Redis in front of the object store."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import caches

from sessions_blob.backends.cached_storage import SessionStore
from sessions_blob.backends.storage import SessionStore as UncachedStore
from tests.sessions_blob.conftest import Tier
from tests.sessions_blob.test_backend import concurrent_changes


def test_cached_read_makes_no_storage_call(tier: Tier, redis_cache: str) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    tier.calls.clear()
    assert SessionStore(session.session_key)["a"] == 1
    assert tier.calls == {}
    changed = SessionStore(session.session_key)
    changed["a"] = 2
    changed.save()
    assert tier.calls == {"replace": 1}  # the version came from the cache


def test_stale_cache_never_loses_an_update(tier: Tier, redis_cache: str) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = session.session_key
    # Another instance writes through the store without touching the cache.
    other = UncachedStore(key)
    other["b"] = 2
    other.save()
    stale = SessionStore(key)
    assert "b" not in stale  # the cache still has the old version
    stale["c"] = 3
    stale.save()  # If-Match fails, reload from the store, re-apply
    assert dict(UncachedStore(key).items()) == {"a": 1, "b": 2, "c": 3}
    assert dict(SessionStore(key).items()) == {"a": 1, "b": 2, "c": 3}


def test_concurrent_updates_through_the_cache_all_survive(
    tier: Tier, redis_cache: str
) -> None:
    if not tier.atomic:
        pytest.skip("check-then-write mode (no conditional PUTs)")
    seed = SessionStore()
    seed["base"] = True
    seed.save()
    assert concurrent_changes(seed.session_key, 20, SessionStore) == []
    data = dict(UncachedStore(seed.session_key).items())
    assert {k for k in data if k.startswith("k")} == {f"k{n}" for n in range(20)}


def test_delete_clears_the_cache(tier: Tier, redis_cache: str) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = session.session_key
    session.delete()
    assert SessionStore(key).load() == {}


def test_cache_outage_falls_back_to_the_store(
    tier: Tier, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "dead": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.SESSION_CACHE_ALIAS = "dead"
    with caplog.at_level(logging.ERROR, logger="sessions_blob"):
        session = SessionStore()
        session["a"] = 1
        session.save()
        assert SessionStore(session.session_key)["a"] == 1
    assert any("cache" in r.getMessage() for r in caplog.records)
    caches["dead"].close()
