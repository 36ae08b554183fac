"""A storage outage met by the uploads API and the site's pages, over the
fault proxy in front of moto: the API's JSON error, the site's 503 page."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.support.faultproxy import FaultProxy
from tests.support.outage import CLIENT_CONFIG, raw, session_objects
from tests.support.s3 import S3Endpoint
from tests.uploads.conftest import GOOD_CSV, Api, assert_error

pytestmark = pytest.mark.django_db(databases=[])


def test_outage_answers_the_api_with_a_json_503_and_pages_with_a_page(
    proxy: FaultProxy, bucket: str, s3: S3Endpoint
) -> None:
    """The uploads API's error shape, whether the view's load failed or the
    middleware's save; the site's pages show their 503 page."""
    client = Client(raise_request_exception=False)
    made = client.post("/api/upload", {"files": [_csv("a.csv")]})
    assert made.status_code == 201
    session_id = made.json()["id"]
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    before = raw(s3, bucket, key)
    assert before is not None

    proxy.refuse()
    loading = client.get(f"/api/sessions/{session_id}")  # load in the view
    assert loading.status_code == 503
    assert loading.json() == {
        "code": "storage_unavailable",
        "message": "The storage is unavailable; try again later.",
    }
    assert loading["Retry-After"] == "5"
    page = client.get("/")  # the page loads the cookie's session
    assert page.status_code == 503
    assert b"Storage is unavailable" in page.content

    proxy.http_error()  # until told otherwise
    creating = Client(raise_request_exception=False).post(
        "/api/upload", {"files": [_csv("b.csv")]}
    )  # a new session, saved by the middleware
    assert creating.status_code == 503
    assert creating.json()["code"] == "storage_unavailable"
    assert django_settings.SESSION_COOKIE_NAME not in creating.cookies

    proxy.passthrough()
    assert raw(s3, bucket, key) == before
    assert session_objects(s3, bucket) == 1
    again = client.get(f"/api/sessions/{session_id}")
    assert again.status_code == 200
    assert [f["name"] for f in again.json()["files"]] == ["a.csv"]


def _csv(name: str, content: bytes = b"a,b\n1,2\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.fixture
def uploads_too(
    settings: Any, s3: S3Endpoint, s3_bucket: str, proxy: FaultProxy
) -> str:
    """The uploads storage behind the same proxy as the sessions (one S3)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3.via(proxy.url).storage(
            s3_bucket,
            location=f"files-{uuid.uuid4().hex[:8]}",
            client_config=CLIENT_CONFIG,
        ),
    }
    return s3_bucket


def _poll(read: Callable[[], Any], until: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + 15
    while True:
        value = read()
        if until(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_storage_lost_while_processing_answers_503_and_nothing_stays_stuck(
    proxy: FaultProxy, bucket: str, uploads_too: str
) -> None:
    """S3 breaks while the run reads its file: 503 storage_unavailable with
    Retry-After; once S3 is back the session is released at once (failed,
    files kept) and processing again works, not 409 for an hour."""
    api = Api(Client(raise_request_exception=False))
    upload_id = api.new_session(("a.csv", GOOD_CSV))
    proxy.error_from(lambda method, path: method == "GET" and "/files-" in path)

    failed = api.process(upload_id)

    assert_error(failed, 503, "storage_unavailable")
    assert failed["Retry-After"]
    proxy.passthrough()
    session = _poll(
        lambda: api.get(upload_id).json(), lambda s: s["status"] != "processing"
    )
    assert session["status"] == "failed"
    assert session["error"]["code"] == "storage_unavailable"
    assert [f["name"] for f in session["files"]] == ["a.csv"]  # files kept
    again = api.process(upload_id)
    assert again.status_code == 200, again.json()
    assert again.json()["status"] == "completed"


def test_an_upload_cut_off_by_an_outage_answers_503_and_leaves_no_open_upload(
    proxy: FaultProxy, bucket: str, uploads_too: str, s3: S3Endpoint
) -> None:
    """A new session's upload over S3's multipart threshold, S3 failing at
    its first part: 503 (was 500 internal_error), nothing recorded, and the
    open multipart upload is aborted once S3 is back."""
    client = Client(raise_request_exception=False)
    big = b"a,b\n" + b"1,2\n" * (9 * 1024 * 1024 // 4)  # past boto3's 8 MB
    proxy.error_from(lambda method, path: "partNumber=" in path)

    response = client.post("/api/upload", {"files": [_csv("big.csv", big)]})

    assert_error(response, 503, "storage_unavailable")
    assert response["Retry-After"]
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies
    direct = s3.client()
    assert direct.list_multipart_uploads(Bucket=bucket).get("Uploads")  # left open
    proxy.passthrough()
    left = _poll(
        lambda: direct.list_multipart_uploads(Bucket=bucket).get("Uploads", []),
        lambda uploads: not uploads,
    )
    assert left == []
    objects = direct.list_objects_v2(Bucket=bucket, Prefix="files-")
    assert not [o for o in objects.get("Contents", []) if "big" in o["Key"]]


def test_a_stalled_store_spends_the_request_budget_and_answers_503(
    settings: Any, proxy: FaultProxy, s3: S3Endpoint, s3_bucket: str
) -> None:
    """A store that accepts requests and never answers: each attempt waits
    its read timeout, and the request stops once its storage budget is spent
    instead of trying every attempt botocore allows (and outliving the
    server's worker timeout)."""
    from botocore.config import Config

    patient = Config(
        connect_timeout=1,
        read_timeout=1,
        retries={"total_max_attempts": 6, "mode": "standard"},
        s3={"addressing_style": "path"},
    )
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": {
            **s3.via(proxy.url).storage(s3_bucket, client_config=patient),
            "BACKEND": "uploads.s3storage.BudgetedS3Storage",
        },
    }
    settings.UPLOADS_STORAGE_TIME_BUDGET = 1.5
    client = Client(raise_request_exception=False)
    made = client.post("/api/upload", {"files": [_csv("a.csv")]})
    assert made.status_code == 201
    session_id = made.json()["id"]

    proxy.slow(30)
    stalled = client.get(f"/api/sessions/{session_id}")

    assert stalled.status_code == 503
    assert stalled.json()["code"] == "storage_unavailable"
    assert stalled["Retry-After"]
    # Two attempts of a second each spent the 1.5 s; four more were allowed.
    assert proxy.outcomes().count("slow") == 2
    proxy.passthrough()
    assert client.get(f"/api/sessions/{session_id}").status_code == 200
