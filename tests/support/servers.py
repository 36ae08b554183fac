"""Real servers the tests talk to: moto's S3 server, Django behind gunicorn.

Each is a subprocess on a free loopback port, polled until it answers (no
fixed sleeps) and stopped with its process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def serve(
    command: list[str],
    log: Path,
    *,
    port: int,
    ready: str = "/",
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 30,
) -> Iterator[str]:
    """Run ``command`` (a server on ``port``) in a process group of its own,
    logging to ``log``; yield its URL once ``ready`` answers; stop it after."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{url}{ready}", process, timeout=timeout)
            yield url
        finally:
            stop(process)


@contextlib.contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """moto's standalone S3 server; yields its endpoint URL."""
    port = free_port()
    with serve(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        log_dir / f"moto-{port}.log",
        port=port,
        ready="/moto-api/",
    ) as url:
        yield url


def moto_client(endpoint: str, *, pool: int = 10) -> Any:
    """A boto3 client of moto's server (which takes any credentials), with
    path-style addressing and ``pool`` connections."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
        config=Config(max_pool_connections=pool, s3={"addressing_style": "path"}),
    )


def create_bucket(endpoint: str, bucket: str) -> None:
    """A bucket on moto's server."""
    moto_client(endpoint).create_bucket(Bucket=bucket)


@contextlib.contextmanager
def django_server(
    env: dict[str, str],
    log_dir: Path,
    name: str,
    workers: int = 1,
    app: str = "analytics_site.wsgi",
) -> Iterator[str]:
    """A Django project under gunicorn with ``env`` on top of this environment
    (the site by default; ``app`` names another WSGI application)."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        app,
    ]
    with serve(
        command,
        log_dir / f"{name}-{port}.log",
        port=port,
        cwd=ROOT,
        env={**os.environ, **env},
    ) as url:
        yield url


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``manage.py`` with ``env`` on top of this environment; its output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} exited with {done.returncode}:\n"
            + done.stdout.decode(errors="replace")
            + done.stderr.decode(errors="replace")
        )
    return done.stdout.decode(errors="replace")


def db_worker_argv(worker_id: str, *, interval: float) -> list[str]:
    """django-tasks-db's worker, polling every ``interval`` seconds."""
    return [
        sys.executable,
        "manage.py",
        "db_worker",
        "--no-reload",
        "--no-startup-delay",
        "--interval",
        str(interval),
        "--worker-id",
        worker_id,
    ]


@contextlib.contextmanager
def worker(
    env: dict[str, str], log_dir: Path, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """django-tasks-db's ``manage.py db_worker`` with ``env`` (the database must
    be migrated); yields the process once it polls for jobs."""
    path = log_dir / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
    log = open(path, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        db_worker_argv(name, interval=0.05),
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while b"Starting worker" not in path.read_bytes():
            if process.poll() is not None:
                raise RuntimeError(
                    f"the worker exited with {process.returncode}:\n"
                    + path.read_text(errors="replace")
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start within 30 s ({path})")
            time.sleep(0.05)
        yield process
    finally:
        stop(process)
        log.close()


def post_at_once(
    urls: list[str],
    json: dict[str, Any],
    timeout: float,
    headers: dict[str, str] | None = None,
) -> list[Any]:
    """POST ``json`` (with ``headers``) to every URL at the same moment, one
    thread each; the answers in the order of ``urls``."""
    answers: list[Any] = [None] * len(urls)
    barrier = threading.Barrier(len(urls))

    def post(i: int, url: str) -> None:
        barrier.wait()
        answers[i] = requests.post(url, json=json, headers=headers, timeout=timeout)

    threads = [threading.Thread(target=post, args=item) for item in enumerate(urls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 30)
    return answers
