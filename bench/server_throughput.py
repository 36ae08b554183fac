"""Sessions through real servers: req/s and latency per engine, WSGI and ASGI.

Starts moto's S3 server, then, for each server and engine, a scratch project
(written to a temporary folder) whose one view increments a counter in the
session, served by

* gunicorn (WSGI), 2 workers x 4 threads (gthread), and
* uvicorn (ASGI), 2 workers,

and runs ``--clients`` concurrent clients (default 32), each with its own
cookie, for ``--seconds`` (default 20). Engines: this one on S3 (moto), on
local disk, the cached tier (Redis on 127.0.0.1:6379 in front of S3), and
Django's cache backend (the same Redis) and db backend (a scratch PostgreSQL
database on 127.0.0.1:5432, created and dropped here). It prints req/s,
p50/p99 and ratios: each engine against Django's db backend on the same
server, and each engine under ASGI against itself under WSGI.

Before them, the S3 endpoint's own ceiling: raw boto3 GET + PUT cycles of a
session-sized object on as many threads, with no web server, which no
engine on S3 can pass on this endpoint. After each increment run, the read
run: the same clients only read their sessions (the view changes nothing, so
no engine writes), where the cached tier answers from Redis as Django's
cache backend does. Then the shared-cookie run on every server and engine:
16 clients on one cookie, each incrementing its own key 30 times; it prints
the increments kept of those attempted (a lost update is one acknowledged
with 200 and gone).

    .venv/bin/python bench/server_throughput.py [--seconds 20] [--clients 32]

The clients are asyncio connections (HTTP/1.1 keep-alive), one per client,
so that 32 of them cost the machine little next to the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import database, pct, reachable  # noqa: E402
from tests.support.servers import (  # noqa: E402
    BIN,
    create_bucket,
    free_port,
    moto_client,
    moto_server,
    serve,
)

#: uvicorn-async: uvicorn again, the view async (``await session.aget()``).
SERVERS = ("gunicorn", "uvicorn", "uvicorn-async")
ENGINES = ("blob-s3", "blob-disk", "cached-tier", "django-cache", "django-db")
ENGINE_LABELS = {
    "blob-s3": "sessions_blob on S3 (moto)",
    "blob-disk": "sessions_blob on local disk",
    "cached-tier": "cached_storage (Redis + S3)",
    "django-cache": "Django cache backend (Redis)",
    "django-db": "Django db backend (PostgreSQL)",
}
SHARED_CLIENTS = 16
SHARED_INCREMENTS = 30
REDIS = "redis://127.0.0.1:6379/13"

SETTINGS = """
import json, os
_c = json.loads(os.environ["BENCH_PROJECT"])
SECRET_KEY = "server throughput bench"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = [
    "sessions_blob",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]
MIDDLEWARE = [_c["middleware"]]
ROOT_URLCONF = "bench_urls"
DATABASES = {"default": _c["database"]}
CACHES = _c["caches"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "sessions": _c["storage"],
}
SESSION_ENGINE = _c["engine"]
SESSIONS_BLOB_PREFIX = _c["prefix"]
USE_TZ = True
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
"""

URLS = """
from django.http import JsonResponse
from django.urls import path


def increment(request):
    request.session["count"] = request.session.get("count", 0) + 1
    return JsonResponse({"count": request.session["count"]})


async def aincrement(request):
    count = await request.session.aget("count", 0) + 1
    await request.session.aset("count", count)
    return JsonResponse({"count": count})


def bump(request, name):
    request.session[name] = request.session.get(name, 0) + 1
    return JsonResponse({name: request.session[name]})


def read(request):
    return JsonResponse(dict(request.session.items()))


urlpatterns = [
    path("increment", increment),
    path("aincrement", aincrement),
    path("bump/<str:name>", bump),
    path("read", read),
]
"""


def project(
    engine: str, s3: dict[str, Any], work: Path, db_url: str, kind: str = "gunicorn"
) -> dict[str, Any]:
    """What the scratch project's settings read for ``engine`` under ``kind``."""
    blob = "sessions_blob.middleware.SessionMiddleware"
    django = "django.contrib.sessions.middleware.SessionMiddleware"
    redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS,
            "KEY_PREFIX": uuid.uuid4().hex[:8],
        }
    }
    disk = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(work / f"sessions-{uuid.uuid4().hex[:8]}")},
    }
    config: dict[str, Any] = {
        "middleware": blob,
        "engine": "sessions_blob.backends.storage",
        "storage": s3,
        "caches": redis,
        "database": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        "prefix": f"sessions-{uuid.uuid4().hex[:8]}/",
    }
    if engine == "blob-disk":
        config["storage"] = disk
    elif engine == "cached-tier":
        config["engine"] = "sessions_blob.backends.cached_storage"
    elif engine == "django-cache":
        config |= {
            "engine": "django.contrib.sessions.backends.cache",
            "middleware": django,
        }
    elif engine == "django-db":
        config |= {
            "engine": "django.contrib.sessions.backends.db",
            "middleware": django,
            "database": postgres_settings(db_url, kind),
        }
    return config


