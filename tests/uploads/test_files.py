"""One file at a time: removing a file from an upload, and exporting one
file's profile (JSON through the API, a standalone HTML report as a page)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.uploads.conftest import GOOD_CSV, Api, Backend, assert_error, key_of

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
OTHER_CSV = b"city,visits\nParis,3\nLyon,4\n"


def headers(session_id: str) -> dict[str, str]:
    return {"X-Session-ID": key_of(session_id)}


def remove(api: Api, session_id: str, file_id: str) -> Any:
    return api.client.delete(
        f"/api/sessions/{session_id}/files/{file_id}", headers=headers(session_id)
    )


def csv_names(backend: Backend) -> list[str]:
    return [n for n in backend.files() if n.endswith(".csv")]


def test_removing_a_file_before_processing(api: Api, backend: Backend) -> None:
    upload_id = api.new_session(("a.csv", GOOD_CSV), ("b.csv", OTHER_CSV))
    first, second = api.get(upload_id).json()["files"]

    response = remove(api, upload_id, first["id"])

    assert response.status_code == 200, response.json()
    assert [f["id"] for f in response.json()["files"]] == [second["id"]]
    assert csv_names(backend) == [f"uploads/{upload_id}/{second['id']}.csv"]
    assert_error(remove(api, upload_id, first["id"]), 404, "file_not_found")


def test_a_processed_session_keeps_the_other_profiles(
    api: Api, backend: Backend
) -> None:
    upload_id = api.new_session(("a.csv", GOOD_CSV), ("b.csv", OTHER_CSV))
    assert api.process(upload_id).json()["status"] == "completed"
    before = api.analytics(upload_id).json()
    first, second = api.get(upload_id).json()["files"]

    response = remove(api, upload_id, first["id"])

    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    after = api.analytics(upload_id).json()
    assert [f["fileId"] for f in after["files"]] == [second["id"]]
    assert after["files"][0]["profile"] == before["files"][1]["profile"]
    # One analytics document is left, the new one; the old one is gone.
    assert len([n for n in backend.files() if "analytics" in n]) == 1

    response = remove(api, upload_id, second["id"])

    assert response.json()["status"] == "uploaded" and response.json()["files"] == []
    assert_error(api.analytics(upload_id), 404, "analytics_not_ready")
    assert [n for n in backend.files() if n.startswith(f"uploads/{upload_id}")] == []


def test_removing_is_refused_while_processing(api: Api, backend: Backend) -> None:
    from tests.uploads.test_api import _set_doc

    upload_id = api.new_session()
    [stored] = api.get(upload_id).json()["files"]
    _set_doc(upload_id, status="processing", run="r" * 32, processing_since=None)

    assert_error(remove(api, upload_id, stored["id"]), 409, "already_processing")
    assert len(csv_names(backend)) == 1


def test_another_session_cannot_remove_a_file(api: Api, backend: Backend) -> None:
    mine = api.new_session()
    [stored] = api.get(mine).json()["files"]
    theirs = api.new_session()

    response = api.client.delete(
        f"/api/sessions/{mine}/files/{stored['id']}", headers=headers(theirs)
    )

    assert_error(response, 404, "session_not_found")
    assert len(csv_names(backend)) == 2


def test_a_session_whose_files_cannot_be_csv_is_not_processed_again(
    api: Api, backend: Backend
) -> None:
    upload_id = api.new_session(("image.csv", PNG))
    processed = api.process(upload_id).json()
    assert processed["status"] == "failed"
    assert processed["files"][0]["error"]["code"] == "not_csv"

    body = assert_error(api.process(upload_id), 409, "nothing_to_process")
    assert "remove them" in body["message"]
    # Adding a good file makes processing worth it again.
    api.upload(("good.csv", GOOD_CSV), session_id=upload_id)
    assert api.process(upload_id).json()["status"] == "completed"


def test_a_profile_exports_as_json_and_as_a_standalone_report(
    api: Api, backend: Backend
) -> None:
    upload_id = api.new_session(("sales 2024.csv", GOOD_CSV))
    api.process(upload_id)
    [stored] = api.get(upload_id).json()["files"]
    profile = api.analytics(upload_id).json()["files"][0]["profile"]

    exported = api.client.get(
        f"/api/sessions/{upload_id}/files/{stored['id']}/profile",
        headers=headers(upload_id),
    )

    assert exported.status_code == 200
    assert exported["Content-Disposition"] == (
        'attachment; filename="sales 2024.profile.json"'
    )
    assert json.loads(exported.content) == profile

    # The report is a page: the browser's cookie, not the API header.
    browser = api.client
    browser.cookies.clear()
    page = browser.get(f"/sessions/{upload_id}/files/{stored['id']}/report")
    assert page.status_code == 404  # no session: the same answer as "not yours"


def test_the_report_downloads_for_the_sessions_browser(
    client: Any, backend: Backend
) -> None:
    client.get("/")  # the CSRF cookie, as the page has it
    csrf = {
        "Origin": "http://testserver",
        "X-CSRFToken": client.cookies["csrftoken"].value,
    }
    response = client.post(
        "/api/upload", {"files": _file("people.csv", GOOD_CSV)}, headers=csrf
    )
    upload_id = response.json()["id"]
    processed = client.post(
        "/api/process", "{}", content_type="application/json", headers=csrf
    ).json()
    assert processed.get("status") == "completed", processed
    file_id = client.get(f"/api/sessions/{upload_id}").json()["files"][0]["id"]

    report = client.get(f"/sessions/{upload_id}/files/{file_id}/report")

    assert report.status_code == 200
    assert report["Content-Disposition"] == 'attachment; filename="people.report.html"'
    html = report.content.decode()
    assert "<title>Profile of people.csv</title>" in html
    assert "http://" not in html and "https://" not in html  # opens offline
    dashboard = client.get(f"/sessions/{upload_id}/").content.decode()
    assert f"/api/sessions/{upload_id}/files/{file_id}/profile" in dashboard
    assert f"/sessions/{upload_id}/files/{file_id}/report" in dashboard


def _file(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/csv")


MARKED_CSV = b"country,score\nNA,-999\nFR,12\nDE,-999\nNA,7\n"


def column(profile: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in profile["columns"] if c["name"] == name)


def test_null_markers_change_per_upload_and_stay_for_later_runs(
    api: Api, backend: Backend
) -> None:
    upload_id = api.new_session(("scores.csv", MARKED_CSV))
    default = api.process(upload_id).json()
    assert default["nullMarkers"] == {"add": [], "remove": []}
    profile = api.analytics(upload_id).json()["files"][0]["profile"]
    assert column(profile, "country")["nullCount"] == 2  # NA is missing by default
    assert column(profile, "score")["nullCount"] == 0

    api.upload(("more.csv", MARKED_CSV), session_id=upload_id)
    changed = api.process(
        upload_id, body={"nullMarkers": {"add": ["-999"], "remove": ["NA"]}}
    ).json()

    assert changed["nullMarkers"] == {"add": ["-999"], "remove": ["NA"]}
    for entry in api.analytics(upload_id).json()["files"]:
        profile = entry["profile"]
        assert column(profile, "country")["nullCount"] == 0  # Namibia
        assert column(profile, "score")["nullCount"] == 2
        assert column(profile, "score")["min"] == 7
    # A later run without the field keeps the upload's markers.
    api.upload(("third.csv", MARKED_CSV), session_id=upload_id)
    api.process(upload_id)
    last = api.analytics(upload_id).json()["files"][-1]["profile"]
    assert column(last, "score")["nullCount"] == 2


@pytest.mark.parametrize(
    "markers",
    [
        {"add": ["x"], "remove": ["x"]},
        {"add": [""]},
        {"add": ["y" * 65]},
        {"add": "n/a"},
        {"addd": ["x"]},  # a misspelt field is not an empty one
        {"add": [5]},  # not the text "5"
        {"remove": [1.5]},
    ],
)
def test_bad_null_markers_are_refused_before_anything_runs(
    api: Api, backend: Backend, markers: dict[str, Any]
) -> None:
    upload_id = api.new_session()
    assert_error(api.process(upload_id, body={"nullMarkers": markers}), 400, "invalid")
    assert api.get(upload_id).json()["status"] == "uploaded"


def test_a_refused_process_request_keeps_the_markers_of_the_upload(
    api: Api, backend: Backend
) -> None:
    upload_id = api.new_session()
    api.process(upload_id, body={"nullMarkers": {"add": ["n/a"]}})
    kept = api.get(upload_id).json()["nullMarkers"]
    assert kept["add"] == ["n/a"]
    for body in ({"nullMarkers": {"addd": ["x"]}}, {"nullmarkers": {"add": []}}):
        response = api.process(upload_id, body=body)
        assert_error(response, 400, "invalid")
        assert "Unknown field" in response.json()["message"]
    assert api.get(upload_id).json()["nullMarkers"] == kept
