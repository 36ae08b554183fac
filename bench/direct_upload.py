"""A direct upload through the site's API against boto3's own multipart
upload of the same file, to the same local S3 endpoint (moto's server).

Starts moto's S3 server and the site under gunicorn (one sync worker, S3
storages), writes a CSV of ``--size`` bytes, then:

- direct: ``POST /api/direct-uploads`` (declared size and SHA-256), signed
  part URLs from ``/parts``, each part PUT straight to the bucket from the
  file (``--workers`` at a time), ``/complete``; hashing the file (the
  declared checksums) is part of the time, as for any client;
- boto3: ``upload_file`` with the same part size and concurrency, as
  ``aws s3 cp`` does it.

Prints both times, the ratio, and the site server's RSS (master and worker)
before, at its peak during, and after the direct upload: the bytes never go
through the site, so it should not move.

    python bench/direct_upload.py               # 1 GB
    python bench/direct_upload.py --size 200MB

Needs psutil (the ``bench`` dependency group).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
ROW_BLOCK = b"".join(
    b"%d,label-%d,%d.%02d,2024-%02d-%02d\n"
    % (i, i % 97, i % 977, i % 100, i % 12 + 1, i % 28 + 1)
    for i in range(20_000)
)


def parse_size(text: str) -> int:
    units = {"KB": 1000, "MB": 1000**2, "GB": 1000**3, "MIB": MiB, "GIB": 1024 * MiB}
    upper = text.strip().upper()
    for unit, scale in units.items():
        if upper.endswith(unit):
            return int(float(upper.removesuffix(unit)) * scale)
    return int(upper)


def write_csv(path: Path, size: int) -> None:
    with path.open("wb") as out:
        out.write(b"id,label,amount,day\n")
        written = out.tell()
        while written < size:
            chunk = ROW_BLOCK[: size - written]
            out.write(chunk)
            written += len(chunk)


class RssSampler:
    """The RSS of a process and its children, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> int:
        family = [self.process, *self.process.children(recursive=True)]
        return sum(p.memory_info().rss for p in family)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> RssSampler:
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def server_pid(port: int) -> int:
    """gunicorn's master: the process whose command line binds ``port``."""
    import psutil

    for process in psutil.process_iter(["pid", "cmdline"]):
        if f"127.0.0.1:{port}" in " ".join(process.info["cmdline"] or []):
            return int(process.info["pid"])
    raise SystemExit(f"no server on port {port}")


def hashes(path: Path, part_size: int) -> tuple[str, list[str]]:
    whole = hashlib.sha256()
    parts = []
    with path.open("rb") as source:
        while chunk := source.read(part_size):
            whole.update(chunk)
            parts.append(hashlib.sha256(chunk).hexdigest())
    return whole.hexdigest(), parts


def direct(site: str, path: Path, part_size: int, workers: int) -> dict[str, Any]:
    """The site's direct path, as an API client runs it; its timings.
    ``part_size`` is the site's (``UPLOADS_DIRECT_PART_SIZE``): the client
    hashes the file and its parts in one pass before it declares it."""
    import requests

    http = requests.Session()
    started = time.perf_counter()
    size = path.stat().st_size
    whole, part_hashes = hashes(path, part_size)
    hashed = time.perf_counter()
    begun = http.post(
        f"{site}/api/direct-uploads",
        json={
            "name": path.name,
            "size": size,
            "contentType": "text/csv",
            "sha256": whole,
        },
        timeout=30,
    )
    if begun.status_code != 201:
        raise SystemExit(f"begin: {begun.status_code} {begun.text}")
    http.headers["X-Session-ID"] = begun.headers["X-Session-ID"]
    plan = begun.json()
    if plan["partSize"] != part_size:
        raise SystemExit(f"the site's part size is {plan['partSize']}")
    signed = {p["number"]: p for p in plan["parts"]}
    wanted = [
        {"number": n, "sha256": digest}
        for n, digest in enumerate(part_hashes, start=1)
        if n not in signed
    ]
    for start in range(0, len(wanted), 100):
        answer = http.post(
            plan["partsUrl"], json={"parts": wanted[start : start + 100]}, timeout=30
        )
        answer.raise_for_status()
        signed.update({p["number"]: p for p in answer.json()["parts"]})

    fd = os.open(path, os.O_RDONLY)
    putter = threading.local()

    def send(number: int) -> None:
        if not hasattr(putter, "http"):
            putter.http = requests.Session()
        body = os.pread(fd, part_size, (number - 1) * part_size)
        part = signed[number]
        sent = putter.http.put(
            part["url"], data=body, headers=part["headers"], timeout=120
        )
        if sent.status_code != 200:
            raise SystemExit(f"part {number}: {sent.status_code} {sent.text[:300]}")

    signing = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(send, sorted(signed)))
    finally:
        os.close(fd)
    sent = time.perf_counter()
    done = http.post(plan["completeUrl"], timeout=120)
    if done.status_code != 200:
        raise SystemExit(f"complete: {done.status_code} {done.text}")
    finished = time.perf_counter()
    session = done.json()
    http.delete(f"{site}/api/sessions/{session['id']}", timeout=60)
    return {
        "seconds": finished - started,
        "hashing": hashed - started,
        "signing": signing - hashed,
        "sending": sent - signing,
        "completing": finished - sent,
        "parts": len(signed),
        "part_size": part_size,
    }


