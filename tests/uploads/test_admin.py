"""The uploads of each session in the sessions admin (``uploads/admin.py``,
through the engine's extension points), on local disk and on S3."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from sessions_blob.records import object_id
from tests.support.sessions import make_session, session_exists
from tests.support.uploads import CSV, make_upload_session, upload_exists

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.parametrize("tier", ["filesystem", "s3"], indirect=True),
]

LIST = "/admin/sessions_blob/storedsession/"


@pytest.fixture(autouse=True)
def _uploads_on_the_tier(s3_uploads: None) -> None:
    """Uploads live where the sessions do (S3 on the S3 tier)."""


@pytest.fixture
def admin_client(client: Client, django_user_model: Any) -> Client:
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def test_the_list_has_an_upload_column(admin_client: Client) -> None:
    _upload, _ = make_upload_session(files=2)
    make_session(a=1)
    page = admin_client.get(LIST).content.decode()
    headings = re.findall(r'<th scope="col" class="column-(\w+)">', page)
    assert headings == [
        "key",
        "state",
        "user",
        "upload",
        "size",
        "last_modified",
        "expires",
    ]
    assert "completed, 2 files" in page
    assert 'href="/static/uploads/admin.css"' in page


def test_detail_shows_the_upload_and_serves_its_files(admin_client: Client) -> None:
    session, _ = make_upload_session(files=2)
    oid = object_id(session.session_key)
    html = admin_client.get(f"{LIST}{oid}/").content.decode()
    assert "Upload session: completed" in html
    assert "data-0.csv" in html and "data-1.csv" in html
    analytics = admin_client.get(f"{LIST}{oid}/analytics/")
    assert analytics.status_code == 200
    assert json.loads(b"".join(analytics.streaming_content))["schema_version"] == "1"
    assert analytics["Content-Security-Policy"] == "default-src 'none'; sandbox"
    file_id = session["upload"]["files"][0]["id"]
    download = admin_client.get(f"{LIST}{oid}/files/{file_id}/")
    assert b"".join(download.streaming_content) == CSV
    assert "data-0.csv" in download["Content-Disposition"]
    assert admin_client.get(f"{LIST}{oid}/files/{'0' * 32}/").status_code == 404
    plain = object_id(make_session(a=1).session_key)
    assert admin_client.get(f"{LIST}{plain}/analytics/").status_code == 404


def test_a_document_pointing_outside_its_folder_serves_nothing(
    admin_client: Client,
) -> None:
    """Only the upload's own files are served, whatever its document says."""
    session, _ = make_upload_session(files=1)
    doc = session["upload"]
    doc["files"][0]["path"] = "sessions/../../etc/passwd"
    doc["analytics_path"] = f"uploads/{uuid.uuid4().hex}/analytics.json"
    session["upload"] = doc
    session.save()
    oid = object_id(session.session_key)
    file_id = doc["files"][0]["id"]
    assert admin_client.get(f"{LIST}{oid}/files/{file_id}/").status_code == 404
    assert admin_client.get(f"{LIST}{oid}/analytics/").status_code == 404


def test_viewers_without_permission_get_no_files(
    admin_client: Client, django_user_model: Any
) -> None:
    session, _ = make_upload_session(files=1)
    oid = object_id(session.session_key)
    staff = django_user_model.objects.create_user("s", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(f"{LIST}{oid}/analytics/").status_code == 403


def test_deleting_sessions_deletes_their_uploads(admin_client: Client) -> None:
    doomed, names = make_upload_session(files=2)
    kept, kept_names = make_upload_session(files=1)
    oid = object_id(doomed.session_key)
    confirm = admin_client.post(
        LIST, {"action": "delete_selected", "_selected_action": [oid]}
    )
    assert "2 uploaded files and the analytics of 1 upload session" in (
        confirm.content.decode()
    )
    admin_client.post(
        LIST, {"action": "delete_selected", "_selected_action": [oid], "post": "yes"}
    )
    assert not session_exists(doomed.session_key)
    assert not any(upload_exists(n) for n in names)
    assert session_exists(kept.session_key)
    assert all(upload_exists(n) for n in kept_names)


def test_logout_everywhere_deletes_the_uploads_too(
    admin_client: Client, django_user_model: Any
) -> None:
    ada = django_user_model.objects.create_user("ada", password="pw")
    upload, names = make_upload_session(files=1)
    upload[SESSION_KEY] = str(ada.pk)
    upload.save()
    admin_client.post(f"{LIST}user/{ada.pk}/")
    assert not session_exists(upload.session_key)
    assert not any(upload_exists(n) for n in names)


def test_expired_sessions_leave_their_files_to_purge_uploads(
    admin_client: Client,
) -> None:
    """The admin's "delete expired" (like clearsessions) does not read the
    sessions, so their files wait for `manage.py purge_uploads`."""
    from django.core.management import call_command

    expired, names = make_upload_session(expired=True)
    admin_client.post(f"{LIST}delete-expired/")
    assert not session_exists(expired.session_key)
    assert all(upload_exists(n) for n in names)
    call_command("purge_uploads", "--min-age", "0", "-v", "0")
    assert not any(upload_exists(n) for n in names)
