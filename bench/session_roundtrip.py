"""Session round trips through the engine against raw boto3, and lost updates.

Starts moto's S3 server on loopback, then in one run measures:

* p50/p95 latency of ``load`` and of ``load`` + ``save`` through the engine,
  against raw boto3 ``get_object`` and ``get_object`` + ``put_object`` of the
  same bytes on the same endpoint, printed as ratios;
* concurrent updates kept: N requests load one session, then each sets its
  own key and saves. This engine (S3 and local disk) against Django's db,
  file and cache backends;
* the async path: ``--tasks`` concurrent load + save cycles, each on its own
  session, through ``aload``/``asave`` (the event loop's thread pool and the
  one shared client) against the same cycles on as many threads (gunicorn's
  way); and raw HTTP GET + PUT of as many bytes, no boto3, on threads
  (http.client) and non-blocking (asyncio streams): what is left to win by
  not holding a thread.

    .venv/bin/python bench/session_roundtrip.py [--iterations 500] [--writers 50]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        statistics.median(ordered) * 1000,
        ordered[int(len(ordered) * 0.95) - 1] * 1000,
    )


def paired(
    engine: Callable[[], Any], baseline: Callable[[], Any], iterations: int
) -> tuple[list[float], list[float]]:
    """Alternate the two so that drift in the server hits both alike."""
    for _ in range(min(20, iterations)):  # warm connections and caches
        engine()
        baseline()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(iterations):
        for action, into in ((engine, samples[0]), (baseline, samples[1])):
            started = time.perf_counter()
            action()
            into.append(time.perf_counter() - started)
    return samples


def concurrent_kept(store_class: Any, writers: int) -> int:
    """How many of ``writers`` concurrent single-key changes survive."""
    from django.db import connections

    seed = store_class()
    seed["base"] = True
    seed.save()
    key = seed.session_key
    barrier = threading.Barrier(writers)

    def request(n: int) -> None:
        try:
            session = store_class(key)
            session.load()
            session._session_cache = session.load()
            barrier.wait()
            session[f"k{n}"] = n
            session.save()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    data = store_class(key).load()
    return sum(1 for k in data if k.startswith("k"))


def print_cached_tier(iterations: int, data: dict[str, Any]) -> None:
    """Cached tier against Django's cache backend, both on the same Redis."""
    from django.conf import settings
    from django.contrib.sessions.backends import cache as cache_backend
    from django.test.utils import override_settings

    from sessions_blob.backends import cached_storage

    redis = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/15",
    }
    with override_settings(CACHES={**settings.CACHES, "default": redis}):
        keys = []
        for store_class in (cached_storage.SessionStore, cache_backend.SessionStore):
            session = store_class()
            session.update(data)
            session.save()
            keys.append(session.session_key)
        cached, django_cache = paired(
            lambda: cached_storage.SessionStore(keys[0]).load(),
            lambda: cache_backend.SessionStore(keys[1]).load(),
            iterations,
        )
    c50, c95 = percentiles(cached)
    d50, d95 = percentiles(django_cache)
    print(f"\nCached tier load on Redis, {iterations} iterations")
    print(f"{'backend':<36} {'p50':>8} {'p95':>8}")
    print(f"{'sessions_blob.backends.cached_storage':<36} {c50:>6.3f}ms {c95:>6.3f}ms")
    print(f"{'django.contrib.sessions.backends.cache':<36} {d50:>6.3f}ms {d95:>6.3f}ms")
    print(f"{'ratio':<36} {c50 / d50:>7.2f}x {c95 / d95:>7.2f}x")