def with_boto3(
    client: Any,
    bucket: str,
    path: Path,
    part_size: int,
    workers: int,
    checksum: str | None = None,
) -> float:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=part_size,
        multipart_chunksize=part_size,
        max_concurrency=workers,
    )
    key = f"boto3/{uuid.uuid4().hex}.csv"
    started = time.perf_counter()
    extra = {"ChecksumAlgorithm": checksum} if checksum else None
    client.upload_file(str(path), bucket, key, Config=config, ExtraArgs=extra)
    seconds = time.perf_counter() - started
    client.delete_object(Bucket=bucket, Key=key)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=1000**3, help="e.g. 200MB")
    parser.add_argument("--workers", type=int, default=4, help="parts sent at once")
    parser.add_argument(
        "--part-size", type=parse_size, default=16 * MiB, help="default 16MiB"
    )
    args = parser.parse_args()

    from tests.support.servers import (
        BIN,
        free_port,
        manage,
        moto_client,
        moto_server,
        serve,
    )

    with tempfile.TemporaryDirectory(prefix="direct-upload-") as tmp:
        where = Path(tmp)
        csv = where / "big.csv"
        write_csv(csv, args.size)
        with moto_server(where) as endpoint:
            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            client = moto_client(endpoint)
            client.create_bucket(Bucket=bucket)
            env = {
                "VAR_DIR": str(where / "var"),
                "DJANGO_SECRET_KEY": f"bench-{uuid.uuid4().hex}",
                "SESSION_COOKIE_SECURE": "0",
                "S3_BUCKET": bucket,
                "S3_ENDPOINT_URL": endpoint,
                "S3_REGION": "us-east-1",
                "S3_ADDRESSING_STYLE": "path",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "UPLOADS_MAX_FILE_SIZE": str(max(args.size, 1024**3)),
                "UPLOADS_DIRECT_PART_SIZE": str(args.part_size),
                # moto assembles a completed multipart upload before it
                # answers (AWS sends whitespace meanwhile): 1 GB takes longer
                # than the site's default 10 s read timeout
                "S3_READ_TIMEOUT": "300",
            }
            manage(env, "migrate", "--noinput", "-v", "0")
            port = free_port()
            gunicorn = [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                # moto answers the completion of 1 GB after its 30 s default
                "--timeout",
                "300",
                "analytics_site.wsgi",
            ]
            with serve(
                gunicorn,
                where / "site.log",
                port=port,
                cwd=ROOT,
                env={**os.environ, **env},
            ) as site:
                sampler = RssSampler(server_pid(port))
                # warm the worker up: a small direct upload, then measure
                small = where / "small.csv"
                write_csv(small, 100_000)
                direct(site, small, args.part_size, args.workers)
                before = sampler.now()
                with sampler:
                    ours = direct(site, csv, args.part_size, args.workers)
                peak = sampler.peak
                time.sleep(0.5)
                after = sampler.now()
            theirs = with_boto3(client, bucket, csv, ours["part_size"], args.workers)
            theirs_sha = with_boto3(
                client, bucket, csv, ours["part_size"], args.workers, "SHA256"
            )

    mb = args.size / 1e6
    print(
        f"\ndirect upload of {mb:,.0f} MB to moto's S3 server: "
        f"{ours['parts']} parts of {ours['part_size'] / MiB:.0f} MiB, "
        f"{args.workers} at a time (cpus={os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.1f})"
    )
    throughput = mb / ours["seconds"]
    print(f"  site's direct path:    {ours['seconds']:7.2f} s  {throughput:6.1f} MB/s")
    print(
        f"    hashing {ours['hashing']:.2f} s, declaring and signing "
        f"{ours['signing']:.2f} s, sending parts {ours['sending']:.2f} s, "
        f"complete {ours['completing']:.2f} s"
    )
    print(f"  boto3 upload_file:     {theirs:7.2f} s  {mb / theirs:6.1f} MB/s")
    print(
        f"  boto3 with SHA-256:    {theirs_sha:7.2f} s  {mb / theirs_sha:6.1f} MB/s"
        "  (ChecksumAlgorithm=SHA256 per part, as the direct path signs)"
    )
    print(f"  ratio direct / boto3:  {ours['seconds'] / theirs:.2f}x")
    print(f"  ratio direct / boto3 with SHA-256:  {ours['seconds'] / theirs_sha:.2f}x")
    print(
        f"  site server RSS: before {before / MiB:.1f} MiB, peak during "
        f"{peak / MiB:.1f} MiB (+{(peak - before) / MiB:.1f}), after "
        f"{after / MiB:.1f} MiB"
    )


if __name__ == "__main__":
    main()
