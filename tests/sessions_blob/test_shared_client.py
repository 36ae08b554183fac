"""``shared_client(storage)``: one boto3 client per process and storage
configuration, made from the storage's own settings. (That servers make one
per worker process is tests/sessions_blob/test_asgi.py.)"""

from __future__ import annotations

import os
import select
import signal
import threading
import warnings
from typing import Any

from botocore.config import Config
from storages.backends.s3 import S3Storage

from sessions_blob.stores.s3 import POOL_CONNECTIONS, shared_client
from tests.support.s3 import S3Endpoint


def storage(s3: S3Endpoint, **options: Any) -> S3Storage:
    return S3Storage(**{**s3.storage("some-bucket")["OPTIONS"], **options})


def test_one_client_for_every_storage_and_thread_of_one_configuration(
    s3: S3Endpoint,
) -> None:
    first = shared_client(storage(s3))
    seen: list[Any] = []
    threads = [
        threading.Thread(target=lambda: seen.append(shared_client(storage(s3))))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(client is first for client in seen)
    assert shared_client(storage(s3, region_name="eu-west-1")) is not first
    assert shared_client(storage(s3, secret_key="other")) is not first


def test_the_client_has_the_storages_settings(s3: S3Endpoint) -> None:
    config = Config(
        connect_timeout=1.5,
        read_timeout=4,
        retries={"total_max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"},
    )
    client = shared_client(
        storage(s3, region_name="eu-central-1", client_config=config)
    )
    assert client.meta.endpoint_url == s3.url
    assert client.meta.region_name == "eu-central-1"
    made = client.meta.config
    assert (made.connect_timeout, made.read_timeout) == (1.5, 4)
    assert made.retries["total_max_attempts"] == 2
    assert made.s3["addressing_style"] == "path"
    assert made.max_pool_connections == POOL_CONNECTIONS
    own_pool = Config(max_pool_connections=5)
    assert (
        shared_client(storage(s3, client_config=own_pool)).meta.config
    ).max_pool_connections == 5


def test_signature_version_is_a_client_of_its_own(s3: S3Endpoint) -> None:
    plain = shared_client(storage(s3))
    sigv4 = shared_client(storage(s3), signature_version="s3v4")
    assert sigv4 is not plain
    assert sigv4.meta.config.signature_version == "s3v4"
    assert shared_client(storage(s3), signature_version="s3v4") is sigv4


def test_a_forked_process_makes_its_own(s3: S3Endpoint) -> None:
    parent = shared_client(storage(s3))
    read, write = os.pipe()
    with warnings.catch_warnings():
        # The child only asks for a client and leaves (killed if it hangs on
        # a lock another thread held at the fork).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: report, and leave without pytest's teardown
        child = shared_client(storage(s3))
        again = shared_client(storage(s3))
        os.write(write, b"%d" % ((child is not parent) + 2 * (again is child)))
        os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 30)
    answer = os.read(read, 8) if ready else b"no answer in 30 s"
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert answer == b"3"  # a new client, then that one again
