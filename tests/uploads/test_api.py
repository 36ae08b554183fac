"""The API end to end through Django's test client, on local disk and on S3."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client

from sessions_blob.backends.storage import SessionStore
from tests.uploads.conftest import (
    GOOD_CSV,
    Api,
    Backend,
    assert_error,
    key_of,
    multipart,
)
from uploads.documents import SESSION_KEY

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def _doc(session_id: str) -> dict[str, Any]:
    return dict(SessionStore(key_of(session_id))[SESSION_KEY])


def _set_doc(session_id: str, **changes: Any) -> None:
    store = SessionStore(key_of(session_id))
    doc = dict(store[SESSION_KEY])
    doc.update(changes)
    store[SESSION_KEY] = doc
    store.save()


def _fetch(api: Api, url: str, session_id: str | None) -> tuple[int, bytes]:
    """Download a file URL as a client would: signed S3 URLs over HTTP,
    this API's download view with the session header."""
    if url.startswith("http://testserver/"):
        headers = {"X-Session-ID": key_of(session_id)} if session_id else {}
        response = api.client.get(
            url.removeprefix("http://testserver"), headers=headers
        )
        body = (
            b"".join(response.streaming_content)
            if response.streaming
            else response.content
        )
        return response.status_code, body
    got = requests.get(url, timeout=10)
    return got.status_code, got.content


# -- upload ------------------------------------------------------------------------


def test_upload_creates_a_session(api: Api, backend: Backend) -> None:
    response = api.upload(("people.csv", GOOD_CSV), ("more.csv", b"a;b\n1;2\n"))

    assert response.status_code == 201
    body = response.json()
    key = response["X-Session-ID"]  # the credential, sent this once
    assert response.cookies[django_settings.SESSION_COOKIE_NAME].value == key
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"]) and body["id"] != key
    assert key not in response.content.decode()
    assert body["status"] == "uploaded"
    assert body["error"] is None and body["analyticsUrl"] is None
    assert ISO_UTC.fullmatch(body["createdAt"]) and ISO_UTC.fullmatch(body["expiresAt"])
    created = dt.datetime.fromisoformat(body["createdAt"])
    expires = dt.datetime.fromisoformat(body["expiresAt"])
    assert expires - created == dt.timedelta(seconds=django_settings.SESSION_COOKIE_AGE)
    assert [(f["name"], f["size"]) for f in body["files"]] == [
        ("people.csv", len(GOOD_CSV)),
        ("more.csv", 8),
    ]
    first = body["files"][0]
    assert first["sha256"] == hashlib.sha256(GOOD_CSV).hexdigest()
    assert first["contentType"] == "text/csv"
    stored = backend.files()
    assert len(stored) == 2
    uid = stored[0].split("/")[1]
    assert all(re.fullmatch(rf"uploads/{uid}/[0-9a-f]{{32}}\.csv", n) for n in stored)
    assert f"uploads/{uid}/{first['id']}.csv" in stored
    assert backend.read(f"uploads/{uid}/{first['id']}.csv") == GOOD_CSV
    assert uid == body["id"]  # the public id names the folder
    assert key not in "".join(stored)  # the session key never names a path


def test_upload_adds_to_the_cookie_session(api: Api, backend: Backend) -> None:
    first = api.upload(("a.csv", GOOD_CSV)).json()
    second = api.upload(("b.csv", GOOD_CSV))

    assert second.status_code == 201
    assert second.json()["id"] == first["id"]
    assert [f["name"] for f in second.json()["files"]] == ["a.csv", "b.csv"]
    assert len(backend.files()) == 2


def test_upload_adds_to_the_header_session(api: Api, backend: Backend) -> None:
    session_id = api.new_session()

    response = api.upload(("b.csv", GOOD_CSV), session_id=session_id)

    assert response.status_code == 201
    assert response.json()["id"] == session_id
    assert len(response.json()["files"]) == 2
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies


def test_header_wins_over_cookie(api: Api, backend: Backend) -> None:
    cookie_id = api.upload(("a.csv", GOOD_CSV)).json()["id"]
    other = Api(Client()).new_session()

    response = api.upload(("b.csv", GOOD_CSV), session_id=other)

    assert response.json()["id"] == other
    assert len(api.get(cookie_id).json()["files"]) == 1
    assert len(api.get(other).json()["files"]) == 2


