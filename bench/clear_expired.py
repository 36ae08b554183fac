"""``manage.py clearsessions`` on many sessions: this engine on S3 (moto's
server over HTTP on loopback) against Django's file backend on local disk,
the same number of sessions and the same share expired, in one run.

Counted for each: listing calls, reads and delete calls, and the wall time
of the command. On S3 the calls are the requests moto's server logged
(ListObjectsV2, GetObject, DeleteObjects); on disk, the file backend's own
listdir, loads and deletes (a subclass counts them).

    .venv/bin/python bench/clear_expired.py [--sessions 20000] [--expired 0.1]
        [--custom 0.05]

The engine's sessions are a mix, as a site has them: most saved with the
default expiry (their write plus ``SESSIONS_BLOB_MAX_AGE``: the listing
proves their verdict, they are never read), ``--custom`` of them saved with
``set_expiry()`` (found through the expiry index; half of them expired, half
expiring in three hours). The expired default ones are written first, then,
after a pause, the rest; clearsessions runs with a MAX_AGE that falls in the
pause, so they are expired by age. Targets (issue 15): GETs at most the
custom-expiry count, wall time within 3x of the file backend.

Seeding writes the engine's own records (and expiry markers, named by the
engine's code) with parallel PUTs from one boto3 client; the file backend's
sessions are written by its SessionStore.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUCKET = "bench"
_REQUEST = re.compile(r'"(?:\x1b\[\d+m)?(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP')


@dataclass
class Row:
    name: str
    sessions: int
    expired: int
    lists: int
    reads: int
    deletes: int
    deleted: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sessions / self.seconds if self.seconds else 0.0


# -- counting ---------------------------------------------------------------------


class MotoLog:
    """Requests moto's server logged since ``mark()``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offset = 0

    def _text(self) -> str:
        logs = sorted(self.folder.glob("moto-*.log"))
        return logs[-1].read_text(errors="replace") if logs else ""

    def mark(self) -> None:
        self.offset = len(self._text())

    def calls(self) -> Counter[str]:
        time.sleep(0.3)  # the server writes its access log after answering
        counted: Counter[str] = Counter()
        for method, target in _REQUEST.findall(self._text()[self.offset :]):
            path, _, query = target.partition("?")
            if method == "GET" and "list-type=2" in query:
                counted["ListObjectsV2"] += 1
            elif method == "GET":
                counted["GetObject"] += 1
            elif method == "POST" and query.startswith("delete"):
                counted["DeleteObjects"] += 1
            else:
                kind = "object" if path.count("/") > 1 else "bucket"
                counted[f"{method} {kind}"] += 1
        return counted


def counting_file_store() -> type[Any]:
    from django.contrib.sessions.backends.file import SessionStore as FileStore

    class CountingFileStore(FileStore):
        loads = 0
        deletes = 0

        def load(self) -> dict[str, Any]:
            type(self).loads += 1
            return super().load()

        def delete(self, session_key: str | None = None) -> None:
            type(self).deletes += 1
            super().delete(session_key)

    return CountingFileStore


# Django's clearsessions imports settings.SESSION_ENGINE and calls its
# SessionStore.clear_expired(): this module is that engine for the file case.
SessionStore: Any = None


# -- seeding --------------------------------------------------------------------------


