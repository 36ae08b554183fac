"""The one place that reads the engine's settings.

Each property reads ``django.conf.settings`` on access (never at import), so
``override_settings`` works in tests and in ``AppConfig.ready``.
"""

from __future__ import annotations

from django.conf import settings


class Settings:
    @property
    def STORAGE_ALIAS(self) -> str:
        """Alias in ``STORAGES`` that holds the session objects."""
        return getattr(settings, "SESSIONS_BLOB_STORAGE_ALIAS", "sessions")

    @property
    def PREFIX(self) -> str:
        """Folder (key prefix) of the session objects inside that storage."""
        prefix: str = getattr(settings, "SESSIONS_BLOB_PREFIX", "sessions/")
        return prefix.strip("/") + "/" if prefix.strip("/") else ""

    @property
    def MAX_SIZE(self) -> int:
        """Largest stored session object, in bytes."""
        return int(getattr(settings, "SESSIONS_BLOB_MAX_SIZE", 64 * 1024))

    @property
    def MAX_RETRIES(self) -> int:
        """Conflicting optimistic writes retried before ``UpdateError``."""
        return int(getattr(settings, "SESSIONS_BLOB_MAX_RETRIES", 16))

    @property
    def REQUIRE_CONDITIONAL_WRITES(self) -> bool:
        """Refuse to work on stores without ``If-None-Match``/``If-Match``."""
        return bool(
            getattr(settings, "SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES", False)
        )

    @property
    def PROBE_CONDITIONAL_WRITES(self) -> bool:
        """Race a few concurrent conditional PUTs under the probe prefix before
        trusting the store's conditional writes (once per storage instance)."""
        return bool(getattr(settings, "SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES", True))

    @property
    def MAX_AGE(self) -> int:
        """No session outlives its last write by more than this many seconds.

        Longer expiries are clamped, which lets ``clearsessions`` prove a
        session expired from the listing's last-modified time alone.
        """
        value = getattr(settings, "SESSIONS_BLOB_MAX_AGE", None)
        return int(value if value is not None else settings.SESSION_COOKIE_AGE)

    @property
    def REFRESH_THRESHOLD(self) -> int:
        """Seconds of remaining lifetime below which an unchanged session is
        rewritten (``SESSION_SAVE_EVERY_REQUEST``). Default: half the cookie age.
        """
        value = getattr(settings, "SESSIONS_BLOB_REFRESH_THRESHOLD", None)
        return int(value if value is not None else settings.SESSION_COOKIE_AGE // 2)

    @property
    def CLEAR_BATCH_SIZE(self) -> int:
        """Objects deleted per call by ``clearsessions`` (S3 allows 1,000)."""
        return min(1000, int(getattr(settings, "SESSIONS_BLOB_CLEAR_BATCH_SIZE", 1000)))

    @property
    def ENCRYPT(self) -> bool:
        """Encrypt session payloads at rest (AES-256-GCM, keys from SECRET_KEY)."""
        return bool(getattr(settings, "SESSIONS_BLOB_ENCRYPT", False))

    @property
    def SECRET_KEYS(self) -> list[str | bytes]:
        """``SECRET_KEY`` then ``SECRET_KEY_FALLBACKS``: the first encrypts,
        any of them decrypts (Django's own rotation rule for signatures)."""
        return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


conf = Settings()
