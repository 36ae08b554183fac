"""Who may reach an upload (issue 11): the upload's public id grants nothing,
the session key is the credential and shows nowhere but in its cookie or
the API's own header, the header is the API's alone and never a login, and a
login starts clean."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.test import Client, RequestFactory

from sessions_blob.backends.storage import SessionStore
from tests.support.uploads import key_of, upload_exists
from tests.uploads.conftest import GOOD_CSV, Api, Backend, assert_error
from uploads.middleware import SessionMiddleware

pytestmark = pytest.mark.django_db


def _routes(upload_id: str, file_id: str) -> list[tuple[str, str]]:
    return [
        ("get", f"/api/sessions/{upload_id}"),
        ("get", f"/api/sessions/{upload_id}/analytics"),
        ("get", f"/api/sessions/{upload_id}/files/{file_id}"),
        ("delete", f"/api/sessions/{upload_id}"),
    ]


def _processed(api: Api) -> tuple[str, str]:
    upload_id = api.new_session(("a.csv", GOOD_CSV))
    assert api.process(upload_id).status_code == 200
    file_id = api.get(upload_id).json()["files"][0]["id"]
    return upload_id, file_id


def test_the_public_id_alone_grants_nothing(api: Api, backend: Backend) -> None:
    upload_id, file_id = _processed(api)
    other = Api(Client()).new_session()  # a session of someone else's
    nowhere = uuid.uuid4().hex
    strangers = {
        "no credential": {},
        "another session": {"X-Session-ID": key_of(other)},
    }
    for label, headers in strangers.items():
        client = Client()
        for method, path in _routes(upload_id, file_id):
            mine = getattr(client, method)(path, headers=headers)
            missing = getattr(client, method)(
                path.replace(upload_id, nowhere), headers=headers
            )
            assert mine.status_code == 404, (label, path)
            # "not yours" and "does not exist" are one answer
            assert mine.json() == missing.json(), (label, path)
            assert mine.json()["code"] == "session_not_found"
        processed = client.post(
            "/api/process",
            {"id": upload_id},
            content_type="application/json",
            headers=headers,
        )
        assert processed.status_code == 404, label
        page = client.get(f"/sessions/{upload_id}/", headers=headers)
        assert page.status_code == 404, label
    # Nothing was harmed: the owner still has everything.
    assert api.get(upload_id).json()["status"] == "completed"
    assert api.analytics(upload_id).status_code == 200


def test_the_key_shows_only_where_it_belongs(
    api: Api, backend: Backend, settings: Any
) -> None:
    """The creating response's X-Session-ID (API clients only) and the
    cookie; no body, URL, Location or later header holds it."""
    settings.UPLOADS_PROCESSING_MODE = "queue"
    created = api.upload(("a.csv", GOOD_CSV))
    key = created["X-Session-ID"]
    upload_id = created.json()["id"]
    assert key not in created.content.decode()
    queued = api.process(upload_id)
    assert queued.status_code == 202
    assert queued["Location"].endswith(f"/api/sessions/{upload_id}")
    responses = [
        queued,
        api.get(upload_id),
        api.analytics(upload_id),
        api.upload(("b.csv", GOOD_CSV), session_id=upload_id),
    ]
    for response in responses:
        everything = response.content.decode() + str(dict(response.headers))
        assert key not in everything, response
        assert "X-Session-ID" not in response.headers or response.status_code == 201
    assert "X-Session-ID" not in responses[-1]  # only the creating upload's


def test_a_browser_never_gets_the_key_in_a_header(backend: Backend) -> None:
    """Page scripts could read a response header: a browser's first upload
    (it sends Sec-Fetch-Site) gets the HttpOnly cookie alone."""
    client = Client(enforce_csrf_checks=True)
    client.get("/")  # the page sets the CSRF cookie, as for the upload page
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    response = client.post(
        "/api/upload",
        {"files": [_csv()]},
        headers={"Sec-Fetch-Site": "same-origin", "X-CSRFToken": token},
    )
    assert response.status_code == 201
    assert django_settings.SESSION_COOKIE_NAME in response.cookies
    assert "X-Session-ID" not in response


def _csv() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("a.csv", GOOD_CSV, "text/csv")


def test_the_header_is_the_apis_alone(django_user_model: Any) -> None:
    """A logged-in staff member's key sent in X-Session-ID: the admin and the
    pages ignore it (the admin's login page, not the admin)."""
    boss = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    browser = Client()
    browser.force_login(boss)
    key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert browser.get("/admin/").status_code == 200
    stranger = Client()
    admin = stranger.get("/admin/", headers={"X-Session-ID": key})
    assert admin.status_code == 302 and "/admin/login/" in admin["Location"]
    add_user = stranger.get("/admin/auth/user/add/", headers={"X-Session-ID": key})
    assert add_user.status_code == 302
    assert django_user_model.objects.count() == 1


def test_a_header_session_is_never_a_login(django_user_model: Any) -> None:
    """Under the API too: the session is read, its login is not."""
    boss = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    browser = Client()
    browser.force_login(boss)
    key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    for path in ("/api/sessions/x", "/"):
        request = RequestFactory().get(path, headers={"X-Session-ID": key})
        SessionMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type]
        AuthenticationMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type]
        assert not request.user.is_authenticated, path
    # The session itself is intact for its owner.
    assert browser.get("/admin/").status_code == 200


def test_a_login_starts_clean(
    backend: Backend, django_user_model: Any, settings: Any
) -> None:
    """A planted session with an attacker's upload: logging in changes the
    key and drops the upload, files and all."""
    django_user_model.objects.create_user("ada", password="pw")
    attacker = Api(Client())
    planted = attacker.new_session(("evil.csv", GOOD_CSV))
    key = key_of(planted)
    files = backend.files()
    victim = Client()
    victim.cookies[django_settings.SESSION_COOKIE_NAME] = key
    assert victim.get("/").status_code == 200  # the planted upload shows...
    assert victim.login(username="ada", password="pw")
    new_key = victim.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert new_key != key
    assert "upload" not in SessionStore(new_key).load()
    assert not any(upload_exists(name) for name in files)
    assert_error(attacker.get(planted), 404, "session_not_found")
    assert 'data-upload-id=""' in victim.get("/").content.decode()


def test_deleting_an_upload_keeps_the_login(
    backend: Backend, django_user_model: Any
) -> None:
    """A logged-in user's upload is deleted; the user stays logged in."""
    ada = django_user_model.objects.create_user("ada", password="pw")
    browser = Client()
    browser.force_login(ada)
    made = browser.post("/api/upload", {"files": [_csv()]})
    assert made.status_code == 201
    upload_id = made.json()["id"]
    assert browser.delete(f"/api/sessions/{upload_id}").status_code == 204
    assert backend.files() == []
    assert browser.get(f"/api/sessions/{upload_id}").status_code == 404
    session = SessionStore(browser.cookies[django_settings.SESSION_COOKIE_NAME].value)
    assert session.load().get("_auth_user_id") == str(ada.pk)