@pytest.mark.parametrize("session_id", ["nope", "../../etc/passwd", "a" * 32])
def test_upload_to_an_unknown_header_session_is_404(
    api: Api, backend: Backend, session_id: str
) -> None:
    kept = api.new_session()

    response = api.upload(("a.csv", GOOD_CSV), session_id=session_id)

    assert_error(response, 404, "session_not_found")
    assert len(backend.files()) == 1
    assert len(api.get(kept).json()["files"]) == 1


def test_a_stale_cookie_gets_a_new_session(api: Api, backend: Backend) -> None:
    api.client.cookies[django_settings.SESSION_COOKIE_NAME] = "b" * 32

    response = api.upload(("a.csv", GOOD_CSV))

    assert response.status_code == 201
    assert response.json()["id"] != "b" * 32


def test_upload_without_files_is_invalid(api: Api, backend: Backend) -> None:
    assert_error(api.client.post("/api/upload", {}), 400, "invalid")
    body, content_type = multipart([("a.csv", GOOD_CSV)], field="other")
    response = api.client.generic(
        "POST", "/api/upload", body, content_type=content_type
    )
    assert_error(response, 400, "invalid")
    assert backend.files() == []


# -- bad uploads: refused, and nothing stored before is lost ---------------------


@pytest.fixture
def kept(api: Api, backend: Backend) -> dict[str, Any]:
    """A session (by cookie) with one file, which a bad upload must not harm."""
    body = api.upload(("kept.csv", GOOD_CSV)).json()
    return {"id": body["id"], "files": backend.files()}


def _intact(api: Api, backend: Backend, kept: dict[str, Any]) -> None:
    assert backend.files() == kept["files"]
    assert [f["name"] for f in api.get(kept["id"]).json()["files"]] == ["kept.csv"]
    assert backend.read(kept["files"][0]) == GOOD_CSV


def test_zero_byte_upload(api: Api, backend: Backend, kept: dict[str, Any]) -> None:
    response = api.upload(("ok.csv", GOOD_CSV), ("empty.csv", b""))

    body = assert_error(response, 400, "empty_file")
    assert "empty.csv" in body["message"]
    _intact(api, backend, kept)


def test_file_over_the_size_limit(
    api: Api, backend: Backend, kept: dict[str, Any], settings: Any
) -> None:
    settings.UPLOADS_MAX_FILE_SIZE = 1000

    response = api.upload(("ok.csv", GOOD_CSV), ("big.csv", b"x,y\n" + b"1,2\n" * 400))

    body = assert_error(response, 413, "file_too_large")
    assert "big.csv" in body["message"]
    _intact(api, backend, kept)


def test_request_over_the_size_limit_is_refused_before_reading(
    api: Api, backend: Backend, kept: dict[str, Any], settings: Any
) -> None:
    settings.UPLOADS_MAX_FILE_SIZE = 1000
    settings.UPLOADS_MAX_FILES = 2
    body, content_type = multipart([("big.csv", b"1,2\n" * 100_000)])

    response = api.client.generic(
        "POST", "/api/upload", body, content_type=content_type
    )

    assert_error(response, 413, "file_too_large")
    _intact(api, backend, kept)


def test_too_many_files_in_one_request(
    api: Api, backend: Backend, kept: dict[str, Any], settings: Any
) -> None:
    settings.UPLOADS_MAX_FILES = 3

    response = api.upload(*[(f"{i}.csv", GOOD_CSV) for i in range(4)])

    assert_error(response, 413, "too_many_files")
    _intact(api, backend, kept)


def test_too_many_files_in_the_session(
    api: Api, backend: Backend, kept: dict[str, Any], settings: Any
) -> None:
    settings.UPLOADS_MAX_FILES = 3

    response = api.upload(*[(f"{i}.csv", GOOD_CSV) for i in range(3)])

    assert_error(response, 413, "too_many_files")
    _intact(api, backend, kept)
    assert api.upload(("2.csv", GOOD_CSV), ("3.csv", GOOD_CSV)).status_code == 201


