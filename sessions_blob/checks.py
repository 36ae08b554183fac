"""System checks: misconfiguration is reported by ``manage.py check``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Tags, Warning, register
from django.core.files.storage import InMemoryStorage

from sessions_blob.backends import configured_engine
from sessions_blob.conf import conf


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    engine = configured_engine()
    if engine is None:
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
        if isinstance(store.storage, InMemoryStorage):
            messages.append(
                Warning(
                    f"STORAGES[{alias!r}] is InMemoryStorage: sessions live in one "
                    "process, are lost on restart and are not shared between "
                    "workers or instances.",
                    hint="Use it for tests only; use S3Storage or "
                    "FileSystemStorage to run the site.",
                    id="sessions_blob.W003",
                )
            )
        elif not store.atomic:
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
    if getattr(engine, "uses_cache", False):
        alias = settings.SESSION_CACHE_ALIAS
        if alias not in settings.CACHES:
            messages.append(
                Error(
                    f"SESSION_CACHE_ALIAS is {alias!r}, which is not in CACHES: "
                    f"{settings.SESSION_ENGINE} would fail to reach its cache on "
                    "every request.",
                    hint=f'Add CACHES["{alias}"] or set SESSION_CACHE_ALIAS.',
                    id="sessions_blob.E004",
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
    from sessions_blob.doctor import ERROR, INFO, WARNING, diagnose

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
    kinds = {ERROR: Error, WARNING: Warning, INFO: Info}
    for finding in findings:
        kind = kinds.get(finding.level)
        if kind is None:  # OK: nothing to say
            continue
        messages.append(
            kind(
                f"Session storage, {finding.topic}: {finding.title}",
                hint=finding.fix or None,
                id=finding.check_id,
            )
        )
    return messages
