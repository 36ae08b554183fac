"""Peak RSS of the server while a large CSV is uploaded through the API.

Starts the project under gunicorn (one sync worker, uploads and sessions on
local disk in a temporary VAR_DIR), streams a generated CSV of ``--size``
bytes to ``POST /api/upload`` as a multipart body with a precomputed
Content-Length (the body is produced by a generator, never held whole), and
samples the worker's RSS meanwhile. Prints the idle baseline, the peak, the
peak's growth over the baseline and the upload throughput; exits 1 when the
peak is over ``--target`` (300 MB, issue 3).

    python bench/upload_stream.py                  # 1 GB
    python bench/upload_stream.py --size 200MB
    python bench/upload_stream.py --process        # then time POST /api/process

Uses psutil when installed (``pip install -e '.[bench]'``), else /proc.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHUNK = 1024 * 1024
HEADER = b"id,category,amount,score,created,active,note\n"
CATEGORIES = [b"alpha", b"beta ", b"gamma", b"delta", b"omega"]


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B?)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"bad size: {text!r} (e.g. 100MB, 1GB)")
    unit = (match.group(2) or "B").upper()
    binary = "I" in unit
    unit = unit.replace("I", "").rstrip("B") or "B"
    base = 1024 if binary else 1000
    scale = {"B": 1, "K": base, "M": base**2, "G": base**3, "T": base**4}[unit]
    return int(float(match.group(1)) * scale)


# ------------------------------------------------------------------ the body


def _row(i: int) -> bytes:
    """A fixed-width CSV row (64 bytes), deterministic in ``i``."""
    h = (i * 2654435761) & 0xFFFFFFFF
    return b"%012d,%s,%10.2f,%6d,2024-%02d-%02d,%s,n%08x\n" % (
        i,
        CATEGORIES[h % 5],
        (h % 10_000_000) / 100,
        h % 100_000 - 50_000,
        h % 12 + 1,
        h % 28 + 1,
        b"true " if h & 1 else b"false",
        h,
    )


ROW_BYTES = len(_row(0))
ROWS_PER_BLOCK = CHUNK // ROW_BYTES


def csv_chunks(size: int) -> Iterator[bytes]:
    """``size`` bytes of CSV (whole rows; the last one may be cut short):
    rows are generated once per block and the block reused with new ids."""
    yield HEADER
    left = size - len(HEADER)
    template = [_row(i) for i in range(ROWS_PER_BLOCK)]
    block_no = 0
    while left > 0:
        base = block_no * ROWS_PER_BLOCK
        block = b"".join(
            b"%012d" % (base + i) + row[12:] for i, row in enumerate(template)
        )
        piece = block[:left]
        left -= len(piece)
        block_no += 1
        yield piece


def multipart(size: int, boundary: str) -> tuple[int, Iterator[bytes]]:
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="files"; filename="bench.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from csv_chunks(size)
        yield tail

    return len(head) + size + len(tail), body()


# ------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        return _proc_status(pid, "VmRSS")


def _proc_status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def worker_pid(master: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            import psutil

            children = [c.pid for c in psutil.Process(master).children()]
        except ImportError:
            out = subprocess.run(
                ["pgrep", "-P", str(master)],
                capture_output=True,
                text=True,
                check=False,
            )
            children = [int(p) for p in out.stdout.split()]
        if children:
            return children[0]
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


class Server:
    def __init__(self, var_dir: Path, max_size: int) -> None:
        self.port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("S3_", "STORAGE_BACKEND", "AWS_"))
        }
        env |= {
            "VAR_DIR": str(var_dir),
            "DJANGO_SECRET_KEY": uuid.uuid4().hex,
            "UPLOADS_MAX_FILE_SIZE": str(max_size),
            "TMPDIR": str(var_dir / "tmp"),  # spooled uploads, on the same disk
        }
        (var_dir / "tmp").mkdir(parents=True)
        self.log = open(var_dir / "gunicorn.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--timeout",
                "900",
                "analytics_site.wsgi",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait()
        self.worker = worker_pid(self.process.pid)

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited; see gunicorn.log")
            try:
                urllib.request.urlopen(f"{self.url}/api/schema/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


class Sampler(threading.Thread):
    """The worker's RSS every ``interval`` seconds; ``peak`` is the largest."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self.samples += 1
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, rss_bytes(self.pid))
        return self.peak


