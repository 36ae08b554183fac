"""What a session object is called and what it holds.

Objects are named by the SHA-256 of the session key, so bucket listings,
access logs and admin pages never show a usable cookie value (the mitigation
Rails adopted for CVE-2019-25025). The object holds only the first characters
of the key, as a hint for people looking for a session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.utils import timezone

RECORD_FORMAT = 1
KEY_LENGTH = 32
KEY_HINT_LENGTH = 8
_VALID_KEY = re.compile(rf"[{re.escape(VALID_KEY_CHARS)}]{{{KEY_LENGTH}}}")
_OBJECT_ID = re.compile(r"[0-9a-f]{64}")


class CorruptRecord(ValueError):
    """The stored bytes are not a session record this engine wrote."""


def is_valid_session_key(key: object) -> bool:
    """True only for keys of the shape this engine generates.

    Anything else (``../x``, slashes, wrong length or characters) must never
    reach a storage path.
    """
    return isinstance(key, str) and _VALID_KEY.fullmatch(key) is not None


def object_id(session_key: str) -> str:
    return hashlib.sha256(session_key.encode("ascii")).hexdigest()


def object_name_for_id(prefix: str, oid: str) -> str:
    """The storage name of session object ``oid`` under ``prefix``."""
    return f"{prefix}{oid}.json"


def object_name(prefix: str, session_key: str) -> str:
    """The storage name of the session ``session_key`` under ``prefix``."""
    return object_name_for_id(prefix, object_id(session_key))


def object_id_from_name(prefix: str, name: str) -> str | None:
    """The object id of a listed name, or None for anything that is not ours."""
    if not name.startswith(prefix) or not name.endswith(".json"):
        return None
    candidate = name[len(prefix) : -len(".json")]
    return candidate if _OBJECT_ID.fullmatch(candidate) else None


# -- the expiry index ---------------------------------------------------------------
#
# A session whose expiry is its last write plus SESSIONS_BLOB_MAX_AGE (every
# session saved with the default expiry, when MAX_AGE is SESSION_COOKIE_AGE)
# is judged from the listing alone. Each session saved with a shorter expiry
# (``set_expiry()``) has an empty marker object named by the hour it expires
# in, so that ``clearsessions`` reads only those whose hour has come.

_MARKER_HOUR = "%Y%m%d%H"
_MARKER = re.compile(r"(\d{10})/([0-9a-f]{64})")


def expiry_index_prefix(prefix: str) -> str:
    """The folder of the expiry markers, a sibling of the session folder
    (so never in a listing of the sessions)."""
    folder = prefix.rstrip("/")
    return f"{folder}-expiry/" if folder else "sessions-blob-expiry/"


def needs_expiry_marker(record: SessionRecord, max_age: int) -> bool:
    """Whether the listing cannot prove when ``record`` expires: it expires
    more than a second before its write plus ``max_age``."""
    latest = record.modified + dt.timedelta(seconds=max_age - 1)
    return record.expires < latest


def expiry_marker_name(prefix: str, oid: str, expires: dt.datetime) -> str:
    hour = expires.astimezone(dt.UTC).strftime(_MARKER_HOUR)
    return f"{expiry_index_prefix(prefix)}{hour}/{oid}"


def parse_expiry_marker(prefix: str, name: str) -> tuple[dt.datetime, str] | None:
    """``(start of the hour, object id)`` of a marker's name; None for
    anything else, which is never touched."""
    folder = expiry_index_prefix(prefix)
    if not name.startswith(folder):
        return None
    match = _MARKER.fullmatch(name[len(folder) :])
    if match is None:
        return None
    try:
        hour = dt.datetime.strptime(match[1], _MARKER_HOUR).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return hour, match[2]


def now() -> dt.datetime:
    """The current time in UTC: every time the engine stores is UTC."""
    return dt.datetime.now(dt.UTC)


def aware(moment: dt.datetime) -> dt.datetime:
    """``moment`` with a time zone. With ``USE_TZ = False`` Django (and its
    storages) give naive times in ``TIME_ZONE``; the engine compares in UTC."""
    if timezone.is_naive(moment):
        return timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _iso(moment: dt.datetime) -> str:
    return (
        moment.astimezone(dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _parse_iso(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise CorruptRecord(f"expected an ISO timestamp, got {value!r}")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CorruptRecord(str(exc)) from exc
    if moment.tzinfo is None:
        raise CorruptRecord(f"timestamp without time zone: {value!r}")
    return moment


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One stored session: times in UTC and the signed payload."""

    key_hint: str
    created: dt.datetime
    modified: dt.datetime
    expires: dt.datetime
    payload: str  # SessionBase.encode(): signed, never plain data; maybe encrypted
    #: How ``payload`` is encrypted (``crypto.SCHEME``); None: not encrypted.
    encryption: str | None = None
    #: The seal of an unencrypted record (``crypto.seal``): an HMAC binding
    #: the payload to its object and to the fields beside it.
    mac: str | None = None

    def is_expired(self, now: dt.datetime) -> bool:
        return self.expires <= now

    def associated_data(self) -> bytes:
        """Every field but the payload, as bound to an encrypted payload:
        editing any of them makes the payload fail to decrypt."""
        return "\n".join(
            [
                str(RECORD_FORMAT),
                self.encryption or "",
                self.key_hint,
                _iso(self.created),
                _iso(self.modified),
                _iso(self.expires),
            ]
        ).encode()

    def to_bytes(self) -> bytes:
        doc = {
            "format": RECORD_FORMAT,
            "key_hint": self.key_hint,
            "created": _iso(self.created),
            "modified": _iso(self.modified),
            "expires": _iso(self.expires),
            "payload": self.payload,
        }
        if self.encryption is not None:
            doc["payload_encryption"] = self.encryption
        if self.mac is not None:
            doc["mac"] = self.mac
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> SessionRecord:
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise CorruptRecord(f"not JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT:
            raise CorruptRecord("not a session record of a known format")
        payload, hint = doc.get("payload"), doc.get("key_hint")
        if not isinstance(payload, str) or not isinstance(hint, str):
            raise CorruptRecord("payload or key_hint missing")
        encryption = doc.get("payload_encryption")
        if encryption is not None and not isinstance(encryption, str):
            raise CorruptRecord("payload_encryption is not a string")
        mac = doc.get("mac")
        if mac is not None and not isinstance(mac, str):
            raise CorruptRecord("mac is not a string")
        return cls(
            key_hint=hint,
            created=_parse_iso(doc.get("created")),
            modified=_parse_iso(doc.get("modified")),
            expires=_parse_iso(doc.get("expires")),
            payload=payload,
            encryption=encryption,
            mac=mac,
        )
