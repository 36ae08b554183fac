"""A storage outage met by the uploads API and the site's pages, over the
fault proxy in front of moto: the API's JSON error, the site's 503 page."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.support.faultproxy import FaultProxy
from tests.support.outage import raw, session_objects
from tests.support.s3 import S3Endpoint

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
    before = raw(s3, bucket, session_id)

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
    assert raw(s3, bucket, session_id) == before
    assert session_objects(s3, bucket) == 1
    again = client.get(f"/api/sessions/{session_id}")
    assert again.status_code == 200
    assert [f["name"] for f in again.json()["files"]] == ["a.csv"]


def _csv(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"a,b\n1,2\n", content_type="text/csv")
