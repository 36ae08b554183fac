"""The per-user index behind ``sessions_blob logout_user`` and the admin's
"sessions of a user", kept by the engine on every storage tier."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from sessions_blob import user_index
from sessions_blob.backends.storage import SessionStore
from sessions_blob.records import object_id
from tests.support.tiers import RACE_TIERS, Tier

pytestmark = pytest.mark.django_db


def indexed(user: str) -> set[str]:
    return set(user_index.session_ids(user))


def test_a_login_adds_one_write_and_other_requests_none(tier: Tier) -> None:
    session = SessionStore()
    session["cart"] = 1
    session.save()
    key = session.session_key
    tier.calls.clear()
    anonymous = SessionStore(key)
    anonymous["cart"] = 2
    anonymous.save()
    assert tier.calls == {"read": 1, "replace": 1}
    tier.calls.clear()
    login = SessionStore(key)
    login[SESSION_KEY] = "5"
    login.save()
    # The index: one read, one write (a create the first time).
    assert tier.calls == {"read": 2, "replace": 1, "create": 1}
    assert indexed("5") == {object_id(key)}
    tier.calls.clear()
    request = SessionStore(key)
    request["cart"] = 3
    request.save()
    assert tier.calls == {"read": 1, "replace": 1}
    tier.calls.clear()
    SessionStore(key).load()
    assert tier.calls == {"read": 1}


def test_a_second_login_updates_the_index(tier: Tier) -> None:
    first = SessionStore()
    first[SESSION_KEY] = "5"
    first.save()
    tier.calls.clear()
    second = SessionStore()
    second[SESSION_KEY] = "5"
    second.save()
    assert tier.calls == {"read": 1, "create": 1, "replace": 1}
    assert indexed("5") == {object_id(first.session_key), object_id(second.session_key)}


def test_cycle_key_flush_and_user_change(tier: Tier) -> None:
    session = SessionStore()
    session[SESSION_KEY] = "5"
    session.save()
    old = session.session_key
    loaded = SessionStore(old)
    loaded.load()
    loaded.cycle_key()  # login() of the same user again
    assert indexed("5") == {object_id(loaded.session_key)}
    switched = SessionStore(loaded.session_key)
    switched[SESSION_KEY] = "6"
    switched.save()
    assert indexed("5") == set()
    assert indexed("6") == {object_id(switched.session_key)}
    gone = SessionStore(switched.session_key)
    gone.load()
    gone.flush()  # logout()
    assert indexed("6") == set()


@pytest.mark.parametrize("tier", ["filesystem", "s3"], indirect=True)
def test_login_and_logout_through_django_auth(
    tier: Tier, django_user_model: Any
) -> None:
    ada = django_user_model.objects.create_user("ada", password="pw")
    browser = Client()
    assert browser.login(username="ada", password="pw")
    key = browser.session.session_key
    assert indexed(str(ada.pk)) == {object_id(key)}
    assert tier.objects() == [f"{tier.prefix}{object_id(key)}.json"]  # index beside
    browser.logout()
    assert indexed(str(ada.pk)) == set()


@pytest.mark.parametrize("tier", RACE_TIERS, indirect=True)
def test_concurrent_logins_of_one_user_are_all_indexed(tier: Tier) -> None:
    if not tier.atomic:
        pytest.skip("no atomic conditional PUTs on this tier")
    keys: list[str] = []
    barrier = threading.Barrier(5)

    def login() -> None:
        session = SessionStore()
        session[SESSION_KEY] = "77"
        barrier.wait()
        session.save()
        assert session.session_key is not None
        keys.append(session.session_key)

    threads = [threading.Thread(target=login) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert indexed("77") == {object_id(k) for k in keys} and len(keys) == 5


@pytest.mark.parametrize("tier", ["filesystem"], indirect=True)
def test_the_index_prunes_gone_sessions_when_it_grows(
    tier: Tier, monkeypatch: Any
) -> None:
    monkeypatch.setattr(user_index, "PRUNE_AT", 3)
    sessions = []
    for _ in range(3):
        session = SessionStore()
        session[SESSION_KEY] = "8"
        session.save()
        sessions.append(session)
    for session in sessions[:2]:
        tier.store.delete(f"{tier.prefix}{object_id(session.session_key)}.json")
    latest = SessionStore()
    latest[SESSION_KEY] = "8"
    latest.save()
    assert indexed("8") == {
        object_id(sessions[2].session_key),
        object_id(latest.session_key),
    }


@pytest.mark.parametrize("tier", ["filesystem"], indirect=True)
def test_a_login_the_index_cannot_list_is_not_written(
    tier: Tier, monkeypatch: Any, caplog: Any
) -> None:
    """The index never misses a logged-in session, so a login it cannot list
    fails; a logout it cannot unlist still happens (the entry is harmless)."""
    listed = user_index.update

    def failing(add: bool) -> Any:
        def update(user_id: str, **changes: Any) -> None:
            if bool(changes.get("add")) == add:
                raise OSError("disk full")
            listed(user_id, **changes)

        return update

    monkeypatch.setattr(user_index, "update", failing(add=True))
    session = SessionStore()
    session[SESSION_KEY] = "5"
    with pytest.raises(OSError):
        session.save()
    assert tier.objects() == []

    monkeypatch.setattr(user_index, "update", listed)
    session = SessionStore()  # the login, tried again
    session[SESSION_KEY] = "5"
    session.save()
    key = session.session_key
    assert user_index.session_ids("5") == [object_id(key)]

    monkeypatch.setattr(user_index, "update", failing(add=False))
    logged_out = SessionStore(key)
    del logged_out[SESSION_KEY]
    logged_out.save()
    assert SESSION_KEY not in SessionStore(key)
    assert "Could not update the user index" in caplog.text
