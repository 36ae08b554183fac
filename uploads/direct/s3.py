"""Direct uploads to S3: presigned PUTs of whole files and multipart parts.

Each signed URL carries the part's ``Content-Length`` and SHA-256
(``x-amz-checksum-sha256``) among its signed headers, so the store refuses a
body of another size (the signature no longer matches) or other bytes
(``BadDigest``, where the store checks checksums, as AWS does). Files of one
part are a single ``PutObject``; larger ones a multipart upload with a
SHA-256 per part, completed by the server from the store's own list of
parts (the client sends no ETags, so CORS need not expose them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from django.core.files.storage import Storage

from uploads.direct.base import (
    Completed,
    ReceivedPart,
    SignedPart,
    base64_to_hex,
    check_parts,
    hex_to_base64,
)
from uploads.documents import PendingFile, now
from uploads.exceptions import ChecksumMismatch, UploadIncomplete

logger = logging.getLogger("uploads")

CONTENT_TYPE = "text/csv"  # what the storage serves every upload as
#: The headers a browser sends with a part (the page sets them; CORS must
#: allow them).
CORS_HEADERS = ("content-type", "x-amz-checksum-sha256")
LIST_PARTS_PAGE = 1000


def is_s3(storage: Storage) -> bool:
    # On the class: the instance's ``connection`` property would create a
    # boto3 resource just to answer (the heaviest step of a cold start).
    return hasattr(storage, "bucket_name") and hasattr(type(storage), "connection")


def _error_code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class S3DirectStore:
    kind = "s3"

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.bucket: str = storage.bucket_name  # type: ignore[attr-defined]
        self.location = str(getattr(storage, "location", "")).strip("/")

    @property
    def client(self) -> Any:
        """The engine's one client per process for this storage's settings
        (credentials, endpoint, region, botocore config), but always signing
        with SigV4, the only signature that can bind a presigned URL's length
        and checksum (botocore presigns with SigV2 for endpoints it does not
        know unless told otherwise)."""
        # Imported here: boto3 loads once a request reaches the store, not
        # at start-up (a serverless cold start).
        from sessions_blob.stores.s3_client import shared_client

        return shared_client(self.storage, signature_version="s3v4")  # type: ignore[arg-type]

    def key(self, name: str) -> str:
        return f"{self.location}/{name}" if self.location else name

    def name(self, key: str) -> str:
        """The storage name of ``key`` (its key without the location)."""
        if self.location:
            return key.removeprefix(self.location + "/")
        return key

    # -- a direct upload ------------------------------------------------------

    def begin(self, pending: PendingFile) -> str:
        if pending.part_count == 1:
            return ""
        answer = self.client.create_multipart_upload(
            Bucket=self.bucket,
            Key=self.key(pending.path),
            ContentType=CONTENT_TYPE,
            ChecksumAlgorithm="SHA256",
        )
        return str(answer["UploadId"])

    def sign_part(
        self, pending: PendingFile, number: int, sha256: str, expires_at: dt.datetime
    ) -> SignedPart:
        checksum = hex_to_base64(sha256)
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key(pending.path),
            "ContentLength": pending.part_length(number),
            "ChecksumSHA256": checksum,
        }
        headers = {"x-amz-checksum-sha256": checksum}
        if pending.multipart_id:
            operation = "upload_part"
            params.update(UploadId=pending.multipart_id, PartNumber=number)
        else:
            operation = "put_object"
            params["ContentType"] = CONTENT_TYPE
            headers["Content-Type"] = CONTENT_TYPE
        seconds = max(1, int((expires_at - now()).total_seconds()))
        url = self.client.generate_presigned_url(
            operation, Params=params, ExpiresIn=seconds
        )
        return SignedPart(
            number=number, url=url, headers=headers, expires_at=expires_at
        )

    def received_parts(self, pending: PendingFile) -> list[ReceivedPart]:
        if not pending.multipart_id:
            head = self._head(pending.path)
            if head is None:
                return []
            checksum = str(head.get("ChecksumSHA256") or "")
            return [
                ReceivedPart(
                    number=1,
                    size=int(head["ContentLength"]),
                    checked=bool(checksum),
                    etag=str(head.get("ETag", "")),
                    checksum=checksum,
                )
            ]
        return list(self._list_parts(pending))

    def complete(self, pending: PendingFile) -> Completed:
        if not pending.multipart_id:
            return self._complete_single(pending)
        try:
            parts = list(self._list_parts(pending))
        except Exception as exc:
            if _error_code(exc) != "NoSuchUpload":
                raise
            # Completed already (a retried call whose first answer was lost)?
            return self._already_completed(pending)
        check_parts(pending, parts)
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key(pending.path),
            UploadId=pending.multipart_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": p.number, "ETag": p.etag}
                    | ({"ChecksumSHA256": p.checksum} if p.checksum else {})
                    for p in parts
                ]
            },
        )
        # Each part was checked against its own SHA-256 by the store (where it
        # checks them); a whole-file SHA-256, if declared, is checked when
        # processing first reads the file.
        return Completed(sha256=pending.sha256, checked=False)

    def abort(self, pending: PendingFile) -> None:
        if pending.multipart_id:
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key(pending.path),
                    UploadId=pending.multipart_id,
                )
            except Exception as exc:
                if _error_code(exc) not in {"NoSuchUpload", "404"}:
                    raise
        self.client.delete_object(Bucket=self.bucket, Key=self.key(pending.path))

    # -- helpers ----------------------------------------------------------------

    def _head(self, name: str) -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=self.key(name), ChecksumMode="ENABLED"
            )
        except Exception as exc:
            if _error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return answer

    def _list_parts(self, pending: PendingFile) -> Iterator[ReceivedPart]:
        marker = 0
        while True:
            page = self.client.list_parts(
                Bucket=self.bucket,
                Key=self.key(pending.path),
                UploadId=pending.multipart_id,
                MaxParts=LIST_PARTS_PAGE,
                PartNumberMarker=marker,
            )
            for part in page.get("Parts", []):
                checksum = str(part.get("ChecksumSHA256") or "")
                yield ReceivedPart(
                    number=int(part["PartNumber"]),
                    size=int(part["Size"]),
                    checked=bool(checksum),
                    etag=str(part["ETag"]),
                    checksum=checksum,
                )
            if not page.get("IsTruncated"):
                return
            marker = int(page["NextPartNumberMarker"])

    def _complete_single(self, pending: PendingFile) -> Completed:
        head = self._head(pending.path)
        if head is None:
            raise UploadIncomplete([1])
        if int(head["ContentLength"]) != pending.size:
            raise UploadIncomplete([1])
        stored = base64_to_hex(str(head.get("ChecksumSHA256") or ""))
        if not stored:
            # A store that keeps no checksum (and may not have checked the
            # signed one): hash what it holds. One part: at most a part size.
            stored = self._sha256_of(pending.path)
        if stored != pending.sha256:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(pending.path))
            raise ChecksumMismatch(
                "The stored file's SHA-256 is not the declared one; it was "
                "discarded. Upload it again."
            )
        return Completed(sha256=stored, checked=True)

    def _already_completed(self, pending: PendingFile) -> Completed:
        head = self._head(pending.path)
        if head is None or int(head["ContentLength"]) != pending.size:
            raise UploadIncomplete(list(range(1, pending.part_count + 1)))
        return Completed(sha256=pending.sha256, checked=False)

    def _sha256_of(self, name: str) -> str:
        body = self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"]
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(1024 * 1024):
            digest.update(chunk)
        return digest.hexdigest()

    # -- strays ---------------------------------------------------------------

    def open_uploads(self, prefix: str) -> Iterator[tuple[str, str, dt.datetime]]:
        """``(name, multipart id, initiated)`` of the multipart uploads open
        under ``prefix`` (a storage name)."""
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(prefix)):
            for upload in page.get("Uploads", []):
                yield (
                    self.name(str(upload["Key"])),
                    str(upload["UploadId"]),
                    upload["Initiated"],
                )

    def abort_open_uploads(
        self, prefix: str, keep: Callable[[str, dt.datetime], bool]
    ) -> int:
        """Abort the multipart uploads open under ``prefix`` unless
        ``keep(name, initiated)``; returns how many were aborted."""
        aborted = 0
        for name, upload_id, initiated in list(self.open_uploads(prefix)):
            if keep(name, initiated):
                continue
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key(name), UploadId=upload_id
                )
            except Exception as exc:
                if _error_code(exc) not in {"NoSuchUpload", "404"}:
                    raise
            aborted += 1
        return aborted

    # -- the bucket's set-up ------------------------------------------------

    def origin(self) -> str:
        """Where browsers send the parts (``scheme://host[:port]``): the
        page's Content-Security-Policy must allow it (``connect-src``)."""
        url = self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": self.key("x")}
        )
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def cors_rules(self) -> list[dict[str, Any]]:
        try:
            answer = self.client.get_bucket_cors(Bucket=self.bucket)
        except Exception as exc:
            if _error_code(exc) == "NoSuchCORSConfiguration":
                return []
            raise
        return list(answer.get("CORSRules", []))

    def put_cors_rule(self, rule: dict[str, Any]) -> None:
        """Add ``rule``, or replace the bucket's rule of the same ``ID``;
        every other rule stays."""
        rules = [r for r in self.cors_rules() if r.get("ID") != rule["ID"]]
        self.client.put_bucket_cors(
            Bucket=self.bucket, CORSConfiguration={"CORSRules": [*rules, rule]}
        )

    def lifecycle_rules(self) -> list[dict[str, Any]]:
        try:
            answer = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)
        except Exception as exc:
            if _error_code(exc) == "NoSuchLifecycleConfiguration":
                return []
            raise
        return list(answer.get("Rules", []))

    def put_lifecycle_rule(self, rule: dict[str, Any]) -> None:
        """Add ``rule``, or replace the bucket's rule of the same ``ID``;
        every other rule stays."""
        rules = [r for r in self.lifecycle_rules() if r.get("ID") != rule["ID"]]
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": [*rules, rule]}
        )

    def probe_put(self, name: str, body: bytes, sent: bytes) -> int:
        """PUT ``sent`` to a URL signed for ``body`` (length and SHA-256) and
        return the status: 200 when they are the same; when they differ, a
        store that checks checksums answers 400 (``BadDigest``)."""
        pending = PendingFile(
            id="probe",
            name=name,
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
            content_type=CONTENT_TYPE,
            path=name,
            part_size=max(len(body), 1),
            multipart_id="",
            started_at="",
            expires_at="",
        )
        expires = now() + dt.timedelta(seconds=60)
        signed = self.sign_part(pending, 1, pending.sha256, expires)
        return _send("PUT", signed.url, signed.headers, sent).status

    def preflight(self, origin: str) -> bool:
        """Whether the store lets a page of ``origin`` PUT a part (the
        browser's CORS preflight, made here)."""
        url = self.client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": self.key("uploads/preflight")},
        )
        answer = _send(
            "OPTIONS",
            url,
            {
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": ", ".join(CORS_HEADERS),
            },
        )
        allowed = answer.headers.get("Access-Control-Allow-Origin", "")
        return answer.status == 200 and allowed in {origin, "*"}


def _send(
    method: str, url: str, headers: dict[str, str], body: bytes | None = None
) -> Any:
    """One plain HTTP request to the store, as a browser would make it (with
    urllib3, which botocore brings)."""
    import urllib3

    return urllib3.request(
        method,
        url,
        headers=headers,
        body=body,
        timeout=urllib3.Timeout(connect=5, read=10),
        retries=False,
    )
