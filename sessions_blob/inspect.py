"""Reading session objects for people: the admin pages and the commands.

Staff never hold session keys, only object ids (the SHA-256 of a key, which
names the object), so everything here works from object ids. A payload is
shown only after its signature verifies (and, when encrypted, after it
decrypts); otherwise the object is reported as tampered or corrupt and its
payload is never decoded.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import SESSION_KEY as USER_KEY
from django.core import signing
from django.utils.encoding import force_bytes

from sessions_blob.backends import configured_engine
from sessions_blob.conf import conf
from sessions_blob.records import (
    KEY_HINT_LENGTH,
    CorruptRecord,
    SessionRecord,
    is_valid_session_key,
    object_id,
    object_id_from_name,
)
from sessions_blob.stores import ObjectInfo, ObjectStore, object_store

#: Objects read at once when a page or a scan needs their contents.
READ_WORKERS = 8

LIVE, EXPIRED, CORRUPT, TAMPERED, MISSING = (
    "live",
    "expired",
    "corrupt",
    "tampered",
    "missing",
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def session_name(oid: str) -> str:
    return f"{conf.PREFIX}{oid}.json"


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and object_id_from_name("", f"{value}.json") == value


# -- decoding -----------------------------------------------------------------


def _engine_class() -> type[Any]:
    from sessions_blob.backends.storage import SessionStore

    return configured_engine() or SessionStore


def _unseal(record: SessionRecord, oid: str) -> SessionRecord:
    """``crypto.unseal`` for a caller that knows the object id, not the key.

    The encryption key is derived from the object id, so staff can read an
    encrypted session without ever seeing its key.
    """
    if record.encryption is None:
        return record
    from sessions_blob import crypto

    if record.encryption != crypto.SCHEME:
        raise crypto.UndecryptablePayload(
            f"unknown payload encryption {record.encryption!r}"
        )
    try:
        token = base64.urlsafe_b64decode(record.payload.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise crypto.UndecryptablePayload("encrypted payload is not base64") from exc
    nonce, ciphertext = token[: crypto._NONCE_SIZE], token[crypto._NONCE_SIZE :]
    invalid_tag, hashes, aesgcm, hkdf = crypto._primitives()
    for secret in conf.SECRET_KEYS:
        key = hkdf(
            algorithm=hashes.SHA256(),
            length=32,
            salt=crypto._SALT,
            info=f"{crypto.SCHEME}:{oid}".encode(),
        ).derive(force_bytes(secret))
        try:
            payload = aesgcm(key).decrypt(nonce, ciphertext, record.associated_data())
        except (invalid_tag, ValueError):
            continue
        return dataclasses.replace(record, payload=payload.decode(), encryption=None)
    raise crypto.UndecryptablePayload(
        "payload does not decrypt with SECRET_KEY or SECRET_KEY_FALLBACKS"
    )


@dataclass
class UploadInfo:
    """The upload document of a session (``uploads`` app), read defensively."""

    uid: str | None
    status: str
    files: list[dict[str, Any]]
    analytics_path: str | None

    @classmethod
    def from_session(cls, data: dict[str, Any]) -> UploadInfo | None:
        doc = data.get("upload")
        if not isinstance(doc, dict):
            return None
        files = doc.get("files")
        files = (
            [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []
        )
        uid, analytics = doc.get("uid"), doc.get("analytics_path")
        return cls(
            uid=uid if isinstance(uid, str) else None,
            status=str(doc.get("status") or "unknown"),
            files=files,
            analytics_path=analytics if isinstance(analytics, str) else None,
        )

    @property
    def paths(self) -> list[str]:
        """Storage names this document points at (files, then analytics)."""
        names = [f.get("path") for f in self.files]
        names.append(self.analytics_path)
        return [n for n in names if isinstance(n, str) and n]


@dataclass
class SessionView:
    """One session object as staff may see it."""

    object_id: str
    state: str  # LIVE, EXPIRED, CORRUPT, TAMPERED or MISSING
    size: int | None = None
    last_modified: dt.datetime | None = None
    version: str | None = None
    record: SessionRecord | None = None
    data: dict[str, Any] | None = None  # only when the signature verified
    problem: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return session_name(self.object_id)

    @property
    def key_hint(self) -> str | None:
        return self.record.key_hint if self.record else None

    @property
    def expires(self) -> dt.datetime | None:
        return self.record.expires if self.record else None

    @property
    def created(self) -> dt.datetime | None:
        return self.record.created if self.record else None

    @property
    def modified(self) -> dt.datetime | None:
        return self.record.modified if self.record else None

    @property
    def user_id(self) -> str | None:
        user = (self.data or {}).get(USER_KEY)
        return None if user is None else str(user)

    @functools.cached_property
    def upload(self) -> UploadInfo | None:
        return UploadInfo.from_session(self.data) if self.data else None

    @property
    def is_live(self) -> bool:
        return self.state == LIVE

    @property
    def is_expired(self) -> bool:
        return self.state == EXPIRED


def view_from_bytes(
    oid: str,
    body: bytes,
    *,
    version: str | None = None,
    info: ObjectInfo | None = None,
    at: dt.datetime | None = None,
) -> SessionView:
    view = SessionView(
        object_id=oid,
        state=CORRUPT,
        size=len(body),
        version=version,
        last_modified=info.last_modified if info else None,
    )
    try:
        view.record = SessionRecord.from_bytes(body)
    except CorruptRecord as exc:
        view.problem = f"Not a session record: {exc}"
        return view
    try:
        opened = _unseal(view.record, oid)
    except CorruptRecord as exc:
        view.state = TAMPERED
        view.problem = (
            f"The payload does not decrypt ({exc}): changed in the bucket, or "
            "encrypted with a SECRET_KEY that is no longer configured."
        )
        return view
    try:
        view.data = _engine_class()()._decode_strict(opened.payload)
    except signing.BadSignature:
        view.state = TAMPERED
        view.problem = (
            "The payload's signature does not verify: changed in the bucket, or "
            "signed with a SECRET_KEY that is no longer configured. Not decoded."
        )
        return view
    except (CorruptRecord, ValueError, TypeError) as exc:
        view.problem = f"The payload verifies but does not decode: {exc}"
        return view
    view.state = EXPIRED if view.record.is_expired(at or now()) else LIVE
    return view


# -- reading --------------------------------------------------------------------

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """Threads kept for the process: each keeps its S3 connection warm."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(
                    max_workers=READ_WORKERS, thread_name_prefix="sessions_blob"
                )
    return _pool


