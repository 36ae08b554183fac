"""A real OpenStack Swift (Debian's packages) with the s3api middleware on loopback.

Used by the test fixtures to run the S3 behaviour suite against a store that
really checks SigV4 signatures, answers conditional PUTs (If-None-Match /
If-Match) with 501 NotImplemented and demands Content-MD5 on DeleteObjects.

Stdlib only: it runs inside the project venv and launches Swift's daemons as
subprocesses with Debian's ``/usr/bin/python3`` and the ``/usr/bin/swift-*``
entry points. Everything (config, one-replica rings, data device, logs, pids)
lives under ``workdir``; nothing under /etc/swift or /srv is used: each daemon
is started through a tiny bootstrap that points ``swift.common.utils.
SWIFT_CONF_FILE`` at ``workdir/etc/swift.conf`` before the entry point runs.

    with SwiftServer(tmp_path) as server:
        s3 = server.start()
        boto3.client("s3", endpoint_url=s3.endpoint_url, ...)

Run by hand: ``python tests/swift/server.py /tmp/swift`` (Ctrl-C stops it).
Packages: ``tests/swift/install.sh``.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import hashlib
import hmac
import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SYSTEM_PYTHON = "/usr/bin/python3"
MEMCACHED = "/usr/bin/memcached"
SWIFT_SERVERS = ("account", "container", "object", "proxy")
SWIFT_PACKAGE_DIR = "/usr/lib/python3/dist-packages/swift"

ACCESS_KEY = "test:tester"
SECRET_KEY = "testing"
REGION = "us-east-1"
HASH_PATH = "swift-s3-test-harness"
DEVICE = "d0"
# s3api must come before its auth (tempauth); slo is needed for multipart
# uploads, symlink for object versioning.
PROXY_PIPELINE = " ".join(
    [
        "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats",
        "s3api tempauth copy slo dlo versioned_writes symlink proxy-logging",
        "proxy-server",
    ]
)
PART_POWER = 6  # 64 partitions: rings build in milliseconds

# Prologue of every daemon launch (argv[1] = pid of the Python that starts it):
# get SIGTERM when that process dies (PR_SET_PDEATHSIG, kept across exec), so
# a killed test run leaves no daemons behind. Done in the child's own code
# rather than with Popen(preexec_fn=...), which is unsafe with threads.
_PDEATHSIG = textwrap.dedent(
    """\
    import ctypes, os, signal, sys
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    except Exception:
        pass
    if os.getppid() != int(sys.argv[1]):
        sys.exit("parent already gone")
    """
)

# Run a /usr/bin/swift-* entry point with swift.conf taken from our workdir.
# argv: <parent pid> <swift.conf> <entry point> <entry point args...>
_BOOTSTRAP = _PDEATHSIG + textwrap.dedent(
    """\
    import runpy
    import swift.common.utils as utils
    utils.SWIFT_CONF_FILE = sys.argv[2]
    sys.argv = sys.argv[3:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)

# Exec a binary (memcached). argv: <parent pid> <binary> <args...>
_EXEC = _PDEATHSIG + "os.execv(sys.argv[2], sys.argv[2:])\n"

# argv: <swift_dir> <device> <part_power> <kind>=<port>...
_RING_BUILDER = textwrap.dedent(
    """\
    import sys
    from swift.common.ring import RingBuilder
    swift_dir, device, part_power = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for arg in sys.argv[4:]:
        kind, port = arg.split("=")
        builder = RingBuilder(part_power, 1, 1)
        builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",
                         "port": int(port), "device": device, "weight": 100,
                         "meta": ""})
        builder.rebalance()
        builder.get_ring().save("%s/%s.ring.gz" % (swift_dir, kind))
    """
)


@dataclass(frozen=True)
class SwiftS3:
    endpoint_url: str  # e.g. http://127.0.0.1:<port>
    access_key: str  # tempauth "test:tester"
    secret_key: str  # "testing"
    region: str  # s3api "location"


def swift_available() -> bool:
    """True when Debian's Swift daemons, python3-swift and memcached are installed."""
    paths = [SYSTEM_PYTHON, MEMCACHED, f"{SWIFT_PACKAGE_DIR}/__init__.py"]
    paths += [f"/usr/bin/swift-{name}-server" for name in SWIFT_SERVERS]
    return all(os.path.exists(path) for path in paths)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _supports_user_xattr(directory: Path) -> bool:
    probe = directory / ".xattr-probe"
    try:
        probe.touch()
        os.setxattr(probe, "user.swift.probe", b"1")
        return os.getxattr(probe, "user.swift.probe") == b"1"
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def _list_buckets_status(endpoint: tuple[str, int], timeout: float) -> int:
    """HTTP status of a SigV4-signed S3 ListBuckets (stdlib signer)."""
    host = f"{endpoint[0]}:{endpoint[1]}"
    now = datetime.datetime.now(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(b"").hexdigest()
    signed_headers = "host;x-amz-content-sha256;x-amz-date"
    canonical = "\n".join(
        [
            "GET",
            "/",
            "",
            f"host:{host}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{amz_date}\n",
            signed_headers,
            payload_hash,
        ]
    )
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Host": host,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_hash,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        ),
    }
    conn = http.client.HTTPConnection(endpoint[0], endpoint[1], timeout=timeout)
    try:
        conn.request("GET", "/", headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class SwiftServer:
    """memcached + account/container/object servers + proxy (s3api, tempauth).

    A context manager: ``__exit__`` calls :meth:`stop`. Each daemon runs in its
    own process group, is sent SIGTERM on stop (SIGKILL after 5 s) and, as a
    safety net, also gets SIGTERM if the Python process that started it dies
    (PR_SET_PDEATHSIG) -- so call :meth:`start` from a thread that outlives
    the server (the main thread in pytest).
    """

    def __init__(self, workdir: Path, port: int = 0) -> None:
        self.workdir = Path(workdir).resolve()
        self.port = port
        self.etc = self.workdir / "etc"
        self.logs = self.workdir / "log"
        self.run = self.workdir / "run"
        self.devices = self.workdir / "data"
        self._external_devices: Path | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._log_files: list[object] = []
        self.s3: SwiftS3 | None = None

    # -- context manager ---------------------------------------------------
    def __enter__(self) -> SwiftServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- public API --------------------------------------------------------
    def start(self, timeout: float = 60) -> SwiftS3:
        if self._procs:
            raise RuntimeError("SwiftServer already started")
        if not swift_available():
            raise RuntimeError(
                "Debian's Swift packages are missing: run tests/swift/install.sh"
            )
        deadline = time.monotonic() + timeout
        attempts = 3 if self.port == 0 else 1
        for attempt in range(1, attempts + 1):
            try:
                self.s3 = self._start_once(deadline)
                return self.s3
            except _PortClash:
                self.stop()
                if attempt == attempts:
                    raise RuntimeError(
                        "Swift could not bind its ports:\n" + self.log_tail()
                    ) from None
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        procs, self._procs = self._procs, {}
        for name, proc in procs.items():
            if proc.poll() is None:
                # memcached holds nothing worth keeping and takes ~1 s to exit
                # on SIGTERM while clients are connected
                sig = signal.SIGKILL if name == "memcached" else signal.SIGTERM
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
        end = time.monotonic() + 5
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # a daemon that left children behind in its group (it should not)
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for log in self._log_files:
            with contextlib.suppress(Exception):
                log.close()  # type: ignore[attr-defined]
        self._log_files = []
        for name in procs:
            with contextlib.suppress(OSError):
                (self.run / f"{name}.pid").unlink()
        if self._external_devices is not None:
            shutil.rmtree(self._external_devices, ignore_errors=True)
            self._external_devices = None
        self.s3 = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"==> {path} <==\n" + "\n".join(text))
        return "\n".join(out)

    # -- internals ---------------------------------------------------------
    def _start_once(self, deadline: float) -> SwiftS3:
        for directory in (self.etc, self.logs, self.run, self.workdir / "cache"):
            directory.mkdir(parents=True, exist_ok=True)
        devices = self._devices_root()
        (devices / DEVICE).mkdir(parents=True, exist_ok=True)

        ports = {name: _free_port() for name in ("memcached", *SWIFT_SERVERS)}
        if self.port:
            ports["proxy"] = self.port
        self._write_configs(ports, devices)

        self._spawn(
            "memcached",
            [
                SYSTEM_PYTHON,
                "-E",
                "-s",
                "-S",
                "-c",
                _EXEC,
                str(os.getpid()),
                MEMCACHED,
                "-l",
                "127.0.0.1",
                "-p",
                str(ports["memcached"]),
                "-U",
                "0",
                "-m",
                "64",
                "-t",
                "2",
                "-c",
                "1024",
                "-v",
            ]
            + (["-u", "root"] if os.geteuid() == 0 else []),
        )
        ring = subprocess.run(
            [
                SYSTEM_PYTHON,
                "-E",
                "-s",
                "-c",
                _RING_BUILDER,
                str(self.etc),
                DEVICE,
                str(PART_POWER),
            ]
            + [f"{kind}={ports[kind]}" for kind in ("account", "container", "object")],
            capture_output=True,
            env=self._env(),
            check=False,
        )
        (self.logs / "rings.log").write_bytes(ring.stdout + ring.stderr)
        if ring.returncode:
            raise RuntimeError("building Swift rings failed:\n" + self.log_tail())
        for name in SWIFT_SERVERS:
            self._spawn(
                name,
                [
                    SYSTEM_PYTHON,
                    "-E",
                    "-s",
                    "-c",
                    _BOOTSTRAP,
                    str(os.getpid()),
                    str(self.etc / "swift.conf"),
                    f"/usr/bin/swift-{name}-server",
                    str(self.etc / f"{name}-server.conf"),
                    "-v",
                ],
            )
        atexit.register(self.stop)

        proxy = ("127.0.0.1", ports["proxy"])
        pending = {
            name: ports[name]
            for name in ("memcached", "account", "container", "object")
        }
        delay = 0.02
        while True:
            self._check_alive()
            for name, port in list(pending.items()):
                if _port_open(port):
                    del pending[name]
            if not pending:
                with contextlib.suppress(OSError, http.client.HTTPException):
                    status = _list_buckets_status(proxy, timeout=5)
                    if status == 200:
                        break
                    if status == 403:
                        raise RuntimeError(
                            "Swift s3api refused the test credentials (403):\n"
                            + self.log_tail()
                        )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "Swift did not answer an S3 ListBuckets in time:\n"
                    + self.log_tail()
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        return SwiftS3(
            endpoint_url=f"http://127.0.0.1:{ports['proxy']}",
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            region=REGION,
        )

    def _check_alive(self) -> None:
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                tail = self.log_tail()
                if "Address already in use" in tail or "Could not bind" in tail:
                    raise _PortClash(name)
                code = proc.returncode
                raise RuntimeError(
                    f"Swift {name} exited with {code} during start-up:\n{tail}"
                )

    def _devices_root(self) -> Path:
        """The data devices' root: under workdir when its file system has user
        xattrs (Swift's object server needs them), else a temp dir elsewhere."""
        self.devices.mkdir(parents=True, exist_ok=True)
        if _supports_user_xattr(self.devices):
            return self.devices
        for base in ("/dev/shm", "/var/tmp", tempfile.gettempdir()):
            with contextlib.suppress(OSError):
                candidate = Path(tempfile.mkdtemp(prefix="swift-data-", dir=base))
                if _supports_user_xattr(candidate):
                    self._external_devices = candidate
                    (self.workdir / "data-location").write_text(f"{candidate}\n")
                    return candidate
                shutil.rmtree(candidate, ignore_errors=True)
        raise RuntimeError(
            f"no file system with user xattrs for Swift's data (tried {self.devices}, "
            "/dev/shm, /var/tmp, the temp dir)"
        )

    def _env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PYTHON") and key != "VIRTUAL_ENV"
        }
        env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
        env["EVENTLET_NO_GREENDNS"] = "yes"  # loopback IPs only; ~0.1 s less each
        return env

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (kept until stop)
        self._log_files.append(log)
        log.write(f"--- starting {name} at {time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env(),
            cwd=self.workdir,
            start_new_session=True,
        )
        self._procs[name] = proc
        (self.run / f"{name}.pid").write_text(f"{proc.pid}\n")

    def _write_configs(self, ports: dict[str, int], devices: Path) -> None:
        user = pwd.getpwuid(os.getuid()).pw_name
        (self.etc / "swift.conf").write_text(
            textwrap.dedent(
                f"""\
                [swift-hash]
                swift_hash_path_suffix = {HASH_PATH}
                swift_hash_path_prefix = {HASH_PATH}

                [storage-policy:0]
                name = Policy-0
                default = yes

                [swift-constraints]
                """
            )
        )
        for name in SWIFT_SERVERS:
            common = textwrap.dedent(
                f"""\
                [DEFAULT]
                bind_ip = 127.0.0.1
                bind_port = {ports[name]}
                workers = 0
                # a free port lost to a race will not come back: fail fast, retry
                bind_timeout = 2
                user = {user}
                swift_dir = {self.etc}
                devices = {devices}
                mount_check = false
                disable_fallocate = true
                fallocate_reserve = 0
                recon_cache_path = {self.workdir / "cache"}
                log_name = {name}-server
                log_level = INFO
                # no syslog: a missing socket makes Swift fall back to UDP, dropped
                log_address = {self.run / "no-syslog"}
                """
            )
            if name == "proxy":
                body = self._proxy_config(ports)
            else:
                body = textwrap.dedent(
                    f"""\
                    [pipeline:main]
                    pipeline = {name}-server

                    [app:{name}-server]
                    use = egg:swift#{name}
                    """
                )
                if name == "object":
                    body += "container_update_timeout = 5\n"
            (self.etc / f"{name}-server.conf").write_text(common + "\n" + body)

    def _proxy_config(self, ports: dict[str, int]) -> str:
        return textwrap.dedent(
            f"""\
            [pipeline:main]
            pipeline = {PROXY_PIPELINE}

            [app:proxy-server]
            use = egg:swift#proxy
            account_autocreate = true
            allow_account_management = true

            [filter:s3api]
            use = egg:swift#s3api
            location = {REGION}
            s3_acl = false
            dns_compliant_bucket_names = true

            [filter:tempauth]
            use = egg:swift#tempauth
            reseller_prefix = AUTH
            user_test_tester = {SECRET_KEY} .admin

            [filter:cache]
            use = egg:swift#memcache
            memcache_servers = 127.0.0.1:{ports["memcached"]}

            [filter:catch_errors]
            use = egg:swift#catch_errors

            [filter:gatekeeper]
            use = egg:swift#gatekeeper

            [filter:healthcheck]
            use = egg:swift#healthcheck

            [filter:proxy-logging]
            use = egg:swift#proxy_logging

            [filter:listing_formats]
            use = egg:swift#listing_formats

            [filter:copy]
            use = egg:swift#copy

            [filter:slo]
            use = egg:swift#slo

            [filter:dlo]
            use = egg:swift#dlo

            [filter:versioned_writes]
            use = egg:swift#versioned_writes
            allow_object_versioning = true

            [filter:symlink]
            use = egg:swift#symlink
            """
        )


class _PortClash(Exception):
    """A daemon lost its free port to someone else between pick and bind."""


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument(
        "--port", type=int, default=0, help="proxy port (default: free)"
    )
    args = parser.parse_args(argv)

    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with SwiftServer(args.workdir, port=args.port) as server:
        started = time.monotonic()
        s3 = server.start()
        print(f"Swift s3api up in {time.monotonic() - started:.2f}s")
        print(f"endpoint_url = {s3.endpoint_url}")
        print(f"access_key   = {s3.access_key}")
        print(f"secret_key   = {s3.secret_key}")
        print(f"region       = {s3.region}")
        print(f"logs         = {server.logs}")
        print("Ctrl-C or SIGTERM stops it.", flush=True)
        while not stopping:
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
