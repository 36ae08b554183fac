"""The small object-store interface the session engine needs.

Django's Storage API has no conditional writes and no versions, so each kind
of storage gets an adapter that adds them with what that storage offers:
S3 ETags with ``If-None-Match``/``If-Match``, exclusive links and a lock on
local disk, a process lock in memory.
"""

from __future__ import annotations

import abc
import builtins
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import Storage

from sessions_blob.records import aware


class ObjectExists(Exception):
    """A create met an object of the same name."""


class ObjectMissing(Exception):
    """An update found no object to update."""


class VersionMismatch(Exception):
    """An update found a newer version than the one it was based on."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    data: bytes
    version: str


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a listing tells without reading the object."""

    name: str
    last_modified: dt.datetime
    size: int


@dataclass(frozen=True, slots=True)
class ObjectPage:
    """One page of a listing, and the token of the next (None at the end)."""

    items: list[ObjectInfo]
    next_token: str | None
    #: True when the page is sorted newest first; S3 pages come by name.
    newest_first: bool


def content_version(data: bytes) -> str:
    """A version token for stores without native ones: a digest of the bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class ObjectStore(abc.ABC):
    """Versioned, conditional access to objects of one Django storage."""

    #: Whether create/replace are atomic across processes and machines.
    atomic: bool = True
    #: Which adapter this is ("s3", "filesystem", "generic"): the doctor's
    #: probes of each live in the module of that name.
    kind = "generic"
    #: Whether the store has lifecycle rules (``lifecycle_rules()``, ...).
    supports_lifecycle = False
    #: Whether ``list_page`` is one round trip for a page of names in name
    #: order (S3), so that listings of several prefixes can run at once.
    pages_by_name = False

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @abc.abstractmethod
    def read(self, name: str) -> StoredObject | None:
        """The object and its version, or None when there is none."""

    @abc.abstractmethod
    def create(self, name: str, data: bytes) -> str:
        """Write a new object; raise ObjectExists if the name is taken."""

    @abc.abstractmethod
    def replace(self, name: str, data: bytes, version: str) -> str:
        """Overwrite the object only if it is still at ``version``.

        Raises ObjectMissing when it is gone, VersionMismatch when it changed.
        """

    @abc.abstractmethod
    def exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Delete the object; deleting a missing object is not an error."""

    def delete_many(self, names: Iterable[str]) -> int:
        """Delete each name; return how many calls the store needed."""
        calls = 0
        for name in names:
            self.delete(name)
            calls += 1
        return calls

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects whose names start with ``prefix``, with listing metadata."""

    def list_page(
        self, prefix: str, *, token: str | None = None, limit: int = 50
    ) -> ObjectPage:
        """One page of ``list(prefix)``; ``token`` continues a previous page.

        Stores that can only list everything sort it newest first, and the
        token is the position of the last object shown. A token this store
        did not give out raises ``ValueError``.
        """
        items = sorted(self.list(prefix), key=_newest_first)
        if token:
            cursor = _parse_cursor(token, prefix)
            items = [info for info in items if _newest_first(info) > cursor]
        page = items[:limit]
        more = len(items) > limit and bool(page)
        return ObjectPage(page, _cursor(page[-1]) if more else None, True)

    def key_prefix(self, prefix: str) -> str:
        """The store's own name for ``prefix`` (S3: with the storage's location)."""
        return prefix

    def lifecycle_rules(self) -> builtins.list[dict[str, Any]]:
        """The store's expiry rules; only stores with ``supports_lifecycle``."""
        raise NotImplementedError(f"{type(self.storage).__name__} has no lifecycle")

    def put_lifecycle_rules(self, rules: builtins.list[dict[str, Any]]) -> None:
        raise NotImplementedError(f"{type(self.storage).__name__} has no lifecycle")

    def metadata(self, name: str) -> dict[str, Any]:
        """What the store tells about the object beyond its bytes, for people
        (the admin's detail page). Empty where the storage says nothing more."""
        try:
            modified = self.storage.get_modified_time(name)
        except (FileNotFoundError, NotImplementedError, OSError):
            return {}
        return {"LastModified": aware(modified)}


def _newest_first(info: ObjectInfo) -> tuple[float, str]:
    return (-info.last_modified.timestamp(), info.name)


def _cursor(info: ObjectInfo) -> str:
    return f"{info.last_modified.timestamp():.6f}~{info.name}"


def _parse_cursor(token: str, prefix: str) -> tuple[float, str]:
    stamp, _, name = token.partition("~")
    try:
        moment = float(stamp)
    except ValueError:
        raise ValueError(f"not a page token: {token!r}") from None
    if not name.startswith(prefix):
        raise ValueError(f"not a page token of {prefix!r}: {token!r}")
    return (-moment, name)
