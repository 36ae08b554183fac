"""Objects a process has verified are not checked again (sessions_blob.verified):
what must still hold when the same bytes come back."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from sessions_blob.backends import storage
from sessions_blob.backends.storage import SessionStore
from sessions_blob.records import now
from tests.support.sessions import make_session, tamper
from tests.support.tiers import Tier


def test_a_tampered_copy_of_a_verified_session_is_still_refused(
    tier: Tier, caplog: pytest.LogCaptureFixture
) -> None:
    key = make_session(role="viewer").session_key
    assert SessionStore(key)["role"] == "viewer"  # verified, remembered
    tamper(key)
    with caplog.at_level(logging.WARNING, "django.security.SuspiciousSession"):
        assert dict(SessionStore(key).items()) == {}
    assert "corrupt" in caplog.text


def test_what_an_old_secret_verified_does_not_pass_under_a_new_one(
    tier: Tier, settings: Any
) -> None:
    key = make_session(a=1).session_key
    old = settings.SECRET_KEY
    assert SessionStore(key)["a"] == 1
    settings.SECRET_KEY = "another secret " + "x" * 40
    assert dict(SessionStore(key).items()) == {}
    settings.SECRET_KEY_FALLBACKS = [old]
    assert SessionStore(key)["a"] == 1


def test_changes_that_were_not_saved_do_not_reach_the_next_load(tier: Tier) -> None:
    key = make_session(items=[1], nested={"n": 1}).session_key
    first = SessionStore(key)
    first["items"].append(2)  # changed in place, never saved
    first["nested"]["n"] = 99
    second = SessionStore(key)
    assert second["items"] == [1] and second["nested"] == {"n": 1}


def test_a_verified_session_still_expires(
    tier: Tier, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = SessionStore()
    session["a"] = 1
    session.set_expiry(600)
    session.save()
    assert SessionStore(session.session_key)["a"] == 1
    later = now() + dt.timedelta(minutes=11)
    monkeypatch.setattr(storage, "now", lambda: later)
    assert dict(SessionStore(session.session_key).items()) == {}
