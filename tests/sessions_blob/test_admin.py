"""The admin pages for sessions in object storage, with Django's test client,
on local disk and on S3 (moto over HTTP), in a project with only the engine."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Permission
from django.test import Client

from sessions_blob import user_index
from sessions_blob.admin import StoredSessionAdmin
from sessions_blob.records import SessionRecord, object_id
from sessions_blob.stores import object_store
from tests.support.sessions import make_session, overwrite, session_exists, tamper
from tests.support.tiers import Tier

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.parametrize("tier", ["filesystem", "s3"], indirect=True),
]

LIST = "/admin/sessions_blob/storedsession/"


# -- fixtures -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _tier(tier: Tier) -> Tier:
    return tier


@pytest.fixture
def admin_client(client: Client, django_user_model: Any) -> Client:
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def staff_client(django_user_model: Any, *permissions: str) -> Client:
    user = django_user_model.objects.create_user(
        f"staff-{uuid.uuid4().hex[:6]}", password="pw", is_staff=True
    )
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def row_ids(html: str) -> list[str]:
    return re.findall(r'data-object-id="([0-9a-f]{64})"', html)


# -- the index and permissions ----------------------------------------------------


def test_admin_index_lists_the_sessions_for_permitted_staff(
    admin_client: Client, django_user_model: Any
) -> None:
    page = admin_client.get("/admin/").content.decode()
    assert "Sessions (object storage)" in page
    assert LIST in page
    viewer = staff_client(django_user_model, "view_storedsession")
    assert LIST in viewer.get("/admin/").content.decode()
    nobody = staff_client(django_user_model)
    assert "Sessions (object storage)" not in nobody.get("/admin/").content.decode()


def test_refusals(client: Client, django_user_model: Any, tier: Tier) -> None:
    key = make_session(a=1).session_key
    detail = f"{LIST}{object_id(key)}/"
    assert client.get(LIST).status_code == 302  # anonymous: to the login page
    user = django_user_model.objects.create_user("plain", password="pw")
    client.force_login(user)
    response = client.get(LIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    nobody = staff_client(django_user_model)
    assert nobody.get(LIST).status_code == 403
    assert nobody.get(detail).status_code == 403
    viewer = staff_client(django_user_model, "view_storedsession")
    assert viewer.get(LIST).status_code == 200
    assert viewer.get(detail).status_code == 200
    assert viewer.get(f"{detail}delete/").status_code == 403
    assert viewer.post(f"{detail}delete/").status_code == 403
    refused = viewer.post(
        LIST, {"action": "delete_selected", "_selected_action": [object_id(key)]}
    )
    assert refused.status_code == 403
    assert viewer.post(f"{LIST}delete-expired/").status_code == 403
    assert session_exists(key)
    assert not LogEntry.objects.exists()


# -- the list -------------------------------------------------------------------


def test_list_shows_sessions_with_their_state(admin_client: Client, tier: Tier) -> None:
    live = make_session(a=1)
    expired = make_session(expired=True, b=2)
    page = admin_client.get(LIST).content.decode()
    ids = row_ids(page)
    assert object_id(live.session_key) in ids
    assert object_id(expired.session_key) in ids
    assert live.session_key[:8] + "…" in page
    assert live.session_key not in page  # never the whole key
    assert 'class="state state-expired"' in page
    headings = re.findall(r'<th scope="col" class="column-(\w+)">', page)
    assert headings == ["key", "state", "user", "size", "last_modified", "expires"]
    assert ">boss</a>" in page  # the admin's own session, with its user
    if tier.s3:
        assert "S3 lists objects by name" in page
    else:
        assert "Newest first" in page


def test_pages_follow_the_listing_without_listing_everything(
    admin_client: Client, tier: Tier, monkeypatch: Any
) -> None:
    monkeypatch.setattr(StoredSessionAdmin, "list_per_page", 3)
    keys = {object_id(make_session(n=n).session_key) for n in range(7)}
    seen: list[str] = []
    url: str | None = LIST
    pages = 0
    while url:
        tier.http_calls().clear()
        html = admin_client.get(url).content.decode()
        if tier.s3:
            assert tier.http_calls()["ListObjectsV2"] == 1
        seen += row_ids(html)
        pages += 1
        found = re.search(r'href="([^"]+)" class="next-page"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert pages == 3  # 7 sessions and the admin's own, 3 a page
    assert len(seen) == len(set(seen)) == 8
    assert keys <= set(seen)
    if not tier.s3:  # newest first where the storage can tell
        modified = [stored_record_by_id(oid).modified for oid in seen]
        assert modified == sorted(modified, reverse=True)


def stored_record_by_id(oid: str) -> SessionRecord:
    from django.conf import settings

    found = object_store().read(f"{settings.SESSIONS_BLOB_PREFIX}{oid}.json")
    assert found is not None
    return SessionRecord.from_bytes(found.data)


def test_a_forged_page_token_starts_over(admin_client: Client) -> None:
    response = admin_client.get(LIST, {"page": "not-a-token"})
    assert response.status_code == 302
    assert response["Location"] == LIST


def test_filter_live_and_expired(admin_client: Client) -> None:
    live = object_id(make_session(a=1).session_key)
    expired = object_id(make_session(expired=True, a=2).session_key)
    broken = make_session(a=3).session_key
    tamper(broken)
    live_ids = row_ids(admin_client.get(LIST, {"state": "live"}).content.decode())
    assert live in live_ids and expired not in live_ids
    gone = row_ids(admin_client.get(LIST, {"state": "expired"}).content.decode())
    assert gone == [expired]
    bad = row_ids(admin_client.get(LIST, {"state": "unreadable"}).content.decode())
    assert bad == [object_id(broken)]


def test_search_by_key_prefix_and_whole_key(admin_client: Client) -> None:
    sessions = [make_session(n=n) for n in range(4)]
    target = sessions[2].session_key
    found = row_ids(admin_client.get(LIST, {"q": target[:6]}).content.decode())
    assert object_id(target) in found
    assert all(
        object_id(s.session_key) not in found
        for s in sessions
        if not s.session_key.startswith(target[:6])
    )
    exact = admin_client.get(LIST, {"q": target}).content.decode()
    assert row_ids(exact) == [object_id(target)]
    assert "looked up directly" in exact
    assert row_ids(admin_client.get(LIST, {"q": "z" * 32}).content.decode()) == []
    assert row_ids(admin_client.get(LIST, {"q": "../etc"}).content.decode()) == []


def test_search_scans_a_bounded_number_of_objects(
    admin_client: Client, monkeypatch: Any
) -> None:
    monkeypatch.setattr(StoredSessionAdmin, "list_per_page", 2)
    monkeypatch.setattr(StoredSessionAdmin, "max_scan", 4)
    for n in range(9):
        make_session(n=n)
    html = admin_client.get(LIST, {"q": "0000000"}).content.decode()
    assert "The search read 4 objects without filling the page" in html
    assert "Continue scanning" in html


# -- the detail page -------------------------------------------------------------


def test_detail_shows_verified_data_and_metadata(
    admin_client: Client, tier: Tier
) -> None:
    session = make_session(a=1)
    session[SESSION_KEY] = "12345"
    session["_auth_user_hash"] = "secret-hash"
    session["cart"] = ["apple", "pear"]
    session.save()
    oid = object_id(session.session_key)
    response = admin_client.get(f"{LIST}{oid}/")
    html = response.content.decode()
    assert response.status_code == 200
    data = re.search(
        r'<pre class="session-data" id="session-data">(.*?)</pre>', html, re.S
    )
    assert data is not None
    shown = json.loads(data.group(1).replace("&quot;", '"').replace("&#x27;", "'"))
    assert shown["cart"] == ["apple", "pear"]
    assert shown["_auth_user_hash"] == "•••• (hidden)"
    assert "secret-hash" not in html
    assert ">live</span>" in html
    found = object_store().read(f"{tier.prefix}{oid}.json")
    assert found is not None and found.version.strip('"') in html  # ETag / digest
    if tier.s3:
        assert "ContentType" in html and "application/json" in html
    assert admin_client.get(f"{LIST}{oid}/analytics/").status_code == 404


def test_detail_of_a_tampered_session_is_not_decoded(admin_client: Client) -> None:
    key = make_session(secret="plans").session_key
    tamper(key)
    html = admin_client.get(f"{LIST}{object_id(key)}/").content.decode()
    assert ">tampered</span>" in html
    assert "signature does not verify" in html
    assert "is_admin" not in html  # the forged data is never decoded
    assert 'id="session-data"' not in html


def test_detail_of_a_corrupt_object(admin_client: Client) -> None:
    key = make_session(a=1).session_key
    overwrite(key, b"\x00not json")
    html = admin_client.get(f"{LIST}{object_id(key)}/").content.decode()
    assert ">corrupt</span>" in html and "Not a session record" in html


def test_detail_of_an_encrypted_session(admin_client: Client, settings: Any) -> None:
    settings.SESSIONS_BLOB_ENCRYPT = True
    key = make_session(card="4111").session_key
    html = admin_client.get(f"{LIST}{object_id(key)}/").content.decode()
    assert "&quot;card&quot;: &quot;4111&quot;" in html
    assert "aes-256-gcm-v1" in html


def test_detail_of_a_missing_session_is_404(admin_client: Client) -> None:
    assert admin_client.get(f"{LIST}{'0' * 64}/").status_code == 404
    assert admin_client.get(f"{LIST}../../etc/").status_code == 404


# -- actions ----------------------------------------------------------------------


def test_delete_selected(admin_client: Client, tier: Tier) -> None:
    doomed = make_session(a=1)
    kept = make_session(b=2)
    oid = object_id(doomed.session_key)
    confirm = admin_client.post(
        LIST, {"action": "delete_selected", "_selected_action": [oid]}
    )
    assert confirm.status_code == 200
    assert "Are you sure you want to delete 1 session" in confirm.content.decode()
    assert session_exists(doomed.session_key)  # nothing yet
    done = admin_client.post(
        LIST,
        {"action": "delete_selected", "_selected_action": [oid], "post": "yes"},
        follow=True,
    )
    assert "Deleted 1 sessions." in done.content.decode()
    assert not session_exists(doomed.session_key)
    assert session_exists(kept.session_key)
    entry = LogEntry.objects.get()
    assert entry.action_flag == DELETION and entry.object_id == oid
    assert doomed.session_key[:8] in entry.object_repr
    assert entry.user.username == "boss"


def test_delete_one_from_its_page(admin_client: Client) -> None:
    key = make_session(a=1).session_key
    url = f"{LIST}{object_id(key)}/delete/"
    assert "Are you sure" in admin_client.get(url).content.decode()
    assert admin_client.post(url).status_code == 302
    assert not session_exists(key)
    assert LogEntry.objects.filter(object_id=object_id(key)).count() == 1


def test_delete_all_expired(admin_client: Client) -> None:
    live = make_session(a=1)
    expired = make_session(expired=True, b=1)
    plain_expired = make_session(expired=True, a=1)
    response = admin_client.post(LIST, {"action": "delete_expired"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}delete-expired/"
    assert (
        "Delete every expired session"
        in admin_client.get(response["Location"]).content.decode()
    )
    done = admin_client.post(f"{LIST}delete-expired/", follow=True)
    assert "Deleted 2 expired sessions" in done.content.decode()
    assert not session_exists(expired.session_key)
    assert not session_exists(plain_expired.session_key)
    assert session_exists(live.session_key)
    entry = LogEntry.objects.get()
    assert entry.object_repr == "2 expired sessions" and entry.action_flag == DELETION


# -- sessions of a user -----------------------------------------------------------


def test_user_sessions_and_logout_everywhere(
    admin_client: Client, django_user_model: Any, tier: Tier
) -> None:
    ada = django_user_model.objects.create_user("ada", password="pw")
    laptop, phone = Client(), Client()
    assert laptop.login(username="ada", password="pw")
    assert phone.login(username="ada", password="pw")
    keys = {laptop.session.session_key, phone.session.session_key}
    assert set(user_index.session_ids(str(ada.pk))) == {object_id(k) for k in keys}
    found = admin_client.get(LIST, {"username": "ada"})
    assert found["Location"] == f"{LIST}user/{ada.pk}/"
    page = admin_client.get(found["Location"]).content.decode()
    assert set(row_ids(page)) == {object_id(k) for k in keys}
    tier.calls.clear()
    admin_client.get(found["Location"])
    assert tier.calls["list"] == 0  # the index, not a scan of the bucket
    admin_client.post(found["Location"])
    assert not any(session_exists(k) for k in keys)
    assert user_index.session_ids(str(ada.pk)) == []
    assert "_auth_user_id" not in laptop.session  # logged out
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2
    change = LogEntry.objects.get(action_flag=CHANGE)
    assert (
        change.object_id == str(ada.pk) and "ended 2 sessions" in change.change_message
    )


def test_viewers_cannot_log_users_out(
    admin_client: Client, django_user_model: Any
) -> None:
    ada = django_user_model.objects.create_user("ada", password="pw")
    browser = Client()
    browser.force_login(ada)
    viewer = staff_client(django_user_model, "view_storedsession")
    url = f"{LIST}user/{ada.pk}/"
    assert "Log out everywhere" not in viewer.get(url).content.decode()
    assert viewer.post(url).status_code == 403
    assert session_exists(browser.session.session_key)


# -- extension points ---------------------------------------------------------------


@pytest.mark.urls("tests.sessions_blob.urls_extended")
def test_an_app_extends_the_pages(admin_client: Client) -> None:
    """An app's subclass (tests/sessions_blob/urls_extended.py) adds a column,
    a box on the detail page, a note on the delete confirmation, a stylesheet."""
    notes = "/notes-admin/sessions_blob/storedsession/"
    key = make_session(cart=["apple", "pear"]).session_key
    tamper(make_session(cart=["forged"]).session_key)
    page = admin_client.get(notes).content.decode()
    headings = re.findall(r'<th scope="col" class="column-(\w+)">', page)
    assert headings[-1] == "cart" and ">Cart<" in page
    assert "2 items &lt;b&gt;" in page  # escaped: not marked safe
    # The admin's own session has no cart; the tampered one is never shown.
    assert page.count('class="field-cart"><span class="quiet">') == 2
    assert "forged" not in page
    assert 'href="/static/notes/admin.css"' in page
    detail = admin_client.get(f"{notes}{object_id(key)}/").content.decode()
    assert 'id="cart"' in detail and "cart box" in detail
    confirm = admin_client.post(
        notes, {"action": "delete_selected", "_selected_action": [object_id(key)]}
    ).content.decode()
    assert "1 carts are emptied." in confirm
