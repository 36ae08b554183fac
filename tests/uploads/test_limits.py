"""Abuse limits: per-client budgets of new sessions and upload bytes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.cache import cache

from tests.uploads.conftest import GOOD_CSV, Api, Backend, assert_error


@pytest.fixture(autouse=True)
def _fresh_counters(settings: Any) -> None:
    cache.clear()
    settings.UPLOADS_RATE_WINDOW = 3600


def test_new_sessions_per_client_are_limited(
    api: Api, backend: Backend, settings: Any
) -> None:
    settings.UPLOADS_NEW_SESSIONS_PER_WINDOW = 3
    made = [api.new_session() for _ in range(3)]
    refused = api.upload(("a.csv", GOOD_CSV))
    body = assert_error(refused, 429, "rate_limited")
    assert "new sessions" in body["message"]
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert len(backend.files()) == 3  # the refused upload stored nothing
    # Adding to an existing session is no new session; another client may.
    assert api.upload(("b.csv", GOOD_CSV), session_id=made[0]).status_code == 201
    other = api.client.post(
        "/api/upload", {"files": []}, REMOTE_ADDR="10.0.0.7"
    )  # a 400, but counted under another address, not refused
    assert other.status_code == 400


def test_upload_bytes_per_client_are_limited(
    api: Api, backend: Backend, settings: Any
) -> None:
    settings.UPLOADS_UPLOAD_BYTES_PER_WINDOW = 2000
    session = api.new_session()
    big = b"id,name\n" + b"1,abcdefghij\n" * 200  # about 2.6 KB with the envelope
    refused = api.upload(("big.csv", big), session_id=session)
    assert_error(refused, 429, "rate_limited")
    assert "bytes" in refused.json()["message"]
    assert len(api.get(session).json()["files"]) == 1  # nothing lost, nothing added


def test_behind_a_proxy_the_forwarded_address_is_the_client(
    api: Api, backend: Backend, settings: Any
) -> None:
    settings.UPLOADS_NEW_SESSIONS_PER_WINDOW = 1
    settings.UPLOADS_CLIENT_IP_HEADER = "X-Forwarded-For"
    for client in ("203.0.113.1", "203.0.113.2"):
        first = api.client.post(
            "/api/upload",
            {"files": [_csv()]},
            headers={"X-Forwarded-For": f"198.51.100.9, {client}"},
        )
        assert first.status_code == 201, first.content
        api.client.cookies.clear()
    again = api.client.post(
        "/api/upload",
        {"files": [_csv()]},
        headers={"X-Forwarded-For": "203.0.113.1"},
    )
    assert_error(again, 429, "rate_limited")


def _csv() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(f"{uuid.uuid4().hex}.csv", GOOD_CSV, "text/csv")
