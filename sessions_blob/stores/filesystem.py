"""Local disk: exclusive links for create, a lock and a digest for update."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.core.files.storage import FileSystemStorage

from sessions_blob.stores.base import (
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    ObjectStore,
    StoredObject,
    VersionMismatch,
    content_version,
)

_LOCK_DIR = ".locks"
_TMP_PREFIX = ".tmp-"


class FileSystemObjectStore(ObjectStore):
    """Session objects as files, private to the user running Django.

    Writers never change a file in place: they write a temporary file and
    link (create) or rename (replace) it into place, so readers need no lock
    and always see a whole object. Replacements and deletes of one object are
    serialised by an ``flock`` on one of 256 lock files, which works across
    processes on one machine.
    """

    storage: FileSystemStorage
    kind = "filesystem"

    def __init__(self, storage: FileSystemStorage) -> None:
        super().__init__(storage)
        self.root = Path(storage.location)

    def _path(self, name: str) -> Path:
        # FileSystemStorage.path() refuses names that escape the root.
        return Path(self.storage.path(name))

    def read(self, name: str) -> StoredObject | None:
        return self._read(name)

    def _read(self, name: str) -> StoredObject | None:
        try:
            data = self._path(name).read_bytes()
        except FileNotFoundError:
            return None
        return StoredObject(data=data, version=content_version(data))

    def _write_temp(self, path: Path, data: bytes) -> str:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)  # mode 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return tmp

    def create(self, name: str, data: bytes) -> str:
        path = self._path(name)
        tmp = self._write_temp(path, data)
        try:
            os.link(tmp, path)  # atomic: fails if the name exists
        except FileExistsError:
            raise ObjectExists(name) from None
        finally:
            os.unlink(tmp)
        return content_version(data)

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        lock_dir = self.root / _LOCK_DIR
        lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        stripe = content_version(name.encode())[:2]
        with open(lock_dir / stripe, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def replace(self, name: str, data: bytes, version: str) -> str:
        path = self._path(name)
        with self._locked(name):
            current = self._read(name)
            if current is None:
                raise ObjectMissing(name)
            if current.version != version:
                raise VersionMismatch(name)
            os.replace(self._write_temp(path, data), path)
        return content_version(data)

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def delete(self, name: str) -> None:
        with self._locked(name), contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        folder, _, start = prefix.rpartition("/")
        base = self._path(folder) if folder else self.root
        yield from self._scan(base, folder, start)

    def _scan(self, directory: Path, relative: str, start: str) -> Iterator[ObjectInfo]:
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.startswith(start):
                continue
            name = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._scan(Path(entry.path), name, "")
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:  # deleted since the scan
                continue
            yield ObjectInfo(
                name=name,
                last_modified=dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
                size=stat.st_size,
            )
