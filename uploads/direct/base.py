"""What a direct upload looks like to every store: signed part requests,
the parts a store holds, and the checks ``complete`` makes on them."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from uploads.documents import PendingFile
from uploads.exceptions import UploadIncomplete


@dataclass(frozen=True)
class SignedPart:
    """One request the client makes with the file's bytes: ``method`` to
    ``url`` with ``headers``, before ``expires_at``. ``url`` is absolute on
    S3; a path of this site for the Django-served store."""

    number: int
    url: str
    expires_at: dt.datetime
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "PUT"


@dataclass(frozen=True)
class ReceivedPart:
    """A part the store holds: its size, and whether the store checked its
    bytes against the SHA-256 signed into its URL."""

    number: int
    size: int
    checked: bool
    etag: str = ""
    checksum: str = ""  # the store's own (S3: base64 SHA-256), if it keeps one


@dataclass(frozen=True)
class Completed:
    """The file is whole where it belongs. ``sha256`` is hex (empty when
    unknown); ``checked`` says whether it was computed from the stored bytes."""

    sha256: str
    checked: bool


class DirectStore(Protocol):
    """The mechanics of direct uploads on one kind of storage."""

    kind: str

    def begin(self, pending: PendingFile) -> str:
        """Prepare the upload; returns the store's multipart upload id (or "")."""

    def sign_part(
        self, pending: PendingFile, number: int, sha256: str, expires_at: dt.datetime
    ) -> SignedPart:
        """A request that stores part ``number`` if its bytes hash to ``sha256``."""

    def received_parts(self, pending: PendingFile) -> list[ReceivedPart]:
        """The parts the store holds so far."""

    def complete(self, pending: PendingFile) -> Completed:
        """Check the parts and join them into the file at ``pending.path``.
        Raises ``UploadIncomplete`` (parts missing or the wrong size: send
        them again) or ``ChecksumMismatch`` (the file's bytes were not the
        declared ones: they are discarded)."""

    def abort(self, pending: PendingFile) -> None:
        """Discard whatever the upload stored. Idempotent."""


def hex_to_base64(sha256: str) -> str:
    """S3's ``x-amz-checksum-sha256`` form of a hex SHA-256."""
    return base64.b64encode(bytes.fromhex(sha256)).decode()


def base64_to_hex(checksum: str) -> str:
    """The hex form of an S3 checksum (a part's, or a composite's
    ``<base64>-<parts>``); empty when it is not a SHA-256."""
    try:
        raw = base64.b64decode(checksum.split("-", 1)[0], validate=True)
    except (binascii.Error, ValueError):
        return ""
    return raw.hex() if len(raw) == 32 else ""


def check_parts(pending: PendingFile, parts: Sequence[ReceivedPart]) -> None:
    """Every part of ``pending`` is there with its planned size, or
    ``UploadIncomplete`` names those to send (again)."""
    sizes = {part.number: part.size for part in parts}
    to_send = [
        number
        for number in range(1, pending.part_count + 1)
        if sizes.get(number) != pending.part_length(number)
    ]
    if to_send:
        raise UploadIncomplete(to_send)
