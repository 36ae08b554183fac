"""Settings of the analytics site, read from the environment.

With no variables set this is the embedded default: SQLite, sessions and
uploads on local disk under ``var/``. ``S3_BUCKET`` switches sessions and
uploads to S3 (or any S3-compatible store) through django-storages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.utils.csp import CSP

from analytics_site.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = secret_key(BASE_DIR)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Before django.contrib.sessions so its clearsessions command wins.
    "sessions_blob",
    "uploads",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks_db",  # a database backend for django.tasks: `db_worker`
]

MIDDLEWARE = [
    "uploads.budget.StorageBudgetMiddleware",  # first: the whole request's deadline
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "uploads.middleware.SessionMiddleware",  # 503 while storage is down; X-Session-ID
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "analytics_site.urls"
WSGI_APPLICATION = "analytics_site.wsgi.application"
ASGI_APPLICATION = "analytics_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "analytics_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "analytics_site" / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
WHITENOISE_USE_FINDERS = True

# --- Storage: local disk (default), S3, or memory -------------------------
S3_BUCKET = env_str("S3_BUCKET")
STORAGE_BACKEND = env_str("STORAGE_BACKEND", "s3" if S3_BUCKET else "filesystem")


def _s3(location: str) -> dict[str, Any]:
    # Imported here: a site on local disk never loads botocore (cold start).
    from botocore.config import Config

    options: dict[str, Any] = {
        "bucket_name": S3_BUCKET,
        "location": location,
        "default_acl": None,  # private: the bucket's own policy, never public-read
        "querystring_auth": True,  # URLs are short-lived signed URLs
        "querystring_expire": env_int("S3_URL_EXPIRE", 300),
        "file_overwrite": False,
    }
    if endpoint := env_str("S3_ENDPOINT_URL"):
        options["endpoint_url"] = endpoint
    if region := env_str("S3_REGION"):
        options["region_name"] = region
    # Bounded timeouts and retries: botocore's defaults (60 s, 5 attempts) let a
    # stalled endpoint hold a request for minutes. With client_config set,
    # django-storages ignores its own addressing_style, so it goes in here.
    s3_config: Any = {}  # botocore's TypedDict wants a Literal style
    if style := env_str("S3_ADDRESSING_STYLE"):
        s3_config["addressing_style"] = style
    options["client_config"] = Config(
        connect_timeout=env_int("S3_CONNECT_TIMEOUT", 2),
        read_timeout=env_int("S3_READ_TIMEOUT", 10),
        retries={
            "total_max_attempts": env_int("S3_MAX_ATTEMPTS", 3),
            "mode": "standard",
        },
        s3=s3_config,
        signature_version="s3v4",
    )
    # django-storages' S3Storage whose requests respect the request's storage
    # deadline (UPLOADS_STORAGE_TIME_BUDGET).
    return {"BACKEND": "uploads.s3storage.BudgetedS3Storage", "OPTIONS": options}


def _filesystem(folder: str) -> dict[str, Any]:
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": VAR_DIR / folder,
            "base_url": None,  # no public URL: an authenticated view serves files
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }


_MEMORY: dict[str, Any] = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
STORAGE_CHOICES = {
    "filesystem": (_filesystem("sessions"), _filesystem("uploads")),
    "memory": (_MEMORY, _MEMORY),
}
if STORAGE_BACKEND == "s3":
    _sessions_storage, _uploads_storage = _s3(""), _s3("")
elif STORAGE_BACKEND in STORAGE_CHOICES:
    _sessions_storage, _uploads_storage = STORAGE_CHOICES[STORAGE_BACKEND]
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"STORAGE_BACKEND={STORAGE_BACKEND!r}: use filesystem, s3 or memory."
    )

STORAGES = {
    "default": _uploads_storage,
    "sessions": _sessions_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Cache: Redis when REDIS_URL is set (the cached session tier uses it) ------
if redis_url := env_str("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
        }
    }

# --- Sessions ---------------------------------------------------------------
SESSION_ENGINE = env_str("SESSION_ENGINE", "sessions_blob.backends.storage")
SESSIONS_BLOB_STORAGE_ALIAS = "sessions"
SESSIONS_BLOB_PREFIX = env_str("SESSIONS_BLOB_PREFIX", "sessions/")
SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES = env_bool(
    "SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES", False
)
SESSIONS_BLOB_ENCRYPT = env_bool("SESSIONS_BLOB_ENCRYPT", False)
# The race runs once per process: on Lambda that is every cold start, so a
# deployment on a store known to be atomic (AWS S3) may turn it off.
SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES = env_bool(
    "SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES", True
)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 24 * 60 * 60)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and bool(S3_BUCKET))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_SAMESITE = "Lax"  # the upload page's script reads it: not HttpOnly

# --- Security headers -----------------------------------------------------------
# The pages load scripts and styles only from their own static files (no
# inline <script>, no style attributes, no eval) and draw charts as inline
# SVG. Swagger UI's page is the one exception (uploads/urls.py overrides it).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
# HTTPS, for deployments that serve it (check --deploy asks for both): off by
# default, so that `make run` works over plain HTTP.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False
)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    # The proxy (a load balancer, API Gateway) terminates TLS and says so.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Uploads API (uploads/conf.py documents each) ---------------------------
UPLOADS_MAX_FILE_SIZE = env_int("UPLOADS_MAX_FILE_SIZE", 1024**3)
UPLOADS_MAX_FILES = env_int("UPLOADS_MAX_FILES", 10)
UPLOADS_PROFILE_MEMORY_LIMIT = env_str("UPLOADS_PROFILE_MEMORY_LIMIT", "512MB")
UPLOADS_PROFILE_THREADS = env_int("UPLOADS_PROFILE_THREADS", 2)
UPLOADS_PROCESSING_TIMEOUT = env_int("UPLOADS_PROCESSING_TIMEOUT", 3600)
# Budget 15 s + one call's connect (2 s) and read (10 s) timeouts = 27 s, under
# gunicorn's 30 s worker timeout: a stalled store answers 503, never a kill.
UPLOADS_STORAGE_TIME_BUDGET = env_int("UPLOADS_STORAGE_TIME_BUDGET", 15)
UPLOADS_RATE_WINDOW = env_int("UPLOADS_RATE_WINDOW", 3600)
UPLOADS_NEW_SESSIONS_PER_WINDOW = env_int("UPLOADS_NEW_SESSIONS_PER_WINDOW", 60)
UPLOADS_UPLOAD_BYTES_PER_WINDOW = env_int(
    "UPLOADS_UPLOAD_BYTES_PER_WINDOW", 10 * 1024**3
)
UPLOADS_CLIENT_IP_HEADER = env_str("UPLOADS_CLIENT_IP_HEADER", "")
# Direct uploads: parts of this size go straight to the storage; the bucket's
# CORS rule lets these origins send them (manage.py uploads_storage setup).
UPLOADS_DIRECT_PART_SIZE = env_int("UPLOADS_DIRECT_PART_SIZE", 16 * 1024**2)
UPLOADS_CORS_ORIGINS = env_list("UPLOADS_CORS_ORIGINS", [])
# The bucket's origin as the page's CSP names it; empty: asked of boto3 (a
# client created on a fresh instance's first page view).
UPLOADS_DIRECT_ORIGIN = env_str("UPLOADS_DIRECT_ORIGIN", "")
# inline: POST /api/process profiles in the request. queue: a worker does
# (`manage.py db_worker`); jobs are rows in DATABASES (PostgreSQL for many
# machines, the SQLite file for one).
UPLOADS_PROCESSING_MODE = env_str("UPLOADS_PROCESSING_MODE", "inline")
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "uploads.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CSV analytics API",
    "DESCRIPTION": "Upload CSV files into a session, profile them, read the analytics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "sessions_blob": {
            "handlers": ["console"],
            "level": env_str("LOG_LEVEL", "INFO"),
        },
        "uploads": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
        # Tampered session objects, bad CSRF, disallowed hosts: Django sends
        # them to the console only with DEBUG on; production needs them most.
        "django.security": {
            "handlers": ["console"],
            "level": "WARNING",
            "propagate": False,
        },
    },
}