def test_large_file_is_not_limited_by_data_upload_max_memory_size(
    api: Api, backend: Backend, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    content = b"n\n" + b"".join(b"%d\n" % i for i in range(100_000))

    response = api.upload(("big.csv", content))

    assert response.status_code == 201
    assert response.json()["files"][0]["size"] == len(content)
    assert backend.read(backend.files()[0]) == content


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("../../etc/passwd.csv", "passwd.csv"),
        ("..\\..\\windows\\evil.csv", "evil.csv"),
        ("nul\x00byte.csv", "nulbyte.csv"),
        ("tab\tand\x1bescape.csv", "tabandescape.csv"),
        ("x" * 300 + ".csv", "x" * 251 + ".csv"),
        ("r\u00e9sum\u00e9 \u202egnp.csv", "r\u00e9sum\u00e9 gnp.csv"),
    ],
)
def test_file_names_are_shown_sanitised_and_never_used_as_paths(
    api: Api, backend: Backend, sent: str, shown: str
) -> None:
    response = api.upload((sent, GOOD_CSV))

    assert response.status_code == 201, response.json()
    file = response.json()["files"][0]
    assert file["name"] == shown
    assert len(file["name"]) <= 255
    assert backend.files() == [
        f"uploads/{backend.files()[0].split('/')[1]}/{file['id']}.csv"
    ]


def test_dot_dot_as_a_whole_name_is_no_file(api: Api, backend: Backend) -> None:
    assert_error(api.upload(("..", GOOD_CSV)), 400, "invalid")
    assert backend.files() == []


def test_upload_during_processing_is_refused(api: Api, backend: Backend) -> None:
    session_id = api.new_session()
    _set_doc(
        session_id,
        status="processing",
        run="r",
        processing_since="2999-01-01T00:00:00Z",
    )
    before = backend.files()

    response = api.upload(("b.csv", GOOD_CSV), session_id=session_id)

    assert_error(response, 409, "already_processing")
    assert backend.files() == before


# -- process -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["header", "body", "cookie"])
def test_process(api: Api, backend: Backend, how: str, log_lines: Any) -> None:
    created = api.upload(("people.csv", GOOD_CSV)).json()
    session_id = created["id"]
    if how != "cookie":
        api.client.cookies.clear()

    if how == "header":
        response = api.process(session_id)
    elif how == "body":  # the upload named too: it must be the session's
        response = api.process(session_id, body={"id": session_id})
    else:
        response = api.process()

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == session_id
    assert "X-Session-ID" not in response  # the key is sent once, at creation
    assert body["status"] == "completed"
    assert body["error"] is None
    assert body["files"][0]["error"] is None
    assert (
        body["analyticsUrl"] == f"http://testserver/api/sessions/{session_id}/analytics"
    )
    uid = backend.files()[0].split("/")[1]
    assert f"uploads/{uid}/analytics.json" in backend.files()
    phases = [r.getMessage() for r in log_lines.records if r.name == "uploads"]
    assert any("file 1/1" in m and "aggregating" in m for m in phases)
    assert not any(key_of(session_id) in m for m in phases)  # never logged


def test_analytics(api: Api, backend: Backend) -> None:
    session_id = api.new_session(("people.csv", GOOD_CSV), ("bad.png.csv", PNG))
    assert_error(api.analytics(session_id), 404, "analytics_not_ready")
    files = api.get(session_id).json()["files"]

    assert api.process(session_id).status_code == 200
    response = api.analytics(session_id)

    assert response.status_code == 200
    doc = response.json()
    assert doc["schemaVersion"] == "2"
    assert doc["id"] == session_id
    assert ISO_UTC.fullmatch(doc["generatedAt"])
    good, bad = doc["files"]
    assert (good["fileId"], good["name"], good["error"]) == (
        files[0]["id"],
        "people.csv",
        None,
    )
    profile = good["profile"]
    assert profile["rowCount"] == 3
    assert [c["name"] for c in profile["columns"]] == ["id", "name", "amount"]
    assert [c["type"] for c in profile["columns"]] == ["integer", "text", "float"]
    assert bad["profile"] is None
    assert bad["error"]["code"] == "not_csv"


