"""Whole requests through Django's SessionMiddleware, counting storage calls."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.support.tiers import Tier

pytestmark = [pytest.mark.urls("tests.sessions_blob.urls"), pytest.mark.django_db]


def test_storage_calls_per_request(tier: Tier) -> None:
    client = Client()
    assert client.get("/increment").json() == {"count": 1}
    assert tier.calls == {"create": 1}
    assert settings.SESSION_COOKIE_NAME in client.cookies

    tier.calls.clear()
    client.get("/untouched")
    assert tier.calls == {}

    assert client.get("/read").json() == {"count": 1}
    assert tier.calls == {"read": 1}

    tier.calls.clear()
    assert client.get("/increment").json() == {"count": 2}
    assert tier.calls == {"read": 1, "replace": 1}
    if tier.name == "s3":
        assert tier.http_calls() == {"PutObject": 2, "GetObject": 2}


def test_cookie_for_missing_session_starts_a_new_one(tier: Tier) -> None:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "z" * 32
    assert client.get("/increment").json() == {"count": 1}
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != "z" * 32


def test_path_like_cookie_is_a_missing_session(tier: Tier) -> None:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "../../../etc/passwd"
    assert client.get("/read").json() == {"count": 0}
    assert tier.calls == {}


def test_logout_in_a_concurrent_request_is_not_undone(tier: Tier) -> None:
    """A request that loaded the session before a logout must not recreate it."""
    from django.contrib.sessions.exceptions import SessionInterrupted

    from sessions_blob.backends.storage import SessionStore

    client = Client(raise_request_exception=True)
    client.get("/increment")
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    slow = SessionStore(key)
    slow["count"] = 99
    client.get("/logout")
    with pytest.raises(Exception) as info:
        slow.save()
    assert not isinstance(
        info.value, SessionInterrupted
    )  # the store raises UpdateError
    assert SessionStore(key).load() == {}
