"""Conditional writes that are really atomic, and a store that only pretends.

The race tests run on moto behind ``tests/support/casfront.py`` (the ``s3cas``
tier), whose conditional writes are atomic as S3's are. Two fronts play the
stores that pretend: one strips ``If-Match``/``If-None-Match``
(``FaultProxy.drop_conditions()``), one checks them right and writes in a
second step (``FaultProxy.check_then_write()``), so racers all win.
"""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.config import Config

from sessions_blob.backends.storage import SessionStore
from sessions_blob.exceptions import ConditionalWritesUnsupported, StorageUnavailable
from sessions_blob.stores import ObjectStore, VersionMismatch, object_store
from sessions_blob.stores.s3 import S3ObjectStore
from tests.support.casfront import CasFront
from tests.support.faultproxy import FaultProxy
from tests.support.s3 import S3Endpoint
from tests.support.tiers import Tier

RACERS, ROUNDS = 16, 30


def race_one_version(store: ObjectStore, name: str, pool: ThreadPoolExecutor) -> int:
    """``RACERS`` replaces of ``name``, all based on its one version and
    released at once; how many won."""
    version = store.create(name, b'{"round":0}')
    start = threading.Barrier(RACERS)

    def replace(number: int) -> bool:
        start.wait(timeout=30)
        try:
            store.replace(name, b'{"writer":%d}' % number, version)
        except VersionMismatch:
            return False
        return True

    return sum(pool.map(replace, range(RACERS)))


def keys_under(endpoint: S3Endpoint, bucket: str, prefix: str) -> list[str]:
    listing = endpoint.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture
def ignoring_store(
    settings: Any, s3: S3Endpoint, s3_bucket: str, proxy: FaultProxy
) -> FaultProxy:
    """Sessions on moto through a front that drops the condition headers."""
    settings.SESSIONS_BLOB_PREFIX = "ignoring/"
    settings.SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES = True
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": s3.via(proxy.url).storage(s3_bucket),
    }
    proxy.drop_conditions()
    return proxy


# -- item 6: the atomic front -------------------------------------------------------


@pytest.mark.parametrize("tier", ["s3cas"], indirect=True)
def test_one_if_match_version_has_one_winner(tier: Tier) -> None:
    """The engine's compare-and-swap through its S3 adapter, on a store whose
    conditional writes are atomic: of 16 writers of one version, one wins,
    every round."""
    store = tier.store
    with ThreadPoolExecutor(RACERS) as pool:
        winners = [
            race_one_version(store, f"{tier.prefix}race-{n}", pool)
            for n in range(ROUNDS)
        ]
    assert winners == [1] * ROUNDS
    assert isinstance(store, S3ObjectStore) and store.conditional_writes is True


def test_the_race_fails_where_checks_and_writes_are_two_steps(
    ignoring_store: FaultProxy, settings: Any
) -> None:
    """The race above can fail: on a store that checks each condition right
    but writes in a second step (moto's flaw, with a wider window), with the
    engine told to trust it, more than one writer of a version wins."""
    ignoring_store.check_then_write()
    settings.SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES = False
    with ThreadPoolExecutor(RACERS) as pool:
        assert race_one_version(object_store(), "ignoring/race", pool) > 1
    assert "checked then written" in ignoring_store.outcomes()


# -- item 7: the engine's first-use race ---------------------------------------------


