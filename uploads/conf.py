"""The one place that reads the uploads API's settings.

Each property reads ``django.conf.settings`` on access (never at import), so
``override_settings`` and pytest-django's ``settings`` fixture work.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PROCESSING_MODES = ("inline", "queue")


class Settings:
    @property
    def MAX_FILE_SIZE(self) -> int:
        """Largest accepted file, in bytes (413 ``file_too_large`` beyond)."""
        return int(getattr(settings, "UPLOADS_MAX_FILE_SIZE", 1024**3))

    @property
    def MAX_FILES(self) -> int:
        """Most files in one upload session (413 ``too_many_files`` beyond)."""
        return int(getattr(settings, "UPLOADS_MAX_FILES", 10))

    @property
    def API_PREFIX(self) -> str:
        """Path prefix of the API: the only paths that read ``X-Session-ID``."""
        return str(getattr(settings, "UPLOADS_API_PREFIX", "/api/"))

    @property
    def STORAGE_ALIAS(self) -> str:
        """Alias in ``STORAGES`` that holds the uploaded files and analytics."""
        return str(getattr(settings, "UPLOADS_STORAGE_ALIAS", "default"))

    @property
    def PROFILE_MEMORY_LIMIT(self) -> str:
        """DuckDB ``memory_limit`` while profiling one file (it spills beyond)."""
        return str(getattr(settings, "UPLOADS_PROFILE_MEMORY_LIMIT", "512MB"))

    @property
    def PROFILE_THREADS(self) -> int:
        """DuckDB ``threads`` while profiling one file."""
        return int(getattr(settings, "UPLOADS_PROFILE_THREADS", 2))

    @property
    def URL_EXPIRY(self) -> int:
        """Lifetime in seconds of the signed file URLs given out on S3."""
        return int(getattr(settings, "UPLOADS_URL_EXPIRY", 300))

    @property
    def DIRECT_PART_SIZE(self) -> int:
        """Bytes per part of a direct upload: a larger file is sent in parts
        of this size (S3 multipart; at least 5 MiB, at most 10,000 parts)."""
        return int(getattr(settings, "UPLOADS_DIRECT_PART_SIZE", 16 * 1024**2))

    @property
    def DIRECT_UPLOAD_EXPIRY(self) -> int:
        """Seconds a direct upload may take from its start to ``complete``;
        past it the upload is aborted and its parts deleted."""
        return int(getattr(settings, "UPLOADS_DIRECT_UPLOAD_EXPIRY", 6 * 3600))

    @property
    def DIRECT_URL_EXPIRY(self) -> int:
        """Lifetime in seconds of one signed part URL (ask for a new one once
        it has expired)."""
        return int(getattr(settings, "UPLOADS_DIRECT_URL_EXPIRY", 900))

    @property
    def CORS_ORIGINS(self) -> list[str]:
        """The site's origins (``https://analytics.example.com``), which the
        bucket's CORS rule lets send parts (``manage.py uploads_storage``)."""
        return list(getattr(settings, "UPLOADS_CORS_ORIGINS", []))

    @property
    def DIRECT_ORIGIN(self) -> str:
        """Where browsers send direct-upload parts (``scheme://host[:port]``),
        for the upload page's Content-Security-Policy. Empty: asked of the
        storage's S3 client, which a fresh instance (a serverless function)
        creates for its first page view only for this. ``uploads_storage
        doctor`` checks it against the client's answer."""
        return str(getattr(settings, "UPLOADS_DIRECT_ORIGIN", "")).rstrip("/")

    @property
    def PROCESSING_TIMEOUT(self) -> int:
        """Seconds without a sign of life (queueing, start, or the heartbeat a
        running run writes every quarter of this) after which a ``queued`` or
        ``processing`` session is presumed abandoned (its worker was killed):
        the next read marks it ``failed`` and it may be processed again."""
        return int(getattr(settings, "UPLOADS_PROCESSING_TIMEOUT", 3600))

    @property
    def PROCESSING_MODE(self) -> str:
        """``inline``: ``POST /api/process`` profiles in the request (200).
        ``queue``: it hands the session id to a Django task and answers 202;
        a worker (``manage.py db_worker``) does the work."""
        mode = str(getattr(settings, "UPLOADS_PROCESSING_MODE", "inline"))
        if mode not in PROCESSING_MODES:
            raise ImproperlyConfigured(
                f"Invalid setting UPLOADS_PROCESSING_MODE={mode!r}: use "
                + " or ".join(repr(m) for m in PROCESSING_MODES)
                + "."
            )
        return mode

    @property
    def RATE_WINDOW(self) -> int:
        """Seconds of a rate-limit window (``uploads.limits``)."""
        return int(getattr(settings, "UPLOADS_RATE_WINDOW", 3600))

    @property
    def NEW_SESSIONS_PER_WINDOW(self) -> int:
        """Upload sessions one client may create per window (429 beyond)."""
        return int(getattr(settings, "UPLOADS_NEW_SESSIONS_PER_WINDOW", 60))

    @property
    def UPLOAD_BYTES_PER_WINDOW(self) -> int:
        """Bytes one client may upload per window (429 beyond)."""
        return int(getattr(settings, "UPLOADS_UPLOAD_BYTES_PER_WINDOW", 10 * 1024**3))

    @property
    def CLIENT_IP_HEADER(self) -> str:
        """Header whose last address is the client's (set it only behind a
        proxy that appends to it, e.g. ``X-Forwarded-For``); empty: the
        connection's address."""
        return str(getattr(settings, "UPLOADS_CLIENT_IP_HEADER", ""))

    @property
    def TASK_BACKEND(self) -> str:
        """Alias in ``TASKS`` that queue mode enqueues processing jobs on."""
        return str(getattr(settings, "UPLOADS_TASK_BACKEND", "default"))


conf = Settings()