def postgres_settings(url: str, kind: str) -> dict[str, Any]:
    rest = url.removeprefix("postgres://")
    user_host, name = rest.split("/", 1)
    user, host_port = user_host.split("@")
    host, port = host_port.split(":")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": user,
        "HOST": host,
        "PORT": port,
        # Persistent under gunicorn, as a production site would. Not under
        # ASGI, as Django's docs advise: each request's sync code runs on a
        # new thread, and each thread would keep a connection of its own.
        "CONN_MAX_AGE": 60 if kind == "gunicorn" else 0,
    }


def view(server: str) -> str:
    return "/aincrement" if server == "uvicorn-async" else "/increment"


def command(server: str, port: int) -> list[str]:
    if server == "gunicorn":
        return [
            str(BIN / "gunicorn"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "2"),
            *("--worker-class", "gthread", "--threads", "4"),
            "django.core.wsgi:get_wsgi_application()",
        ]
    return [
        str(BIN / "uvicorn"),
        *("--factory", "django.core.asgi:get_asgi_application"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
        *("--no-access-log", "--log-level", "warning"),
    ]


@contextlib.contextmanager
def server(
    kind: str, config: dict[str, Any], work: Path, label: str
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_PROJECT": json.dumps(config),
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join([str(work), str(ROOT)]),
    }
    with serve(
        command(kind, port),
        work / f"{label}-{kind}-{port}.log",
        port=port,
        ready="/read",
        cwd=ROOT,
        env=env,
    ):
        yield "127.0.0.1", port


# -- the clients ----------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection carrying one cookie."""

    def __init__(self, host: str, port: int, cookie: str = "") -> None:
        self.host, self.port, self.cookie = host, port, cookie
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path)

    async def request(
        self, method: str, path: str, body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        cookie = f"Cookie: sessionid={self.cookie}\r\n" if self.cookie else ""
        length = f"Content-Length: {len(body)}\r\n" if body else ""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{cookie}{length}"
        writer.write(f"{head}\r\n".encode() + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length, close, chunked = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.lower() == "close":
                close = True
            elif (
                name == "set-cookie"
                and value.startswith("sessionid=")
                and (not self.cookie)
            ):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1]
        body = await (self._chunks(reader) if chunked else reader.readexactly(length))
        if close:
            await self.close()
        return status, body

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")  # after the last chunk (no trailers)
        return body

    async def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            with contextlib.suppress(Exception):
                await self.streams[1].wait_closed()
            self.streams = None


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def p(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        if q == 0.5:
            return statistics.median(self.latencies) * 1000
        return pct(self.latencies, q)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def endpoint_ceiling(endpoint: str, clients: int, seconds: float) -> Run:
    """The S3 endpoint's own ceiling for what a session request costs there:
    ``clients`` threads, each a GET then a PUT of a session-sized object,
    through one boto3 client, with no web server and no Django."""
    import threading

    client = moto_client(endpoint, pool=clients)
    body = b'{"count": 1}' + b" " * 180
    for n in range(clients):
        client.put_object(Bucket="throughput", Key=f"ceiling/{n}", Body=body)
    run = Run()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def cycles(n: int) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.get_object(Bucket="throughput", Key=f"ceiling/{n}")["Body"].read()
            client.put_object(Bucket="throughput", Key=f"ceiling/{n}", Body=body)
            with lock:
                run.latencies.append(time.perf_counter() - started)

    started = time.monotonic()
    threads = [threading.Thread(target=cycles, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.elapsed = time.monotonic() - started
    return run


async def throughput(
    host: str, port: int, clients: int, seconds: float, view: str = "/increment"
) -> Run:
    run = Run()
    connections = [Connection(host, port) for _ in range(clients)]
    # Untimed: each client's first request creates its session (and cookie).
    await asyncio.gather(*(c.get("/increment") for c in connections))

    async def client(connection: Connection, deadline: float) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status, _ = await connection.get(view)
            except (OSError, asyncio.IncompleteReadError) as exc:
                run.error(type(exc).__name__)
                await connection.close()
                continue
            if status == 200:
                run.latencies.append(time.perf_counter() - started)
            else:
                run.error(str(status))

    started = time.monotonic()
    await asyncio.gather(*(client(c, started + seconds) for c in connections))
    run.elapsed = time.monotonic() - started
    for connection in connections:
        await connection.close()
    return run


async def shared_cookie(host: str, port: int) -> tuple[int, int, int]:
    """(kept, acknowledged, attempted) increments on one shared session."""
    seed = Connection(host, port)
    await seed.get("/bump/seed")
    await seed.close()
    acknowledged = 0

    async def client(n: int) -> None:
        nonlocal acknowledged
        connection = Connection(host, port, seed.cookie)
        for _ in range(SHARED_INCREMENTS):
            status, _ = await connection.get(f"/bump/k{n}")
            acknowledged += status == 200
        await connection.close()

    await asyncio.gather(*(client(n) for n in range(SHARED_CLIENTS)))
    reader = Connection(host, port, seed.cookie)
    _, body = await reader.get("/read")
    await reader.close()
    data = json.loads(body)
    kept = sum(v for k, v in data.items() if k.startswith("k"))
    return kept, acknowledged, SHARED_CLIENTS * SHARED_INCREMENTS


# -- the run --------------------------------------------------------------------


def migrate(config: dict[str, Any], work: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={
            **os.environ,
            "BENCH_PROJECT": json.dumps(config),
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "PYTHONPATH": os.pathsep.join([str(work), str(ROOT)]),
        },
        check=True,
    )


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def report(
    results: dict[tuple[str, str], Run],
    ceiling: Run | None,
    reads: dict[tuple[str, str], Run],
    shared: dict[tuple[str, str], tuple[int, int, int]],
    args: argparse.Namespace,
) -> None:
    print(
        f"\n{args.clients} clients, each with its own cookie, {args.seconds:g} s per "
        "run; gunicorn 2 workers x 4 threads (gthread), uvicorn 2 workers "
        "(uvicorn-async: the view is async); machine load average at the end "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    header = (
        f"{'server':<14} {'engine':<31} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'vs db':>6}"
    )
    print(header)
    for kind in SERVERS:
        db = results.get((kind, "django-db"))
        for engine in ENGINES:
            run = results.get((kind, engine))
            if run is None:
                continue
            print(
                f"{kind:<14} {ENGINE_LABELS[engine]:<31} {run.rate:>7.0f} "
                f"{run.p(0.5):>7.1f} {run.p(0.99):>7.1f} "
                f"{sum(run.errors.values()):>6} "
                f"{ratio(run.rate, db.rate) if db else '-':>6}"
            )
    print("\nASGI against WSGI (gunicorn), same engine")
    print(f"{'server':<14} {'engine':<31} {'req/s':>7} {'p50':>7}")
    for kind in SERVERS[1:]:
        for engine in ENGINES:
            wsgi, asgi = results.get(("gunicorn", engine)), results.get((kind, engine))
            if wsgi and asgi:
                print(
                    f"{kind:<14} {ENGINE_LABELS[engine]:<31} "
                    f"{ratio(asgi.rate, wsgi.rate):>7} "
                    f"{ratio(asgi.p(0.5), wsgi.p(0.5)):>7}"
                )
    print("\nReads only (GET /read: the session is loaded, nothing is saved)")
    print(f"{'server':<14} {'engine':<31} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}")
    for kind in SERVERS:
        for engine in ENGINES:
            if run := reads.get((kind, engine)):
                print(
                    f"{kind:<14} {ENGINE_LABELS[engine]:<31} {run.rate:>7.0f} "
                    f"{run.p(0.5):>7.1f} {run.p(0.99):>7.1f}"
                )
    s3_wsgi = results.get(("gunicorn", "blob-s3"))
    db_wsgi = results.get(("gunicorn", "django-db"))
    print("\ntargets")
    for kind in SERVERS[1:]:
        s3_asgi = results.get((kind, "blob-s3"))
        if s3_wsgi and s3_asgi:
            print(
                f"  engine on S3, {kind} >= 0.9x its gunicorn req/s: "
                f"{ratio(s3_asgi.rate, s3_wsgi.rate)}; p50 within 1.2x: "
                f"{ratio(s3_asgi.p(0.5), s3_wsgi.p(0.5))}"
            )
    if s3_wsgi and db_wsgi:
        print(
            "  engine on S3, gunicorn >= 0.5x Django's db backend: "
            f"{ratio(s3_wsgi.rate, db_wsgi.rate)}"
        )
    if ceiling and s3_wsgi:
        print(
            f"  the endpoint's ceiling, raw boto3 GET + PUT on {args.clients} "
            f"threads (no server): {ceiling.rate:.0f} cycles/s, p50 "
            f"{ceiling.p(0.5):.1f} ms; the engine under gunicorn reaches "
            f"{ratio(s3_wsgi.rate, ceiling.rate)} of it"
        )
        if db_wsgi:
            print(
                f"  0.5x Django's db backend is {db_wsgi.rate / 2:.0f} req/s: "
                f"{ratio(db_wsgi.rate / 2, ceiling.rate)} of that ceiling"
            )
    for kind in SERVERS:
        tier = reads.get((kind, "cached-tier"))
        cache = reads.get((kind, "django-cache"))
        if tier and cache:
            print(
                f"  cached tier reads, {kind}: Django's cache backend's req/s "
                f"within 1.2x of the tier's: {ratio(cache.rate, tier.rate)}"
            )
    print(
        f"\nShared cookie: {SHARED_CLIENTS} clients on one session, each "
        f"incrementing its own key {SHARED_INCREMENTS} times"
    )
    print(f"{'server':<14} {'engine':<31} {'kept/attempted':>15} {'answered 200':>13}")
    for (kind, engine), (kept, acknowledged, attempted) in shared.items():
        print(
            f"{kind:<14} {ENGINE_LABELS[engine]:<31} "
            f"{f'{kept}/{attempted}':>15} {acknowledged:>13}"
        )
    for (kind, engine), run in results.items():
        if run.errors:
            print(f"errors {kind} {engine}: {run.errors}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="per run")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"of {','.join(ENGINES)}"
    )
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    servers = [s for s in args.servers.split(",") if s]
    if set(engines) - set(ENGINES) or set(servers) - set(SERVERS):
        parser.error("unknown engine or server")
    if not reachable(6379) and {"cached-tier", "django-cache"} & set(engines):
        parser.error("Redis is not answering on 127.0.0.1:6379")
    if "django-db" in engines and not reachable(5432):
        parser.error("PostgreSQL is not answering on 127.0.0.1:5432")

    work = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    (work / "bench_settings.py").write_text(SETTINGS)
    (work / "bench_urls.py").write_text(URLS)
    results: dict[tuple[str, str], Run] = {}
    reads: dict[tuple[str, str], Run] = {}
    shared: dict[tuple[str, str], tuple[int, int, int]] = {}
    # bench/load.py's database(): a scratch PostgreSQL database in queue mode.
    with (
        moto_server(work) as endpoint,
        database(argparse.Namespace(mode="queue"), work) as db_url,
    ):
        create_bucket(endpoint, "throughput")
        s3 = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "throughput",
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "bench",
                "secret_key": "bench",
                "addressing_style": "path",
            },
        }
        if "django-db" in engines:
            migrate(project("django-db", s3, work, db_url), work)
        ceiling = None
        if "blob-s3" in engines:
            ceiling = endpoint_ceiling(endpoint, args.clients, args.seconds)
            print(
                f"raw boto3 GET + PUT, {args.clients} threads: "
                f"{ceiling.rate:.0f} cycles/s, p50 {ceiling.p(0.5):.1f} ms",
                flush=True,
            )
        for kind in servers:
            for engine in engines:
                config = project(engine, s3, work, db_url, kind)
                print(f"{kind}, {ENGINE_LABELS[engine]}: ", end="", flush=True)
                with server(kind, config, work, engine) as (host, port):
                    run = asyncio.run(
                        throughput(host, port, args.clients, args.seconds, view(kind))
                    )
                    results[kind, engine] = run
                    reads[kind, engine] = asyncio.run(
                        throughput(host, port, args.clients, args.seconds, "/read")
                    )
                    shared[kind, engine] = asyncio.run(shared_cookie(host, port))
                print(
                    f"{run.rate:.0f} req/s, p50 {run.p(0.5):.1f} ms, reads "
                    f"{reads[kind, engine].rate:.0f} req/s, shared cookie "
                    f"kept {shared[kind, engine][0]}/{shared[kind, engine][2]}",
                    flush=True,
                )
    report(results, ceiling, reads, shared, args)
    print(f"(server logs in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
