"""Storage faults over real HTTP: moto's S3 server behind a fault proxy.

The storage's boto3 client talks to ``tests/support/faultproxy.py``, which
forwards to moto or refuses, stalls, answers ``503 SlowDown``, or drops a
write half way. The client has short timeouts and botocore's standard retry
mode (bounded attempts, jittered exponential backoff), as production should
(see README, "Faults"). What is stored is checked on moto directly, past the
proxy.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import UpdateError
from django.test import Client

from sessions_blob.backends.storage import SessionStore
from sessions_blob.exceptions import StorageUnavailable
from tests.support.faultproxy import FaultProxy
from tests.support.outage import ATTEMPTS, TIMEOUT, raw, session_objects
from tests.support.s3 import S3Endpoint
from tests.support.sessions import new_session

pytestmark = pytest.mark.django_db(databases=[])

# -- the store cannot be reached ------------------------------------------------


def test_refused_connection_fails_fast_and_loses_nothing(
    proxy: FaultProxy, bucket: str, s3: S3Endpoint
) -> None:
    key = new_session(a=1)
    before = raw(s3, bucket, key)
    proxy.refuse()
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match="Could not connect"):
        SessionStore(key).load()
    with pytest.raises(StorageUnavailable):
        new_session(b=2)  # no empty or new session written either
    assert time.monotonic() - started < 2  # 2 x 3 attempts, 50 ms backoff base
    proxy.passthrough()
    assert raw(s3, bucket, key) == before
    assert session_objects(s3, bucket) == 1
    assert dict(SessionStore(key).items()) == {"a": 1}


def test_store_slower_than_the_read_timeout_is_unavailable(
    proxy: FaultProxy, bucket: str
) -> None:
    key = new_session(a=1)
    proxy.requests.clear()
    proxy.slow(delay=5)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match="timeout"):
        SessionStore(key).load()
    elapsed = time.monotonic() - started
    assert ATTEMPTS * TIMEOUT <= elapsed < ATTEMPTS * TIMEOUT + 1.5
    assert proxy.outcomes() == ["slow"] * ATTEMPTS  # bounded
    proxy.passthrough()
    assert SessionStore(key)["a"] == 1


# -- the store answers errors ---------------------------------------------------


def test_slow_down_for_a_while_is_retried_with_backoff(
    proxy: FaultProxy, bucket: str, s3: S3Endpoint
) -> None:
    key = new_session(a=1)
    proxy.requests.clear()
    proxy.http_error(count=2)  # 503 SlowDown twice, then the real answer
    session = SessionStore(key)
    assert session["a"] == 1
    assert proxy.outcomes() == ["error 503", "error 503", "passed"]

    proxy.requests.clear()
    proxy.http_error(count=2, status=500, code="InternalError")
    session["b"] = 2
    session.save()
    assert proxy.outcomes() == ["error 500", "error 500", "passed"]
    assert dict(SessionStore(key).items()) == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    ("status", "code"), [(503, "SlowDown"), (500, "InternalError")]
)
def test_errors_that_persist_change_nothing_stored(
    proxy: FaultProxy, bucket: str, s3: S3Endpoint, status: int, code: str
) -> None:
    key = new_session(a=1)
    before = raw(s3, bucket, key)
    loaded = SessionStore(key)
    loaded["b"] = 2
    assert loaded["a"] == 1
    proxy.requests.clear()
    proxy.http_error(status=status, code=code)  # until told otherwise

    with pytest.raises(StorageUnavailable, match=code):
        SessionStore(key).load()
    assert len(proxy.requests) == ATTEMPTS  # bounded
    with pytest.raises(StorageUnavailable, match=code):
        loaded.save()
    with pytest.raises(StorageUnavailable):
        new_session(c=3)
    assert raw(s3, bucket, key) == before
    assert session_objects(s3, bucket) == 1

    proxy.passthrough()
    loaded.save()  # the same request, retried once storage is back
    assert dict(SessionStore(key).items()) == {"a": 1, "b": 2}


# -- 403 for a missing key ------------------------------------------------------


def test_forbidden_missing_key_is_a_missing_session(
    proxy: FaultProxy, bucket: str, s3: S3Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Without s3:ListBucket, AWS answers 403 for a missing key: the engine
    takes it as missing (saying so once) and still never resurrects a
    session deleted meanwhile."""
    caplog.set_level("WARNING", logger="sessions_blob")
    key = new_session(a=1)
    loaded = SessionStore(key)
    loaded["b"] = 2
    assert loaded["a"] == 1
    proxy.forbid_missing()

    unknown = SessionStore("z" * 32)
    assert unknown.load() == {}
    assert unknown.session_key is None
    assert not SessionStore().exists("y" * 32)
    # load: one GET; exists: a HEAD, whose bodiless 403 a one-byte GET explains.
    assert proxy.outcomes().count("forbidden") == 3
    warnings = [r.getMessage() for r in caplog.records if "403" in r.getMessage()]
    assert len(warnings) == 1 and "s3:ListBucket" in warnings[0]

    assert dict(SessionStore(key).items()) == {"a": 1}  # live ones still load
    SessionStore(key).delete()
    with pytest.raises(UpdateError):
        loaded.save()
    assert raw(s3, bucket, key) is None