def test_first_use_race_trusts_an_atomic_store(
    settings: Any,
    s3cas: S3Endpoint,
    s3cas_bucket: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.SESSIONS_BLOB_PREFIX = "trusted/"
    settings.STORAGES = {**settings.STORAGES, "sessions": s3cas.storage(s3cas_bucket)}
    with caplog.at_level(logging.WARNING, logger="sessions_blob"):
        session = SessionStore()
        session["a"] = 1
        session.save()
    store = object_store()
    assert isinstance(store, S3ObjectStore)
    assert store.conditional_writes is True and store.atomic
    assert not [r for r in caplog.records if "conditional" in r.getMessage()]
    assert [
        k for k in keys_under(s3cas, s3cas_bucket, "trusted/") if ".doctor" in k
    ] == []


def test_first_use_race_finds_a_store_that_ignores_conditions(
    ignoring_store: FaultProxy,
    s3: S3Endpoint,
    s3_bucket: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A store that answers 200 to every conditional PUT passes a single
    create; the race catches it, and the engine falls back as documented."""
    with caplog.at_level(logging.WARNING, logger="sessions_blob"):
        first = SessionStore()
        first["a"] = 1
        first.save()
        second = SessionStore(first.session_key)
        second["b"] = 2
        second.save()
    warnings = [
        r.getMessage() for r in caplog.records if "conditional" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert (
        "8 of 8 concurrent writers" in warnings[0] and "check-then-write" in warnings[0]
    )
    store = object_store()
    assert isinstance(store, S3ObjectStore)
    assert store.conditional_writes is False and not store.atomic
    assert dict(SessionStore(first.session_key).items()) == {"a": 1, "b": 2}
    # The race cleaned up after itself: only the session is left.
    assert [k for k in keys_under(s3, s3_bucket, "ignoring/") if ".doctor" in k] == []


def test_strict_mode_refuses_a_store_that_ignores_conditions(
    ignoring_store: FaultProxy, settings: Any
) -> None:
    settings.SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES = True
    for _ in range(2):  # the first write, and every later one
        session = SessionStore()
        session["a"] = 1
        with pytest.raises(ConditionalWritesUnsupported, match="concurrent writers"):
            session.save()


def test_the_race_deletes_only_its_own_objects(
    settings: Any, s3cas: S3Endpoint, s3cas_bucket: str
) -> None:
    settings.SESSIONS_BLOB_PREFIX = "mine/"
    settings.STORAGES = {**settings.STORAGES, "sessions": s3cas.storage(s3cas_bucket)}
    client = s3cas.client()
    for key in ("mine/.doctor-race", "mine/.doctor-race-update", "mine/other"):
        client.put_object(Bucket=s3cas_bucket, Key=key, Body=b"not the probe's")
    store = object_store()
    assert isinstance(store, S3ObjectStore)
    race = store.race_conditional_writes("mine/.doctor-race-probe")
    assert race.atomic and (race.updated, race.created) == (1, 1)
    assert sorted(keys_under(s3cas, s3cas_bucket, "mine/")) == [
        "mine/.doctor-race",
        "mine/.doctor-race-update",
        "mine/other",
    ]


def test_first_use_race_finds_a_store_that_checks_then_writes(
    ignoring_store: FaultProxy, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Each sequential conditional PUT is answered right (412 when the
    condition fails), but check and write are two steps: racers all win."""
    ignoring_store.check_then_write()
    settings.SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES = False
    trusting = object_store()
    version = trusting.create("ignoring/one", b"1")
    with pytest.raises(VersionMismatch):
        trusting.replace("ignoring/one", b"2", version + "-stale")
    assert "precondition failed" in ignoring_store.outcomes()
    settings.SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES = True
    settings.STORAGES = {**settings.STORAGES}  # a new storage, a new adapter
    with caplog.at_level(logging.WARNING, logger="sessions_blob"):
        SessionStore().create()
    warnings = [
        r.getMessage() for r in caplog.records if "conditional" in r.getMessage()
    ]
    # All racers are let through together; under load some may still lose.
    assert len(warnings) == 1
    assert re.search(r"\b[2-8] of 8 concurrent writers", warnings[0]), warnings[0]
    store = object_store()
    assert store is not trusting and isinstance(store, S3ObjectStore)
    assert store.conditional_writes is False and not store.atomic


def test_a_race_the_store_could_not_run_decides_nothing(
    settings: Any, s3: S3Endpoint, s3_bucket: str, cas_proxy: CasFront
) -> None:
    """An outage during the first-use race is an outage, not a verdict: the
    write fails as any write would, and the next one races again."""
    settings.SESSIONS_BLOB_PREFIX = "undecided/"
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": s3.via(cas_proxy.url).storage(
            s3_bucket, client_config=Config(retries={"total_max_attempts": 1})
        ),
    }
    store = object_store()
    assert isinstance(store, S3ObjectStore)
    cas_proxy.http_error()
    with pytest.raises(StorageUnavailable):
        SessionStore().create()
    assert store.conditional_writes is None and store.atomic
    cas_proxy.passthrough()
    SessionStore().create()
    assert store.conditional_writes is True