def _s3_metadata(store: ObjectStore, name: str) -> dict[str, Any]:
    from sessions_blob.stores.s3 import S3ObjectStore

    if not isinstance(store, S3ObjectStore):
        return {}
    try:
        head = store.client.head_object(
            Bucket=store.storage.bucket_name, Key=store.key(name)
        )
    except Exception as exc:  # metadata is extra: show why it is missing
        return {"error": str(exc)}
    wanted = (
        "ETag",
        "VersionId",
        "LastModified",
        "ContentLength",
        "ContentType",
        "ServerSideEncryption",
        "SSEKMSKeyId",
        "StorageClass",
        "Metadata",
    )
    return {k: head[k] for k in wanted if head.get(k) not in (None, {}, "")} | {
        "Bucket": store.storage.bucket_name,
        "Key": store.key(name),
    }


def read_view(
    oid: str,
    *,
    store: ObjectStore | None = None,
    info: ObjectInfo | None = None,
    metadata: bool = False,
    at: dt.datetime | None = None,
) -> SessionView:
    """The session object ``oid``: one read (and a HEAD for ``metadata``)."""
    store = store or object_store()
    name = session_name(oid)
    found = store.read(name)
    if found is None:
        return SessionView(object_id=oid, state=MISSING)
    view = view_from_bytes(oid, found.data, version=found.version, info=info, at=at)
    if metadata:
        view.metadata = _s3_metadata(store, name)
        if view.last_modified is None:
            view.last_modified = view.metadata.get("LastModified") or _modified(
                store, name
            )
    return view


def _modified(store: ObjectStore, name: str) -> dt.datetime | None:
    try:
        return store.storage.get_modified_time(name)
    except (FileNotFoundError, NotImplementedError, OSError):
        return None


def read_views(
    items: Iterable[ObjectInfo | str],
    *,
    store: ObjectStore | None = None,
    at: dt.datetime | None = None,
) -> list[SessionView]:
    """Several objects read in parallel, in the given order."""
    store = store or object_store()
    at = at or now()

    def one(item: ObjectInfo | str) -> SessionView:
        if isinstance(item, str):
            return read_view(item, store=store, at=at)
        oid = object_id_from_name(conf.PREFIX, item.name)
        assert oid is not None
        return read_view(oid, store=store, info=item, at=at)

    return list(pool().map(one, list(items)))


def session_objects(store: ObjectStore | None = None) -> Iterator[ObjectInfo]:
    """Every session object in the listing (nothing else under the prefix)."""
    store = store or object_store()
    for info in store.list(conf.PREFIX):
        if object_id_from_name(conf.PREFIX, info.name) is not None:
            yield info


def object_id_of(info: ObjectInfo) -> str:
    oid = object_id_from_name(conf.PREFIX, info.name)
    assert oid is not None
    return oid


# -- pages ------------------------------------------------------------------------


class BadPageToken(ValueError):
    """The page token in a link is not one this listing gave out."""


@dataclass
class ListingPage:
    items: list[ObjectInfo]
    next_token: str | None
    newest_first: bool


