"""``SESSION_ENGINE = "sessions_blob.backends.storage"``.

Each session is one private JSON object in the storage named by
``SESSIONS_BLOB_STORAGE_ALIAS``. New sessions are created with a conditional
write (exactly one of two racing creators wins), and updates are optimistic:
a write succeeds only if the stored version is still the one this request
loaded; otherwise the request's own changes (keys set, keys deleted) are
applied to the newer version and the write is retried. Concurrent requests
that change different keys of one session therefore all keep their changes.

Why one module of over 500 lines: ``SessionStore`` is one ``SessionBase``
subclass whose create, save, merge-and-retry, delete and expiry-index upkeep
share its loaded version (``_Loaded``) and must change together; the store
mechanics (``stores/``), the record format (``records``), sealing
(``crypto``), the user index (``user_index``) and cleanup (``cleanup``) are
already elsewhere.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import (
    VALID_KEY_CHARS,
    CreateError,
    SessionBase,
    UpdateError,
)
from django.core import signing
from django.utils.crypto import get_random_string

from sessions_blob import user_index
from sessions_blob.conf import conf
from sessions_blob.crypto import seal, unseal
from sessions_blob.exceptions import (
    ConcurrentUpdateError,
    ConflictError,
    SessionTooLarge,
    StorageUnavailable,
)
from sessions_blob.records import (
    KEY_HINT_LENGTH,
    KEY_LENGTH,
    CorruptRecord,
    SessionRecord,
    aware,
    expiry_marker_name,
    is_valid_session_key,
    needs_expiry_marker,
    now,
    object_id,
    object_name,
)
from sessions_blob.signals import DeletedSession, send_sessions_deleted
from sessions_blob.stores import (
    ObjectExists,
    ObjectMissing,
    ObjectStore,
    StoredObject,
    VersionMismatch,
    object_store,
)
from sessions_blob.threads import thread_pool
from sessions_blob.verified import verified_objects

logger = logging.getLogger("sessions_blob")
security_logger = logging.getLogger("django.security.SuspiciousSession")


class _Unreadable(Exception):
    """The stored object is corrupt or its signature does not verify."""


class _Expired(Exception):
    """The stored session has expired."""


@dataclass(slots=True)
class _Loaded:
    """What this request read, to write back only on top of it."""

    version: str
    created: dt.datetime
    modified: dt.datetime
    expires: dt.datetime
    payload: str  # the signed payload as read: decoded again to diff on save
    size: int


#: Threads for the async twins' storage round trips, per process: at least as
#: many as the requests a server keeps in flight, so that none waits for a
#: thread (the event loop's default pool has the cores + 4). Made as needed.
#: The S3 client pools as many connections (stores/s3_client.py).
ASYNC_THREADS = 32

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _off_thread(func: Callable[_P, _R]) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """``func`` as a coroutine running on the engine's pool, not on the
    request's own thread (thread_sensitive=False): the storage calls need no
    particular thread, and the S3 client is one for the process."""
    pool = thread_pool("async", ASYNC_THREADS)
    return sync_to_async(func, thread_sensitive=False, executor=pool)


_clamp_warned = False


def _successor(moment: dt.datetime, after: dt.datetime | None) -> dt.datetime:
    """``moment`` as stored (milliseconds), but later than ``after``, the
    version it replaces: each version of a session is stamped later than the
    one before, whatever the clocks of the machines that wrote them, so a
    cache can tell which of two copies is newer."""
    stamp = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if after is not None and stamp <= after:
        stamp = after + dt.timedelta(milliseconds=1)
    return stamp


def _warn_clamped(asked: dt.timedelta) -> None:
    """Once per process: a ``set_expiry()`` beyond the engine's limit would
    otherwise end "remember me" sessions early without a word."""
    global _clamp_warned
    if _clamp_warned:
        return
    _clamp_warned = True
    logger.warning(
        "A session asked to live %d s, longer than SESSIONS_BLOB_MAX_AGE (%d s); "
        "it will end after %d s. Raise SESSIONS_BLOB_MAX_AGE to the longest "
        "expiry you set.",
        asked.total_seconds(),
        conf.MAX_AGE,
        conf.MAX_AGE,
    )


class SessionStore(SessionBase):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._loaded: _Loaded | None = None
        self._cleared = False
        self._user = user_index.SessionUser()
        #: The key cycle_key() is replacing: its deletion is no end of session.
        self._cycled_key: str | None = None
        #: A load met StorageUnavailable (for the middleware's 503).
        self.storage_unavailable = False

    # -- keys ---------------------------------------------------------------

    def _validate_session_key(self, key: str | None) -> bool:
        # A key from a cookie or header becomes a storage path: accept only
        # the exact shape generate below, so "../x" is just a missing session.
        return is_valid_session_key(key)

    def _get_new_session_key(self) -> str:
        # No exists() pre-check: the conditional create detects collisions.
        return get_random_string(KEY_LENGTH, VALID_KEY_CHARS)

    async def _aget_new_session_key(self) -> str:
        return self._get_new_session_key()

    @classmethod
    def _store(cls) -> ObjectStore:
        return object_store()

    @staticmethod
    def _name(session_key: str) -> str:
        return object_name(conf.PREFIX, session_key)

    # Hooks for a cache in front of the store (backends/cached_storage.py).

    def _read(self, session_key: str, *, fresh: bool = False) -> StoredObject | None:
        """The stored object; ``fresh`` when a cached copy would not do."""
        return self._store().read(self._name(session_key))

    def _written(self, session_key: str, body: bytes, version: str) -> None:
        """Called after every successful write of ``session_key``."""

    def _deleted(self, session_key: str) -> None:
        """Called after ``session_key`` was deleted, or found gone on a write."""

    @classmethod
    def forget(cls, object_ids: Iterable[str]) -> None:
        """Called after sessions were deleted by object id, without their keys
        (the admin, ``logout_user``), so that no copy outlives them."""

    # -- SessionBase's contract ----------------------------------------------

    def load(self) -> dict[str, Any]:
        self._loaded = None
        key = self.session_key
        if key is None:
            return {}
        try:
            data = self._fetch(key)
        except _Unreadable:
            # Left in place for inspection: a save makes a new session rather
            # than overwriting what could not be read.
            data = None
        except StorageUnavailable:
            # Seen by the middleware even when the load ran in code that
            # turned the exception into a 500 (another middleware).
            self.storage_unavailable = True
            raise
        if data is None:
            self._session_key = None
            return {}
        return data

    def exists(self, session_key: str) -> bool:
        if not is_valid_session_key(session_key):
            return False
        return self._store().exists(self._name(session_key))

    def create(self) -> None:
        while True:
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue  # key collision: pick another
            self.modified = True
            return

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        # SessionBase's private API, as Django's own backends use it; not in
        # django-stubs.
        data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        if self.session_key is None:  # load() found no live session
            return self.create()
        if must_create:
            self._write_new(self.session_key, data)
        else:
            self._write_update(self.session_key, data)

    def save_if_unchanged(self) -> None:
        """Write this session only if nobody wrote it since it was loaded.

        For state transitions that must not be merged (two requests both
        moving a job from "waiting" to "running"): raises ``ConflictError``
        instead of re-applying changes, ``UpdateError`` when it is gone.
        """
        key = self.session_key
        data = self._session  # type: ignore[attr-defined]
        if key is None or self._loaded is None:
            raise UpdateError
        record, body = self._record(
            key, data, created=self._loaded.created, after=self._loaded.modified
        )
        self._user.before_write(key, data)
        marker = self._mark(key, record)
        try:
            version = self._store().replace(self._name(key), body, self._loaded.version)
        except ObjectMissing:
            self._deleted(key)
            raise UpdateError from None
        except VersionMismatch:
            raise ConflictError(
                f"Session {key[:8]} changed since it was loaded."
            ) from None
        self._unmark(self._loaded_marker(key), keep=marker)
        self._written(key, body, version)
        self._remember(record, version, len(body))
        self._cleared = False
        self._user.after_write(key, data)

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        data = marker = None
        if session_key == self.session_key:
            data = self._stored_data()
            marker = self._loaded_marker(session_key)
            self._loaded = None
        if not is_valid_session_key(session_key):
            return
        self._store().delete(self._name(session_key))
        self._unmark(marker)
        self._deleted(session_key)
        self._user.after_delete(session_key)
        if session_key != self._cycled_key:
            deleted = DeletedSession(object_id(session_key), data)
            send_sessions_deleted(type(self), [deleted], "deleted")

    def cycle_key(self) -> None:
        # The old key's object is deleted, but the session goes on under the
        # new key: no sessions_deleted for it.
        self._cycled_key = self.session_key
        try:
            super().cycle_key()
        finally:
            self._cycled_key = None

    async def acycle_key(self) -> None:
        self._cycled_key = self.session_key
        try:
            await super().acycle_key()
        finally:
            self._cycled_key = None

    def clear(self) -> None:
        super().clear()
        self._cleared = True

    @classmethod
    def clear_expired(cls) -> None:
        from sessions_blob.cleanup import clear_expired_sessions

        clear_expired_sessions()

    # -- async twins ----------------------------------------------------------
    # A storage round trip runs on the engine's thread pool rather than on the
    # one thread Django keeps for a request's sync code: these calls touch no
    # database connection, and the S3 client is shared by every thread
    # (stores/s3.py). bench/session_roundtrip.py measures this against
    # threads and against non-blocking HTTP. adelete() and aclear_expired()
    # keep Django's thread-sensitive default: they send sessions_deleted,
    # whose receivers may use the database.

    async def aload(self) -> dict[str, Any]:
        return await _off_thread(self.load)()

    async def aexists(self, session_key: str) -> bool:
        return await _off_thread(self.exists)(session_key)

    async def acreate(self) -> None:
        await _off_thread(self.create)()

    async def asave(self, must_create: bool = False) -> None:
        await _off_thread(self.save)(must_create)

    # -- helpers ------------------------------------------------------------

    def decode_strict(self, payload: str) -> dict[str, Any]:
        """Like ``decode()``, but a bad signature raises ``BadSignature``
        instead of giving {}: for callers that must tell "empty" from "forged"."""
        data = signing.loads(payload, salt=self.key_salt, serializer=self.serializer)
        if not isinstance(data, dict):
            raise CorruptRecord("payload is not a mapping")
        return data

    def _record(
        self,
        session_key: str,
        data: dict[str, Any],
        created: dt.datetime,
        after: dt.datetime | None = None,
    ) -> tuple[SessionRecord, bytes]:
        moment = now()
        expires = self.get_expiry_date(
            modification=moment, expiry=data.get("_session_expiry")
        )
        expires = aware(expires)  # USE_TZ = False gives naive local times
        # Clamped so that clearsessions can prove expiry from listings alone.
        latest = moment + dt.timedelta(seconds=conf.MAX_AGE)
        if expires > latest + dt.timedelta(seconds=1):
            _warn_clamped(expires - moment)
            expires = latest
        record = SessionRecord(
            key_hint=session_key[:KEY_HINT_LENGTH],
            created=created,
            modified=_successor(moment, after),
            expires=expires,
            payload=self.encode(data),
        )
        body = seal(record, object_id(session_key)).to_bytes()  # SESSIONS_BLOB_ENCRYPT
        if len(body) > conf.MAX_SIZE:
            raise SessionTooLarge(len(body), conf.MAX_SIZE)
        return record, body

    def _remember(self, record: SessionRecord, version: str, size: int) -> None:
        self._loaded = _Loaded(
            version=version,
            created=record.created,
            modified=record.modified,
            expires=record.expires,
            payload=record.payload,
            size=size,
        )

    # The expiry index (records.py): a marker is written before a session
    # that needs one, and the one of the version replaced is removed after.
    # A marker lost in a race only delays that session's cleanup until
    # SESSIONS_BLOB_MAX_AGE after its write, never hastens it.

    @staticmethod
    def _marker(
        session_key: str, modified: dt.datetime, expires: dt.datetime
    ) -> str | None:
        record = SessionRecord("", modified, modified, expires, "")
        if not needs_expiry_marker(record, conf.MAX_AGE):
            return None
        return expiry_marker_name(conf.PREFIX, object_id(session_key), expires)

    def _loaded_marker(self, session_key: str) -> str | None:
        if self._loaded is None:
            return None
        return self._marker(session_key, self._loaded.modified, self._loaded.expires)

    def _mark(
        self, session_key: str, record: SessionRecord, *, new: bool = False
    ) -> str | None:
        """Write the marker ``record`` needs, unless the loaded version has it
        (``new``: there is none, even if cycle_key() left one loaded)."""
        marker = self._marker(session_key, record.modified, record.expires)
        if marker is not None and (new or marker != self._loaded_marker(session_key)):
            try:
                self._store().create(marker, b"")
            except ObjectExists:
                pass
            except StorageUnavailable as exc:
                # Not worth failing the request: without its marker the
                # session is only cleaned up later (at SESSIONS_BLOB_MAX_AGE).
                logger.warning("Expiry marker not written: %s", exc)
        return marker

    def _unmark(self, marker: str | None, keep: str | None = None) -> None:
        """Remove a marker no longer needed; cleanup removes it if this fails."""
        if marker is None or marker == keep:
            return
        try:
            self._store().delete(marker)
        except StorageUnavailable as exc:
            logger.warning("Expiry marker not removed (clearsessions will): %s", exc)

    def _write_new(self, session_key: str, data: dict[str, Any]) -> None:
        record, body = self._record(session_key, data, created=now())
        self._user.before_write(session_key, data)
        self._mark(session_key, record, new=True)
        try:
            version = self._store().create(self._name(session_key), body)
        except ObjectExists:
            raise CreateError from None
        self._written(session_key, body, version)
        self._remember(record, version, len(body))
        self._cleared = False
        self._user.after_write(session_key, data)

    def _changes(self, data: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
        """Keys this request set (with their values) and keys it deleted."""
        assert self._loaded is not None
        original = self.decode_strict(self._loaded.payload)
        if self._cleared:
            return dict(data), set(original) - set(data)
        changed = {
            k: v for k, v in data.items() if k not in original or original[k] != v
        }
        return changed, set(original) - set(data)

    def _stored_data(self) -> dict[str, Any] | None:
        """The data as this request last read or wrote it, else None."""
        if self._loaded is None:
            return None
        try:
            return self.decode_strict(self._loaded.payload)
        except (CorruptRecord, signing.BadSignature):
            return None

    def _needs_refresh(self) -> bool:
        assert self._loaded is not None
        remaining = (self._loaded.expires - now()).total_seconds()
        return remaining < conf.REFRESH_THRESHOLD

    def _write_update(self, session_key: str, data: dict[str, Any]) -> None:
        store, name = self._store(), self._name(session_key)
        if self._loaded is None:
            # Data set without loading (clear(), cycle_key()): base the write
            # on whatever is stored now.
            self._reload(session_key)
        assert self._loaded is not None
        changed, deleted = self._changes(data)
        if not changed and not deleted and not self._needs_refresh():
            return  # unchanged and not near expiry: no write at all
        for attempt in range(conf.MAX_RETRIES + 1):
            record, body = self._record(
                session_key,
                data,
                created=self._loaded.created,
                after=self._loaded.modified,
            )
            self._user.before_write(session_key, data)
            marker = self._mark(session_key, record)
            try:
                version = store.replace(name, body, self._loaded.version)
            except ObjectMissing:
                self._deleted(session_key)
                raise UpdateError from None  # deleted meanwhile: don't resurrect
            except VersionMismatch:
                if attempt == conf.MAX_RETRIES:
                    break
                # Full jitter, capped: many writers to one session spread out
                # instead of colliding again in lockstep.
                time.sleep(random.uniform(0, min(1.0, 0.005 * 2**attempt)))
                fresh = self._reload(session_key)
                if self._cleared:
                    fresh = {}
                fresh.update(changed)
                for key in deleted:
                    fresh.pop(key, None)
                data = self._session_cache = fresh
                continue
            self._unmark(self._loaded_marker(session_key), keep=marker)
            self._written(session_key, body, version)
            self._remember(record, version, len(body))
            self._cleared = False
            self._user.after_write(session_key, data)
            return
        raise ConcurrentUpdateError(
            f"Session {session_key[:8]} changed {conf.MAX_RETRIES + 1} times under "
            "this request (SESSIONS_BLOB_MAX_RETRIES)."
        )

    def _fetch(self, session_key: str, *, fresh: bool = False) -> dict[str, Any] | None:
        """Read the session and remember its version.

        None when there is no live session; ``_Unreadable`` (after a warning
        on the security logger) when the object is corrupt or tampered with.
        """
        try:
            return self._open(session_key, self._read(session_key, fresh=fresh))
        except _Expired:
            return None
        except _Unreadable as exc:
            security_logger.warning(
                "Session object for key %s... is corrupt: %s",
                session_key[:KEY_HINT_LENGTH],
                exc,
            )
            raise

    def _open(
        self, session_key: str, found: StoredObject | None
    ) -> dict[str, Any] | None:
        """The verified data of ``found`` (None when there is no object), its
        version remembered; ``_Unreadable`` or ``_Expired`` otherwise."""
        if found is None:
            return None
        oid = object_id(session_key)
        known = verified_objects.get(oid, found.data, self)
        if known is not None:
            record, data = known
        else:
            try:
                record = unseal(SessionRecord.from_bytes(found.data), oid)
                data = self.decode_strict(record.payload)
            except (CorruptRecord, signing.BadSignature) as exc:
                raise _Unreadable(str(exc)) from exc
            verified_objects.put(oid, found.data, self, record, data)
        if record.is_expired(now()):
            raise _Expired
        self._remember(record, found.version, len(found.data))
        self._user.loaded(session_key, data)
        return data

    def _reload(self, session_key: str) -> dict[str, Any]:
        """The stored version again; UpdateError when it is gone or unreadable."""
        try:
            data = self._fetch(session_key, fresh=True)
        except _Unreadable as exc:
            raise UpdateError from exc
        if data is None:
            raise UpdateError
        return data

    @property
    def stored_size(self) -> int | None:
        """Bytes of the stored object as last read or written."""
        return self._loaded.size if self._loaded else None
