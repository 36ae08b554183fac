"""What the engine's request-level tests observe from inside a server
process: the boto3 clients made in it, and which save the middleware called.

Clients are counted with botocore's own ``creating-client-class`` event,
registered on every boto3 session the storage makes (its credential chain is
the only way to a client), so any client counts, whoever builds it.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from storages.backends.s3 import S3Storage

from sessions_blob.backends import storage

_created = 0
_lock = threading.Lock()


def _count(**_: Any) -> None:
    global _created
    with _lock:
        _created += 1


def clients_created() -> int:
    """boto3 S3 clients made by ``CountingS3Storage`` in this process."""
    return _created


class CountingS3Storage(S3Storage):
    def _create_session(self) -> Any:
        session = super()._create_session()
        session.events.register("creating-client-class.s3", _count)
        return session


class SaveRecordingStore(storage.SessionStore):
    """The engine, noting which of ``save``/``asave`` was called first."""

    calls: ClassVar[list[str]] = []

    def save(self, must_create: bool = False) -> None:
        self.calls.append("save")
        super().save(must_create)

    async def asave(self, must_create: bool = False) -> None:
        self.calls.append("asave")
        await super().asave(must_create)


SessionStore = SaveRecordingStore
