"""The small object-store interface the session engine needs.

Django's Storage API has no conditional writes and no versions, so each kind
of storage gets an adapter that adds them with what that storage offers:
S3 ETags with ``If-None-Match``/``If-Match``, exclusive links and a lock on
local disk, a process lock in memory.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.core.files.storage import Storage


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


def content_version(data: bytes) -> str:
    """A version token for stores without native ones: a digest of the bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class ObjectStore(abc.ABC):
    """Versioned, conditional access to objects of one Django storage."""

    #: Whether create/replace are atomic across processes and machines.
    atomic: bool = True

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
