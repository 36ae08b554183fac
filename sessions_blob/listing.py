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
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sessions_blob.conf import conf
from sessions_blob.records import object_id_from_name
from sessions_blob.stores import ObjectInfo, ObjectPage, ObjectStore
from sessions_blob.threads import thread_pool

T = TypeVar("T")

#: Objects read at once when a command or a page needs their contents.
READ_WORKERS = 8


def read_pool() -> ThreadPoolExecutor:
    """The process's threads for parallel reads (each keeps its storage
    connection warm between uses)."""
    return thread_pool("read", READ_WORKERS)


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


#: The first characters of object ids (hex digests): each names one
#: sixteenth of the sessions, listed beside the others.
ID_SHARDS = "0123456789abcdef"
#: Names per listing call: S3's maximum.
LISTING_PAGE = 1000


def session_objects(store: ObjectStore) -> Iterator[ObjectInfo]:
    """Every session object in the listing, in no set order; anything else
    under the prefix (not named like a session object) is never touched."""
    listed = _listed_by_shard(store) if store.pages_by_name else store.list(conf.PREFIX)
    for info in listed:
        if object_id_from_name(conf.PREFIX, info.name) is not None:
            yield info


def _listed_by_shard(store: ObjectStore) -> Iterator[ObjectInfo]:
    """The listing of each id shard, a page of every shard at a time.

    An S3 listing is one round trip per 1,000 names, each waiting for the
    last one's token: a million sessions is a thousand calls in a row. Split
    by the ids' first character, the shards' pages are fetched at once (on
    threads of their own: the consumer's reads go to ``read_pool()`` while
    a round is under way), and a consumer that stops early stops after the
    round it was given.
    """

    def page(shard: str, token: str | None) -> ObjectPage:
        return store.list_page(conf.PREFIX + shard, token=token, limit=LISTING_PAGE)

    pool = thread_pool("listing", len(ID_SHARDS))
    tokens: dict[str, str | None] = dict.fromkeys(ID_SHARDS)
    while tokens:
        shards = list(tokens)
        pages = pool.map(page, shards, tokens.values())
        following: dict[str, str | None] = {}
        for shard, listed in zip(shards, pages, strict=True):
            yield from listed.items
            if listed.next_token is not None:
                following[shard] = listed.next_token
        tokens = following


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
