"""``SESSION_ENGINE = "sessions_blob.backends.cached_storage"``.

A Django cache (``SESSION_CACHE_ALIAS``, Redis in production) in front of the
object store, written through on every write. The store stays the source of
truth: writes are still conditional on the version that was read, so a stale
cache entry (another instance wrote, or a cache write was lost) costs one
extra read and a retry, never a lost update. A read served by the cache makes
no storage call. If the cache fails, the engine logs it and uses the store.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches

from sessions_blob.backends.storage import SessionStore as StorageSessionStore
from sessions_blob.conf import conf
from sessions_blob.records import object_id
from sessions_blob.stores import StoredObject

logger = logging.getLogger("sessions_blob")

KEY_PREFIX = "sessions_blob:"


class SessionStore(StorageSessionStore):
    cache_key_prefix = KEY_PREFIX

    @staticmethod
    def _cache():  # type: ignore[no-untyped-def]
        return caches[settings.SESSION_CACHE_ALIAS]

    def _cache_key(self, session_key: str) -> str:
        return self.cache_key_prefix + object_id(session_key)

    def _read(self, session_key: str, *, fresh: bool = False) -> StoredObject | None:
        if not fresh:
            try:
                cached = self._cache().get(self._cache_key(session_key))
            except Exception:
                logger.exception("Session cache read failed; reading the store")
                cached = None
            if cached is not None:
                version, body = cached
                return StoredObject(data=body, version=version)
        found = super()._read(session_key, fresh=fresh)
        if found is not None:
            self._written(session_key, found.data, found.version)
        return found

    def _written(self, session_key: str, body: bytes, version: str) -> None:
        try:
            self._cache().set(
                self._cache_key(session_key), (version, body), timeout=conf.MAX_AGE
            )
        except Exception:
            logger.exception("Session cache write failed")

    def _deleted(self, session_key: str) -> None:
        try:
            self._cache().delete(self._cache_key(session_key))
        except Exception:
            logger.exception("Session cache delete failed")
