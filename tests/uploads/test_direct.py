"""Direct uploads: the bytes go to the storage, never through the API.

On local disk the site signs and serves the part URLs itself; on S3 (moto's
server here) they are presigned S3 requests. The same client code runs
against both (``tests.support.direct``). Swift, which checks the signatures
moto does not, has tests of its own in test_direct_stores.py; the page's
direct uploads to S3 run in Chromium in tests/browser/test_direct_upload.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from tests.support.direct import sha256
from tests.support.uploads import key_of
from tests.uploads.conftest import GOOD_CSV, Api, Backend
from tests.uploads.test_api import assert_error

MiB = 1024 * 1024


def csv_of(size: int) -> bytes:
    """A CSV of exactly ``size`` bytes (rows of varying numbers)."""
    header = b"id,label,amount\n"
    rows = []
    total = len(header)
    n = 0
    while total < size:
        row = f"{n},row-{n % 97},{n * 7 % 1000}.{n % 10}\n".encode()
        rows.append(row)
        total += len(row)
        n += 1
    return (header + b"".join(rows))[:size]


@pytest.fixture
def small_parts(settings: Any) -> int:
    """Parts of 5 MiB, S3's smallest, so that multipart files stay small."""
    settings.UPLOADS_DIRECT_PART_SIZE = 5 * MiB
    return 5 * MiB


def open_multipart_uploads(backend: Backend) -> list[str]:
    storage: Any = backend.storage
    client = storage.connection.meta.client
    listing = client.list_multipart_uploads(
        Bucket=storage.bucket_name, Prefix=storage.location
    )
    return [upload["Key"] for upload in listing.get("Uploads", [])]


# -- one part ---------------------------------------------------------------------


def test_a_small_file_is_one_signed_put(api: Api, backend: Backend) -> None:
    sent = api.direct_upload("people.csv", GOOD_CSV)

    begun = sent.begin
    assert begun["partCount"] == 1 and begun["size"] == len(GOOD_CSV)
    assert [p["number"] for p in begun["parts"]] == [1]
    part = begun["parts"][0]
    assert part["method"] == "PUT"
    if backend.name == "s3":
        assert part["url"].startswith(backend.storage.endpoint_url)  # type: ignore[attr-defined]
        assert "x-amz-checksum-sha256" in part["url"].split("X-Amz-SignedHeaders=")[1]
        assert part["headers"]["x-amz-checksum-sha256"]
    else:
        assert part["url"].startswith("http://testserver/api/direct-upload-parts/")
    assert sent.put_statuses == {1: 200}
    assert sent.complete_status == 200, sent.complete
    session = sent.complete
    assert session["id"] == begun["uploadId"] and session["status"] == "uploaded"
    [joined] = session["files"]
    assert joined["id"] == begun["id"]
    assert joined["name"] == "people.csv" and joined["size"] == len(GOOD_CSV)
    assert joined["sha256"] == sha256(GOOD_CSV)
    assert backend.files() == [f"uploads/{session['id']}/{joined['id']}.csv"]
    assert backend.read(backend.files()[0]) == GOOD_CSV