def print_async_path(tasks: int, cycles: int, rounds: int, endpoint: str) -> None:
    """Cycles/s and p50 of load + save: async engine, threads, raw async HTTP."""
    import asyncio
    from urllib.parse import urlsplit

    from bench.server_throughput import Connection
    from sessions_blob.backends.storage import SessionStore

    keys = []
    for n in range(tasks):
        seed = SessionStore()
        seed.update({"user_id": n, "cart": list(range(20)), "theme": "dark"})
        seed.save()
        keys.append(seed.session_key)

    def timed(samples: list[float], started: float) -> None:
        samples.append(time.perf_counter() - started)

    async def engine_async() -> list[float]:
        samples: list[float] = []

        async def task(key: str) -> None:
            for n in range(cycles):
                started = time.perf_counter()
                session = SessionStore(key)
                await session.aset("n", n)  # aload() through _aget_session
                await session.asave()
                timed(samples, started)

        await asyncio.gather(*(task(key) for key in keys))
        return samples

    def engine_threads() -> list[float]:
        samples: list[float] = []

        def task(key: str) -> None:
            for n in range(cycles):
                started = time.perf_counter()
                session = SessionStore(key)
                session["n"] = n
                session.save()
                timed(samples, started)

        threads = [threading.Thread(target=task, args=(key,)) for key in keys]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return samples

    url = urlsplit(endpoint)
    body = b"x" * 600  # about a session object's size

    async def raw_async() -> list[float]:
        samples: list[float] = []

        async def task(n: int) -> None:
            connection = Connection(url.hostname or "127.0.0.1", url.port or 80)
            path = f"/bench/raw-async-{n}"
            await connection.request("PUT", path, body)
            for _ in range(cycles):
                started = time.perf_counter()
                await connection.request("GET", path)
                await connection.request("PUT", path, body)
                timed(samples, started)
            await connection.close()

        await asyncio.gather(*(task(n) for n in range(tasks)))
        return samples

    def raw_threads() -> list[float]:
        import http.client

        samples: list[float] = []

        def task(n: int) -> None:
            connection = http.client.HTTPConnection(url.hostname, url.port)
            path = f"/bench/raw-threads-{n}"

            def call(method: str, payload: bytes | None = None) -> None:
                connection.request(method, path, body=payload)
                connection.getresponse().read()

            call("PUT", body)
            for _ in range(cycles):
                started = time.perf_counter()
                call("GET")
                call("PUT", body)
                timed(samples, started)
            connection.close()

        threads = [threading.Thread(target=task, args=(n,)) for n in range(tasks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return samples

    ways = (
        ("threads, sync load + save", engine_threads),
        ("asyncio, aload + asave", lambda: asyncio.run(engine_async())),
        ("threads, raw GET + PUT (no boto3)", raw_threads),
        ("asyncio, raw GET + PUT (no boto3)", lambda: asyncio.run(raw_async())),
    )
    # Interleaved rounds, the median round kept: a busy machine drifts.
    rates: dict[str, list[float]] = {label: [] for label, _ in ways}
    samples: dict[str, list[float]] = {label: [] for label, _ in ways}
    for _ in range(rounds):
        for label, run in ways:
            started = time.perf_counter()
            taken = run()
            rates[label].append(len(taken) / (time.perf_counter() - started))
            samples[label] += taken
    print(
        f"\nThe async path: {tasks} concurrent load + save cycles, {cycles} each, "
        f"one session each, moto S3; median of {rounds} interleaved rounds"
    )
    print(f"{'how':<36} {'cycles/s':>9} {'p50':>9} {'vs threads':>11}")
    baseline = statistics.median(rates[ways[0][0]])
    for label, _ in ways:
        rate = statistics.median(rates[label])
        print(
            f"{label:<36} {rate:>9.0f} "
            f"{statistics.median(samples[label]) * 1000:>7.1f}ms "
            f"{rate / baseline:>10.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=30, help="per task")
    parser.add_argument("--rounds", type=int, default=5, help="of the async path")
    args = parser.parse_args()

    from tests.support.servers import create_bucket, moto_server

    work = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    with moto_server(work) as endpoint:
        create_bucket(endpoint, "bench")
        database = (
            "postgres://postgres@127.0.0.1:5432/test"
            if reachable(5432)
            else f"sqlite:///{work}/db.sqlite3"
        )
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
                "DJANGO_SECRET_KEY": "bench",
                "S3_BUCKET": "bench",
                "S3_ENDPOINT_URL": endpoint,
                "S3_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "VAR_DIR": str(work),
                "DATABASE_URL": database,
            }
        )
        import django

        django.setup()
        run(args, work, database)
        print_async_path(args.tasks, args.cycles, args.rounds, endpoint)


def run(args: argparse.Namespace, work: Path, database: str) -> None:
    from django.conf import settings
    from django.core.files.storage import storages
    from django.core.management import call_command
    from django.test.utils import override_settings

    from sessions_blob.backends.storage import SessionStore
    from sessions_blob.records import object_name
    from sessions_blob.stores.s3 import shared_client

    call_command("migrate", verbosity=0)
    storage = storages["sessions"]
    client = shared_client(storage)
    raw = client  # the same client: both sides pay the same connection costs

    session = SessionStore()
    session.update({"user_id": 42, "cart": list(range(20)), "theme": "dark"})
    session.save()
    key = session.session_key
    name = object_name(settings.SESSIONS_BLOB_PREFIX, key)
    body = raw.get_object(Bucket="bench", Key=name)["Body"].read()
    counter = iter(range(10**9))

    def engine_load() -> None:
        SessionStore(key).load()

    def engine_load_save() -> None:
        s = SessionStore(key)
        s["n"] = next(counter)
        s.save()

    def raw_get() -> None:
        raw.get_object(Bucket="bench", Key=name)["Body"].read()

    def raw_get_put() -> None:
        raw.get_object(Bucket="bench", Key=name)["Body"].read()
        raw.put_object(Bucket="bench", Key=name + ".raw", Body=body)

    n = args.iterations
    rows = [
        ("load", *paired(engine_load, raw_get, n)),
        ("load + save", *paired(engine_load_save, raw_get_put, n)),
    ]
    print(f"Session round trips on moto S3 over HTTP, {n} iterations, {len(body)} B")
    print(
        f"{'operation':<12} {'engine p50':>11} {'p95':>8} {'boto3 p50':>10} {'p95':>8} "
        f"{'ratio p50':>9} {'p95':>6}"
    )
    for label, engine, baseline in rows:
        e50, e95 = percentiles(engine)
        b50, b95 = percentiles(baseline)
        print(
            f"{label:<12} {e50:>9.2f}ms {e95:>6.2f}ms {b50:>8.2f}ms {b95:>6.2f}ms "
            f"{e50 / b50:>8.2f}x {e95 / b95:>5.2f}x"
        )

    redis = reachable(6379)
    if redis:
        print_cached_tier(args.iterations, session._session_cache)
    else:
        print("\nRedis not reachable on 127.0.0.1:6379: cached tier not measured")

    from django.contrib.sessions.backends import cache as cache_backend
    from django.contrib.sessions.backends import db as db_backend
    from django.contrib.sessions.backends import file as file_backend

    cache = (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
        }
        if redis
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
    disk_sessions = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": work / "disk-sessions"},
    }
    w = args.writers
    results = [("sessions_blob on S3 (moto)", concurrent_kept(SessionStore, w))]
    with override_settings(STORAGES={**settings.STORAGES, "sessions": disk_sessions}):
        results.append(
            ("sessions_blob on local disk", concurrent_kept(SessionStore, w))
        )
    db_name = "PostgreSQL" if database.startswith("postgres") else "SQLite"
    results.append(
        (f"django db ({db_name})", concurrent_kept(db_backend.SessionStore, w))
    )
    with override_settings(SESSION_FILE_PATH=str(work)):
        results.append(("django file", concurrent_kept(file_backend.SessionStore, w)))
    with override_settings(CACHES={"default": cache}):
        label = "django cache (Redis)" if redis else "django cache (locmem)"
        results.append((label, concurrent_kept(cache_backend.SessionStore, w)))
    print(f"\nConcurrent updates kept: {w} requests each set their own key at once")
    for label, kept in results:
        print(f"{label:<30} {kept:>3}/{w}")


if __name__ == "__main__":
    main()
