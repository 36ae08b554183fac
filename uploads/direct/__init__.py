"""Direct uploads: the file's bytes go from the client to the storage, never
through the site (serverless platforms cap request bodies at a few MB).

The client declares a file, gets signed requests for its parts, sends the
bytes, and asks to complete; the site checks what the store holds before the
file joins the session. One adapter per kind of storage holds the mechanics:
``s3`` (presigned S3 requests, multipart above one part) and ``served``
(local disk or memory: this site signs and serves the URLs itself). The
services in ``uploads.services.direct`` keep the session's side.
"""

from __future__ import annotations

from django.core.files.storage import Storage, storages

from uploads.conf import conf
from uploads.direct.base import (
    Completed,
    DirectStore,
    ReceivedPart,
    SignedPart,
)
from uploads.direct.s3 import S3DirectStore, is_s3
from uploads.direct.served import ServedDirectStore

__all__ = [
    "Completed",
    "DirectStore",
    "ReceivedPart",
    "S3DirectStore",
    "ServedDirectStore",
    "SignedPart",
    "direct_store",
    "direct_store_for",
    "is_s3",
]


def direct_store_for(storage: Storage) -> S3DirectStore | ServedDirectStore:
    if is_s3(storage):
        return S3DirectStore(storage)
    return ServedDirectStore(storage)


def direct_store() -> S3DirectStore | ServedDirectStore:
    """The adapter of the uploads storage (``UPLOADS_STORAGE_ALIAS``)."""
    return direct_store_for(storages[conf.STORAGE_ALIAS])
