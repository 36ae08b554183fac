"""Direct uploads where the storage has no signed URLs of its own (local
disk, memory): this site signs them and serves them.

A signed URL names one part of one upload, its length and its SHA-256, and
when it expires, all under ``django.core.signing`` (the site's SECRET_KEY):
``PUT /api/direct-upload-parts/<token>``. The body streams to a temporary
file while it is hashed; a part whose bytes are not the declared ones is
refused (and nothing is stored), like S3's ``BadDigest``. Each part waits
under ``uploads/<uid>/<file id>.part00001`` until ``complete`` joins them
into the file, hashing it whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import IO, Any, cast

from django.core import signing
from django.core.files.base import File
from django.core.files.storage import Storage
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.urls import reverse

from uploads.direct.base import Completed, ReceivedPart, SignedPart, check_parts
from uploads.documents import PendingFile, now, part_path
from uploads.exceptions import (
    ChecksumMismatch,
    SignedUrlExpired,
    SignedUrlInvalid,
)

SALT = "uploads.direct.part"
CHUNK = 1024 * 1024


class _Joined:
    """The parts of an upload read one after the other, hashed on the way."""

    def __init__(self, storage: Storage, names: list[str]) -> None:
        self.storage = storage
        self.names = iter(names)
        self.current: Any = None
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        while True:
            if self.current is None:
                name = next(self.names, None)
                if name is None:
                    return b""
                self.current = self.storage.open(name, "rb")
            data = self.current.read(CHUNK if size is None or size < 0 else size)
            if data:
                self.digest.update(data)
                return bytes(data)
            self.current.close()
            self.current = None

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None


class ServedDirectStore:
    kind = "served"

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def begin(self, pending: PendingFile) -> str:
        return ""

    def origin(self) -> None:
        """The parts go to this site: nothing for the CSP to allow."""
        return None

    def sign_part(
        self, pending: PendingFile, number: int, sha256: str, expires_at: dt.datetime
    ) -> SignedPart:
        token = signing.dumps(
            {
                "p": pending.path,
                "n": number,
                "l": pending.part_length(number),
                "h": sha256,
                "e": int(expires_at.timestamp()),
            },
            salt=SALT,
        )
        url = reverse("uploads:direct-part", args=[token])
        return SignedPart(number=number, url=url, expires_at=expires_at)

    def received_parts(self, pending: PendingFile) -> list[ReceivedPart]:
        parts = []
        for number in range(1, pending.part_count + 1):
            name = part_path(pending.path, number)
            if self.storage.exists(name):
                size = self.storage.size(name)
                parts.append(ReceivedPart(number=number, size=size, checked=True))
        return parts

    def complete(self, pending: PendingFile) -> Completed:
        if not self.received_parts(pending) and self.storage.exists(pending.path):
            # Completed already (a retried call whose first answer was lost).
            return Completed(sha256=pending.sha256, checked=False)
        check_parts(pending, self.received_parts(pending))
        names = [part_path(pending.path, n) for n in range(1, pending.part_count + 1)]
        joined = _Joined(self.storage, names)
        try:
            saved = self.storage.save(
                pending.path, File(cast(IO[bytes], joined), name=pending.path)
            )
        finally:
            joined.close()
        assert saved == pending.path, saved  # a new id: the name was free
        sha256 = joined.digest.hexdigest()
        if pending.sha256 and sha256 != pending.sha256:
            self.storage.delete(pending.path)
            self._delete_parts(pending)
            raise ChecksumMismatch(
                "The file's SHA-256 is not the declared one; it was discarded. "
                "Upload it again."
            )
        self._delete_parts(pending)
        return Completed(sha256=sha256, checked=True)

    def abort(self, pending: PendingFile) -> None:
        self._delete_parts(pending)
        self.storage.delete(pending.path)

    def _delete_parts(self, pending: PendingFile) -> None:
        for number in range(1, pending.part_count + 1):
            self.storage.delete(part_path(pending.path, number))

    # -- the signed URL's endpoint --------------------------------------------

    def receive(self, token: str, body: IO[bytes], length: int | None) -> int:
        """Store the part ``token`` names from ``body`` (``length`` is the
        request's Content-Length); returns its number."""
        try:
            claim = signing.loads(token, salt=SALT)
        except signing.BadSignature:
            raise SignedUrlInvalid from None
        if claim["e"] < now().timestamp():
            raise SignedUrlExpired
        expected: int = claim["l"]
        if length is not None and length != expected:
            raise ChecksumMismatch(
                f"This URL takes a body of {expected} bytes; the request has {length}."
            )
        with TemporaryUploadedFile("part", "application/octet-stream", 0, None) as tmp:
            digest = hashlib.sha256()
            received = 0
            for chunk in _chunks(body, expected + 1):
                digest.update(chunk)
                received += len(chunk)
                tmp.write(chunk)
            if received != expected or digest.hexdigest() != claim["h"]:
                raise ChecksumMismatch(
                    "The part's bytes are not the declared ones (their SHA-256 or "
                    "length differs); nothing was stored."
                )
            tmp.flush()
            tmp.size = received
            name = part_path(claim["p"], claim["n"])
            self.storage.delete(name)  # a part sent again replaces the first
            self.storage.save(name, tmp)
        return int(claim["n"])


def _chunks(body: IO[bytes], limit: int) -> Iterator[bytes]:
    """Up to ``limit`` bytes of ``body``, a chunk at a time."""
    left = limit
    while left > 0:
        chunk = body.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk
