"""A serverless platform on one machine: the site's Lambda handler invoked
with real API Gateway HTTP API (payload 2.0) events, each in a fresh process,
behind a front that caps bodies as Vercel does.

- ``read_only_copy`` deploys the code: a copy of the site's packages,
  compiled, then made read-only (no write bits, and owned by another user
  when we are root) so that nothing the function does can write there.
- ``restricted`` is the ``preexec_fn`` of every process of the tier: as root,
  it drops the capabilities that let root write, chmod or chown past file
  permissions, so the copy is read-only for root too.
- ``Function`` invokes the handler: one ``python -m tests.serverless.invoke``
  process per event, with the deployment's environment and nothing else.
- ``Front`` turns a request into an API Gateway event, refuses a body over
  4.5 MB with 413 before any function runs (Vercel's limit; API Gateway's is
  10 MB, a synchronous Lambda payload's 6 MB), and turns the answer back.
- ``Browser`` is a client over the front: a cookie jar and the CSRF token, as
  the upload page sends them.
"""

from __future__ import annotations

import base64
import compileall
import contextlib
import ctypes
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.support.servers import db_worker_argv, stop

ROOT = Path(__file__).resolve().parents[2]

#: Vercel's cap on a function's request and response bodies.
BODY_LIMIT = 4_500_000
#: What a deployment holds: the site's packages and the tier's runner.
DEPLOYED = [
    "analytics_site",
    "uploads",
    "sessions_blob",
    "manage.py",
    "tests/__init__.py",
    "tests/serverless/__init__.py",
    "tests/serverless/invoke.py",
]
NOBODY = 65534
# Linux capability numbers (linux/capability.h) and prctl's PR_CAPBSET_DROP.
_CAP_CHOWN, _CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 0, 1, 2, 3
_PR_CAPBSET_DROP = 24


def read_only_copy(dest: Path) -> Path:
    """Copy the deployed files of this checkout to ``dest``, compile them (a
    function package ships its bytecode: it cannot write ``__pycache__``)
    and take every write permission away; as root, also hand the tree to
    ``nobody``, so that root without its capabilities (``restricted``) can
    neither write nor chmod it."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in DEPLOYED:
        source, target = ROOT / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=skip)
        else:
            shutil.copy2(source, target)
    compileall.compile_dir(dest, quiet=1)
    for path in [dest, *dest.rglob("*")]:
        mode = path.lstat().st_mode & 0o7777
        path.chmod(mode & ~0o222)
        if os.geteuid() == 0:
            os.lchown(path, NOBODY, NOBODY)
    return dest


def writable_again(dest: Path) -> None:
    """Give the copy back (so that it can be deleted)."""
    for path in [dest, *dest.rglob("*")]:
        if os.geteuid() == 0:
            os.lchown(path, 0, 0)
        path.chmod((path.lstat().st_mode & 0o7777) | 0o200)


def restricted() -> None:
    """In the child before exec: as root, drop the capabilities that bypass
    file permissions from the bounding set (they are gone after exec, for
    good). Not root: permissions already bind."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_CHOWN, _CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_restricted(
    command: list[str], code: Path, env: dict[str, str], **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    """``command`` in the deployed ``code``, restricted, with ``env`` alone
    (plus PATH): no variable of this process leaks into the deployment."""
    return subprocess.run(
        command,
        cwd=code,
        env=deployment_env(code, env),
        preexec_fn=restricted,
        capture_output=True,
        check=False,
        **kwargs,
    )


def deployment_env(code: Path, env: dict[str, str]) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # The deployed packages first, before the checkout's editable install.
        "PYTHONPATH": str(code),
        "PYTHONUNBUFFERED": "1",
        **env,
    }


# -- events -------------------------------------------------------------------


def _is_text(content_type: str, body: bytes) -> bool:
    textual = content_type.startswith(("text/", "application/json"))
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return textual


def http_api_event(
    method: str,
    path: str,
    *,
    host: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
    body: bytes = b"",
    source_ip: str = "203.0.113.7",
) -> dict[str, Any]:
    """An API Gateway HTTP API event (payload format 2.0), as the gateway
    builds it: lower-case headers (repeated ones joined by commas), cookies in
    their own list (not in ``headers``), the query both raw and parsed, and a
    binary body base64-encoded."""
    now = dt.datetime.now(dt.UTC)
    all_headers = {
        "host": host,
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "x-amzn-trace-id": f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}",
        "user-agent": "serverless-tier/1.0",
        **{k.lower(): v for k, v in (headers or {}).items()},
    }
    if body:
        all_headers["content-length"] = str(len(body))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": host.split(".")[0],
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": all_headers["user-agent"],
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        parsed: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            parsed[key] = f"{parsed[key]},{value}" if key in parsed else value
        event["queryStringParameters"] = parsed
    if body:
        if _is_text(all_headers.get("content-type", ""), body):
            event["body"] = body.decode()
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


