"""Any other Django storage, through the Storage API and a process lock.

Right for Django's ``InMemoryStorage``, whose objects live in one process
anyway. For other storages writes are atomic only within one process, which
``checks.py`` reports.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, Storage

from sessions_blob.records import aware
from sessions_blob.stores.base import (
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    ObjectStore,
    StoredObject,
    VersionMismatch,
    content_version,
)


class StorageApiObjectStore(ObjectStore):
    def __init__(self, storage: Storage) -> None:
        super().__init__(storage)
        self.atomic = isinstance(storage, InMemoryStorage)
        # Storage.save() never overwrites (it picks another name), so a
        # replacement is a delete and a save; the lock hides the gap.
        self._lock = threading.RLock()

    def read(self, name: str) -> StoredObject | None:
        return self._read(name)

    def _read(self, name: str) -> StoredObject | None:
        with self._lock:
            try:
                with self.storage.open(name, "rb") as handle:
                    data = handle.read()
            except FileNotFoundError:
                return None
        return StoredObject(data=data, version=content_version(data))

    def _save(self, name: str, data: bytes) -> None:
        saved = self.storage.save(name, ContentFile(data))
        if saved != name:  # the storage renamed it: someone else holds the name
            self.storage.delete(saved)
            raise ObjectExists(name)

    def create(self, name: str, data: bytes) -> str:
        with self._lock:
            if self.storage.exists(name):
                raise ObjectExists(name)
            self._save(name, data)
        return content_version(data)

    def replace(self, name: str, data: bytes, version: str) -> str:
        with self._lock:
            current = self._read(name)
            if current is None:
                raise ObjectMissing(name)
            if current.version != version:
                raise VersionMismatch(name)
            self.storage.delete(name)
            self._save(name, data)
        return content_version(data)

    def exists(self, name: str) -> bool:
        return self.storage.exists(name)

    def delete(self, name: str) -> None:
        with self._lock, contextlib.suppress(FileNotFoundError):
            self.storage.delete(name)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        folder, _, start = prefix.rpartition("/")
        yield from self._scan(folder, start)

    def _scan(self, folder: str, start: str) -> Iterator[ObjectInfo]:
        try:
            directories, files = self.storage.listdir(folder)
        except FileNotFoundError:
            return
        join = (lambda n: f"{folder}/{n}") if folder else (lambda n: n)
        for directory in directories:
            if directory.startswith(start):
                yield from self._scan(join(directory), "")
        for file in files:
            if not file.startswith(start):
                continue
            name = join(file)
            try:
                modified = aware(self.storage.get_modified_time(name))
                size = self.storage.size(name)
            except FileNotFoundError:
                continue
            yield ObjectInfo(name=name, last_modified=modified, size=size)
