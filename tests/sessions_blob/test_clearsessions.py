from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from sessions_blob.backends.storage import SessionStore
from sessions_blob.cleanup import clear_expired_sessions
from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.records import expiry_index_prefix, now, object_id
from sessions_blob.stores import object_store
from tests.support.faultproxy import FaultProxy
from tests.support.tiers import Tier

pytestmark = pytest.mark.django_db


def make_sessions(live: int, expired: int) -> None:
    for n in range(live + expired):
        session = SessionStore()
        session["n"] = n
        if n >= live:
            session.set_expiry(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        session.save()


def markers(tier: Tier) -> list[str]:
    return [info.name for info in tier.store.list(expiry_index_prefix(tier.prefix))]


def run(*args: str) -> str:
    out = StringIO()
    call_command("clearsessions", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_clearsessions_reports_and_deletes(tier: Tier) -> None:
    make_sessions(live=3, expired=2)
    dry = run("--dry-run")
    # Only the two saved with set_expiry() are read: the listing proves the rest.
    assert re.search(
        r"examined 5 sessions, read 2, would delete 2 expired and 2 expiry markers",
        dry,
    )
    assert len(tier.objects()) == 5
    output = run()
    # One DeleteObjects for the sessions and one for their markers on S3, one
    # call per object elsewhere.
    calls = 2 if tier.s3 else 4
    assert (
        f"examined 5 sessions, read 2, deleted 2 expired and 2 expiry markers "
        f"in {calls} delete" in output
    )
    assert len(tier.objects()) == 3
    assert markers(tier) == []


def test_clearsessions_for_other_engines_is_djangos(
    settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.contrib.sessions.backends.file import SessionStore as FileStore

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.file"
    settings.SESSION_FILE_PATH = str(tmp_path)
    # Django's file engine keeps the first path it saw on the class.
    monkeypatch.delattr(FileStore, "_storage_path", raising=False)
    session = FileStore()
    session["a"] = 1
    session.set_expiry(-1)
    session.save()
    assert len(list(tmp_path.iterdir())) == 1
    with pytest.raises(CommandError, match="--dry-run needs sessions_blob"):
        run("--dry-run")  # Django's command has none: it would delete
    assert len(list(tmp_path.iterdir())) == 1
    assert run() == ""
    assert list(tmp_path.iterdir()) == []


# -- the expiry index: only sessions saved with set_expiry() are ever read ----------


def custom(seconds: int, **data: Any) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.set_expiry(seconds)
    session.save()
    return session


def default(**data: Any) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.save()
    return session


def object_gets(proxy: FaultProxy) -> int:
    return sum(
        1
        for seen in proxy.requests
        if seen.method == "GET" and "list-type" not in seen.path
    )


def test_default_expiry_sessions_are_never_read(bucket: str, proxy: FaultProxy) -> None:
    """Over S3, counted at the wire: clearsessions GETs only the sessions
    saved with a custom expiry whose hour has come."""
    for n in range(6):
        default(n=n)
    later = [custom(3 * 3600, n=n).session_key for n in range(2)]
    gone = [custom(-60, n=n).session_key for n in range(2)]
    proxy.requests.clear()

    result = clear_expired_sessions()

    assert (result.examined, result.read, result.deleted) == (10, 2, 2)
    assert object_gets(proxy) == 2  # the two due ones; none of the default six
    assert all(not SessionStore().exists(key) for key in gone)

    proxy.requests.clear()
    result = clear_expired_sessions(at=now() + dt.timedelta(hours=4))
    assert (result.examined, result.read, result.deleted) == (8, 2, 2)
    assert object_gets(proxy) == 2
    assert all(not SessionStore().exists(key) for key in later)
    assert result.markers == 2
    assert markers_under(settings.SESSIONS_BLOB_PREFIX) == []


def test_s3_listings_of_the_id_shards_page_to_their_ends(
    bucket: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On S3 each first character of the ids is listed on its own, at once,
    each listing following its own continuation tokens: every session is
    examined once, however the pages fall."""
    monkeypatch.setattr("sessions_blob.listing.LISTING_PAGE", 2)
    keys = [default(n=n).session_key for n in range(36)]
    gone = [custom(-60, n=n).session_key for n in range(4)]
    proxy.requests.clear()

    result = clear_expired_sessions()

    assert (result.examined, result.read, result.deleted) == (40, 4, 4)
    listings = [seen.path for seen in proxy.requests if "list-type" in seen.path]
    prefixes = {re.search(r"prefix=([^&]*)", path) for path in listings}
    # The expiry index's folder, and each of the 16 shards.
    assert len({found.group(1) for found in prefixes if found}) == 17
    # 40 names, 2 a page: at least 20 pages, at most 16 of them first pages.
    assert sum("continuation-token" in path for path in listings) >= 4
    assert all(SessionStore().exists(key) for key in keys)
    assert not any(SessionStore().exists(key) for key in gone)
    assert "examined 36 sessions, read 0" in run("-v", "2")


def test_an_outage_on_a_later_listing_page_is_an_outage(
    bucket: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 to a request that carries a continuation token is the store's
    failure, not a bad token: clearsessions stops with StorageUnavailable
    and deletes nothing."""
    monkeypatch.setattr("sessions_blob.listing.LISTING_PAGE", 1)
    keys = [custom(-60, n=n).session_key for n in range(40)]  # a second page somewhere
    proxy.http_error(None, only=lambda method, path: "continuation-token" in path)

    with pytest.raises(StorageUnavailable, match="listing"):
        clear_expired_sessions()

    proxy.passthrough()
    stored = list(object_store().list(settings.SESSIONS_BLOB_PREFIX))
    assert len(stored) == len(keys)  # expired, and all still there
    assert len(markers_under(settings.SESSIONS_BLOB_PREFIX)) == len(keys)
    assert clear_expired_sessions().deleted == len(keys)  # once the store is back


def markers_under(prefix: str) -> list[str]:
    return [info.name for info in object_store().list(expiry_index_prefix(prefix))]


def test_custom_expiry_sessions_expire_on_time(tier: Tier) -> None:
    key = custom(600, a=1).session_key
    assert len(markers(tier)) == 1
    soon = clear_expired_sessions(at=now() + dt.timedelta(seconds=590))
    assert soon.deleted == 0 and SessionStore().exists(key)
    assert len(markers(tier)) == 1  # still needed
    late = clear_expired_sessions(at=now() + dt.timedelta(seconds=610))
    assert late.deleted == 1 and not SessionStore().exists(key)
    assert markers(tier) == []


def test_markers_follow_the_session(tier: Tier) -> None:
    """Written when a session needs one, moved with its expiry, removed when
    it is saved with the default expiry again or deleted."""
    session = custom(600, a=1)
    first = markers(tier)
    assert len(first) == 1
    again = SessionStore(session.session_key)
    again.set_expiry(7 * 3600)  # another hour
    again.save()
    assert len(markers(tier)) == 1 and markers(tier) != first
    back = SessionStore(session.session_key)
    back.set_expiry(None)  # the default: the listing proves it again
    back.save()
    assert markers(tier) == []
    other = custom(600, b=2)
    assert len(markers(tier)) == 1
    logout = SessionStore(other.session_key)
    assert logout["b"] == 2  # loaded, as a request that logs out has it
    logout.flush()
    assert markers(tier) == []


def test_markers_of_deleted_sessions_go_once_their_hour_is_over(tier: Tier) -> None:
    session = custom(600, a=1)
    SessionStore().delete(session.session_key)  # deleted without loading it
    assert len(markers(tier)) == 1
    assert clear_expired_sessions().markers == 0  # its hour is not over
    result = clear_expired_sessions(at=now() + dt.timedelta(hours=2))
    assert (result.read, result.markers) == (0, 1)
    assert markers(tier) == []


def test_markers_are_not_sessions_and_foreign_objects_stay(
    tier: Tier, settings: Any
) -> None:
    default(a=1)
    custom(-60, b=2)
    custom(600, c=3)
    index = expiry_index_prefix(settings.SESSIONS_BLOB_PREFIX)
    foreign = [f"{index}README", f"{index}2020010100/notes.txt"]
    for name in foreign:
        tier.store.create(name, b"not ours")
    assert len(tier.objects()) == 3  # the session listing has no marker
    out = StringIO()
    call_command("sessions_blob", "stats", stdout=out)
    assert "3 sessions" in out.getvalue()
    run()
    assert len(tier.objects()) == 2
    left = markers(tier)
    assert all(name in left for name in foreign)  # never deleted
    assert len(left) == len(foreign) + 1  # and the live session's marker


def test_a_cycled_session_keeps_its_expiry(tier: Tier) -> None:
    session = custom(600, a=1)
    session.cycle_key()  # as auth.login does
    key = session.session_key
    assert key is not None
    assert any(name.endswith(object_id(key)) for name in markers(tier))
    late = clear_expired_sessions(at=now() + dt.timedelta(seconds=610))
    assert late.deleted == 1 and not SessionStore().exists(key)
