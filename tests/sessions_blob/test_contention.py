"""A session write that met a newer version on every retry answers 503."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client
from django.urls import path

from sessions_blob.backends.storage import SessionStore
from tests.support.tiers import Tier

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def changed_meanwhile(request: HttpRequest) -> JsonResponse:
    """Another request changes the session between this one's read and write."""
    request.session["mine"] = request.session.get("mine", 0) + 1
    other = SessionStore(request.session.session_key)
    other["theirs"] = other.get("theirs", 0) + 1
    other.save()
    return JsonResponse({})


def deleted_meanwhile(request: HttpRequest) -> JsonResponse:
    """Another request deletes the session between this one's read and write."""
    request.session["mine"] = request.session.get("mine", 0) + 1
    SessionStore(request.session.session_key).delete()
    return JsonResponse({})


urlpatterns = [
    path("changed-meanwhile", changed_meanwhile),
    path("deleted-meanwhile", deleted_meanwhile),
]


@pytest.mark.parametrize("tier", ["memory", "s3"], indirect=True)
def test_retries_used_up_answer_503_and_save_nothing(
    tier: Tier, no_retries: None
) -> None:
    seed = SessionStore()
    seed["mine"] = 0
    seed.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = seed.session_key

    response = client.get("/changed-meanwhile")

    assert response.status_code == 503  # Django's middleware: 400
    assert response["Retry-After"] == "1"
    assert response["Cache-Control"] == "no-store"
    assert dict(SessionStore(seed.session_key).items()) == {"mine": 0, "theirs": 1}


@pytest.fixture
def no_retries(settings: Any) -> None:
    """The one conflict uses the whole retry budget."""
    settings.SESSIONS_BLOB_MAX_RETRIES = 0


@pytest.mark.parametrize("tier", ["memory"], indirect=True)
def test_a_session_deleted_meanwhile_still_answers_400(tier: Tier) -> None:
    """Django's answer stays for a session that is gone (a logout elsewhere)."""
    seed = SessionStore()
    seed["mine"] = 0
    seed.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = seed.session_key

    response = client.get("/deleted-meanwhile")

    assert response.status_code == 400
    assert not SessionStore().exists(seed.session_key)


@pytest.mark.parametrize("tier", ["memory"], indirect=True)
def test_the_async_chain_answers_503_too(tier: Tier, no_retries: None) -> None:
    """Under ASGI the middleware saves with asave(): same answer."""
    seed = SessionStore()
    seed["mine"] = 0
    seed.save()

    async def request() -> Any:
        client = AsyncClient()
        client.cookies[settings.SESSION_COOKIE_NAME] = seed.session_key
        return await client.get("/changed-meanwhile")

    response = async_to_sync(request)()
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert dict(SessionStore(seed.session_key).items()) == {"mine": 0, "theirs": 1}
