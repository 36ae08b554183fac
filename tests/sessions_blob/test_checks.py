from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from sessions_blob.checks import check_settings


def ids(settings: Any) -> set[str]:
    return {message.id for message in check_settings()}


def test_project_settings_pass() -> None:
    call_command("check", fail_level="WARNING", stdout=StringIO())


def test_unknown_storage_alias(settings: Any) -> None:
    settings.SESSIONS_BLOB_STORAGE_ALIAS = "nowhere"
    assert "sessions_blob.E001" in ids(settings)
    with pytest.raises(SystemCheckError, match=r"sessions_blob\.E001"):
        call_command("check", stdout=StringIO())


def test_non_positive_limits(settings: Any) -> None:
    settings.SESSIONS_BLOB_MAX_SIZE = 0
    settings.SESSIONS_BLOB_MAX_RETRIES = -1
    assert {"sessions_blob.E002", "sessions_blob.E003"} <= ids(settings)


def test_cookie_outliving_the_session_warns(settings: Any) -> None:
    settings.SESSIONS_BLOB_MAX_AGE = settings.SESSION_COOKIE_AGE - 1
    assert "sessions_blob.W002" in ids(settings)


def test_non_atomic_storage_warns(settings: Any, tmp_path: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    assert "sessions_blob.W001" not in ids(settings)
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": {"BACKEND": "tests.sessions_blob.test_checks.PlainStorage"},
    }
    assert "sessions_blob.W001" in ids(settings)


def test_other_engines_are_left_alone(settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    settings.SESSIONS_BLOB_STORAGE_ALIAS = "nowhere"
    assert ids(settings) == set()


from django.core.files.storage import Storage  # noqa: E402


class PlainStorage(Storage):
    """A storage the engine knows nothing about."""
