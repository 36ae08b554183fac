"""Load: N concurrent clients through upload → process → read, for a bounded time.

Starts moto's S3 server and the project under gunicorn (several worker
processes) on loopback, then runs ``--clients`` client threads for
``--duration`` seconds. Each client repeats one flow:

1. upload a first CSV (creates the session);
2. upload ``--files - 1`` more CSVs to that session *at the same time*
   (parallel requests changing one session: the lost-update probe);
3. process it (inline: 200; ``--mode queue``: 202, then poll until done);
4. read the session and its analytics, and check that every file is there
   with the right row count (a missing file is a lost update);
5. delete it.

It prints throughput, p50/p95/p99 latency per step, errors (any unexpected
status or exception; target 0) and lost updates (target 0), and exits 1 if
either is not 0.

    .venv/bin/python bench/load.py --clients 8 --duration 30
    .venv/bin/python bench/load.py --mode queue --queue-workers 2  # PostgreSQL

Queue mode needs a database every process shares: a fresh PostgreSQL
database on 127.0.0.1:5432 (created and dropped here) when one answers,
else an SQLite file.
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = ("upload", "upload_parallel", "process", "wait", "read", "delete")


def reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    flows: int = 0
    files_expected: int = 0
    files_lost: int = 0
    requests: int = 0

    def timed(self, step: str, seconds: float) -> None:
        with self.lock:
            self.latencies[step].append(seconds)
            self.requests += 1

    def error(self, step: str, what: str) -> None:
        with self.lock:
            self.errors[step] += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{step}: {what}")


class FlowError(Exception):
    pass


def csv_body(tag: str, rows: int) -> bytes:
    lines = ["id,tag,amount,day"]
    lines += [f"{i},{tag},{i * 0.5:.1f},2024-01-{i % 28 + 1:02d}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def call(
    results: Results,
    step: str,
    http: requests.Session,
    method: str,
    url: str,
    expect: int,
    **kwargs: Any,
) -> requests.Response:
    started = time.perf_counter()
    try:
        response = http.request(method, url, timeout=120, **kwargs)
    except requests.RequestException as exc:
        results.error(step, f"{type(exc).__name__}: {exc}")
        raise FlowError from exc
    results.timed(step, time.perf_counter() - started)
    if response.status_code != expect:
        results.error(step, f"{response.status_code} {response.text[:200]}")
        raise FlowError
    return response


def api_session() -> requests.Session:
    """An API client: names its session in X-Session-ID, keeps no cookie (a
    cookie session would need a CSRF token, as browsers do)."""
    client = requests.Session()
    client.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return client


class Client:
    def __init__(self, base: str, args: argparse.Namespace, results: Results) -> None:
        self.base = base
        self.args = args
        self.results = results
        self.http = api_session()
        self.extra = [api_session() for _ in range(args.files - 1)]
        self.pool = ThreadPoolExecutor(max_workers=max(1, args.files - 1))

    def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            with contextlib.suppress(FlowError):
                self.flow()

    def flow(self) -> None:
        api, r, rows = f"{self.base}/api", self.results, self.args.rows
        tag = uuid.uuid4().hex[:12]
        names = [f"{tag}-{i}.csv" for i in range(self.args.files)]
        first = call(
            r,
            "upload",
            self.http,
            "POST",
            f"{api}/upload",
            201,
            files=[("files", (names[0], csv_body(f"{tag}0", rows), "text/csv"))],
        )
        sid = first.json()["id"]
        header = {"X-Session-ID": sid}
        try:

            def add(i: int) -> None:
                call(
                    r,
                    "upload_parallel",
                    self.extra[i - 1],
                    "POST",
                    f"{api}/upload",
                    201,
                    headers=header,
                    files=[("files", (names[i], csv_body(f"{tag}{i}", rows)))],
                )

            failures = [
                f.exception()
                for f in [self.pool.submit(add, i) for i in range(1, len(names))]
            ]
            if any(failures):
                raise FlowError
            if self.args.mode == "inline":
                processed = call(
                    r,
                    "process",
                    self.http,
                    "POST",
                    f"{api}/process",
                    200,
                    headers=header,
                )
                status = processed.json()["status"]
            else:
                call(
                    r,
                    "process",
                    self.http,
                    "POST",
                    f"{api}/process",
                    202,
                    headers=header,
                )
                status = self.wait(f"{api}/sessions/{sid}")
            if status != "completed":
                r.error("process", f"status {status}")
                raise FlowError
            session = call(
                r, "read", self.http, "GET", f"{api}/sessions/{sid}", 200
            ).json()
            analytics = call(
                r, "read", self.http, "GET", f"{api}/sessions/{sid}/analytics", 200
            ).json()
            kept = {f["name"] for f in session["files"]}
            profiled = {
                f["name"]
                for f in analytics["files"]
                if f["profile"] and f["profile"]["row_count"] == rows
            }
            with r.lock:
                r.flows += 1
                r.files_expected += len(names)
                r.files_lost += len(set(names) - (kept & profiled))
        finally:
            with contextlib.suppress(FlowError):
                call(
                    r,
                    "delete",
                    self.http,
                    "DELETE",
                    f"{api}/sessions/{sid}",
                    204,
                    headers=header,
                )

    def wait(self, url: str) -> str:
        started = time.perf_counter()
        while True:
            status = call(self.results, "read", self.http, "GET", url, 200).json()[
                "status"
            ]
            if status in {"completed", "failed"}:
                self.results.latencies["wait"].append(time.perf_counter() - started)
                return str(status)
            if time.perf_counter() - started > 120:
                self.results.error("wait", f"still {status} after 120 s")
                raise FlowError
            time.sleep(0.05)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def report(results: Results, args: argparse.Namespace, elapsed: float) -> int:
    total_errors = sum(results.errors.values())
    print(
        f"Load: {args.clients} clients for {elapsed:.1f} s against gunicorn "
        f"({args.workers} workers), {args.mode} processing"
        + (f" ({args.queue_workers} db_workers)" if args.mode == "queue" else "")
        + f", {args.engine} sessions, S3 on moto; {args.files} files of "
        f"{args.rows} rows per session, {args.files - 1} uploaded in parallel"
    )
    print(
        f"flows completed: {results.flows} ({results.flows / elapsed:.2f}/s); "
        f"HTTP requests: {results.requests} ({results.requests / elapsed:.1f}/s)"
    )
    print(
        f"{'step':<16} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6}"
    )
    for step in STEPS:
        samples = results.latencies.get(step, [])
        if not samples and not results.errors.get(step):
            continue
        figures = (
            f"{statistics.median(samples) * 1000:>8.1f} {pct(samples, 0.95):>8.1f} "
            f"{pct(samples, 0.99):>8.1f}"
            if samples
            else f"{'-':>8} {'-':>8} {'-':>8}"
        )
        print(
            f"{step:<16} {len(samples):>6} {figures} {results.errors.get(step, 0):>6}"
        )
    print(f"errors: {total_errors} (target 0)")
    for sample in results.error_samples:
        print(f"  {sample}")
    print(
        f"lost updates: {results.files_lost} of {results.files_expected} files "
        "(target 0)"
    )
    return 0 if total_errors == 0 and results.files_lost == 0 else 1


@contextlib.contextmanager
def database(args: argparse.Namespace, work: Path) -> Iterator[str]:
    if args.mode == "inline":
        yield f"sqlite:///{work}/db.sqlite3"
        return
    if not reachable(5432):
        yield f"sqlite:///{work}/db.sqlite3"
        return
    import psycopg

    server = "postgres://postgres@127.0.0.1:5432"
    name = f"load_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=30, help="seconds")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--files", type=int, default=3, help="files per session")
    parser.add_argument("--rows", type=int, default=200, help="rows per file")
    parser.add_argument("--mode", choices=["inline", "queue"], default="inline")
    parser.add_argument("--queue-workers", type=int, default=2)
    parser.add_argument(
        "--engine", choices=["storage", "cached_storage"], default="storage"
    )
    args = parser.parse_args()
    if args.files < 1 or args.clients < 1 or args.duration <= 0:
        parser.error("--files, --clients and --duration must be positive")

    from tests.support.servers import (
        create_bucket,
        django_server,
        manage,
        moto_server,
        worker,
    )

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    with moto_server(work) as endpoint, database(args, work) as database_url:
        create_bucket(endpoint, "load")
        env = {
            "DJANGO_SECRET_KEY": f"bench-{uuid.uuid4().hex}",
            "S3_BUCKET": "load",
            "S3_ENDPOINT_URL": endpoint,
            "S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "SESSION_COOKIE_SECURE": "0",
            "VAR_DIR": str(work),
            "DATABASE_URL": database_url,
            "UPLOADS_PROCESSING_MODE": args.mode,
            "UPLOADS_PROFILE_THREADS": "1",
            "SESSION_ENGINE": f"sessions_blob.backends.{args.engine}",
            "LOG_LEVEL": "WARNING",
        }
        if args.engine == "cached_storage":
            env["REDIS_URL"] = "redis://127.0.0.1:6379/12"
        manage(env, "migrate", "--noinput", "-v", "0")
        with contextlib.ExitStack() as stack:
            base = stack.enter_context(django_server(env, work, "load", args.workers))
            if args.mode == "queue":
                for i in range(args.queue_workers):
                    stack.enter_context(worker(env, work, f"load-worker-{i}"))
            results = Results()
            clients = [Client(base, args, results) for _ in range(args.clients)]
            started = time.monotonic()
            deadline = started + args.duration
            threads = [
                threading.Thread(target=c.run, args=(deadline,)) for c in clients
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            for c in clients:
                c.pool.shutdown()
    code = report(results, args, elapsed)
    print(f"(server logs in {work})")
    return code


if __name__ == "__main__":
    sys.exit(main())