# -- the function and its front ------------------------------------------------


@dataclass
class Function:
    """The deployed function: each ``invoke`` is a new instance."""

    code: Path
    env: dict[str, str]
    log: Path
    invocations: int = 0
    seconds: list[float] = field(default_factory=list)
    #: Per invocation, the heavy packages it had loaded (invoke.HEAVY).
    loaded: list[list[str]] = field(default_factory=list)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.invocations += 1
        started = time.monotonic()
        done = run_restricted(
            [sys.executable, "-m", "tests.serverless.invoke"],
            self.code,
            self.env,
            input=json.dumps(event).encode(),
            timeout=120,
        )
        self.seconds.append(time.monotonic() - started)
        with self.log.open("ab") as log:
            http = event["requestContext"]["http"]
            log.write(f"--- {http['method']} {event['rawPath']}\n".encode())
            log.write(done.stderr)
        if done.returncode != 0:
            raise RuntimeError(
                f"the function exited with {done.returncode}:\n"
                + done.stderr.decode(errors="replace")[-4000:]
            )
        response, loaded = done.stdout.splitlines()
        self.loaded.append(json.loads(loaded))
        answer: dict[str, Any] = json.loads(response)
        return answer


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]
    cookies: list[str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


@dataclass
class Front:
    """The platform in front of the function: request in, event to a fresh
    instance, response out; a body over ``limit`` never reaches a function."""

    function: Function
    host: str = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
    limit: int = BODY_LIMIT
    refused: int = 0

    @property
    def origin(self) -> str:
        return f"https://{self.host}"

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        cookies: list[str] | None = None,
        body: bytes = b"",
    ) -> Response:
        parts = urlsplit(url)
        if len(body) > self.limit:
            self.refused += 1
            return Response(
                413,
                {"content-type": "text/plain; charset=utf-8"},
                [],
                b"Request Entity Too Large: FUNCTION_PAYLOAD_TOO_LARGE\n",
            )
        answer = self.function.invoke(
            http_api_event(
                method,
                parts.path,
                host=self.host,
                query=parts.query,
                headers=headers,
                cookies=cookies,
                body=body,
            )
        )
        raw = answer.get("body", "")
        content = (
            base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()
        )
        if len(content) > self.limit:
            return Response(
                500, {}, [], b"FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE\n"
            )  # Vercel caps answers too
        return Response(
            int(answer["statusCode"]),
            {k.lower(): v for k, v in answer.get("headers", {}).items()},
            list(answer.get("cookies", [])),
            content,
        )


@dataclass
class Browser:
    """What the upload page does over the front: keeps the cookies the site
    sets, and sends the CSRF token and its Origin with every unsafe request."""

    front: Front
    jar: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Response:
        sent = {"sec-fetch-site": "same-origin", **(headers or {})}
        if method not in {"GET", "HEAD", "OPTIONS"}:
            sent["origin"] = self.front.origin
            sent["referer"] = self.front.origin + "/"
            if "csrftoken" in self.jar:
                sent["x-csrftoken"] = self.jar["csrftoken"]
        response = self.front.request(
            method,
            path,
            headers=sent,
            cookies=[f"{k}={v}" for k, v in self.jar.items()],
            body=body,
        )
        for line in response.cookies:
            for name, morsel in SimpleCookie(line).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = morsel.value
        return response

    def call(self, method: str, path: str, payload: Any) -> tuple[int, Any]:
        """``tests.support.direct.Call`` over the front."""
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = {"content-type": "application/json"} if body else {}
        response = self.request(method, path, body=body, headers=headers)
        return response.status_code, response.json()


def put(url: str, headers: dict[str, str], body: bytes) -> int:
    """``tests.support.direct.Put``: straight to the signed URL (the store),
    never through the front."""
    return requests.put(url, data=body, headers=headers, timeout=60).status_code


@contextlib.contextmanager
def worker(code: Path, env: dict[str, str], log: Path) -> Iterator[None]:
    """``manage.py db_worker`` from the deployed ``code``, restricted like
    the function; yields once it polls for jobs."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            db_worker_argv("serverless-worker", interval=0.1),
            cwd=code,
            env=deployment_env(code, env),
            preexec_fn=restricted,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while b"Starting worker" not in log.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the worker did not start:\n" + log.read_text(errors="replace")
                    )
                time.sleep(0.05)
            yield
        finally:
            stop(process)
