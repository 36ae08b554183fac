"""System checks: the uploads API's misconfiguration shows in ``manage.py check``."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from uploads.conf import conf

MIDDLEWARE = "uploads.middleware.SessionMiddleware"
#: S3's bounds on multipart uploads (parts but the last, parts per upload).
MIN_PART_SIZE = 5 * 1024**2
MAX_PARTS = 10_000


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if conf.STORAGE_ALIAS not in settings.STORAGES:
        messages.append(
            Error(
                f"UPLOADS_STORAGE_ALIAS is {conf.STORAGE_ALIAS!r}, which is not in "
                "STORAGES.",
                hint="Add that storage or set UPLOADS_STORAGE_ALIAS.",
                id="uploads.E001",
            )
        )
    for name in (
        "MAX_FILE_SIZE",
        "MAX_FILES",
        "PROFILE_THREADS",
        "URL_EXPIRY",
        "PROCESSING_TIMEOUT",
        "DIRECT_UPLOAD_EXPIRY",
        "DIRECT_URL_EXPIRY",
    ):
        if getattr(conf, name) <= 0:
            messages.append(
                Error(f"UPLOADS_{name} must be positive.", id="uploads.E002")
            )
    if conf.DIRECT_PART_SIZE < MIN_PART_SIZE:
        messages.append(
            Error(
                f"UPLOADS_DIRECT_PART_SIZE is {conf.DIRECT_PART_SIZE} bytes; S3 "
                f"takes parts of at least {MIN_PART_SIZE} (5 MiB).",
                id="uploads.E004",
            )
        )
    elif -(-conf.MAX_FILE_SIZE // conf.DIRECT_PART_SIZE) > MAX_PARTS:
        messages.append(
            Error(
                f"UPLOADS_MAX_FILE_SIZE over UPLOADS_DIRECT_PART_SIZE is more than "
                f"{MAX_PARTS} parts, S3's limit.",
                hint="Raise UPLOADS_DIRECT_PART_SIZE.",
                id="uploads.E005",
            )
        )
    engine = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(engine, "save_if_unchanged"):
        messages.append(
            Error(
                f"SESSION_ENGINE {settings.SESSION_ENGINE!r} has no "
                "save_if_unchanged(): processing could run twice at once.",
                hint='Use SESSION_ENGINE = "sessions_blob.backends.storage".',
                id="uploads.E003",
            )
        )
    if MIDDLEWARE not in settings.MIDDLEWARE:
        messages.append(
            Warning(
                f"{MIDDLEWARE} is not in MIDDLEWARE: API clients cannot name their "
                "session with the X-Session-ID header.",
                hint="Use it in place of Django's SessionMiddleware.",
                id="uploads.W001",
            )
        )
    return messages
