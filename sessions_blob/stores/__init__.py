"""Adapters that give a Django storage versioned, conditional writes."""

from __future__ import annotations

import threading
import weakref

from django.core.files.storage import FileSystemStorage, Storage, storages

from sessions_blob.conf import conf
from sessions_blob.stores.base import (
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    ObjectPage,
    ObjectStore,
    StoredObject,
    VersionMismatch,
)

__all__ = [
    "ObjectExists",
    "ObjectInfo",
    "ObjectMissing",
    "ObjectPage",
    "ObjectStore",
    "StoredObject",
    "VersionMismatch",
    "object_store",
    "object_store_for",
]

_adapters: weakref.WeakKeyDictionary[Storage, ObjectStore] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _build(storage: Storage) -> ObjectStore:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # django-storages without boto3
        S3Storage = None
    if S3Storage is not None and isinstance(storage, S3Storage):
        from sessions_blob.stores.s3 import S3ObjectStore

        return S3ObjectStore(storage)
    if isinstance(storage, FileSystemStorage):
        from sessions_blob.stores.filesystem import FileSystemObjectStore

        return FileSystemObjectStore(storage)
    from sessions_blob.stores.generic import StorageApiObjectStore

    return StorageApiObjectStore(storage)


def object_store_for(storage: Storage) -> ObjectStore:
    """The adapter of ``storage``, built once per storage instance.

    The adapter remembers what it learnt about the store (such as missing
    conditional-write support), so it lives as long as the storage does.
    """
    adapter = _adapters.get(storage)
    if adapter is None:
        with _lock:
            adapter = _adapters.get(storage)
            if adapter is None:
                adapter = _adapters[storage] = _build(storage)
    return adapter


def object_store() -> ObjectStore:
    """The adapter of the storage named by ``SESSIONS_BLOB_STORAGE_ALIAS``."""
    return object_store_for(storages[conf.STORAGE_ALIAS])
