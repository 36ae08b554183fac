"""Session objects this process has already verified, so that the same bytes
are not checked twice.

Opening a session object checks two signatures (the record's MAC, or its
AEAD when encrypted, then Django's own signature of the payload) and parses
both layers: about as long as the Redis read that brought the bytes in the
cached tier. A process serves the same sessions again and again, and bytes
equal to bytes it verified before, under the same keys and serializer, give
the same record and data. So they are kept here, per object id and most
recently used last, up to a total size; new bytes (the session changed, or
someone tampered with it) are verified afresh. Expiry is not remembered: the
caller checks it on every open.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

from sessions_blob.conf import conf
from sessions_blob.records import SessionRecord

#: Bytes of stored session objects remembered per process (their data,
#: decoded, takes a few times as much).
BUDGET = 4 * 1024 * 1024


def _context(session: SessionBase) -> tuple[Any, ...]:
    """What a verification depends on besides the bytes: a change of keys,
    encryption or serializer (a test's settings, a reload) forgets the rest."""
    return (
        settings.SECRET_KEY,
        tuple(settings.SECRET_KEY_FALLBACKS),
        conf.ENCRYPT,
        settings.SESSION_SERIALIZER,
        session.key_salt,
    )


class VerifiedObjects:
    def __init__(self, budget: int = BUDGET) -> None:
        self._budget = budget
        # The data is kept as the session's serializer writes it: each open
        # gets a copy of its own (the session changes it), and the
        # serializer's loads() is faster than deepcopy().
        self._entries: OrderedDict[
            str, tuple[bytes, tuple[Any, ...], SessionRecord, bytes]
        ] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(
        self, oid: str, body: bytes, session: SessionBase
    ) -> tuple[SessionRecord, dict[str, Any]] | None:
        """The record and a copy of the data of ``body``, if these very bytes
        were verified before in the same context."""
        with self._lock:
            entry = self._entries.get(oid)
            if entry is None or entry[0] != body or entry[1] != _context(session):
                return None
            self._entries.move_to_end(oid)
        data: dict[str, Any] = session.serializer().loads(entry[3])
        return entry[2], data

    def put(
        self,
        oid: str,
        body: bytes,
        session: SessionBase,
        record: SessionRecord,
        data: dict[str, Any],
    ) -> None:
        """Remember ``body`` as verified, with its record and data."""
        if len(body) > self._budget:
            return
        kept = session.serializer().dumps(data)
        entry = (body, _context(session), record, kept)
        with self._lock:
            old = self._entries.pop(oid, None)
            if old is not None:
                self._size -= len(old[0])
            self._entries[oid] = entry
            self._size += len(body)
            while self._size > self._budget:
                _, (dropped, *_rest) = self._entries.popitem(last=False)
                self._size -= len(dropped)


verified_objects = VerifiedObjects()
