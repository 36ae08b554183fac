"""Direct uploads on a store that checks what moto does not: Swift's s3api
verifies SigV4 signatures, their expiry and every signed header, so the
presigned part URLs the API hands out are proven to be real S3 signatures
here. Swift 2.30 ignores checksum values, as moto does, so the API's own
read-back check is what refuses wrong bytes on it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests

from tests.support.direct import sha256
from tests.support.s3 import S3Endpoint
from tests.uploads.conftest import GOOD_CSV, Api
from tests.uploads.test_direct import csv_of

MiB = 1024 * 1024


@pytest.fixture
def api(settings: Any, swift: S3Endpoint, swift_bucket: str, client: Any) -> Api:
    tag = uuid.uuid4().hex[:12]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": swift.storage(swift_bucket, location=f"{tag}/files"),
        "sessions": swift.storage(swift_bucket, location=f"{tag}/sessions"),
    }
    settings.SESSIONS_BLOB_PREFIX = f"sessions-{tag}/"
    return Api(client)


def begin(api: Api, data: bytes, name: str = "people.csv") -> dict[str, Any]:
    status, begun = api.call()(
        "POST",
        "/api/direct-uploads",
        {"name": name, "size": len(data), "sha256": sha256(data)},
    )
    assert status == 201, begun
    return begun


def put(part: dict[str, Any], body: bytes, url: str | None = None) -> int:
    return requests.put(
        url or part["url"], data=body, headers=part["headers"], timeout=30
    ).status_code


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def complete(api: Api, begun: dict[str, Any]) -> tuple[int, Any]:
    return api.call(begun["uploadId"])("POST", begun["completeUrl"], None)


def test_a_one_part_upload_completes_on_swift(api: Api) -> None:
    sent = api.direct_upload("people.csv", GOOD_CSV)

    assert sent.put_statuses == {1: 200}
    assert sent.complete_status == 200, sent.complete
    [joined] = sent.complete["files"]
    assert joined["sha256"] == sha256(GOOD_CSV)


def test_a_multipart_upload_completes_on_swift(api: Api, settings: Any) -> None:
    settings.UPLOADS_DIRECT_PART_SIZE = 5 * MiB
    data = csv_of(11 * MiB)

    sent = api.direct_upload("big.csv", data)

    assert sent.begin["partCount"] == 3
    assert sent.put_statuses == {1: 200, 2: 200, 3: 200}
    assert sent.complete_status == 200, sent.complete
    [joined] = sent.complete["files"]
    assert joined["size"] == len(data)


def test_a_tampered_signature_is_refused(api: Api) -> None:
    begun = begin(api, GOOD_CSV)
    [part] = begun["parts"]
    signature = dict(parse_qsl(urlsplit(part["url"]).query))["X-Amz-Signature"]
    forged = ("0" if signature[0] != "0" else "1") + signature[1:]

    assert (
        put(part, GOOD_CSV, with_query(part["url"], **{"X-Amz-Signature": forged}))
        == 403
    )
    # Nothing was stored: completing finds no part, and the real URL still works.
    status, answer = complete(api, begun)
    assert status == 409 and answer["code"] == "upload_incomplete"
    assert put(part, GOOD_CSV) == 200


def test_a_url_pointed_at_another_object_is_refused(api: Api) -> None:
    begun = begin(api, GOOD_CSV)
    [part] = begun["parts"]
    parts = urlsplit(part["url"])
    elsewhere = urlunsplit(parts._replace(path=parts.path.rsplit("/", 1)[0] + "/x.csv"))

    assert put(part, GOOD_CSV, elsewhere) == 403


def test_a_longer_expiry_than_signed_is_refused(api: Api) -> None:
    begun = begin(api, GOOD_CSV)
    [part] = begun["parts"]

    assert (
        put(part, GOOD_CSV, with_query(part["url"], **{"X-Amz-Expires": "604800"}))
        == 403
    )


def test_other_signed_headers_are_refused(api: Api) -> None:
    """The length and the declared checksum are signed: a client cannot send
    another file's bytes under this URL by changing them."""
    begun = begin(api, GOOD_CSV)
    [part] = begun["parts"]
    other = GOOD_CSV.replace(b"alice", b"mallory")

    changed = {
        **part["headers"],
        "x-amz-checksum-sha256": part["headers"]["x-amz-checksum-sha256"][::-1],
    }
    response = requests.put(part["url"], data=GOOD_CSV, headers=changed, timeout=30)
    assert response.status_code == 403
    assert put(part, other) == 403  # another length


def test_an_expired_url_is_refused(api: Api, settings: Any) -> None:
    settings.UPLOADS_DIRECT_URL_EXPIRY = 1
    begun = begin(api, GOOD_CSV)
    [part] = begun["parts"]
    signed_at = dict(parse_qsl(urlsplit(part["url"]).query))["X-Amz-Date"]
    expires = (
        time.mktime(time.strptime(signed_at, "%Y%m%dT%H%M%SZ")) - time.timezone + 1
    )
    time.sleep(max(0.0, expires + 1.05 - time.time()))

    assert put(part, GOOD_CSV) == 403
    # Signing it again gives a URL that works.
    status, signed = api.call(begun["uploadId"])(
        "POST",
        begun["partsUrl"],
        {"parts": [{"number": 1, "sha256": sha256(GOOD_CSV)}]},
    )
    assert status == 200, signed
    settings.UPLOADS_DIRECT_URL_EXPIRY = 900
    assert put(signed["parts"][0], GOOD_CSV) == 200
    assert complete(api, begun)[0] == 200


def test_wrong_bytes_of_the_signed_length_are_caught_at_complete(api: Api) -> None:
    """Swift ignores the checksum's value (it checks only that the header is
    signed), so it stores the bytes; complete reads them back, refuses them,
    and discards them, and the upload stays open for the right bytes."""
    begun = begin(api, GOOD_CSV)
    [part] = begun["parts"]
    same_length = GOOD_CSV.replace(b"alice", b"ALICE")
    assert put(part, same_length) == 200

    status, answer = complete(api, begun)

    assert status == 400 and answer["code"] == "checksum_mismatch"
    status, after = api.call(begun["uploadId"])("GET", begun["url"], None)
    assert status == 200 and after["received"] == []
    assert put(part, GOOD_CSV) == 200
    status, session = complete(api, begun)
    assert status == 200, session
    assert session["files"][0]["sha256"] == sha256(GOOD_CSV)
