"""A plain Django project with only the engine: the settings of its test suite.

No part of the analytics site is installed, so the engine's suite proves it
needs nothing of it. Server processes started by the tests (gunicorn, two
"instances") use these settings too, configured by a few environment
variables: ``SESSIONS_TEST_STORAGE`` (the JSON of the ``"sessions"`` storage),
``SESSION_ENGINE``, ``DJANGO_SECRET_KEY`` and ``VAR_DIR``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

VAR_DIR = Path(os.environ.get("VAR_DIR") or tempfile.mkdtemp(prefix="engine-"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "the engine's test suite")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "sessions_blob",  # before django.contrib.sessions: its clearsessions wins
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "sessions_blob.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.sessions_blob.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).parent / "templates"],
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
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

SESSION_ENGINE = os.environ.get("SESSION_ENGINE", "sessions_blob.backends.storage")
SESSION_COOKIE_AGE = 24 * 60 * 60  # one day: the tests backdate objects past it
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "sessions": json.loads(os.environ["SESSIONS_TEST_STORAGE"])
    if os.environ.get("SESSIONS_TEST_STORAGE")
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "sessions"},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"sessions_blob": {"handlers": ["console"], "level": "INFO"}},
}
