"""One boto3 S3 client per process per storage configuration.

boto3 clients are thread-safe (sessions and resources are not), so every
thread and event loop of a process shares one: django-storages' own
``connection`` is one per thread, and under ASGI each request's sync code
runs on a fresh thread, which would build a session and a client per
request. Built lazily, from the storage's own settings; a forked process
builds its own.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections import OrderedDict
from typing import Any

from botocore.config import Config
from storages.backends.s3 import S3Storage

_CONTENT_MD5_HANDLER = "sessions_blob.content_md5"


def _add_content_md5(params: dict[str, Any], **_: Any) -> None:
    # Current botocore sends a CRC32 checksum instead of Content-MD5 on
    # DeleteObjects; stores such as Swift's s3api still demand Content-MD5.
    body = params.get("body") or b""
    if isinstance(body, str):
        body = body.encode()
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    params["headers"]["Content-MD5"] = base64.b64encode(digest).decode()


#: Clients by configuration, newest use last. Bounded: a process has one or
#: two configurations, but a test run makes one per fault proxy, and a client
#: no adapter holds any more should be left for the collector (and its
#: sockets closed).
_clients: OrderedDict[str, Any] = OrderedDict()
_MAX_CLIENTS = 16
_clients_lock = threading.Lock()
_clients_pid = os.getpid()


def _forget_clients() -> None:
    # A forked child must not share the parent's pooled sockets, nor inherit
    # a lock some other thread held at the moment of the fork.
    global _clients_lock, _clients_pid
    _clients.clear()
    _clients_lock = threading.Lock()
    _clients_pid = os.getpid()


os.register_at_fork(after_in_child=_forget_clients)


#: Pooled connections per client unless the storage's config says otherwise:
#: as many as the engine's async threads (backends/storage.py), which share
#: the client. botocore's 10 would open and drop a connection per call beyond.
POOL_CONNECTIONS = 32


def _client_config(storage: S3Storage, signature_version: str | None) -> Config:
    # merge(): the storage's own options win.
    config = Config(max_pool_connections=POOL_CONNECTIONS).merge(
        storage.client_config or Config()
    )
    if signature_version:
        config = config.merge(Config(signature_version=signature_version))
    return config


def _configuration_key(storage: S3Storage, config: Config) -> str:
    """What makes two storages' clients interchangeable, hashed (it holds
    the credentials, which need no second copy in memory)."""
    parts = (
        f"{type(storage).__module__}.{type(storage).__qualname__}",
        storage.session_profile,
        storage.access_key,
        storage.secret_key,
        storage.security_token,
        storage.region_name,
        storage.endpoint_url,
        storage.use_ssl,
        storage.verify,
        sorted((k, repr(v)) for k, v in vars(config).items()),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def shared_client(storage: S3Storage, *, signature_version: str | None = None) -> Any:
    """The boto3 S3 client of ``storage``'s configuration in this process.

    Built on first use from the storage's own settings: its credential chain
    (``_create_session()``: profile, or keys and session token, else boto3's
    default chain), endpoint, region, ``use_ssl``, ``verify`` and botocore
    config (addressing style, signature version, proxies, retries, timeouts;
    ``signature_version`` overrides the config's, e.g. ``"s3v4"`` to presign).
    Then reused from every thread and event loop until the process forks.
    """
    config = _client_config(storage, signature_version)
    key = _configuration_key(storage, config)
    with _clients_lock:
        if _clients_pid != os.getpid():  # forked without the at-fork hook
            _clients.clear()
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
        else:
            client = storage._create_session().client(
                "s3",
                region_name=storage.region_name,
                use_ssl=storage.use_ssl,
                endpoint_url=storage.endpoint_url,
                config=config,
                verify=storage.verify,
            )
            # Registered once, at creation: each registration empties
            # botocore's handler cache, which would slow every later call.
            client.meta.events.register(
                "before-call.s3.DeleteObjects",
                _add_content_md5,
                unique_id=_CONTENT_MD5_HANDLER,
            )
            _clients[key] = client
            if len(_clients) > _MAX_CLIENTS:
                _clients.popitem(last=False)
    return client