def test_process_by_the_cookie_needs_a_csrf_token(backend: Backend) -> None:
    browser = Client(enforce_csrf_checks=True)
    created = Api(browser).upload(("a.csv", GOOD_CSV))  # no session yet: no check
    assert created.status_code == 201
    assert "csrftoken" in created.cookies

    assert_error(Api(browser).process(), 403, "csrf_failed")
    assert_error(Api(browser).upload(("b.csv", GOOD_CSV)), 403, "csrf_failed")
    assert_error(
        browser.delete(f"/api/sessions/{created.json()['id']}"), 403, "csrf_failed"
    )

    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/process",
        "{}",
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert len(response.json()["files"]) == 1


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_a_browser_without_a_session_needs_a_csrf_token(
    backend: Backend, headers: dict[str, str]
) -> None:
    """A cross-site form must not plant a session of its own in the visitor's
    cookie (SameSite=Lax sends a cross-site POST without the cookie)."""
    browser = Client(enforce_csrf_checks=True)
    body, content_type = multipart([("attacker.csv", GOOD_CSV)])
    forged = browser.generic(
        "POST", "/api/upload", body, content_type=content_type, headers=headers
    )
    assert_error(forged, 403, "csrf_failed")
    assert "sessionid" not in forged.cookies
    assert backend.files() == []

    page = browser.get("/")  # the site's own page sets the CSRF cookie
    token = page.cookies["csrftoken"].value
    own = browser.generic(
        "POST",
        "/api/upload",
        body,
        content_type=content_type,
        headers={"Origin": "http://testserver", "X-CSRFToken": token},
    )
    assert own.status_code == 201


def test_a_session_id_header_needs_no_csrf_token(backend: Backend) -> None:
    client = Client(enforce_csrf_checks=True)
    session_id = (
        Api(client).upload(("a.csv", GOOD_CSV)).json()["id"]
    )  # keeps the cookie

    response = Api(client).process(session_id)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("nothing", {}),
        ("junk", {"session_id": "not-a-session"}),
        ("traversal", {"session_id": "../../sessions/x"}),
        ("unknown", {"session_id": "c" * 32}),
    ],
)
def test_process_an_unknown_session(
    api: Api, backend: Backend, case: str, kwargs: dict[str, Any]
) -> None:
    assert_error(api.process(**kwargs), 404, "session_not_found")


@pytest.mark.parametrize("key", ["../../sessions/x", "c" * 32])
def test_a_key_in_the_body_is_refused_not_looked_up(
    api: Api, backend: Backend, key: str
) -> None:
    """The key travels in the cookie or X-Session-ID only: a body naming one
    is refused as it stands, before any session is looked for."""
    response = api.process(body={"session_id": key})
    assert_error(response, 400, "invalid")
    assert response.json()["message"] == "session_id: Unknown field."
    assert backend.files() == []


