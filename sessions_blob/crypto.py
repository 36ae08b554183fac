"""Sealing session records: encrypted at rest (``SESSIONS_BLOB_ENCRYPT``),
or else bound to their object by an HMAC.

Unencrypted records carry ``mac``: HMAC-SHA256 under ``SECRET_KEY`` over the
object id, the record's fields (times included) and its signed payload.
Django's signature on the payload names no session and no expiry, so
without it someone who can write to the bucket could push ``expires`` out
to keep a session alive, or copy one session's payload over another's.

The signed payload (``SessionBase.encode()``) is encrypted with AES-256-GCM:
authenticated encryption, so a changed byte fails to decrypt rather than
decrypting to something else. The record's other fields (key hint, times) are
its associated data: editing ``expires`` in the bucket fails the same way.

Keys come from ``SECRET_KEY`` through HKDF-SHA256, one key per session object
(the object id is in HKDF's ``info``). A payload copied into another session's
object therefore does not decrypt there, and each key encrypts only the few
writes of one session, far below AES-GCM's limit for random 96-bit nonces.
``SECRET_KEY_FALLBACKS`` are tried in turn for decryption, so rotating the key
logs nobody out; every write uses the current key.

The scheme is recorded in the object (``"payload_encryption"``): objects
written without encryption keep loading after it is turned on, and encrypted
ones keep loading after it is turned off; each is rewritten in the current
mode on its next write.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.encoding import force_bytes

from sessions_blob.conf import conf
from sessions_blob.records import CorruptRecord, SessionRecord

SCHEME = "aes-256-gcm-v1"
_SALT = b"django-sessions-blob: session payload encryption"
_MAC_SALT = "django-sessions-blob: session record"
_NONCE_SIZE = 12
_TAG_SIZE = 16


class UndecryptablePayload(CorruptRecord):
    """The payload does not decrypt with any key: tampered or a foreign key."""


class UnsealedRecord(CorruptRecord):
    """An unencrypted record whose ``mac`` is missing or does not verify: a
    field or the payload was changed, or it was copied from another object."""


def _mac(record: SessionRecord, oid: str, secret: str | bytes) -> str:
    message = b"\n".join(
        [oid.encode(), record.associated_data(), record.payload.encode()]
    )
    return salted_hmac(
        _MAC_SALT, message, secret=secret, algorithm="sha256"
    ).hexdigest()


@functools.cache
def _primitives() -> Any:
    try:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImproperlyConfigured(
            "SESSIONS_BLOB_ENCRYPT needs the cryptography package: "
            "pip install 'django-sessions-blob[encryption]'."
        ) from exc
    return InvalidTag, hashes, AESGCM, HKDF


def _cipher(secret: str | bytes, oid: str) -> Any:
    _, hashes, AESGCM, HKDF = _primitives()
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=_SALT,
        info=f"{SCHEME}:{oid}".encode(),
    ).derive(force_bytes(secret))
    return AESGCM(key)


def seal(record: SessionRecord, oid: str) -> SessionRecord:
    """The record to store as object ``oid``: its payload encrypted when the
    setting is on, else the record bound to the object by its ``mac``."""
    if not conf.ENCRYPT:
        plain = dataclasses.replace(record, encryption=None, mac=None)
        return dataclasses.replace(plain, mac=_mac(plain, oid, conf.SECRET_KEYS[0]))
    sealed = dataclasses.replace(record, encryption=SCHEME, mac=None)
    nonce = os.urandom(_NONCE_SIZE)
    ciphertext = _cipher(conf.SECRET_KEYS[0], oid).encrypt(
        nonce, record.payload.encode(), sealed.associated_data()
    )
    token = base64.urlsafe_b64encode(nonce + ciphertext).decode("ascii")
    return dataclasses.replace(sealed, payload=token)


def unseal(record: SessionRecord, oid: str) -> SessionRecord:
    """The record of object ``oid`` with its payload decrypted, whatever the
    setting says. The key derives from the object id, not the session key, so
    staff can read an encrypted session without ever seeing its key.

    Raises ``UndecryptablePayload`` (a ``CorruptRecord``) when no key in
    ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` decrypts it, and
    ``UnsealedRecord`` when an unencrypted record's ``mac`` does not verify.
    """
    if record.encryption is None:
        plain = dataclasses.replace(record, mac=None)
        if record.mac is not None and any(
            constant_time_compare(record.mac, _mac(plain, oid, secret))
            for secret in conf.SECRET_KEYS
        ):
            return plain
        raise UnsealedRecord(
            "the record's mac does not verify with SECRET_KEY or "
            "SECRET_KEY_FALLBACKS: changed in the bucket, or copied from "
            "another session"
        )
    if record.encryption != SCHEME:
        raise UndecryptablePayload(f"unknown payload encryption {record.encryption!r}")
    try:
        token = base64.urlsafe_b64decode(record.payload.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise UndecryptablePayload("encrypted payload is not base64") from exc
    if len(token) < _NONCE_SIZE + _TAG_SIZE:
        raise UndecryptablePayload("encrypted payload is truncated")
    nonce, ciphertext = token[:_NONCE_SIZE], token[_NONCE_SIZE:]
    InvalidTag = _primitives()[0]
    for secret in conf.SECRET_KEYS:
        try:
            payload = _cipher(secret, oid).decrypt(
                nonce, ciphertext, record.associated_data()
            )
        except InvalidTag:
            continue
        return dataclasses.replace(record, payload=payload.decode(), encryption=None)
    raise UndecryptablePayload(
        "payload does not decrypt with SECRET_KEY or SECRET_KEY_FALLBACKS"
    )
