"""The project's settings as a deployment sets them: from the environment,
in a process of their own."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "DJANGO_ALLOWED_HOSTS": "analytics.example.com",
    "SESSION_COOKIE_SECURE": "1",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
    "SESSIONS_BLOB_ENCRYPT": "1",
}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_production_like_environment_passes_check_deploy(tmp_path: Path) -> None:
    """HSTS, the HTTPS redirect and encryption at rest come from the
    environment: check --deploy has no warning left (W004, W008 were)."""
    env = {**PRODUCTION, "VAR_DIR": str(tmp_path)}
    done = run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    shown = run(
        env,
        "manage.py",
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SESSIONS_BLOB_ENCRYPT)",
    )
    assert shown.stdout.split() == ["31536000", "True", "True"]
    plain = run({"VAR_DIR": str(tmp_path)}, "manage.py", "check", "--deploy")
    assert "security.W004" in plain.stdout + plain.stderr  # the defaults are off


def test_the_conditional_write_race_can_be_turned_off_from_the_environment(
    tmp_path: Path,
) -> None:
    """On Lambda the once-per-process race runs on every cold start; a
    deployment on AWS S3 turns it off with one variable."""
    show = (
        "from django.conf import settings as s; "
        "from sessions_blob.conf import conf; "
        "print(s.SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES, conf.PROBE_CONDITIONAL_WRITES)"
    )
    env = {"VAR_DIR": str(tmp_path)}
    default = run(env, "manage.py", "shell", "-v", "0", "-c", show)
    assert default.stdout.split() == ["True", "True"], default.stderr
    off = {**env, "SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES": "0"}
    turned_off = run(off, "manage.py", "shell", "-v", "0", "-c", show)
    assert turned_off.stdout.split() == ["False", "False"], turned_off.stderr


def test_tampered_sessions_reach_the_log_with_debug_off(tmp_path: Path) -> None:
    """The warning for a tampered session object goes to the console in
    production settings (Django's default logging drops it when DEBUG is off)."""
    script = """
import json
from sessions_blob.backends.storage import SessionStore
from sessions_blob.records import object_name
from sessions_blob.stores import object_store
from django.conf import settings
session = SessionStore(); session["cart"] = [1]; session.save()
name = object_name(settings.SESSIONS_BLOB_PREFIX, session.session_key)
doc = json.loads(object_store().read(name).data)
doc["payload"] = doc["payload"][:-4] + "AAAA"
object_store().delete(name); object_store().create(name, json.dumps(doc).encode())
assert SessionStore(session.session_key).load() == {}
"""
    done = run(
        {"DJANGO_DEBUG": "0", "VAR_DIR": str(tmp_path)},
        "manage.py",
        "shell",
        "-v",
        "0",
        "-c",
        script,
    )
    assert done.returncode == 0, done.stderr
    assert "Session object for key" in done.stderr and "corrupt" in done.stderr
