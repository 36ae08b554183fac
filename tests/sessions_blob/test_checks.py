from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.checks import ERROR, INFO, WARNING, run_checks
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


def test_unknown_cache_alias_of_the_cached_tier(settings: Any) -> None:
    settings.SESSION_ENGINE = "sessions_blob.backends.cached_storage"
    settings.SESSION_CACHE_ALIAS = "nowhere"
    assert "sessions_blob.E004" in ids(settings)
    with pytest.raises(SystemCheckError, match=r"sessions_blob\.E004"):
        call_command("check", stdout=StringIO())
    settings.SESSION_CACHE_ALIAS = "default"
    assert "sessions_blob.E004" not in ids(settings)
    settings.SESSION_ENGINE = "sessions_blob.backends.storage"  # needs no cache
    settings.SESSION_CACHE_ALIAS = "nowhere"
    assert "sessions_blob.E004" not in ids(settings)


def test_memory_storage_warns_without_deploy(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    assert "sessions_blob.W003" in {m.id for m in run_checks()}
    with pytest.raises(SystemCheckError, match=r"sessions_blob\.W003"):
        call_command("check", fail_level="WARNING", stdout=StringIO())


def test_deploy_check_levels_match_their_ids(settings: Any, tmp_path: Any) -> None:
    """Local disk: the store finding is information (I106), not a warning."""
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    messages = {
        m.id: m
        for m in run_checks(include_deployment_checks=True)
        if m.id and m.id.startswith("sessions_blob.")
    }
    assert "sessions_blob.I106" in messages
    assert messages["sessions_blob.I106"].level == INFO
    assert not any(i.startswith("sessions_blob.W10") for i in messages)
    for check_id, message in messages.items():
        letter = check_id.split(".")[1][0]
        assert {"E": ERROR, "W": WARNING, "I": INFO}[letter] == message.level
