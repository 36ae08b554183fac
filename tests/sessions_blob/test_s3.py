"""What only S3-compatible stores have: ACLs, signatures, outages, and
stores without conditional writes (a real Swift s3api)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.sessions.backends.base import UpdateError

from sessions_blob.backends.storage import SessionStore
from sessions_blob.exceptions import ConditionalWritesUnsupported, StorageUnavailable
from sessions_blob.records import object_name
from sessions_blob.stores import object_store
from tests.support.s3 import S3Endpoint
from tests.support.servers import free_port


@pytest.fixture
def moto_sessions(settings: Any, s3: S3Endpoint, s3_bucket: str) -> str:
    settings.STORAGES = {**settings.STORAGES, "sessions": s3.storage(s3_bucket)}
    return s3_bucket


@pytest.fixture
def swift_sessions(settings: Any, swift: S3Endpoint, swift_bucket: str) -> S3Endpoint:
    # A new storage instance: its adapter has not met Swift's 501 yet.
    settings.STORAGES = {**settings.STORAGES, "sessions": swift.storage(swift_bucket)}
    return swift


def test_session_objects_are_private_even_if_the_storage_default_is_public(
    settings: Any, s3: S3Endpoint, s3_bucket: str
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": s3.storage(s3_bucket, default_acl="public-read"),
    }
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = object_name(settings.SESSIONS_BLOB_PREFIX, session.session_key)
    grants = s3.client().get_object_acl(Bucket=s3_bucket, Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    assert all("AllUsers" not in str(g["Grantee"]) for g in grants)


def test_unreachable_store_raises_instead_of_logging_out(
    settings: Any, s3: S3Endpoint, moto_sessions: str
) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = session.session_key
    dead = S3Endpoint(
        url=f"http://127.0.0.1:{free_port()}", access_key="x", secret_key="y"
    )
    from botocore.config import Config

    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": dead.storage(
            moto_sessions, client_config=Config(retries={"max_attempts": 1})
        ),
    }
    with pytest.raises(StorageUnavailable):
        SessionStore(key).load()
    with pytest.raises(StorageUnavailable):
        SessionStore().save()
    settings.STORAGES = {**settings.STORAGES, "sessions": s3.storage(moto_sessions)}
    assert SessionStore(key)["a"] == 1  # nothing was lost


def test_swift_falls_back_once_with_a_warning(
    swift_sessions: S3Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sessions_blob"):
        first = SessionStore()
        first["a"] = 1
        first.save()
        second = SessionStore(first.session_key)
        second["b"] = 2
        second.save()
        SessionStore().create()
    warnings = [r for r in caplog.records if "conditional writes" in r.getMessage()]
    assert len(warnings) == 1
    assert "NotImplemented" in warnings[0].getMessage()
    assert object_store().conditional_writes is False
    assert dict(SessionStore(first.session_key).items()) == {"a": 1, "b": 2}


def test_swift_fallback_still_detects_a_stale_version(
    swift_sessions: S3Endpoint,
) -> None:
    key = SessionStore()
    key["a"] = 1
    key.save()
    first, second = SessionStore(key.session_key), SessionStore(key.session_key)
    first["x"], second["y"] = 1, 2
    first.save()
    second.save()  # HEAD sees first's ETag, reloads, re-applies
    assert dict(SessionStore(key.session_key).items()) == {"a": 1, "x": 1, "y": 2}
    SessionStore(key.session_key).delete()
    with pytest.raises(UpdateError):
        first["z"] = 3
        first.save()


def test_swift_strict_mode_refuses(settings: Any, swift_sessions: S3Endpoint) -> None:
    settings.SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES = True
    session = SessionStore()
    session["a"] = 1
    with pytest.raises(
        ConditionalWritesUnsupported, match="REQUIRE_CONDITIONAL_WRITES"
    ):
        session.save()


def test_swift_wrong_secret_is_an_error_not_a_missing_session(
    settings: Any, swift: S3Endpoint, swift_sessions: S3Endpoint, swift_bucket: str
) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    wrong = S3Endpoint(url=swift.url, access_key=swift.access_key, secret_key="wrong")
    settings.STORAGES = {**settings.STORAGES, "sessions": wrong.storage(swift_bucket)}
    with pytest.raises(StorageUnavailable, match="SignatureDoesNotMatch"):
        SessionStore(session.session_key).load()
    # A HEAD's 403 has no error code: it is not taken for a missing session.
    with pytest.raises(StorageUnavailable, match="SignatureDoesNotMatch"):
        SessionStore().exists(session.session_key)


def test_swift_batch_delete_sends_content_md5(swift_sessions: S3Endpoint) -> None:
    import datetime as dt

    from sessions_blob.cleanup import clear_expired_sessions

    for n in range(3):
        session = SessionStore()
        session["n"] = n
        session.save()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    result = clear_expired_sessions(at=later)
    assert (result.deleted, result.delete_calls) == (3, 1)