# -- writes cut short -------------------------------------------------------------


def test_write_dropped_half_way_keeps_the_previous_version(
    proxy: FaultProxy, bucket: str, s3: S3Endpoint
) -> None:
    key = new_session(a=1)
    before = raw(s3, bucket, key)
    first = SessionStore(key)
    first["x"] = 1
    assert first["a"] == 1
    proxy.drop_write()  # every PUT, until told otherwise
    with pytest.raises(StorageUnavailable):
        first.save()
    assert raw(s3, bucket, key) == before  # no partial object
    assert proxy.outcomes().count("dropped") == ATTEMPTS

    proxy.passthrough()
    second = SessionStore(key)  # another request, after storage came back
    second["y"] = 2
    second.save()
    first.save()  # retried: If-Match fails, reloads, re-applies its change
    assert dict(SessionStore(key).items()) == {"a": 1, "x": 1, "y": 2}


def test_one_dropped_write_is_retried_by_the_client(
    proxy: FaultProxy, bucket: str
) -> None:
    key = new_session(a=1)
    proxy.requests.clear()
    proxy.drop_write(count=1)
    session = SessionStore(key)
    session["b"] = 2
    session.save()
    assert [seen.outcome for seen in proxy.requests if seen.method == "PUT"] == [
        "dropped",
        "passed",
    ]
    assert dict(SessionStore(key).items()) == {"a": 1, "b": 2}


def test_write_whose_answer_is_lost_is_retried_safely(
    proxy: FaultProxy, bucket: str, s3: S3Endpoint
) -> None:
    """The PUT landed but the client saw a reset and sent it again.

    The retry carries the same condition, which now fails: an update reloads
    and re-applies its changes; a create takes another key (the first object
    is an orphan that expires like any session). Nothing is lost either way.
    """
    key = new_session(a=1)
    proxy.drop_response(count=1)
    session = SessionStore(key)
    session["b"] = 2
    session.save()
    assert dict(SessionStore(key).items()) == {"a": 1, "b": 2}

    proxy.drop_response(count=1)
    created = SessionStore()
    created["c"] = 3
    created.save()
    assert created.session_key is not None
    assert dict(SessionStore(created.session_key).items()) == {"c": 3}
    assert session_objects(s3, bucket) == 3  # key, the orphan, the new session


# -- whole requests ---------------------------------------------------------------


@pytest.mark.urls("tests.sessions_blob.urls")
@pytest.mark.parametrize("fault", ["refuse", "http_error", "drop_write"])
def test_outage_fails_the_request_without_a_new_cookie(
    proxy: FaultProxy, bucket: str, fault: str
) -> None:
    """A load or save that fails answers 503 and leaves the cookie alone:
    no new empty session, no deleted cookie, nothing that logs the user out."""
    client = Client(raise_request_exception=False)
    assert client.get("/increment").json() == {"count": 1}
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    getattr(proxy, fault)()  # drop_write fails the save, the others the load
    response = client.get("/increment")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"
    assert b"Storage is unavailable" in response.content  # the project's 503.html
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies
    proxy.passthrough()
    assert client.cookies[django_settings.SESSION_COOKIE_NAME].value == cookie
    assert client.get("/read").json() == {"count": 1}
    assert client.get("/increment").json() == {"count": 2}


@pytest.mark.urls("tests.sessions_blob.urls")
def test_outage_met_by_another_middleware_answers_503(
    proxy: FaultProxy, bucket: str, settings: Any
) -> None:
    """LoginRequiredMiddleware loads the session in process_view, where an
    exception becomes a 500 before any process_exception sees it."""
    auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
    at = settings.MIDDLEWARE.index(auth) + 1
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:at],
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
        *settings.MIDDLEWARE[at:],
    ]
    client = Client(raise_request_exception=False)
    client.cookies[django_settings.SESSION_COOKIE_NAME] = new_session(a=1)
    assert client.get("/read").status_code == 302  # to the login page
    proxy.refuse()
    response = client.get("/read")
    assert response.status_code == 503
    assert b"Storage is unavailable" in response.content
    proxy.passthrough()
    assert client.get("/read").status_code == 302


@pytest.mark.urls("tests.sessions_blob.urls")
def test_outage_under_the_cached_tier_does_not_poison_the_cache(
    proxy: FaultProxy, bucket: str, redis_cache: str
) -> None:
    """The load is served by Redis; the save fails; the cache keeps the
    stored version, not the one that was never written."""
    client = Client(raise_request_exception=False)
    assert client.get("/increment").json() == {"count": 1}
    proxy.requests.clear()
    proxy.refuse()
    assert client.get("/read").json() == {"count": 1}  # from the cache
    response = client.get("/increment")
    assert response.status_code == 503
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies
    proxy.passthrough()
    assert client.get("/read").json() == {"count": 1}
    assert client.get("/increment").json() == {"count": 2}
    assert proxy.outcomes().count("passed") >= 1