def test_the_session_key_is_sent_once_and_nowhere_else(
    api: Api, backend: Backend
) -> None:
    response = api.client.post(
        "/api/direct-uploads",
        {"name": "a.csv", "size": len(GOOD_CSV), "sha256": sha256(GOOD_CSV)},
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    key = response["X-Session-ID"]
    assert key not in response.content.decode()
    assert key not in response["Location"]
    assert response["Location"] == response.json()["url"]
    later = api.client.get(response.json()["url"], headers={"X-Session-ID": key})
    assert later.status_code == 200
    assert "X-Session-ID" not in later and key not in later.content.decode()


def test_a_browser_gets_no_key_header(api: Api, backend: Backend) -> None:
    api.client.get("/")  # the CSRF cookie, as the page has it
    token = api.client.cookies[django_settings.CSRF_COOKIE_NAME].value
    response = api.client.post(
        "/api/direct-uploads",
        {"name": "a.csv", "size": len(GOOD_CSV), "sha256": sha256(GOOD_CSV)},
        content_type="application/json",
        headers={"Origin": "http://testserver", "X-CSRFToken": token},
    )

    assert response.status_code == 201
    assert "X-Session-ID" not in response
    assert django_settings.SESSION_COOKIE_NAME in response.cookies


# -- parts --------------------------------------------------------------------------


def test_a_large_file_goes_in_parts_in_any_order(
    api: Api, backend: Backend, small_parts: int
) -> None:
    data = csv_of(2 * small_parts + 12345)

    sent = api.direct_upload("big.csv", data, order=lambda parts: reversed(parts))

    assert sent.begin["partCount"] == 3 and sent.begin["parts"] == []
    assert sent.put_statuses == {1: 200, 2: 200, 3: 200}
    assert sent.complete_status == 200, sent.complete
    [joined] = sent.complete["files"]
    path = f"uploads/{sent.complete['id']}/{joined['id']}.csv"
    assert backend.files() == [path]  # the parts are gone
    assert backend.read(path) == data
    if backend.name == "s3":
        assert open_multipart_uploads(backend) == []


def test_the_whole_files_sha256_is_known_by_the_time_it_is_processed(
    api: Api, backend: Backend, small_parts: int
) -> None:
    data = csv_of(small_parts + 1000)

    sent = api.direct_upload("big.csv", data, declare_sha256=False)
    assert sent.complete_status == 200
    [joined] = sent.complete["files"]
    # Local disk hashes the file as it joins the parts; on S3 the store
    # checked each part and the file is hashed when processing reads it.
    assert joined["sha256"] in {sha256(data), ""}
    processed = api.process(sent.complete["id"])

    assert processed.status_code == 200, processed.json()
    [profiled] = processed.json()["files"]
    assert profiled["sha256"] == hashlib.sha256(data).hexdigest()
    assert profiled["error"] is None


def test_a_declared_sha256_the_bytes_do_not_have_is_refused(
    api: Api, backend: Backend, small_parts: int
) -> None:
    data = csv_of(small_parts + 1000)
    upload_id, call = api.new_session(), None
    call = api.call(upload_id)
    status, begun = call(
        "POST",
        "/api/direct-uploads",
        {"name": "big.csv", "size": len(data), "sha256": sha256(b"other bytes")},
    )
    assert status == 201
    parts = [(1, data[:small_parts]), (2, data[small_parts:])]
    _, signed = call(
        "POST",
        begun["partsUrl"],
        {"parts": [{"number": n, "sha256": sha256(chunk)} for n, chunk in parts]},
    )
    for part, (_n, chunk) in zip(signed["parts"], parts, strict=True):
        assert api.put(part["url"], part["headers"], chunk) == 200

    status, answer = call("POST", begun["completeUrl"], None)

    if backend.name == "filesystem":
        # Local disk hashes the whole file as it joins the parts.
        assert status == 400 and answer["code"] == "checksum_mismatch"
        assert [f for f in backend.files() if f.endswith(".csv")] == [
            f"uploads/{upload_id}/{f['id']}.csv"
            for f in api.get(upload_id).json()["files"]
        ]
        return
    # S3 checked each part; the declared whole-file hash is checked when the
    # file is first read, and the file is not profiled.
    assert status == 200
    processed = api.process(upload_id).json()
    mismatched = next(f for f in processed["files"] if f["id"] == begun["id"])
    assert mismatched["error"]["code"] == "checksum_mismatch"
    assert mismatched["badge"] == {"state": "error", "label": "Not profiled"}


def test_complete_before_every_part_names_those_missing(
    api: Api, backend: Backend, small_parts: int
) -> None:
    data = csv_of(3 * small_parts)
    upload_id = api.new_session()
    sent = api.direct_upload(
        "big.csv",
        data,
        session_id=upload_id,
        order=lambda parts: [p for p in parts if p[0] == 2],
    )

    answer = sent.complete
    assert sent.complete_status == 409 and answer["code"] == "upload_incomplete"
    assert "Parts 1, 3 are not stored yet" in answer["message"]
    status = api.client.get(
        sent.begin["url"], headers={"X-Session-ID": key_of(upload_id)}
    ).json()
    assert status["received"] == [2]
    assert [f["name"] for f in api.get(upload_id).json()["files"]] == ["good.csv"]


def test_an_upload_resumes_after_a_lost_part(
    api: Api, backend: Backend, small_parts: int
) -> None:
    data = csv_of(2 * small_parts + 10)
    upload_id = api.new_session()
    call = api.call(upload_id)
    first = api.direct_upload(
        "big.csv", data, session_id=upload_id, order=lambda p: p[:1], complete=False
    )
    # Later (another process, say): what does the store hold? Send the rest.
    _, status = call("GET", first.begin["url"], None)
    assert status["received"] == [1]
    missing = [
        (n, data[(n - 1) * small_parts : n * small_parts])
        for n in range(1, status["partCount"] + 1)
        if n not in status["received"]
    ]
    _, signed = call(
        "POST",
        status["partsUrl"],
        {"parts": [{"number": n, "sha256": sha256(c)} for n, c in missing]},
    )
    for part, (_n, chunk) in zip(signed["parts"], missing, strict=True):
        assert api.put(part["url"], part["headers"], chunk) == 200

    code, session = call("POST", status["completeUrl"], None)

    assert code == 200
    joined = next(f for f in session["files"] if f["name"] == "big.csv")
    assert backend.read(f"uploads/{upload_id}/{joined['id']}.csv") == data


def test_complete_twice_answers_the_same(api: Api, backend: Backend) -> None:
    sent = api.direct_upload("a.csv", GOOD_CSV)
    call = api.call(sent.complete["id"])

    again, session = call("POST", sent.begin["completeUrl"], None)

    def unsigned(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in f.items() if k != "url"} for f in files]  # re-signed

    assert again == 200
    assert unsigned(session["files"]) == unsigned(sent.complete["files"])