# ------------------------------------------------------------------ the client


def post_upload(server: Server, size: int) -> tuple[dict[str, Any], str, float, str]:
    """(the upload's JSON, the session key, seconds, SHA-256 of the file)."""
    boundary = f"bench{uuid.uuid4().hex}"
    length, body = multipart(size, boundary)
    digest = hashlib.sha256()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=900)
    started = time.perf_counter()
    conn.putrequest("POST", "/api/upload")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    in_file = False
    for piece in body:
        conn.send(piece)
        if in_file and not piece.startswith(b"\r\n--"):
            digest.update(piece)
        in_file = True
    response = conn.getresponse()
    payload = json.loads(response.read())
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != 201:
        raise RuntimeError(f"upload answered {response.status}: {payload}")
    # A cookieless client learns its session key once, from this header.
    key = response.getheader("X-Session-ID") or ""
    return payload, key, elapsed, digest.hexdigest()


def post_json(server: Server, path: str, body: dict[str, Any], session_key: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3600)
    conn.request(
        "POST",
        path,
        json.dumps(body),
        {"Content-Type": "application/json", "X-Session-ID": session_key},
    )
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GB"))
    parser.add_argument("--target", type=parse_size, default=parse_size("300MB"))
    parser.add_argument("--process", action="store_true", help="also POST /api/process")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary VAR_DIR"
    )
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="upload-bench-"))
    server = Server(var_dir, max_size=max(args.size, 1024**3))
    try:
        # warm up: import everything a first upload needs, then measure idle
        _length, warm = multipart(10_000, "warm")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request(
            "POST",
            "/api/upload",
            b"".join(warm),
            {"Content-Type": "multipart/form-data; boundary=warm"},
        )
        assert conn.getresponse().status == 201
        conn.close()
        time.sleep(0.5)
        baseline = rss_bytes(server.worker)

        sampler = Sampler(server.worker)
        sampler.start()
        payload, key, elapsed, sha = post_upload(server, args.size)
        peak = sampler.stop()
        hwm = _proc_status(server.worker, "VmHWM")

        stored = payload["files"][0]
        assert stored["size"] == args.size, stored
        assert stored["sha256"] == sha, "the server's hash differs from the client's"
        print(
            f"uploaded {mb(args.size)} in {elapsed:.1f} s: "
            f"{args.size / 1e6 / elapsed:,.0f} MB/s"
        )
        print(f"worker RSS idle (baseline): {mb(baseline)}")
        print(
            f"worker RSS peak during the upload: {mb(peak)} ({sampler.samples} samples)"
        )
        print(f"growth over the baseline: {mb(peak - baseline)}")
        print(f"worker VmHWM (lifetime high-water mark): {mb(hwm)}")
        verdict = "OK" if peak < args.target else "OVER"
        print(f"target: peak < {mb(args.target)}: {verdict}")

        if args.process:
            sampler = Sampler(server.worker)
            sampler.start()
            started = time.perf_counter()
            status, result = post_json(server, "/api/process", {}, key)
            took = time.perf_counter() - started
            process_peak = sampler.stop()
            print(
                f"process: {status} {result.get('status')} in {took:.1f} s "
                f"({args.size / 1e6 / took:,.0f} MB/s), "
                f"worker RSS peak {mb(process_peak)}"
            )
        return 0 if peak < args.target else 1
    finally:
        server.stop()
        if args.keep:
            print(f"kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