def listing_page(
    *, token: str | None = None, limit: int = 50, store: ObjectStore | None = None
) -> ListingPage:
    """One page of the listing, without listing the rest.

    S3 lists by key, and keys are hashes: its pages come in no useful order,
    and the token is S3's own continuation token. Local disk and memory list
    everything anyway, so their pages are sorted newest first and the token
    is the position of the last object shown.
    """
    store = store or object_store()
    from sessions_blob.stores.s3 import S3ObjectStore

    if isinstance(store, S3ObjectStore):
        return _s3_page(store, token, limit)
    items = sorted(session_objects(store), key=_newest_first)
    if token:
        cursor = _parse_cursor(token)
        items = [info for info in items if _newest_first(info) > cursor]
    page = items[:limit]
    more = len(items) > limit
    return ListingPage(
        items=page,
        next_token=_cursor(page[-1]) if more and page else None,
        newest_first=True,
    )


def _newest_first(info: ObjectInfo) -> tuple[float, str]:
    return (-info.last_modified.timestamp(), info.name)


def _cursor(info: ObjectInfo) -> str:
    return f"{info.last_modified.timestamp():.6f}~{object_id_of(info)}"


def _parse_cursor(token: str) -> tuple[float, str]:
    stamp, _, oid = token.partition("~")
    try:
        moment = float(stamp)
    except ValueError:
        raise BadPageToken(token) from None
    if not is_object_id(oid):
        raise BadPageToken(token)
    return (-moment, session_name(oid))


def _s3_page(store: Any, token: str | None, limit: int) -> ListingPage:
    from botocore.exceptions import ClientError

    params: dict[str, Any] = {
        "Bucket": store.storage.bucket_name,
        "Prefix": store._key_prefix(conf.PREFIX),
        "Delimiter": "/",
        "MaxKeys": limit,
    }
    if token:
        params["ContinuationToken"] = token
    try:
        response = store.client.list_objects_v2(**params)
    except ClientError as error:
        if token:  # stores answer 400 or 500 to a token they did not give out
            raise BadPageToken(token) from error
        raise store._unavailable("listing", conf.PREFIX, error) from error
    items = [
        ObjectInfo(
            name=store._name(item["Key"]),
            last_modified=item["LastModified"],
            size=int(item["Size"]),
        )
        for item in response.get("Contents", [])
    ]
    items = [i for i in items if object_id_from_name(conf.PREFIX, i.name) is not None]
    next_token = (
        response.get("NextContinuationToken") if response.get("IsTruncated") else None
    )
    return ListingPage(items=items, next_token=next_token, newest_first=False)


@dataclass
class BrowsePage:
    rows: list[SessionView]
    next_token: str | None
    scanned: int  # objects read for this page
    newest_first: bool
    stopped_early: bool  # the scan budget ran out before the page filled
    exact: bool = False  # a full key was searched: at most one row


Match = Callable[[SessionView], bool]


def key_prefix_match(query: str) -> Match | None:
    """A test on the key hint for the start of a key; None if it cannot match."""
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS

    wanted = query.strip()[:KEY_HINT_LENGTH]
    if not wanted or not set(wanted) <= set(VALID_KEY_CHARS):
        return None
    return lambda view: bool(view.key_hint and view.key_hint.startswith(wanted))


def browse(
    *,
    token: str | None = None,
    per_page: int = 50,
    state: str | None = None,
    query: str = "",
    max_scan: int = 1000,
    store: ObjectStore | None = None,
) -> BrowsePage:
    """A page of sessions for the admin's list.

    Without a filter this is one listing page read in parallel. A filter
    (``state``) or a key search reads further listing pages until the page
    is full or ``max_scan`` objects were read; the returned token continues
    the scan where it stopped. A whole key is looked up directly.
    """
    store = store or object_store()
    query = query.strip()
    if query and is_valid_session_key(query):
        view = read_view(object_id(query), store=store)
        rows = [view] if view.state != MISSING and _state_ok(view, state) else []
        return BrowsePage(rows, None, 1, False, False, exact=True)
    if query and is_object_id(query.lower()):
        view = read_view(query.lower(), store=store)
        rows = [view] if view.state != MISSING and _state_ok(view, state) else []
        return BrowsePage(rows, None, 1, False, False, exact=True)
    match = key_prefix_match(query) if query else None
    if query and match is None:
        return BrowsePage([], None, 0, False, False)
    found: list[SessionView] = []
    scanned = 0
    newest_first = False
    while True:
        page = listing_page(token=token, limit=per_page, store=store)
        newest_first = page.newest_first
        views = read_views(page.items, store=store)
        scanned += len(views)
        found += [
            v
            for v in views
            if v.state != MISSING
            and _state_ok(v, state)
            and (match is None or match(v))
        ]
        token = page.next_token
        filtered = state is not None or match is not None
        if not filtered or token is None or len(found) >= per_page:
            return BrowsePage(found, token, scanned, newest_first, False)
        if scanned >= max_scan:
            return BrowsePage(found, token, scanned, newest_first, True)


def _state_ok(view: SessionView, state: str | None) -> bool:
    if state is None:
        return True
    if state == EXPIRED:
        return view.state == EXPIRED
    if state == LIVE:
        return view.state == LIVE
    return view.state in {CORRUPT, TAMPERED}
