from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from sessions_blob.backends.storage import SessionStore
from tests.support.tiers import Tier

pytestmark = pytest.mark.django_db


def make_sessions(live: int, expired: int) -> None:
    for n in range(live + expired):
        session = SessionStore()
        session["n"] = n
        if n >= live:
            session.set_expiry(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        session.save()


def run(*args: str) -> str:
    out = StringIO()
    call_command("clearsessions", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_clearsessions_reports_and_deletes(tier: Tier) -> None:
    make_sessions(live=3, expired=2)
    dry = run("--dry-run")
    assert re.search(r"examined 5 sessions, read 5, would delete 2 expired", dry)
    assert len(tier.objects()) == 5
    output = run()
    calls = 1 if tier.s3 else 2  # one DeleteObjects on S3, one per file elsewhere
    assert f"examined 5 sessions, read 5, deleted 2 expired in {calls} delete" in output
    assert len(tier.objects()) == 3


def test_clearsessions_for_other_engines_is_djangos(
    settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.contrib.sessions.backends.file import SessionStore as FileStore

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.file"
    settings.SESSION_FILE_PATH = str(tmp_path)
    # Django's file engine keeps the first path it saw on the class.
    monkeypatch.delattr(FileStore, "_storage_path", raising=False)
    session = FileStore()
    session["a"] = 1
    session.set_expiry(-1)
    session.save()
    assert len(list(tmp_path.iterdir())) == 1
    with pytest.raises(CommandError, match="--dry-run needs sessions_blob"):
        run("--dry-run")  # Django's command has none: it would delete
    assert len(list(tmp_path.iterdir())) == 1
    assert run() == ""
    assert list(tmp_path.iterdir()) == []
