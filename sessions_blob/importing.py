"""Copying live sessions from another Django session engine into object
storage, keeping each session's key and expiry: switching
``SESSION_ENGINE`` then logs nobody out.

Engines whose sessions can be enumerated: the database ones (``db``,
``cached_db`` and their subclasses: the ``Session`` model) and ``file``.
Cache and signed-cookie sessions cannot be listed.

Each session is written with a conditional create, so a run is idempotent
and two runs at once import each session once: a key already in object
storage (imported before, or created since the switch) is left as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY as USER_KEY
from django.contrib.sessions.backends.base import SessionBase

from sessions_blob import user_index
from sessions_blob.conf import conf
from sessions_blob.crypto import seal
from sessions_blob.records import (
    KEY_HINT_LENGTH,
    SessionRecord,
    is_valid_session_key,
    object_id,
    object_name,
)
from sessions_blob.stores import ObjectExists, object_store


class CannotImport(Exception):
    """The source engine's sessions cannot be listed."""


@dataclass
class Source:
    key: str
    data: dict[str, Any]
    expires: dt.datetime


@dataclass
class ImportResult:
    seen: int = 0  # live sessions in the source
    imported: int = 0
    existing: int = 0  # already in object storage: left alone
    invalid_keys: int = 0  # keys this engine would not accept
    unreadable: int = 0
    too_large: int = 0
    dry_run: bool = False
    users: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        return (
            f"{self.seen} live sessions: {verb} {self.imported}, "
            f"{self.existing} already there, {self.invalid_keys} with keys this "
            f"engine does not accept, {self.unreadable} unreadable, "
            f"{self.too_large} too large"
        )


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        from django.utils import timezone

        return timezone.make_aware(moment, dt.UTC if settings.USE_TZ else None)
    return moment


def source_sessions(engine_path: str) -> tuple[int | None, Iterator[Source | None]]:
    """(count if known, live sessions of the engine; None for unreadable)."""
    try:
        engine = import_module(engine_path)
    except ImportError as exc:
        raise CannotImport(
            f"Cannot import the session engine {engine_path!r}: {exc}"
        ) from exc
    store_class = getattr(engine, "SessionStore", None)
    if store_class is None or not issubclass(store_class, SessionBase):
        raise CannotImport(f"{engine_path!r} has no SessionStore.")
    from sessions_blob.backends.storage import SessionStore as Ours

    if issubclass(store_class, Ours):
        raise CannotImport(f"{engine_path!r} is this engine already.")
    if hasattr(store_class, "get_model_class"):
        return _database(store_class)
    from django.contrib.sessions.backends.file import SessionStore as FileStore

    if issubclass(store_class, FileStore):
        return _files(store_class)
    raise CannotImport(
        f"Sessions of {engine_path!r} cannot be listed: only database (db, "
        "cached_db) and file engines can be imported."
    )


def _decode(decoder: SessionBase, payload: str) -> dict[str, Any] | None:
    """The session data if its signature verifies, else None (never {})."""
    from django.core import signing

    try:
        data = signing.loads(
            payload, salt=decoder.key_salt, serializer=decoder.serializer
        )
    except Exception:  # a bad signature, or bytes that do not deserialize
        return None
    return data if isinstance(data, dict) else None


def _database(store_class: Any) -> tuple[int | None, Iterator[Source | None]]:
    from django.utils import timezone

    model = store_class.get_model_class()
    live = model.objects.filter(expire_date__gt=timezone.now()).order_by("pk")
    decoder = store_class()

    def rows() -> Iterator[Source | None]:
        for row in live.iterator(chunk_size=1000):
            data = _decode(decoder, row.session_data)
            yield (
                None
                if data is None
                else Source(row.session_key, data, _aware(row.expire_date))
            )

    return live.count(), rows()


def _files(store_class: Any) -> tuple[int | None, Iterator[Source | None]]:
    folder = getattr(settings, "SESSION_FILE_PATH", None) or tempfile.gettempdir()
    prefix = settings.SESSION_COOKIE_NAME
    # Not store_class(): its __init__ caches SESSION_FILE_PATH on the class.
    decoder = SessionBase.__new__(store_class)
    SessionBase.__init__(decoder)
    now = dt.datetime.now(dt.UTC)

    def files() -> Iterator[Source | None]:
        for entry in os.scandir(folder):
            if not entry.name.startswith(prefix) or not entry.is_file():
                continue
            key = entry.name[len(prefix) :]
            try:
                with open(entry.path, encoding="ascii") as handle:
                    payload = handle.read()
                modified = dt.datetime.fromtimestamp(entry.stat().st_mtime, dt.UTC)
            except (OSError, UnicodeDecodeError):
                yield None
                continue
            data = _decode(decoder, payload) if payload else {}
            if data is None:
                yield None
                continue
            expires = _aware(
                decoder.get_expiry_date(
                    modification=modified, expiry=data.get("_session_expiry")
                )
            )
            if expires > now:
                yield Source(key, data, expires)

    return None, files()


def import_sessions(
    engine_path: str,
    *,
    dry_run: bool = False,
    progress: Callable[[ImportResult, int | None], None] | None = None,
) -> ImportResult:
    from sessions_blob.backends.storage import SessionStore

    total, sessions = source_sessions(engine_path)
    store = object_store()
    encoder = SessionStore()
    result = ImportResult(dry_run=dry_run)
    now = dt.datetime.now(dt.UTC)
    latest = now + dt.timedelta(seconds=conf.MAX_AGE)
    for source in sessions:
        result.seen += 1
        if progress is not None and result.seen % 100 == 0:
            progress(result, total)
        if source is None:
            result.unreadable += 1
            continue
        if not is_valid_session_key(source.key):
            result.invalid_keys += 1
            continue
        name = object_name(conf.PREFIX, source.key)
        record = SessionRecord(
            key_hint=source.key[:KEY_HINT_LENGTH],
            created=now,
            modified=now,
            expires=min(source.expires, latest),
            payload=encoder.encode(source.data),
        )
        body = seal(record, object_id(source.key)).to_bytes()
        if len(body) > conf.MAX_SIZE:
            result.too_large += 1
            continue
        if dry_run:
            if store.exists(name):
                result.existing += 1
            else:
                result.imported += 1
            continue
        try:
            store.create(name, body)
            result.imported += 1
        except ObjectExists:
            result.existing += 1
        user = source.data.get(USER_KEY)
        if user is not None:  # existing ones too: a rerun after a crash
            result.users[str(user)].append(object_id(source.key))
    if not dry_run:
        for user, oids in result.users.items():
            user_index.update(user, add=oids, store=store)
    if progress is not None:
        progress(result, total)
    return result
