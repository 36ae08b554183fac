"""``SESSION_ENGINE = "sessions_blob.backends.cached_storage"``.

A Django cache (``SESSION_CACHE_ALIAS``, Redis in production) in front of the
object store, written through on every write. The store stays the source of
truth: writes are still conditional on the version that was read, so a stale
cache entry (another instance wrote, or a cache write was lost) costs one
extra read and a retry, never a lost update. A read served by the cache makes
no storage call. If the cache fails, the engine logs it and uses the store.

A copy from the cache that is expired or does not verify is checked against
the store before the session is taken for gone: another instance may have
extended it since.

A deleted session leaves a tombstone in the cache for a while, and a read
fills the cache with ``add()``, never ``set()``: a request that read the
session just before another one deleted it (a logout on another instance)
cannot put it back in the cache.

The cache never goes back in time. Two writers' cache writes can arrive in
the other order than their store writes did; had the older copy simply
replaced the newer one, the next request would read a version older than
one already acknowledged (its own last increment, say) and compute its
change from it, and no retry can repair a value computed from stale data.
So a write replaces the cached copy only if it is newer (each version is
stamped later than the one it replaced, ``SessionRecord.modified``), checked
and written under a short lock taken with ``add()``: Django's cache API has
no compare-and-set, and ``add()`` is atomic on every shared cache backend.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches

from sessions_blob.backends.storage import SessionStore as StorageSessionStore
from sessions_blob.backends.storage import _Expired, _Unreadable
from sessions_blob.conf import conf
from sessions_blob.records import CorruptRecord, SessionRecord, object_id
from sessions_blob.stores import StoredObject

logger = logging.getLogger("sessions_blob")

KEY_PREFIX = "sessions_blob:"
#: What the cache holds for a deleted session, and for how long (seconds):
#: longer than any read of the store can take, short enough to cost nothing.
TOMBSTONE = "deleted"
TOMBSTONE_TIMEOUT = 300
#: Seconds a cache write may hold a session's entry (a lock that outlives a
#: crashed writer); a waiting writer gives up a little after that.
LOCK_TIMEOUT = 2
LOCK_SUFFIX = ":lock"


def _stamp(body: bytes) -> dt.datetime | None:
    """When the version in ``body`` was written (None: unreadable)."""
    try:
        return SessionRecord.from_bytes(body).modified
    except CorruptRecord:
        return None


def _entry(version: str, body: bytes) -> tuple[str, bytes, dt.datetime | None]:
    return (version, body, _stamp(body))


def _newer(entry: Any, current: Any) -> bool:
    """Whether ``entry`` may replace ``current`` in the cache."""
    if current is None:
        return True
    if entry == TOMBSTONE or current == TOMBSTONE:
        return entry == TOMBSTONE  # a deletion is final
    if len(current) != 3 or current[2] is None:
        return True  # a copy of unknown age (an older release's)
    return entry[2] is not None and entry[2] > current[2]


class SessionStore(StorageSessionStore):
    cache_key_prefix = KEY_PREFIX
    #: Needs ``SESSION_CACHE_ALIAS`` in ``CACHES`` (system check E004).
    uses_cache = True

    @staticmethod
    def _cache() -> BaseCache:
        return caches[settings.SESSION_CACHE_ALIAS]

    @classmethod
    def _cache_key_for(cls, oid: str) -> str:
        return cls.cache_key_prefix + oid

    def _cache_key(self, session_key: str) -> str:
        return self._cache_key_for(object_id(session_key))

    def _read(self, session_key: str, *, fresh: bool = False) -> StoredObject | None:
        key = self._cache_key(session_key)
        if not fresh:
            try:
                cached: Any = self._cache().get(key)
            except Exception:
                logger.exception("Session cache read failed; reading the store")
                cached = None
            if cached == TOMBSTONE:
                return None
            if cached is not None:
                version, body = cached[:2]
                return StoredObject(data=body, version=version)
        found = super()._read(session_key, fresh=fresh)
        if found is None:
            return None
        entry = _entry(found.version, found.data)
        if fresh:
            # Read because the cached copy would not do (a write met a newer
            # version, an expired copy): replace it, unless newer by now. Not
            # worth waiting for: a writer holding the entry brings it up to
            # date, and each writer's own acknowledged write is what counts.
            self._put(key, entry, wait=False)
            return found
        try:  # add(): never over a newer version or a tombstone
            self._cache().add(key, entry, conf.MAX_AGE)
        except Exception:
            logger.exception("Session cache write failed")
        return found

    def _fetch(self, session_key: str, *, fresh: bool = False) -> dict[str, Any] | None:
        if fresh:
            return super()._fetch(session_key, fresh=True)
        try:
            return self._open(session_key, self._read(session_key))
        except (_Unreadable, _Expired):
            # A cached copy may be older than a write that extended or replaced
            # the session: the store decides before anyone is logged out.
            return super()._fetch(session_key, fresh=True)

    def _written(self, session_key: str, body: bytes, version: str) -> None:
        self._put(self._cache_key(session_key), _entry(version, body))

    def _deleted(self, session_key: str) -> None:
        self._put(self._cache_key(session_key), TOMBSTONE)

    @classmethod
    def _put(cls, key: str, entry: Any, *, wait: bool = True) -> None:
        """Cache ``entry`` unless the cache holds a newer one (or a tombstone);
        without ``wait``, give up at once if another write holds the entry."""
        cache = cls._cache()
        lock = key + LOCK_SUFFIX
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT + 1
            while not cache.add(lock, 1, LOCK_TIMEOUT):
                if not wait:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"cache lock {lock} held too long")
                time.sleep(0.002)
            try:
                current = cache.get(key)
                if _newer(entry, current):
                    timeout = TOMBSTONE_TIMEOUT if entry == TOMBSTONE else conf.MAX_AGE
                    cache.set(key, entry, timeout)
            finally:
                cache.delete(lock)
        except Exception:
            logger.exception("Session cache write failed; dropping the cached copy")
            try:  # the store answers the next read: never an older copy
                cache.delete(key)
            except Exception:
                logger.exception("Session cache delete failed")

    @classmethod
    def forget(cls, object_ids: Iterable[str]) -> None:
        tombstones = {cls._cache_key_for(oid): TOMBSTONE for oid in object_ids}
        if not tombstones:
            return
        try:
            cls._cache().set_many(tombstones, timeout=TOMBSTONE_TIMEOUT)
        except Exception:
            logger.exception("Session cache delete failed")
