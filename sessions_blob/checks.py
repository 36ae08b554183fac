"""System checks: misconfiguration is reported by ``manage.py check``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from sessions_blob.backends import configured_engine
from sessions_blob.conf import conf


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if configured_engine() is None:
        return []
    messages: list[CheckMessage] = []
    alias = conf.STORAGE_ALIAS
    if alias not in settings.STORAGES:
        messages.append(
            Error(
                f"SESSIONS_BLOB_STORAGE_ALIAS is {alias!r}, which is not in STORAGES.",
                hint=f'Add STORAGES["{alias}"] or set SESSIONS_BLOB_STORAGE_ALIAS.',
                id="sessions_blob.E001",
            )
        )
    else:
        from sessions_blob.stores import object_store

        store = object_store()
        if not store.atomic:
            messages.append(
                Warning(
                    f"STORAGES[{alias!r}] ({type(store.storage).__name__}) cannot "
                    "create or update session objects atomically across processes: "
                    "concurrent requests can lose updates or log users out.",
                    hint="Use S3Storage, FileSystemStorage or InMemoryStorage.",
                    id="sessions_blob.W001",
                )
            )
    for name in ("MAX_SIZE", "MAX_AGE"):
        if getattr(conf, name) <= 0:
            messages.append(
                Error(
                    f"SESSIONS_BLOB_{name} must be positive.", id="sessions_blob.E002"
                )
            )
    if conf.MAX_RETRIES < 0:
        messages.append(
            Error(
                "SESSIONS_BLOB_MAX_RETRIES must not be negative.",
                id="sessions_blob.E003",
            )
        )
    if settings.SESSION_COOKIE_AGE > conf.MAX_AGE:
        messages.append(
            Warning(
                "SESSION_COOKIE_AGE is longer than SESSIONS_BLOB_MAX_AGE: sessions "
                "end before their cookies do.",
                hint="Raise SESSIONS_BLOB_MAX_AGE to at least SESSION_COOKIE_AGE.",
                id="sessions_blob.W002",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def check_store(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``manage.py sessions_blob doctor``'s probes, under ``check --deploy``."""
    if configured_engine() is None or conf.STORAGE_ALIAS not in settings.STORAGES:
        return []
    from sessions_blob.doctor import ERROR, WARNING, diagnose

    try:
        findings = diagnose()
    except Exception as exc:  # a check reports; it never crashes `check`
        return [
            Warning(
                f"Could not probe the session storage: {exc}",
                hint="Run `manage.py sessions_blob doctor` once it is reachable.",
                id="sessions_blob.W100",
            )
        ]
    messages: list[CheckMessage] = []
    for finding in findings:
        if finding.level not in {WARNING, ERROR}:
            continue
        kind = Error if finding.level == ERROR else Warning
        messages.append(
            kind(
                f"Session storage, {finding.topic}: {finding.title}",
                hint=finding.fix or None,
                id=finding.check_id,
            )
        )
    return messages
