"""The engine's thread pools, one of each name per process, made on first use.

A forked child (gunicorn's workers, after a preloading master) has none of
its parent's threads, so it forgets the pools and makes its own.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _forget_pools() -> None:
    global _lock
    _pools.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def thread_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool called ``name``, of ``workers`` threads."""
    pool = _pools.get(name)
    if pool is None:
        with _lock:
            pool = _pools.get(name)
            if pool is None:
                pool = _pools[name] = ThreadPoolExecutor(
                    max_workers=workers, thread_name_prefix=f"sessions_blob-{name}"
                )
    return pool
