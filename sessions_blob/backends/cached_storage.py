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
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches

from sessions_blob.backends.storage import SessionStore as StorageSessionStore
from sessions_blob.backends.storage import _Expired, _Unreadable
from sessions_blob.conf import conf
from sessions_blob.records import object_id
from sessions_blob.stores import StoredObject

logger = logging.getLogger("sessions_blob")

KEY_PREFIX = "sessions_blob:"
#: What the cache holds for a deleted session, and for how long (seconds):
#: longer than any read of the store can take, short enough to cost nothing.
TOMBSTONE = "deleted"
TOMBSTONE_TIMEOUT = 300


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
                version, body = cached
                return StoredObject(data=body, version=version)
        found = super()._read(session_key, fresh=fresh)
        if found is not None:
            try:  # add(): never over a newer version or a tombstone
                self._cache().add(key, (found.version, found.data), conf.MAX_AGE)
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
        try:
            self._cache().set(
                self._cache_key(session_key), (version, body), timeout=conf.MAX_AGE
            )
        except Exception:
            logger.exception("Session cache write failed")

    def _deleted(self, session_key: str) -> None:
        self.forget([object_id(session_key)])

    @classmethod
    def forget(cls, object_ids: Iterable[str]) -> None:
        tombstones = {cls._cache_key_for(oid): TOMBSTONE for oid in object_ids}
        if not tombstones:
            return
        try:
            cls._cache().set_many(tombstones, timeout=TOMBSTONE_TIMEOUT)
        except Exception:
            logger.exception("Session cache delete failed")
