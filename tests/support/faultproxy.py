"""A TCP proxy in front of an HTTP server that injects faults on demand.

Tests point a client at ``proxy.url`` instead of the server and switch the
mode at any time; the change applies to the next request, on new and kept-alive
connections alike (the proxy reads each request itself):

- ``passthrough()``: forward everything.
- ``refuse()``: close the listening socket (new connections are refused) and
  reset every open connection.
- ``slow(delay)``: read each request, answer nothing for ``delay`` seconds,
  then close the connection. The request never reaches the server, so a client
  whose read timeout is shorter gives up first.
- ``http_error(count, status, code, only)``: answer the next ``count``
  requests (every request when None; only those for which ``only(method,
  path)`` is true, when given) with an S3 XML error (``503 SlowDown`` by
  default) and ``Connection: close``, then pass again.
- ``drop_write(count)``: for the next ``count`` PUTs (every PUT when None),
  forward the headers and half of the body, then close both connections.
- ``drop_response(count)``: for the next ``count`` PUTs, forward the whole
  request, then reset the client's connection instead of relaying the answer:
  the write happened, but the client cannot know.
- ``forbid_missing()``: forward everything, but answer a GET or HEAD that the
  server answered 404 with ``403 AccessDenied``, as AWS S3 does for a missing
  key when the caller lacks ``s3:ListBucket``.
- ``error_from(when, count)``: forward until a request matches ``when(method,
  path)``, then answer it and the next ``count - 1`` (every later one when
  None) as ``http_error()`` does: the store breaks in the middle of an
  operation (after a multipart upload began), or fails one part once.
- ``drop_conditions()``: forward everything, but strip ``If-Match`` and
  ``If-None-Match`` from PUTs: a store that accepts conditional writes and
  silently ignores them (the headers stay in the signature's list, which
  moto does not check).
- ``check_then_write(window)``: check a conditional PUT's condition itself
  (a HEAD of the key), answer ``412`` if it fails, else wait ``window``
  seconds and forward the PUT without its conditions: a store whose
  conditional writes pass every sequential test but are not atomic, so
  racers released together all win.

Subclasses may hold a lock around each forwarded request (``_guard``):
``tests/support/casfront.py`` does, to make conditional writes atomic.

Injected errors carry ``Access-Control-Allow-Origin`` for a request with an
``Origin`` (as S3 does where a CORS rule allows it), so a browser's script
can read them.

``requests`` records each request seen as ``(method, path, outcome)``.
Standard library only; one thread per connection.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

_REASONS = {
    403: "Forbidden",
    412: "Precondition Failed",
    500: "Internal Server Error",
    503: "Slow Down",
}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    # "passed", "slow", "error 503", "dropped", "answer lost", "forbidden",
    # "conditions dropped", "checked then written", "precondition failed"
    outcome: str


class _Closed(Exception):
    """The peer closed the connection."""


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST rather than a clean FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)  # wakes a thread blocked reading it
    with contextlib.suppress(OSError):
        sock.close()


def _close(sock: socket.socket) -> None:
    """Close cleanly: what was sent is delivered before the FIN."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    with contextlib.suppress(OSError):
        sock.close()