# -- limits, before anything is signed -----------------------------------------------


@pytest.mark.parametrize(
    ("declared", "status", "code"),
    [
        ({"size": 0, "sha256": sha256(b"")}, 400, "empty_file"),
        ({"size": 10, "sha256": "A" * 64}, 400, "invalid"),
        ({"size": 10}, 400, "invalid"),  # one part needs its SHA-256
        ({"size": -1, "sha256": sha256(b"")}, 400, "invalid"),
        ({"name": "", "size": 10, "sha256": sha256(b"")}, 400, "invalid"),
    ],
)
def test_bad_declarations(
    api: Api, backend: Backend, declared: dict[str, Any], status: int, code: str
) -> None:
    response = api.client.post(
        "/api/direct-uploads",
        {"name": "a.csv", **declared},
        content_type="application/json",
    )

    assert_error(response, status, code)
    assert "X-Session-ID" not in response
    assert backend.files() == []


def test_a_file_over_the_size_limit_is_refused_before_signing(
    api: Api, backend: Backend, settings: Any
) -> None:
    settings.UPLOADS_MAX_FILE_SIZE = 1000
    upload_id = api.new_session()

    response = api.client.post(
        "/api/direct-uploads",
        {"name": "huge.csv", "size": 1001, "sha256": sha256(b"x")},
        content_type="application/json",
        headers={"X-Session-ID": key_of(upload_id)},
    )

    body = assert_error(response, 413, "file_too_large")
    assert "huge.csv" in body["message"]
    assert "url" not in response.content.decode()
    assert len(api.get(upload_id).json()["files"]) == 1


def test_uploads_under_way_count_towards_the_file_limit(
    api: Api, backend: Backend, settings: Any
) -> None:
    settings.UPLOADS_MAX_FILES = 2
    upload_id = api.new_session()
    first = api.direct_upload("b.csv", GOOD_CSV, session_id=upload_id, complete=False)
    assert first.put_statuses == {1: 200}

    response = api.upload(("c.csv", GOOD_CSV), session_id=upload_id)
    assert_error(response, 413, "too_many_files")
    call = api.call(upload_id)
    status, refused = call(
        "POST",
        "/api/direct-uploads",
        {"name": "d.csv", "size": 5, "sha256": sha256(b"a,b\n1")},
    )
    assert status == 413 and refused["code"] == "too_many_files"
    assert "(1 uploading)" in refused["message"]


def test_a_file_cannot_join_while_the_session_is_processing(
    api: Api, backend: Backend
) -> None:
    from tests.support.uploads import edit_upload

    upload_id = api.new_session()
    sent = api.direct_upload("b.csv", GOOD_CSV, session_id=upload_id, complete=False)
    edit_upload(key_of(upload_id), lambda doc: setattr(doc, "status", "processing"))
    call = api.call(upload_id)

    status, answer = call("POST", sent.begin["completeUrl"], None)

    assert status == 409 and answer["code"] == "already_processing"
    edit_upload(key_of(upload_id), lambda doc: setattr(doc, "status", "completed"))
    status, session = call("POST", sent.begin["completeUrl"], None)
    assert status == 200 and session["status"] == "uploaded"
    assert session["analyticsUrl"] is None  # the analytics no longer cover it


