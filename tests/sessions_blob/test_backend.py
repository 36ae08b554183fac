"""The engine's behaviour, on every storage tier (see conftest.TIERS)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends.base import CreateError, UpdateError

from sessions_blob.backends import storage
from sessions_blob.backends.storage import SessionStore
from sessions_blob.exceptions import ConflictError, SessionTooLarge
from sessions_blob.records import SessionRecord, object_id, object_name
from tests.support.tiers import RACE_TIERS, Tier

pytestmark = pytest.mark.django_db(databases=[])


def new_session(**data: Any) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.save()
    return session


def stored(key: str) -> SessionRecord | None:
    from django.conf import settings

    from sessions_blob.stores import object_store

    found = object_store().read(object_name(settings.SESSIONS_BLOB_PREFIX, key))
    return SessionRecord.from_bytes(found.data) if found else None


# -- the stored object ----------------------------------------------------------


def test_object_is_signed_json_named_by_key_hash(tier: Tier) -> None:
    session = new_session(colour="teal")
    key = session.session_key
    assert key is not None
    names = tier.objects()
    assert names == [object_name(tier.prefix, key)]
    assert key not in names[0] and object_id(key) in names[0]
    record = stored(key)
    assert record is not None
    assert record.key_hint == key[:8]
    assert "teal" not in record.payload  # signed and compressed, never plain
    assert SessionStore(key).decode(record.payload) == {"colour": "teal"}
    assert record.created <= record.modified < record.expires
    assert record.expires.utcoffset() == dt.timedelta(0)


def test_round_trip_and_update(tier: Tier) -> None:
    key = new_session(a=1).session_key
    session = SessionStore(key)
    assert session["a"] == 1
    session["b"] = [1, 2]
    del session["a"]
    session.save()
    assert dict(SessionStore(key).items()) == {"b": [1, 2]}


def test_in_place_mutation_is_saved(tier: Tier) -> None:
    key = new_session(cart=["apple"]).session_key
    session = SessionStore(key)
    session["cart"].append("pear")
    session.modified = True
    session.save()
    assert SessionStore(key)["cart"] == ["apple", "pear"]


# -- Django's contract ----------------------------------------------------------


def test_unknown_key_loads_empty_and_creates_nothing(tier: Tier) -> None:
    session = SessionStore("a" * 32)
    assert session.load() == {}
    assert session.session_key is None
    assert tier.objects() == []
    assert tier.calls["create"] == 0


@pytest.mark.parametrize(
    "key",
    ["../x", "../../" + "a" * 26, "a/b" + "c" * 29, "short", "A" * 32, "a" * 33, ""],
)
def test_malformed_keys_never_reach_storage(tier: Tier, key: str) -> None:
    session = SessionStore(key)
    assert session.session_key is None
    assert session.load() == {}
    assert session.exists(key) is False
    session.delete(key)
    assert sum(tier.calls.values()) == 0
    assert sum(tier.http_calls().values()) == 0


def test_must_create_on_existing_key_raises_create_error(tier: Tier) -> None:
    key = new_session(a=1).session_key
    intruder = SessionStore(key)
    intruder._session_cache = {"b": 2}
    with pytest.raises(CreateError):
        intruder.save(must_create=True)
    assert dict(SessionStore(key).items()) == {"a": 1}


def test_save_after_concurrent_delete_raises_update_error(tier: Tier) -> None:
    key = new_session(a=1).session_key
    session = SessionStore(key)
    session["a"] = 2
    SessionStore(key).delete()
    with pytest.raises(UpdateError):
        session.save()
    assert stored(key) is None  # not resurrected (Django ticket #21608)


def test_cycle_key_keeps_data_and_removes_old_object(tier: Tier) -> None:
    session = new_session(user="ada")
    old = session.session_key
    session.cycle_key()
    assert session.session_key != old
    assert stored(old) is None
    assert SessionStore(session.session_key)["user"] == "ada"


def test_flush_deletes_the_object(tier: Tier) -> None:
    session = new_session(user="ada")
    key = session.session_key
    session.flush()
    assert session.session_key is None
    assert stored(key) is None


def test_clear_then_save_empties_the_stored_session(tier: Tier) -> None:
    key = new_session(a=1, b=2).session_key
    session = SessionStore(key)
    session.clear()
    session["c"] = 3
    session.save()
    assert dict(SessionStore(key).items()) == {"c": 3}


def test_expired_session_loads_empty(tier: Tier) -> None:
    session = SessionStore()
    session["a"] = 1
    session.set_expiry(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    session.save()
    key = session.session_key
    loaded = SessionStore(key)
    assert loaded.load() == {}
    assert loaded.session_key is None


@pytest.mark.parametrize("tier", ["memory"], indirect=True)
def test_expiry_beyond_max_age_is_clamped_with_a_warning(
    tier: Tier, settings: Any, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    monkeypatch.setattr(storage, "_clamp_warned", False)
    settings.SESSIONS_BLOB_MAX_AGE = 3600
    caplog.set_level(logging.WARNING, logger="sessions_blob")
    for _ in range(2):
        session = SessionStore()
        session.set_expiry(dt.timedelta(days=30))  # "remember me"
        session.save()
    stored = SessionRecord.from_bytes(tier.store.read(tier.objects()[0]).data)
    assert stored.expires - stored.modified == dt.timedelta(hours=1)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1  # once per process
    assert "longer than SESSIONS_BLOB_MAX_AGE (3600 s)" in warnings[0]


def test_exists(tier: Tier) -> None:
    key = new_session(a=1).session_key
    assert SessionStore().exists(key)
    assert not SessionStore().exists("b" * 32)


def test_async_api(tier: Tier) -> None:
    async def scenario() -> tuple[Any, ...]:
        session = SessionStore()
        await session.aset("a", 1)
        await session.asave()
        key = session.session_key
        loaded = SessionStore(key)
        value = await loaded.aget("a")
        exists = await loaded.aexists(key)
        await loaded.acycle_key()
        new_key = loaded.session_key
        await loaded.adelete()
        gone = await SessionStore().aexists(new_key)
        fresh = SessionStore()
        await fresh.acreate()
        await SessionStore.aclear_expired()
        return (
            value,
            exists,
            key != new_key,
            gone,
            await fresh.aexists(fresh.session_key),
        )

    assert async_to_sync(scenario)() == (1, True, True, False, True)


# -- atomic create, no lost updates -----------------------------------------------


def race_to_create(key: str) -> list[str]:
    """Two requests create the same key at the same moment."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(value: int) -> None:
        session = SessionStore(key)
        session._session_cache = {"winner": value}
        barrier.wait()
        try:
            session.save(must_create=True)
            outcomes.append("won")
        except CreateError:
            outcomes.append("lost")

    threads = [threading.Thread(target=create, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.parametrize("tier", RACE_TIERS, indirect=True)
def test_racing_creates_of_one_key_have_one_winner(tier: Tier) -> None:
    for round_number in range(10):
        key = f"race{round_number:02d}" + "x" * 26
        outcomes = race_to_create(key)
        if tier.atomic:
            assert outcomes == ["lost", "won"]
        assert "won" in outcomes  # anywhere, at least one
        assert SessionStore(key)["winner"] in {0, 1}


CONCURRENT_WRITERS = 50


def concurrent_changes(
    key: str, writers: int, store_class: type[SessionStore] = SessionStore
) -> list[BaseException]:
    """``writers`` requests each load the session, then all set a key at once."""
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def request(n: int) -> None:
        try:
            session = store_class(key)
            session._session_cache = session.load()
            barrier.wait()
            session[f"k{n}"] = n
            session.save()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize("tier", RACE_TIERS, indirect=True)
def test_concurrent_changes_to_different_keys_all_survive(
    tier: Tier, settings: Any
) -> None:
    if not tier.atomic:
        pytest.skip("no atomic conditional PUTs on this tier: lost updates possible")
    # Lost updates are under test, not the retry budget: on the atomic front,
    # with the machine loaded, 2 of 50 writers of one session outlasted the
    # default 16 retries (ConcurrentUpdateError: refused, not lost).
    settings.SESSIONS_BLOB_MAX_RETRIES = 64
    key = new_session(base=True).session_key
    errors = concurrent_changes(key, CONCURRENT_WRITERS)
    assert errors == []
    data = dict(SessionStore(key).items())
    assert {k for k in data if k.startswith("k")} == {f"k{n}" for n in range(50)}
    assert data["base"] is True


def test_concurrent_delete_of_a_key_survives_retry(tier: Tier) -> None:
    key = new_session(a=1, b=2).session_key
    first, second = SessionStore(key), SessionStore(key)
    first.load(), second.load()
    first._session_cache = first.load()
    second._session_cache = second.load()
    del first["a"]
    first.save()
    second["c"] = 3
    second.save()  # conflicts, reloads, re-applies only its own change
    assert dict(SessionStore(key).items()) == {"b": 2, "c": 3}
    assert second._session_cache == {"b": 2, "c": 3}


def test_save_if_unchanged_refuses_a_newer_version(tier: Tier) -> None:
    key = new_session(status="uploaded").session_key
    first, second = SessionStore(key), SessionStore(key)
    assert first["status"] == second["status"] == "uploaded"
    first["status"] = "processing"
    first.save_if_unchanged()
    second["status"] = "processing"
    with pytest.raises(ConflictError):
        second.save_if_unchanged()


# -- round trips --------------------------------------------------------------------


def test_new_session_costs_one_conditional_write(tier: Tier) -> None:
    new_session(a=1)
    assert tier.calls == {"create": 1}
    if tier.name == "s3":
        assert tier.http_calls() == {"PutObject": 1}


def test_read_costs_one_read_and_change_one_read_one_write(tier: Tier) -> None:
    key = new_session(a=1).session_key
    tier.calls.clear()
    tier.http_calls().clear()
    assert SessionStore(key)["a"] == 1
    assert tier.calls == {"read": 1}
    session = SessionStore(key)
    session["a"] = 2
    session.save()
    assert tier.calls == {"read": 2, "replace": 1}
    if tier.name == "s3":
        assert tier.http_calls() == {"GetObject": 2, "PutObject": 1}


def test_unchanged_session_is_not_rewritten(tier: Tier, settings: Any) -> None:
    settings.SESSION_SAVE_EVERY_REQUEST = True
    key = new_session(a=1).session_key
    tier.calls.clear()
    session = SessionStore(key)
    session["a"] = 1  # same value: nothing to write
    session.save()
    assert tier.calls == {"read": 1}


def test_unchanged_session_near_expiry_is_refreshed(tier: Tier, settings: Any) -> None:
    key = new_session(a=1).session_key
    before = stored(key)
    settings.SESSIONS_BLOB_REFRESH_THRESHOLD = settings.SESSION_COOKIE_AGE + 1
    tier.calls.clear()
    session = SessionStore(key)
    session.load()
    session._session_cache = {"a": 1}
    session.save()
    assert tier.calls == {"read": 1, "replace": 1}
    after = stored(key)
    assert before is not None and after is not None
    assert after.expires >= before.expires  # same millisecond on fast stores


# -- limits and faults ----------------------------------------------------------------


def test_session_over_max_size_is_refused(tier: Tier, settings: Any) -> None:
    settings.SESSIONS_BLOB_MAX_SIZE = 2048
    key = new_session(a=1).session_key
    session = SessionStore(key)
    session["blob"] = "x" * 1500 + "".join(chr(0x4E00 + n) for n in range(800))
    with pytest.raises(SessionTooLarge, match=r"over the limit of 2048 bytes") as info:
        session.save()
    assert info.value.size > 2048
    assert dict(SessionStore(key).items()) == {"a": 1}


def _overwrite(key: str, data: bytes) -> None:
    from django.conf import settings

    from sessions_blob.stores import object_store

    name = object_name(settings.SESSIONS_BLOB_PREFIX, key)
    object_store().delete(name)
    object_store().create(name, data)


@pytest.mark.parametrize("edit", ["expiry extended", "moved", "mac removed"])
def test_a_plain_record_is_bound_to_its_object_and_its_expiry(
    tier: Tier, caplog: pytest.LogCaptureFixture, edit: str
) -> None:
    """Django's signature covers the payload only: the record's mac binds it
    to its object and to the times beside it, so a bucket writer can neither
    keep a session alive by editing ``expires`` nor copy another's payload."""
    admin = new_session(role="admin").session_key
    user = new_session(role="user").session_key
    record, other = stored(user), stored(admin)
    assert record is not None and other is not None
    doc = json.loads(record.to_bytes())
    if edit == "expiry extended":
        doc["expires"] = "2099-01-01T00:00:00.000Z"
    elif edit == "moved":
        doc = json.loads(other.to_bytes())
    else:
        del doc["mac"]
    _overwrite(user, json.dumps(doc).encode())

    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert SessionStore(user).load() == {}
    assert any(r.name == "django.security.SuspiciousSession" for r in caplog.records)
    assert SessionStore(admin)["role"] == "admin"


def test_records_sealed_with_a_fallback_key_still_load(
    tier: Tier, settings: Any
) -> None:
    settings.SECRET_KEY = "old-" + "o" * 50
    key = new_session(role="user").session_key
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = (
        "new-" + "n" * 50,
        ["old-" + "o" * 50],
    )
    assert SessionStore(key)["role"] == "user"


@pytest.mark.parametrize("kind", ["garbage", "tampered"])
def test_corrupt_object_loads_empty_with_warning_and_is_kept(
    tier: Tier, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    key = new_session(role="user").session_key
    record = stored(key)
    assert record is not None
    if kind == "garbage":
        bad = b"\x00not json"
    else:
        doc = json.loads(record.to_bytes())
        doc["payload"] = doc["payload"].replace(doc["payload"][2], "Z", 1)
        bad = json.dumps(doc).encode()
    _overwrite(key, bad)
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        session = SessionStore(key)
        assert session.load() == {}
    assert any(r.name == "django.security.SuspiciousSession" for r in caplog.records)
    session["role"] = "admin"
    session.save()
    assert session.session_key != key  # a new session, the bad one untouched
    from django.conf import settings

    from sessions_blob.stores import object_store

    found = object_store().read(object_name(settings.SESSIONS_BLOB_PREFIX, key))
    assert found is not None and found.data == bad


def test_clear_expired(tier: Tier) -> None:
    from sessions_blob.cleanup import clear_expired_sessions

    live = [new_session(n=n).session_key for n in range(3)]
    expired = []
    for n in range(2):
        session = SessionStore()
        session["n"] = n
        session.set_expiry(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))
        session.save()
        expired.append(session.session_key)
    result = clear_expired_sessions()
    # Only the set_expiry() ones are read: the listing proves the others live.
    assert (result.examined, result.read, result.deleted) == (5, 2, 2)
    assert all(stored(key) is None for key in expired)
    assert all(stored(key) is not None for key in live)
    again = clear_expired_sessions()
    assert (again.examined, again.deleted) == (3, 0)


def test_clear_expired_decides_old_objects_from_the_listing(tier: Tier) -> None:
    from sessions_blob.cleanup import clear_expired_sessions

    for n in range(4):
        new_session(n=n)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    dry = clear_expired_sessions(dry_run=True, at=later)
    assert (dry.examined, dry.read, dry.expired, dry.deleted) == (4, 0, 4, 0)
    tier.calls.clear()
    result = clear_expired_sessions(at=later)
    assert (result.read, result.deleted) == (0, 4)
    assert tier.calls["read"] == 0
    assert tier.objects() == []


def test_works_without_time_zones(tier: Tier, settings: Any) -> None:
    """USE_TZ = False: Django and its storages give naive local times; saving,
    loading and every way of clearing expired sessions still work."""
    import asyncio

    from django.core.management import call_command

    settings.USE_TZ = False
    settings.TIME_ZONE = "Europe/Paris"
    live = new_session(a=1).session_key
    assert live is not None and SessionStore(live)["a"] == 1
    for round_ in range(3):
        for n in range(2):
            session = SessionStore()
            session["n"] = n
            # A naive time, in TIME_ZONE, as a USE_TZ = False project passes.
            session.set_expiry(dt.datetime.now() - dt.timedelta(seconds=5))
            session.save()
        if round_ == 0:
            SessionStore.clear_expired()
        elif round_ == 1:
            asyncio.run(SessionStore.aclear_expired())
        else:
            call_command("clearsessions", verbosity=0)
        assert stored(live) is not None
        assert len(tier.objects()) == 1, round_  # only the live one left
    record = stored(live)
    assert record is not None and record.expires.tzinfo is not None
