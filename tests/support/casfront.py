"""A front that makes moto's conditional writes atomic, as S3's are.

moto checks ``If-Match``/``If-None-Match`` in its request handler (a read
of the object and a comparison) and writes afterwards, with no lock held
between the two (``moto/s3/responses.py``, ``put_object``): two PUTs of one
key carrying the same ``If-Match`` version can both pass the check and both
answer 200. The window is narrow: issue 15 saw it in 2 of 100 races of 16
writers on a loaded machine; ``bench/conditional_races.py`` here (writers
released by one barrier, distinct bodies, load average 9-14) saw it in 0 of
100 races of 16 writers and 0 of 200 of 2. Narrow is
enough to make a race test flake on moto, and a pass there does not prove
the engine's compare-and-swap. (Racers must write distinct bodies: a
writer whose body equals the old one leaves the ETag unchanged, and the next
writer of that version rightly wins too.)

``CasFront`` is the fault proxy (every mode of it works here too) with one
lock per object: every PUT and DELETE of a key holds that key's lock from
the moment its request is forwarded until moto's answer is read, so writes of
one key reach moto one at a time and each conditional check sees the result
of the write before it, the way S3 serialises writes of one key. Writes of
different keys, and all reads, still run concurrently. Not serialised:
``DeleteObjects`` (a POST naming many keys), which the engine only sends for
sessions that expired.

``contended`` counts the writes that had to wait for another write of the
same key: a race test that sees it above zero knows its writers overlapped.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from tests.support.faultproxy import FaultProxy

_SERIALISED = frozenset({"PUT", "DELETE"})


class CasFront(FaultProxy):
    def __init__(self, upstream_url: str, port: int = 0) -> None:
        super().__init__(upstream_url, port)
        self._keys: dict[str, threading.Lock] = {}
        self._keys_lock = threading.Lock()
        self.contended = 0

    def _guard(self, method: str, path: str) -> contextlib.AbstractContextManager[Any]:
        if method not in _SERIALISED:
            return contextlib.nullcontext()
        key = path.split("?", 1)[0]  # /bucket/key (path-style addressing)
        with self._keys_lock:
            lock = self._keys.setdefault(key, threading.Lock())
        return self._hold(lock)

    @contextlib.contextmanager
    def _hold(self, lock: threading.Lock) -> Iterator[None]:
        if not lock.acquire(blocking=False):
            with self._keys_lock:
                self.contended += 1
            lock.acquire()
        try:
            yield
        finally:
            lock.release()


def main() -> None:
    """``python -m tests.support.casfront UPSTREAM_URL PORT``: serve until
    stopped, in a process of its own (the session-wide front: its threads do
    not compete for the GIL with the test's racing threads)."""
    import sys

    upstream, port = sys.argv[1], int(sys.argv[2])
    front = CasFront(upstream, port=port).start()
    try:
        threading.Event().wait()
    finally:
        front.stop()


if __name__ == "__main__":
    main()