# -- signed part URLs of local disk ------------------------------------------------


def begin_one(api: Api, data: bytes = GOOD_CSV) -> dict[str, Any]:
    response = api.client.post(
        "/api/direct-uploads",
        {"name": "a.csv", "size": len(data), "sha256": sha256(data)},
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    return dict(response.json())


def put_served(api: Api, url: str, body: bytes) -> Any:
    return api.client.generic(
        "PUT",
        url.removeprefix("http://testserver"),
        body,
        content_type="application/octet-stream",
    )


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
@pytest.mark.parametrize(
    "body", [GOOD_CSV[:-1] + b"X", GOOD_CSV + b"more", GOOD_CSV[:-3]]
)
def test_a_part_with_other_bytes_is_refused_and_nothing_stored(
    api: Api, backend: Backend, body: bytes
) -> None:
    begun = begin_one(api)

    response = put_served(api, begun["parts"][0]["url"], body)

    assert_error(response, 400, "checksum_mismatch")
    assert backend.files() == []


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
def test_an_altered_signed_url_is_refused(api: Api, backend: Backend) -> None:
    begun = begin_one(api)
    url = begun["parts"][0]["url"]
    token = url.rsplit("/", 1)[1]
    # Another length, say: every field is under the signature.
    forged = url[: -len(token)] + token.replace(
        token[3], "A" if token[3] != "A" else "B", 1
    )

    response = put_served(api, forged, GOOD_CSV)

    assert_error(response, 403, "signed_url_invalid")
    assert_error(put_served(api, url + "x", GOOD_CSV), 403, "signed_url_invalid")
    assert backend.files() == []


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
def test_an_expired_signed_url_is_refused(
    api: Api, backend: Backend, settings: Any
) -> None:
    settings.UPLOADS_DIRECT_URL_EXPIRY = -1  # expired as soon as signed
    begun = begin_one(api)

    response = put_served(api, begun["parts"][0]["url"], GOOD_CSV)

    body = assert_error(response, 403, "signed_url_expired")
    assert "ask for a new one" in body["message"]
    assert backend.files() == []


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
def test_a_signed_url_needs_no_session_and_no_csrf_token(
    api: Api, backend: Backend
) -> None:
    begun = begin_one(api)
    from django.test import Client

    stranger = Client(enforce_csrf_checks=True)

    response = stranger.generic(
        "PUT",
        begun["parts"][0]["url"].removeprefix("http://testserver"),
        GOOD_CSV,
        content_type="application/octet-stream",
    )

    assert response.status_code == 200 and response.json() == {"number": 1}


# -- abort and clean-up -------------------------------------------------------------


def test_abort_discards_what_was_sent(
    api: Api, backend: Backend, small_parts: int
) -> None:
    upload_id = api.new_session()
    sent = api.direct_upload(
        "big.csv",
        csv_of(small_parts + 10),
        session_id=upload_id,
        order=lambda p: p[:1],
        complete=False,
    )
    before = backend.files()

    response = api.client.delete(
        sent.begin["url"], headers={"X-Session-ID": key_of(upload_id)}
    )

    assert response.status_code == 204
    after = backend.files()
    assert len(after) == 1 and after[0] in before  # the first upload's file only
    if backend.name == "s3":
        assert open_multipart_uploads(backend) == []
    again = api.client.get(
        sent.begin["url"], headers={"X-Session-ID": key_of(upload_id)}
    )
    assert_error(again, 404, "direct_upload_not_found")


def test_deleting_the_session_aborts_its_uploads_under_way(
    api: Api, backend: Backend, small_parts: int
) -> None:
    upload_id = api.new_session()
    api.direct_upload(
        "big.csv",
        csv_of(small_parts + 10),
        session_id=upload_id,
        order=lambda p: p[:1],
        complete=False,
    )

    assert api.delete(upload_id).status_code == 204

    assert backend.files() == []
    if backend.name == "s3":
        assert open_multipart_uploads(backend) == []


def test_an_expired_upload_is_aborted_by_the_next_change(
    api: Api, backend: Backend, small_parts: int
) -> None:
    from tests.support.uploads import edit_upload

    upload_id = api.new_session()
    stale = api.direct_upload(
        "big.csv",
        csv_of(small_parts + 10),
        session_id=upload_id,
        order=lambda p: p[:1],
        complete=False,
    )

    def expire(doc: Any) -> None:
        doc.pending[0].expires_at = "2000-01-01T00:00:00.000Z"

    edit_upload(key_of(upload_id), expire)
    call = api.call(upload_id)
    status, gone = call("POST", stale.begin["completeUrl"], None)
    assert status == 404 and gone["code"] == "direct_upload_not_found"

    fresh = api.direct_upload("b.csv", GOOD_CSV, session_id=upload_id)

    assert fresh.complete_status == 200
    names = backend.files()
    assert not any(".part" in name for name in names)
    assert stale.begin["id"] not in "".join(names)
    if backend.name == "s3":
        assert open_multipart_uploads(backend) == []


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_purge_aborts_multipart_uploads_no_session_waits_for(
    api: Api, backend: Backend, small_parts: int
) -> None:
    from sessions_blob.backends.storage import SessionStore

    upload_id = api.new_session()
    api.direct_upload(
        "big.csv",
        csv_of(small_parts + 10),
        session_id=upload_id,
        order=lambda p: p[:1],
        complete=False,
    )
    kept = api.new_session()
    api.direct_upload(
        "kept.csv", csv_of(small_parts + 10), session_id=kept, complete=False
    )
    # Expired: clearsessions will delete it unread, the uploads with it.
    expired = SessionStore(key_of(upload_id))
    expired.set_expiry(-60)
    expired.save()
    assert len(open_multipart_uploads(backend)) == 2

    call_command("purge_uploads", "--min-age", "0", verbosity=0)

    [left] = open_multipart_uploads(backend)
    assert f"uploads/{kept}/" in left


def test_ids_in_paths_are_checked(api: Api, backend: Backend) -> None:
    upload_id = api.new_session()
    for bad in ["../x", "x" * 32, "%2e%2e"]:
        response = api.client.get(
            f"/api/direct-uploads/{bad}", headers={"X-Session-ID": key_of(upload_id)}
        )
        assert response.status_code == 404
        assert re.fullmatch(r"[a-z_]+", response.json()["code"])


# -- the page's Content-Security-Policy ---------------------------------------------


def connect_src(response: Any) -> list[str]:
    policy = response["Content-Security-Policy"]
    [directive] = [d for d in policy.split(";") if d.strip().startswith("connect-src")]
    return directive.split()[1:]


def test_the_page_lets_parts_go_to_the_store(
    client: Any, backend: Backend, settings: Any
) -> None:
    response = client.get("/")

    assert response.status_code == 200
    if backend.name == "s3":
        endpoint = backend.storage.endpoint_url  # type: ignore[attr-defined]
        assert connect_src(response) == ["'self'", endpoint]
    else:
        assert "connect-src" not in response["Content-Security-Policy"]


def test_a_configured_origin_is_what_the_page_allows(
    client: Any, backend: Backend, settings: Any
) -> None:
    settings.UPLOADS_DIRECT_ORIGIN = "https://uploads.example.com/"

    response = client.get("/")

    assert connect_src(response) == ["'self'", "https://uploads.example.com"]


@pytest.mark.s3
@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_doctor_checks_a_configured_origin(
    backend: Backend, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = backend.storage.endpoint_url  # type: ignore[attr-defined]

    settings.UPLOADS_DIRECT_ORIGIN = endpoint
    with pytest.raises(CommandError):  # no CORS rule yet: other findings
        call_command("uploads_storage", "doctor", "--json")
    findings = json.loads(capsys.readouterr().out)
    assert [f["level"] for f in findings if f["topic"] == "csp"] == ["ok"]

    settings.UPLOADS_DIRECT_ORIGIN = "https://elsewhere.example.com"
    with pytest.raises(CommandError):
        call_command("uploads_storage", "doctor", "--json")
    [csp] = [f for f in json.loads(capsys.readouterr().out) if f["topic"] == "csp"]
    assert csp["level"] == "error"
    assert f"UPLOADS_DIRECT_ORIGIN={endpoint}" in csp["fix"]
