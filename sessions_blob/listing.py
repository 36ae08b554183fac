"""The listing of session objects, and what it proves without reading them.

Every write clamps a session's expiry to ``SESSIONS_BLOB_MAX_AGE`` after the
write, so an object last written longer ago than that is expired whatever it
holds: the listing alone decides it. Only younger objects may be live, and
only they are ever read by the commands and pages that scan the sessions.
``clearsessions`` reads fewer still: of the younger ones only those with a
due marker in the expiry index (``records.expiry_index_prefix``, a sibling
folder, so its markers never appear in this listing).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sessions_blob.conf import conf
from sessions_blob.records import object_id_from_name
from sessions_blob.stores import ObjectInfo, ObjectStore

T = TypeVar("T")

#: Objects read at once when a command or a page needs their contents.
READ_WORKERS = 8

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def read_pool() -> ThreadPoolExecutor:
    """The process's threads for parallel reads (each keeps its storage
    connection warm between uses)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(
                    max_workers=READ_WORKERS, thread_name_prefix="sessions_blob"
                )
    return _pool


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def session_objects(store: ObjectStore) -> Iterator[ObjectInfo]:
    """Every session object in the listing; anything else under the prefix
    (not named like a session object) is never touched."""
    for info in store.list(conf.PREFIX):
        if object_id_from_name(conf.PREFIX, info.name) is not None:
            yield info


def object_id_of(info: ObjectInfo) -> str:
    oid = object_id_from_name(conf.PREFIX, info.name)
    assert oid is not None, info.name
    return oid


def split_by_age(
    infos: Iterable[ObjectInfo], at: dt.datetime
) -> tuple[list[ObjectInfo], list[ObjectInfo]]:
    """``(old, young)``: the old ones are expired; only the young need reading."""
    oldest_live = at - dt.timedelta(seconds=conf.MAX_AGE)
    old: list[ObjectInfo] = []
    young: list[ObjectInfo] = []
    for info in infos:
        (old if info.last_modified < oldest_live else young).append(info)
    return old, young