def test_process_an_expired_session(api: Api, backend: Backend, settings: Any) -> None:
    session_id = api.new_session()
    store = SessionStore(key_of(session_id))
    store.set_expiry(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    store.save()
    stored = backend.files()

    time.sleep(1.1)
    assert_error(api.process(session_id), 404, "session_not_found")
    assert_error(api.get(session_id), 404, "session_not_found")
    assert backend.files() == stored  # expiry alone deletes nothing


def test_process_twice_is_nothing_to_process(api: Api, backend: Backend) -> None:
    session_id = api.new_session()
    assert api.process(session_id).status_code == 200

    assert_error(api.process(session_id), 409, "nothing_to_process")
    assert api.get(session_id).json()["status"] == "completed"


def test_process_while_processing_is_refused(api: Api, backend: Backend) -> None:
    session_id = api.new_session()
    _set_doc(
        session_id,
        status="processing",
        run="r",
        processing_since="2999-01-01T00:00:00Z",
    )

    assert_error(api.process(session_id), 409, "already_processing")
    assert _doc(session_id)["run"] == "r"


def test_an_abandoned_run_is_taken_over(
    api: Api, backend: Backend, settings: Any
) -> None:
    settings.UPLOADS_PROCESSING_TIMEOUT = 60
    session_id = api.new_session()
    _set_doc(
        session_id,
        status="processing",
        run="r",
        processing_since="2000-01-01T00:00:00Z",
    )

    response = api.process(session_id)

    assert response.status_code == 200
    assert response.json()["status"] == "completed"


def test_adding_files_after_processing_allows_processing_again(
    api: Api, backend: Backend
) -> None:
    session_id = api.new_session()
    api.process(session_id)
    uid = backend.files()[0].split("/")[1]

    added = api.upload(("b.csv", GOOD_CSV), session_id=session_id).json()

    assert added["status"] == "uploaded"
    assert added["analyticsUrl"] is None
    assert f"uploads/{uid}/analytics.json" not in backend.files()
    processed = api.process(session_id).json()
    assert processed["status"] == "completed"
    assert len(api.analytics(session_id).json()["files"]) == 2


# -- bad CSV content: per-file errors, nothing lost --------------------------------

CONTENT_CASES = {
    "header_only": (b"a,b,c\n", "completed", None),
    "ragged_rows": (b"a,b\n1,2\n3,4,5\n6\n7,8\n", "completed", None),
    "quoted_newlines": (b'a,b\n1,"two\nlines"\n3,"x ""q"" y"\n', "completed", None),
    "whitespace_only": (b"\n\n  \n", "failed", "empty_file"),
    "binary_junk": (bytes(range(256)) * 40, "failed", "not_csv"),
    "png_named_csv": (PNG, "failed", "not_csv"),
    "html_named_csv": (b"<!doctype html><html><p>a,b</p></html>", "failed", "not_csv"),
    "json_named_csv": (b'{"a": 1, "b": [1, 2, 3]}', "failed", "not_csv"),
    "cp1251_text": (
        "\n".join(["city,name", "Москва,Иван", "Киев,Олег", ""]).encode("cp1251"),
        "failed",
        "undecodable",
    ),
    "open_quote": (b'a,b\n1,"open\n2,3\n4,5\n', "failed", "parse_error"),
}


@pytest.mark.parametrize("case", list(CONTENT_CASES))
def test_bad_content(api: Api, backend: Backend, case: str) -> None:
    content, status, code = CONTENT_CASES[case]
    session_id = api.new_session((f"{case}.csv", content))
    stored = backend.files()

    response = api.process(session_id)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == status
    file_error = body["files"][0]["error"]
    analytics = api.analytics(session_id).json()["files"][0]
    if code is None:
        assert file_error is None and body["error"] is None
        profile = analytics["profile"]
        if case == "header_only":
            assert (profile["rowCount"], profile["columnCount"]) == (0, 3)
        if case == "ragged_rows":
            assert profile["rowCount"] == 2
            assert [r["line"] for r in profile["rejectedRows"]] == [3, 4]
        if case == "quoted_newlines":
            assert profile["sampleRows"][0] == ["1", "two\nlines"]
    else:
        assert file_error["code"] == code and file_error["message"]
        assert body["error"]["code"] == "all_files_failed"
        assert analytics["error"] == file_error and analytics["profile"] is None
    assert set(stored) <= set(backend.files())  # the upload itself is kept
    status_code, content_back = _fetch(api, body["files"][0]["url"], session_id)
    assert (status_code, content_back) == (200, content)


def test_one_bad_file_among_good_ones(api: Api, backend: Backend) -> None:
    session_id = api.new_session(("good.csv", GOOD_CSV), ("junk.csv", PNG))

    body = api.process(session_id).json()

    assert body["status"] == "completed"
    assert body["error"] is None
    assert [f["error"] and f["error"]["code"] for f in body["files"]] == [
        None,
        "not_csv",
    ]


def test_unexpected_failure_marks_the_session_failed(
    api: Api, backend: Backend, settings: Any
) -> None:
    session_id = api.new_session()
    stored = backend.files()
    settings.UPLOADS_PROFILE_MEMORY_LIMIT = "lots"  # DuckDB refuses the setting

    assert_error(api.process(session_id), 500, "processing_error")

    body = api.get(session_id).json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "processing_error"
    assert backend.files() == stored
    settings.UPLOADS_PROFILE_MEMORY_LIMIT = "256MB"  # a failed session may be retried
    assert api.process(session_id).json()["status"] == "completed"


# -- read, download, delete ---------------------------------------------------------


def test_get_session(api: Api, backend: Backend) -> None:
    session_id = api.new_session(("a.csv", GOOD_CSV))

    response = api.get(session_id)

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    body = response.json()
    assert set(body) == {
        "id",
        "createdAt",
        "expiresAt",
        "status",
        "statusMessage",
        "error",
        "files",
        "progress",
        "analyticsUrl",
        "nullMarkers",
    }
    assert body["progress"] is None  # only while processing
    assert body["nullMarkers"] == {"add": [], "remove": []}
    assert body["statusMessage"] == "1 file uploaded and ready to process."
    assert set(body["files"][0]) == {
        "id",
        "name",
        "size",
        "sha256",
        "contentType",
        "url",
        "error",
        "badge",
    }
    assert body["files"][0]["badge"] == {"state": "uploaded", "label": "Uploaded"}
    url = body["files"][0]["url"]
    if backend.name == "s3":
        assert "Signature=" in url and "Expires=" in url
    else:
        assert (
            url
            == f"http://testserver/api/sessions/{session_id}/files/{body['files'][0]['id']}"
        )
    assert _fetch(api, url, session_id) == (200, GOOD_CSV)


@pytest.mark.parametrize("session_id", ["x", "a" * 32, "..", "%2e%2e"])
def test_get_unknown_session(api: Api, backend: Backend, session_id: str) -> None:
    assert_error(
        api.client.get(f"/api/sessions/{session_id}"), 404, "session_not_found"
    )
    assert_error(api.analytics(session_id), 404, "session_not_found")


@pytest.mark.parametrize(
    "path", ["/api/sessions/../../etc/passwd", "/api/sessions/a%2F..%2Fb", "/api/nope"]
)
def test_unknown_api_paths_are_json_404(api: Api, backend: Backend, path: str) -> None:
    assert_error(api.client.get(path), 404, "not_found")


def test_download_view(api: Api, backend: Backend) -> None:
    session_id = api.new_session(("a b\u00e9.csv", GOOD_CSV))
    file_id = api.get(session_id).json()["files"][0]["id"]
    url = f"/api/sessions/{session_id}/files/{file_id}"

    anonymous = api.client.get(url)
    assert_error(anonymous, 404, "session_not_found")
    assert_error(
        api.client.get(url, headers={"X-Session-ID": Api(Client()).new_session()}),
        404,
        "session_not_found",
    )
    assert_error(
        api.client.get(
            f"/api/sessions/{session_id}/files/nope",
            headers={"X-Session-ID": key_of(session_id)},
        ),
        404,
        "file_not_found",
    )
    owner = api.client.get(url, headers={"X-Session-ID": key_of(session_id)})
    if backend.name == "s3":
        assert owner.status_code == 302
        assert requests.get(owner["Location"], timeout=10).content == GOOD_CSV
    else:
        assert owner.status_code == 200
        assert "attachment" in owner["Content-Disposition"]
        assert b"".join(owner.streaming_content) == GOOD_CSV


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_signed_url_expires(api: Api, backend: Backend, settings: Any) -> None:
    settings.UPLOADS_URL_EXPIRY = 1
    session_id = api.new_session()
    url = api.get(session_id).json()["files"][0]["url"]
    expires = int(re.search(r"Expires=(\d+)", url).group(1))  # type: ignore[union-attr]
    assert expires - dt.datetime.now(dt.UTC).timestamp() <= 2


def test_delete(api: Api, backend: Backend) -> None:
    other = Api(Client()).new_session()
    other_files = backend.files()
    session_id = api.new_session(("a.csv", GOOD_CSV), ("b.csv", GOOD_CSV))
    api.process(session_id)
    assert len(backend.files()) == len(other_files) + 3

    response = api.delete(session_id)

    assert response.status_code == 204
    assert response.content == b""
    assert backend.files() == other_files
    assert_error(api.get(session_id), 404, "session_not_found")
    assert_error(api.process(session_id), 404, "session_not_found")
    assert_error(api.delete(session_id), 404, "session_not_found")
    assert api.get(other).status_code == 200


def test_delete_by_cookie_drops_the_cookie(api: Api, backend: Backend) -> None:
    session_id = api.upload(("a.csv", GOOD_CSV)).json()["id"]

    response = api.delete(session_id, header=False)

    assert response.status_code == 204
    assert response.cookies[django_settings.SESSION_COOKIE_NAME].value == ""
    assert backend.files() == []


def test_a_junk_header_does_not_drop_the_cookie(api: Api, backend: Backend) -> None:
    session_id = api.upload(("a.csv", GOOD_CSV)).json()["id"]

    response = api.client.get(
        f"/api/sessions/{session_id}", headers={"X-Session-ID": "junk"}
    )

    # The header wins: it names no session; the browser's cookie stays.
    assert_error(response, 404, "session_not_found")
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies
    assert api.get(session_id, header=False).status_code == 200
    assert "X-Session-ID" in response["Vary"]


# -- the error contract ---------------------------------------------------------------


def test_method_not_allowed(api: Api, backend: Backend) -> None:
    assert_error(api.client.get("/api/upload"), 405, "method_not_allowed")
    assert_error(api.client.put("/api/process"), 405, "method_not_allowed")


def test_unsupported_media_type(api: Api, backend: Backend) -> None:
    response = api.client.post("/api/process", "x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")
    response = api.client.post("/api/upload", "{}", content_type="application/json")
    assert_error(response, 415, "unsupported_media_type")


def test_malformed_json(api: Api, backend: Backend) -> None:
    response = api.client.post("/api/process", "{nope", content_type="application/json")
    assert_error(response, 400, "malformed_request")
    deep = "[" * 100_000 + "]" * 100_000
    response = api.client.post("/api/process", deep, content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_malformed_multipart(api: Api, backend: Backend) -> None:
    response = api.client.generic(
        "POST", "/api/upload", b"junk", content_type="multipart/form-data; boundary="
    )
    assert_error(response, 400, "malformed_request")
    body, content_type = multipart([("a.csv", GOOD_CSV)])
    cut_short = body[: body.rindex(b"--")]  # no closing boundary
    response = api.client.generic("POST", "/api/upload", cut_short, content_type)
    assert "No file arrived" in assert_error(response, 400, "invalid")["message"]
    assert backend.files() == []


def test_invalid_process_input(api: Api, backend: Backend) -> None:
    response = api.process(body={"id": "x" * 500})
    body = assert_error(response, 400, "invalid")
    assert body["message"] == "id: Not an upload id."


def test_docs_list_every_error_code() -> None:
    from pathlib import Path

    from uploads.errors import CODES, DOCUMENT_CODES

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    for code in [*CODES, *DOCUMENT_CODES]:
        assert f"`{code}`" in text, code


def test_profile_schema_matches_a_real_profile(api: Api, backend: Backend) -> None:
    from pathlib import Path

    import jsonschema

    root = Path(__file__).resolve().parents[2]
    schema = json.loads((root / "docs" / "profile.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    content = (
        b"id,score,when,stamp,flag,label,blank\n"
        b"1,1.5,2024-01-01,2024-01-01 10:00:00,true,a,\n"
        b"2,,2024-02-01,2024-01-02 11:00:00,false,b,\n"
        b"3,2.5,2024-03-01,2024-01-03 12:00:00,,a,\n"
        b"4,3.5,2024-04-01,2024-01-04 13:00:00,true,c,\n"
        b"5,1,2,3\n"
    )
    session_id = api.new_session(
        ("all.csv", content), ("cp.csv", "caf\u00e9;x\n1;2\n".encode("cp1252"))
    )
    api.process(session_id)
    for entry in api.analytics(session_id).json()["files"]:
        jsonschema.validate(entry["profile"], schema)
    types = {
        c["type"]
        for c in api.analytics(session_id).json()["files"][0]["profile"]["columns"]
    }
    assert types == {"integer", "float", "date", "datetime", "boolean", "text"}