def seed_s3(
    count: int,
    expires: Callable[[int], dt.datetime | None],
    workers: int,
    prefix: str,
) -> None:
    """Session objects exactly as the engine writes them (its own record
    code), PUT by one boto3 client from a thread pool: much faster than a
    SessionStore per session, whose storage makes a boto3 client per thread."""
    import boto3
    from botocore.config import Config

    from sessions_blob.backends.storage import SessionStore as Ours
    from sessions_blob.records import object_name

    client = boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(max_pool_connections=workers, s3={"addressing_style": "path"}),
    )
    encoder = Ours()
    now = dt.datetime.now(dt.UTC)

    def body(n: int) -> list[tuple[str, bytes]]:
        key = encoder._get_new_session_key()
        data: dict[str, Any] = {"n": n, "cart": [f"item-{i}" for i in range(n % 5)]}
        expiry = expires(n)
        if expiry is not None:
            data["_session_expiry"] = expiry.isoformat()
        record, raw = encoder._record(key, data, created=now)
        # The engine writes a marker first for a session that needs one.
        marker = Ours._marker(key, record.modified, record.expires)
        return [(marker, b"")] * (marker is not None) + [
            (object_name(prefix, key), raw)
        ]

    def put(item: tuple[str, bytes]) -> None:
        client.put_object(
            Bucket=BUCKET, Key=item[0], Body=item[1], ContentType="application/json"
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        batch = 2000
        for start in range(0, count, batch):
            items = [body(n) for n in range(start, min(count, start + batch))]
            list(pool.map(put, [item for pair in items for item in pair]))
            print(f"  seeded {start + len(items):,}/{count:,}", file=sys.stderr)


def seed_files(
    store_class: type[Any], count: int, expired: Callable[[int], bool]
) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    for n in range(count):
        session = store_class()
        session["n"] = n
        session["cart"] = [f"item-{i}" for i in range(n % 5)]
        if expired(n):
            session.set_expiry(past)
        session.save()


def clear(args: list[str] | None = None) -> tuple[float, str]:
    from django.core.management import call_command

    out = StringIO()
    started = time.perf_counter()
    call_command("clearsessions", *(args or []), stdout=out, stderr=StringIO())
    return time.perf_counter() - started, out.getvalue()


# -- the cases --------------------------------------------------------------------


def count_left(prefix: str) -> int:
    from django.test.utils import override_settings

    from sessions_blob.cleanup import session_objects
    from sessions_blob.stores import object_store

    with override_settings(SESSIONS_BLOB_PREFIX=prefix):
        return sum(1 for _ in session_objects(object_store()))


def engine_case(
    log: MotoLog, count: int, expired_share: float, custom_share: float, workers: int
) -> tuple[Row, int]:
    """The mix a site has: default expiry (judged from the listing, expired
    ones by age) and ``custom_share`` saved with set_expiry() (half expired).

    Returns the row and the number of custom-expiry sessions."""
    from django.test.utils import override_settings

    prefix = "sessions/"
    customs = round(count * custom_share)
    custom_expired = customs // 2
    old = max(0, round(count * expired_share) - custom_expired)
    young = count - old
    now = dt.datetime.now(dt.UTC)
    print(
        f"seeding {count:,} sessions on S3 (moto): {old:,} expired by age, "
        f"{customs:,} with a custom expiry ({custom_expired:,} expired)...",
        file=sys.stderr,
    )
    started = time.perf_counter()
    seed_s3(old, lambda n: None, workers, prefix)
    last_old = time.monotonic()
    time.sleep(6)

    def expiry(n: int) -> dt.datetime | None:
        if n < custom_expired:
            return now - dt.timedelta(minutes=5)
        if n < customs:
            return now + dt.timedelta(hours=3)
        return None  # the default

    seed_s3(young, expiry, workers, prefix)
    print(f"  in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    max_age = int(time.monotonic() - last_old - 3)
    with override_settings(SESSIONS_BLOB_PREFIX=prefix, SESSIONS_BLOB_MAX_AGE=max_age):
        log.mark()
        seconds, output = clear()
        calls = log.calls()
        listed = time.perf_counter()
        left = count_left(prefix)
        listed = time.perf_counter() - listed
    # The floor on this endpoint: one listing of what is left, nothing else.
    print(
        f"  listing the {left:,} sessions left alone: {listed:.2f}s "
        f"(clearsessions: {seconds:.2f}s)",
        file=sys.stderr,
    )
    expired = old + custom_expired
    assert left == count - expired, (left, count, expired, output)
    row = s3_row("sessions_blob, S3", count, expired, calls, count - left, seconds)
    return row, customs


def s3_row(
    case: str, count: int, expired: int, calls: Any, deleted: int, seconds: float
) -> Row:
    """A table row from the S3 calls moto logged during one clearsessions."""
    return Row(
        case,
        count,
        expired,
        calls["ListObjectsV2"],
        calls["GetObject"],
        calls["DeleteObjects"] + calls["DELETE object"],
        deleted,
        seconds,
    )


def file_case(work: Path, count: int, expired_share: float, workers: int) -> Row:
    from django.test.utils import override_settings

    global SessionStore
    SessionStore = counting_file_store()
    folder = work / "file-sessions"
    folder.mkdir()
    every = round(1 / expired_share)
    with override_settings(SESSION_ENGINE="__main__", SESSION_FILE_PATH=str(folder)):
        print(f"Django file backend: seeding {count:,} files...", file=sys.stderr)
        seed_files(SessionStore, count, lambda n: n % every == 0)
        SessionStore.loads = SessionStore.deletes = 0
        seconds, _ = clear()
    left = len(os.listdir(folder))
    expired = len(range(0, count, every))
    assert left == count - expired, (left, count, expired)
    return Row(
        "Django file backend, local disk",
        count,
        expired,
        1,  # one os.listdir() of the folder
        SessionStore.loads,
        SessionStore.deletes,
        count - left,
        seconds,
    )


# -- report ---------------------------------------------------------------------------


def report(rows: list[Row], baseline: Row) -> None:
    header = (
        f"{'case':<36} {'sessions':>8} {'expired':>7} {'list':>6} {'read':>7} "
        f"{'delete':>7} {'wall s':>7} {'sess/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.name:<36} {row.sessions:>8,} {row.deleted:>7,} {row.lists:>6,} "
            f"{row.reads:>7,} {row.deletes:>7,} {row.seconds:>7.2f} {row.rate:>8,.0f}"
        )
    print()
    print(f"ratios against {baseline.name}:")
    for row in rows:
        if row is baseline:
            continue

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.3g}x" if b else "-"

        print(
            f"  {row.name:<36} list {ratio(row.lists, baseline.lists):>7}  "
            f"read {ratio(row.reads, baseline.reads):>6}  "
            f"delete {ratio(row.deletes, baseline.deletes):>7}  "
            f"wall {ratio(row.seconds, baseline.seconds):>6}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--expired", type=float, default=0.1, help="share expired")
    parser.add_argument("--workers", type=int, default=16, help="seeding threads")
    parser.add_argument(
        "--custom", type=float, default=0.05, help="share saved with set_expiry()"
    )
    args = parser.parse_args()

    from tests.support.servers import create_bucket, moto_server

    work = Path(tempfile.mkdtemp(prefix="bench-clear-"))
    with moto_server(work) as endpoint:
        create_bucket(endpoint, BUCKET)
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
                "DJANGO_SECRET_KEY": "bench",
                "S3_BUCKET": BUCKET,
                "S3_ENDPOINT_URL": endpoint,
                "S3_REGION": "us-east-1",
                "S3_ADDRESSING_STYLE": "path",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "VAR_DIR": str(work),
                "LOG_LEVEL": "WARNING",
            }
        )
        import django

        django.setup()
        log = MotoLog(work)
        engine, customs = engine_case(
            log, args.sessions, args.expired, args.custom, args.workers
        )
        baseline = file_case(work, args.sessions, args.expired, args.workers)
    print()
    print(
        f"clearsessions on {args.sessions:,} sessions, {args.expired:.0%} expired, "
        f"{customs:,} with a custom expiry ({os.cpu_count()} cores)"
    )
    report([engine, baseline], baseline)
    per = 1000 / args.sessions
    print()
    print(
        f"sessions_blob per 1,000 sessions: {engine.lists * per:.2f} list, "
        f"{engine.reads * per:.1f} GET, {engine.deletes * per:.2f} delete calls"
    )
    ratio = engine.seconds / baseline.seconds if baseline.seconds else float("inf")
    print(
        f"targets: GETs {engine.reads:,} <= custom-expiry {customs:,}: "
        f"{'met' if engine.reads <= customs else 'MISSED'}; wall time "
        f"{ratio:.2f}x the file backend <= 3x: {'met' if ratio <= 3 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
