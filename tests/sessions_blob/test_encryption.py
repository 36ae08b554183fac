"""Encryption at rest: the engine's own (``SESSIONS_BLOB_ENCRYPT``) on every
storage tier, and S3's server-side encryption parameters on moto."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import zlib
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.core.cache import caches
from django.core.files.storage import storages

from sessions_blob.backends.cached_storage import SessionStore as CachedStore
from sessions_blob.backends.storage import SessionStore
from sessions_blob.crypto import SCHEME
from sessions_blob.records import object_name
from sessions_blob.stores import object_store
from sessions_blob.stores.s3_client import shared_client
from tests.support.s3 import S3Endpoint
from tests.support.sessions import new_session
from tests.support.tiers import Tier

pytestmark = pytest.mark.django_db(databases=[])

SECRET = "4111 1111 1111 1111, the customer's card number"
OLD_KEY = "old-secret-key-" + "o" * 50
NEW_KEY = "new-secret-key-" + "n" * 50


@pytest.fixture
def encrypted(settings: Any) -> Any:
    settings.SESSIONS_BLOB_ENCRYPT = True
    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = []
    return settings


def name(key: str) -> str:
    return object_name(django_settings.SESSIONS_BLOB_PREFIX, key)


def raw(key: str) -> bytes:
    found = object_store().read(name(key))
    assert found is not None
    return found.data


def overwrite(key: str, data: bytes) -> None:
    object_store().delete(name(key))
    object_store().create(name(key), data)


def reveals(data: bytes, text: str) -> bool:
    """Whether ``data`` shows ``text`` to someone who can read the bucket:
    as is, or after undoing the base64 and zlib of a signed payload."""
    seen = [data]
    payload = json.loads(data)["payload"]
    for part in re.split(r"[:.]", payload):
        with contextlib.suppress(ValueError):
            decoded = signing.b64_decode(part.encode())
            seen.append(decoded)
            with contextlib.suppress(zlib.error):
                seen.append(zlib.decompress(decoded))
    return any(text.encode() in chunk for chunk in seen)


# -- the engine's encryption, on every tier -----------------------------------------


def test_stored_object_never_holds_the_plaintext(tier: Tier, encrypted: Any) -> None:
    key = new_session(card=SECRET)
    data = raw(key)
    doc = json.loads(data)
    assert doc["payload_encryption"] == SCHEME
    assert not reveals(data, SECRET)
    assert not reveals(data, "card")
    assert key not in data.decode()
    assert SessionStore(key)["card"] == SECRET

    encrypted.SESSIONS_BLOB_ENCRYPT = False  # the same check sees through signing
    plain = raw(new_session(card=SECRET))
    assert "payload_encryption" not in json.loads(plain)
    assert reveals(plain, SECRET)


def test_rotation_through_secret_key_fallbacks(tier: Tier, encrypted: Any) -> None:
    encrypted.SECRET_KEY = OLD_KEY
    key = new_session(a=1)

    encrypted.SECRET_KEY, encrypted.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    session = SessionStore(key)
    assert session["a"] == 1  # written under the old key, still loads
    session["b"] = 2
    session.save()

    encrypted.SECRET_KEY_FALLBACKS = []  # the new write used the new key
    assert dict(SessionStore(key).items()) == {"a": 1, "b": 2}
    encrypted.SECRET_KEY = OLD_KEY
    assert SessionStore(key).load() == {}


def test_key_not_in_the_fallbacks_fails_like_tampering(
    tier: Tier, encrypted: Any, caplog: pytest.LogCaptureFixture
) -> None:
    encrypted.SECRET_KEY = OLD_KEY
    key = new_session(role="user")
    before = raw(key)
    encrypted.SECRET_KEY = NEW_KEY
    encrypted.SECRET_KEY_FALLBACKS = ["another-key-" + "x" * 50]
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        session = SessionStore(key)
        assert session.load() == {}
    warnings = [
        r for r in caplog.records if r.name == "django.security.SuspiciousSession"
    ]
    assert len(warnings) == 1 and "decrypt" in warnings[0].getMessage()
    session["role"] = "admin"
    session.save()
    assert session.session_key != key  # a new session; the old object is kept
    assert raw(key) == before


@pytest.mark.parametrize("edit", ["moved", "expiry extended", "scheme", "bit flip"])
def test_ciphertext_is_bound_to_its_object_and_record(
    tier: Tier, encrypted: Any, caplog: pytest.LogCaptureFixture, edit: str
) -> None:
    admin, user = new_session(role="admin"), new_session(role="user")
    doc = json.loads(raw(user))
    if edit == "moved":  # someone with write access copies the admin's object
        doc = json.loads(raw(admin))
    elif edit == "expiry extended":
        doc["expires"] = "2099-01-01T00:00:00.000Z"
    elif edit == "scheme":
        doc["payload_encryption"] = "rot13"
    else:
        token = bytearray(base64.urlsafe_b64decode(doc["payload"]))
        token[20] ^= 1
        doc["payload"] = base64.urlsafe_b64encode(bytes(token)).decode()
    overwrite(user, json.dumps(doc).encode())
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert SessionStore(user).load() == {}
    assert any(r.name == "django.security.SuspiciousSession" for r in caplog.records)


def test_turning_encryption_on_and_off_keeps_every_session(
    tier: Tier, settings: Any
) -> None:
    key = new_session(a=1)  # written in the clear
    settings.SESSIONS_BLOB_ENCRYPT = True
    session = SessionStore(key)
    assert session["a"] == 1
    session["b"] = 2
    session.save()
    assert json.loads(raw(key))["payload_encryption"] == SCHEME

    settings.SESSIONS_BLOB_ENCRYPT = False
    session = SessionStore(key)
    assert dict(session.items()) == {"a": 1, "b": 2}
    session["c"] = 3
    session.save()
    assert "payload_encryption" not in json.loads(raw(key))
    assert dict(SessionStore(key).items()) == {"a": 1, "b": 2, "c": 3}


def test_concurrent_updates_merge_under_encryption(tier: Tier, encrypted: Any) -> None:
    key = new_session(a=1)
    first, second = SessionStore(key), SessionStore(key)
    first["x"], second["y"] = 1, 2
    first.save()
    second.save()  # a conflict: reload (decrypt), re-apply, re-encrypt
    assert dict(SessionStore(key).items()) == {"a": 1, "x": 1, "y": 2}


def test_cached_tier_caches_ciphertext(encrypted: Any, redis_cache: str) -> None:
    session = CachedStore()
    session["card"] = SECRET
    session.save()
    assert session.session_key is not None
    _version, body, *_ = caches[redis_cache].get(
        session._cache_key(session.session_key)
    )
    assert not reveals(body, SECRET)
    assert CachedStore(session.session_key)["card"] == SECRET


# -- S3 server-side encryption: what django-storages' object_parameters ask for ----


@pytest.mark.parametrize(
    "parameters",
    [
        {"ServerSideEncryption": "AES256"},
        {
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": "arn:aws:kms:us-east-1:123456789012:key/"
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        },
    ],
    ids=["sse-s3", "sse-kms"],
)
def test_object_parameters_apply_server_side_encryption(
    settings: Any, s3: S3Endpoint, s3_bucket: str, parameters: dict[str, str]
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": s3.storage(s3_bucket, object_parameters=parameters),
    }
    key = new_session(a=1)
    head = s3.client().head_object(Bucket=s3_bucket, Key=name(key))
    assert {k: head.get(k) for k in parameters} == parameters
    updated = SessionStore(key)
    updated["b"] = 2
    updated.save()
    head = s3.client().head_object(Bucket=s3_bucket, Key=name(key))
    assert head["ServerSideEncryption"] == parameters["ServerSideEncryption"]


def test_customer_key_travels_with_every_read_and_write(
    settings: Any, s3: S3Endpoint, s3_bucket: str
) -> None:
    """SSE-C: S3 can read the object only with the key, so the engine's GETs
    carry it too. (moto does not enforce SSE-C, so the requests are checked.)"""
    customer_key = os.urandom(32)
    # Counted requests are the session's alone, not the first-use race's.
    settings.SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES = False
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": s3.storage(
            s3_bucket,
            object_parameters={
                "SSECustomerAlgorithm": "AES256",
                "SSECustomerKey": customer_key,
            },
        ),
    }
    sent: list[tuple[str, dict[str, str]]] = []

    def on_send(request: Any, **_: Any) -> None:
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else v
            for k, v in request.headers.items()
        }
        sent.append((request.method, headers))

    client = shared_client(storages["sessions"])  # type: ignore[arg-type]
    client.meta.events.register("before-send.s3", on_send)
    try:
        key = new_session(a=1)
        session = SessionStore(key)
        session["b"] = 2
        session.save()
        assert session.exists(key)
    finally:
        client.meta.events.unregister("before-send.s3", on_send)
    assert sorted(method for method, _ in sent) == ["GET", "HEAD", "PUT", "PUT"]
    digest = base64.b64encode(hashlib.md5(customer_key).digest()).decode()
    for _method, headers in sent:
        assert headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
        assert headers["x-amz-server-side-encryption-customer-key-md5"] == digest
