"""Reading session objects for people: the admin pages and the commands.

Staff never hold session keys, only object ids (the SHA-256 of a key, which
names the object), so everything here works from object ids. A payload is
shown only after its signature verifies (and, when encrypted, after it
decrypts); otherwise the object is reported as tampered or corrupt and its
payload is never decoded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core import signing

from sessions_blob.backends import configured_engine
from sessions_blob.conf import conf
from sessions_blob.crypto import UnsealedRecord, unseal
from sessions_blob.listing import (
    batched,
    object_id_of,
    read_pool,
    session_objects,
    split_by_age,
)
from sessions_blob.records import (
    KEY_HINT_LENGTH,
    CorruptRecord,
    SessionRecord,
    is_valid_session_key,
    now,
    object_id,
    object_id_from_name,
    object_name_for_id,
)
from sessions_blob.stores import ObjectInfo, ObjectStore, object_store
from sessions_blob.user_index import user_of

LIVE, EXPIRED, CORRUPT, TAMPERED, MISSING = (
    "live",
    "expired",
    "corrupt",
    "tampered",
    "missing",
)


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and object_id_from_name("", f"{value}.json") == value


@dataclass
class SessionObject:
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
    #: The user's name, when a page looked it up (the admin does, per page).
    username: str | None = None

    @property
    def name(self) -> str:
        return object_name_for_id(conf.PREFIX, self.object_id)

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
        return user_of(self.data or {})

    @property
    def is_live(self) -> bool:
        return self.state == LIVE

    @property
    def is_expired(self) -> bool:
        return self.state == EXPIRED


def _decode_strict(payload: str) -> dict[str, Any]:
    from sessions_blob.backends.storage import SessionStore

    return (configured_engine() or SessionStore)().decode_strict(payload)


def decode(
    oid: str,
    body: bytes,
    *,
    version: str | None = None,
    info: ObjectInfo | None = None,
    at: dt.datetime | None = None,
) -> SessionObject:
    """The stored bytes of object ``oid`` as staff may see them."""
    found = SessionObject(
        object_id=oid,
        state=CORRUPT,
        size=len(body),
        version=version,
        last_modified=info.last_modified if info else None,
    )
    try:
        found.record = SessionRecord.from_bytes(body)
    except CorruptRecord as exc:
        found.problem = f"Not a session record: {exc}"
        return found
    try:
        opened = unseal(found.record, oid)
    except UnsealedRecord:
        found.state = TAMPERED
        found.problem = (
            "The record's signature does not verify: changed in the bucket, "
            "copied from another session, or signed with a SECRET_KEY that is no "
            "longer configured. Not decoded."
        )
        return found
    except CorruptRecord as exc:
        found.state = TAMPERED
        found.problem = (
            f"The payload does not decrypt ({exc}): changed in the bucket, or "
            "encrypted with a SECRET_KEY that is no longer configured."
        )
        return found
    try:
        found.data = _decode_strict(opened.payload)
    except signing.BadSignature:
        found.state = TAMPERED
        found.problem = (
            "The payload's signature does not verify: changed in the bucket, or "
            "signed with a SECRET_KEY that is no longer configured. Not decoded."
        )
        return found
    except (CorruptRecord, ValueError, TypeError) as exc:
        found.problem = f"The payload verifies but does not decode: {exc}"
        return found
    found.state = EXPIRED if found.record.is_expired(at or now()) else LIVE
    return found


# -- reading --------------------------------------------------------------------


def read(
    oid: str,
    *,
    store: ObjectStore | None = None,
    info: ObjectInfo | None = None,
    metadata: bool = False,
    at: dt.datetime | None = None,
) -> SessionObject:
    """The session object ``oid``: one read (and the object's metadata)."""
    store = store or object_store()
    name = object_name_for_id(conf.PREFIX, oid)
    found = store.read(name)
    if found is None:
        return SessionObject(object_id=oid, state=MISSING)
    session = decode(oid, found.data, version=found.version, info=info, at=at)
    if metadata:
        session.metadata = store.metadata(name)
        if session.last_modified is None:
            session.last_modified = session.metadata.get("LastModified")
    return session


def read_many(
    items: Iterable[ObjectInfo | str],
    *,
    store: ObjectStore | None = None,
    at: dt.datetime | None = None,
) -> list[SessionObject]:
    """Several objects read in parallel, in the given order."""
    store = store or object_store()
    at = at or now()

    def one(item: ObjectInfo | str) -> SessionObject:
        if isinstance(item, str):
            return read(item, store=store, at=at)
        return read(object_id_of(item), store=store, info=item, at=at)

    return list(read_pool().map(one, list(items)))


@dataclass
class ScanBatch:
    listed: list[ObjectInfo]  # every session object of this batch
    old: list[ObjectInfo]  # expired by age, not read
    read: list[SessionObject]  # the young ones, read (some may be gone)


def scan(
    *,
    store: ObjectStore | None = None,
    at: dt.datetime | None = None,
    batch_size: int = 1000,
) -> Iterator[ScanBatch]:
    """Every session object, batch by batch: the listing decides the old ones,
    the young ones (which may be live) are read in parallel."""
    store = store or object_store()
    at = at or now()
    for batch in batched(session_objects(store), batch_size):
        old, young = split_by_age(batch, at)
        yield ScanBatch(batch, old, read_many(young, store=store, at=at))


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
    """One page of the session objects, without listing the rest where the
    store can page (S3); see ``ObjectStore.list_page``."""
    store = store or object_store()
    try:
        page = store.list_page(conf.PREFIX, token=token, limit=limit)
    except ValueError as exc:  # a token this store did not give out
        raise BadPageToken(token) from exc
    items = [i for i in page.items if object_id_from_name(conf.PREFIX, i.name)]
    return ListingPage(items, page.next_token, page.newest_first)


@dataclass
class BrowsePage:
    rows: list[SessionObject]
    next_token: str | None
    scanned: int  # objects read for this page
    newest_first: bool
    stopped_early: bool  # the scan budget ran out before the page filled
    exact: bool = False  # a full key was searched: at most one row


Match = Callable[[SessionObject], bool]


def key_prefix_match(query: str) -> Match | None:
    """A test on the key hint for the start of a key; None if it cannot match."""
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS

    wanted = query.strip()[:KEY_HINT_LENGTH]
    if not wanted or not set(wanted) <= set(VALID_KEY_CHARS):
        return None
    return lambda session: bool(
        session.key_hint and session.key_hint.startswith(wanted)
    )


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
    the scan where it stopped. A whole key or object id is looked up directly.
    """
    store = store or object_store()
    query = query.strip()
    exact = None
    if query and is_valid_session_key(query):
        exact = object_id(query)
    elif query and is_object_id(query.lower()):
        exact = query.lower()
    if exact is not None:
        found = read(exact, store=store)
        rows = [found] if found.state != MISSING and _state_ok(found, state) else []
        return BrowsePage(rows, None, 1, False, False, exact=True)
    match = key_prefix_match(query) if query else None
    if query and match is None:
        return BrowsePage([], None, 0, False, False)
    rows = []
    scanned = 0
    while True:
        page = listing_page(token=token, limit=per_page, store=store)
        sessions = read_many(page.items, store=store)
        scanned += len(sessions)
        rows += [
            s
            for s in sessions
            if s.state != MISSING
            and _state_ok(s, state)
            and (match is None or match(s))
        ]
        token = page.next_token
        filtered = state is not None or match is not None
        if not filtered or token is None or len(rows) >= per_page:
            return BrowsePage(rows, token, scanned, page.newest_first, False)
        if scanned >= max_scan:
            return BrowsePage(rows, token, scanned, page.newest_first, True)


def _state_ok(session: SessionObject, state: str | None) -> bool:
    if state is None:
        return True
    if state in {EXPIRED, LIVE}:
        return session.state == state
    return session.state in {CORRUPT, TAMPERED}