class _Reader:
    """Buffered reads from a socket: lines, exact lengths, HTTP heads."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed
        self.buffer += chunk

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        end = self.buffer.index(marker) + len(marker)
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def rest(self) -> bytes:
        with contextlib.suppress(_Closed):
            while True:
                self._fill()
        data, self.buffer = self.buffer, b""
        return data


def _headers(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
    return lines[0], fields


def _body(reader: _Reader, fields: dict[str, str]) -> bytes:
    """A message body as sent (chunked bodies keep their framing)."""
    if "chunked" in fields.get("transfer-encoding", "").lower():
        data = b""
        while True:
            size_line = reader.until(b"\r\n")
            data += size_line
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                # Trailers, then an empty line.
                while True:
                    line = reader.until(b"\r\n")
                    data += line
                    if line == b"\r\n":
                        return data
            data += reader.exactly(size + 2)
    return reader.exactly(int(fields.get("content-length", "0")))


_CONDITIONS = (b"if-match:", b"if-none-match:")


def _without_conditions(head: bytes) -> tuple[bytes, bool]:
    """``head`` without its condition headers, and whether it had any."""
    lines = head.split(b"\r\n")
    kept = [line for line in lines if not line.lower().startswith(_CONDITIONS)]
    return b"\r\n".join(kept), len(kept) != len(lines)


def error_body(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>faultproxy</RequestId></Error>"
    ).encode()


class FaultProxy:
    def __init__(self, upstream_url: str, port: int = 0) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._mode = "pass"
        self._trigger: Callable[[str, str], bool] | None = None
        self._trigger_count: int | None = None
        self._only: Callable[[str, str], bool] | None = None
        self._remaining: int | None = None
        self._delay = 0.0
        self._status, self._code = 503, "SlowDown"
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port: int = self._listen(port)
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- life cycle -----------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._close_listener()
        self._reset_connections()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- modes ----------------------------------------------------------------

    def passthrough(self) -> None:
        with self._lock:
            self._mode, self._remaining, self._trigger = "pass", None, None
            self._only = None
            if self._listener is None:
                self._listen(self.port)

    def refuse(self) -> None:
        with self._lock:
            self._mode = "refuse"
            self._close_listener()
        self._reset_connections()

    def slow(self, delay: float) -> None:
        with self._lock:
            self._mode, self._delay, self._remaining = "slow", delay, None

    def http_error(
        self,
        count: int | None = None,
        status: int = 503,
        code: str = "SlowDown",
        only: Callable[[str, str], bool] | None = None,
    ) -> None:
        with self._lock:
            self._mode, self._remaining, self._only = "error", count, only
            self._status, self._code = status, code

    def error_from(
        self,
        when: Callable[[str, str], bool],
        status: int = 503,
        code: str = "SlowDown",
        count: int | None = None,
    ) -> None:
        with self._lock:
            self._mode, self._remaining, self._trigger = "pass", None, when
            self._trigger_count, self._only = count, None
            self._status, self._code = status, code

    def drop_write(self, count: int | None = None) -> None:
        with self._lock:
            self._mode, self._remaining = "drop_write", count

    def drop_response(self, count: int | None = None) -> None:
        with self._lock:
            self._mode, self._remaining = "drop_response", count

    def forbid_missing(self) -> None:
        with self._lock:
            self._mode, self._remaining = "forbid_missing", None

    def drop_conditions(self) -> None:
        with self._lock:
            self._mode, self._remaining = "drop_conditions", None

    def check_then_write(self, window: float = 0.05) -> None:
        with self._lock:
            self._mode, self._remaining = "check_then_write", None
            self._delay = window

    def outcomes(self) -> list[str]:
        return [seen.outcome for seen in self.requests]

    # -- plumbing -------------------------------------------------------------

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        self._listener = listener
        return int(listener.getsockname()[1])

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()

    def _reset_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, set()
        for sock in connections:
            _reset(sock)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            listener = self._listener
            if listener is None:
                self._stopped.wait(0.01)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], 0.02)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):
                continue  # closed under us by refuse() or stop()
            with self._lock:
                self._connections.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _decide(self, method: str, path: str) -> tuple[str, int]:
        """The fault for this request (counting it down) and its log entry's
        index in ``requests``."""
        with self._lock:
            if self._trigger is not None and self._trigger(method, path):
                self._mode, self._trigger = "error", None
                self._remaining = self._trigger_count
            mode = self._mode
            if mode in {"drop_write", "drop_response"} and method != "PUT":
                mode = "pass"
            if mode == "error" and self._only and not self._only(method, path):
                mode = "pass"
            counted = {"error", "drop_write", "drop_response"}
            if mode in counted and self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._mode, self._remaining = "pass", None
            outcome = {
                "pass": "passed",
                "refuse": "passed",  # an open connection that beat refuse()
                "slow": "slow",
                "error": f"error {self._status}",
                "drop_write": "dropped",
                "drop_response": "answer lost",
                "forbid_missing": "passed",
                "drop_conditions": "passed",
                "check_then_write": "passed",
            }[mode]
            self.requests.append(Seen(method, path, outcome))
            return mode, len(self.requests) - 1

    def _condition_holds(self, path: str, fields: dict[str, str]) -> bool:
        """The PUT's If-Match/If-None-Match against a HEAD of its key."""
        wanted, absent = fields.get("if-match"), fields.get("if-none-match")
        if wanted is None and absent is None:
            return True
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            # The PUT's own credentials (moto checks who, not the signature).
            carried = ("authorization", "x-amz-date", "x-amz-security-token")
            headers = {name: fields[name] for name in carried if name in fields}
            connection.request("HEAD", path.split("?", 1)[0], headers=headers)
            answer = connection.getresponse()
            answer.read()
        finally:
            connection.close()
        if absent == "*":
            return answer.status == 404
        return answer.status == 200 and answer.getheader("ETag") == wanted

    def _guard(self, method: str, path: str) -> contextlib.AbstractContextManager[Any]:
        """Held from forwarding a request until its answer is read."""
        return contextlib.nullcontext()

    def _error_response(
        self,
        status: int | None = None,
        code: str | None = None,
        head: bool = False,
        origin: str | None = None,
    ) -> bytes:
        status, code = status or self._status, code or self._code
        body = error_body(code, "Injected by the fault proxy.")
        reason = _REASONS.get(status, "Error")
        cors = f"Access-Control-Allow-Origin: {origin}\r\n" if origin else ""
        return (
            f"HTTP/1.1 {status} {reason}\r\n"
            f"Content-Type: application/xml\r\n{cors}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + (b"" if head else body)

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        abort = False  # close with a reset instead of a clean FIN
        try:
            from_client = _Reader(client)
            from_upstream: _Reader | None = None
            while not self._stopped.is_set():
                head = from_client.until(b"\r\n\r\n")
                request_line, fields = _headers(head)
                method, path = request_line.split(" ")[:2]
                expect = fields.get("expect", "").lower() == "100-continue"
                mode, seen = self._decide(method, path)
                if mode == "slow":
                    self._stopped.wait(self._delay)
                    return
                if mode == "error":
                    if not expect:  # read it all, so closing sends no reset
                        _body(from_client, fields)
                    client.sendall(self._error_response(origin=fields.get("origin")))
                    return
                if mode == "check_then_write" and method == "PUT":
                    if not self._condition_holds(path, fields):
                        with self._lock:
                            self.requests[seen] = Seen(
                                method, path, "precondition failed"
                            )
                        if not expect:
                            _body(from_client, fields)
                        client.sendall(self._error_response(412, "PreconditionFailed"))
                        return
                    if "if-match" in fields or "if-none-match" in fields:
                        self._stopped.wait(self._delay)  # the unlocked window
                if mode in {"drop_conditions", "check_then_write"} and method == "PUT":
                    head, dropped = _without_conditions(head)
                    if dropped:
                        outcome = {
                            "drop_conditions": "conditions dropped",
                            "check_then_write": "checked then written",
                        }[mode]
                        with self._lock:
                            self.requests[seen] = Seen(method, path, outcome)
                if upstream is None:
                    upstream = socket.create_connection(self.upstream, timeout=30)
                    from_upstream = _Reader(upstream)
                assert from_upstream is not None
                with self._guard(method, path):
                    upstream.sendall(head)
                    if expect:
                        interim = from_upstream.until(b"\r\n\r\n")
                        status_line, answer = _headers(interim)
                        if int(status_line.split(" ")[1]) != 100:
                            # A final answer instead of 100 Continue: the client
                            # sends no body. Relay it and close.
                            client.sendall(interim + _body(from_upstream, answer))
                            return
                        client.sendall(interim)
                    body = _body(from_client, fields)
                    if mode == "drop_write":
                        upstream.sendall(body[: len(body) // 2])
                        abort = True
                        return
                    upstream.sendall(body)
                    response = from_upstream.until(b"\r\n\r\n")
                    status_line, answer = _headers(response)
                    status = int(status_line.split(" ")[1])
                    if method == "HEAD" or status in {204, 304}:
                        payload = b""
                    elif "content-length" in answer or "transfer-encoding" in answer:
                        payload = _body(from_upstream, answer)
                    else:
                        payload = from_upstream.rest()
                if mode == "drop_response":
                    abort = True
                    return
                if mode == "forbid_missing" and status == 404 and method != "PUT":
                    with self._lock:
                        self.requests[seen] = Seen(method, path, "forbidden")
                    forbidden = self._error_response(
                        403, "AccessDenied", head=method == "HEAD"
                    )
                    client.sendall(forbidden)
                    return
                client.sendall(response + payload)
                if "close" in (
                    answer.get("connection", "").lower(),
                    fields.get("connection", "").lower(),
                ):
                    return
        except (_Closed, OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._connections.discard(client)
            for sock in (client, upstream):
                if sock is None:
                    continue
                if abort:
                    _reset(sock)
                else:
                    _close(sock)
