"""``manage.py sessions_blob ...`` on local disk and on S3 (moto over HTTP),
and where it matters on Swift's s3api and in memory."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.checks import run_checks
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from sessions_blob import user_index
from sessions_blob.backends.storage import SessionStore
from sessions_blob.progress import ProgressReporter
from sessions_blob.records import expiry_index_prefix, object_id
from tests.support.casfront import CasFront
from tests.support.faultproxy import FaultProxy
from tests.support.machines import on_machines
from tests.support.sessions import make_session, session_exists, stored_record, tamper
from tests.support.tiers import Tier

pytestmark = pytest.mark.django_db
LOCAL_AND_S3 = pytest.mark.parametrize("tier", ["filesystem", "s3"], indirect=True)
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    out = StringIO()
    call_command("sessions_blob", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def exit_code(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("sessions_blob", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def backdate(tier: Tier, name: str, storage_alias: str, hours: float) -> None:
    """Make a local file look ``hours`` old (S3 cannot be backdated)."""
    assert tier.s3 is None
    path = storages[storage_alias].path(name)
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))


# -- stats ------------------------------------------------------------------------


@LOCAL_AND_S3
def test_stats(tier: Tier) -> None:
    make_session(z=1)
    make_session(**{SESSION_KEY: "7", "a": 1})
    make_session(b=1)
    make_session(expired=True, c=1)
    make_session(expired=True, d=1)
    tamper(make_session(e=1).session_key)
    stats = json.loads(run("stats", "--json"))
    sizes = sum(info.size for info in tier.store.list(tier.prefix))
    assert stats | {"oldest": None, "newest": None} == {
        "sessions": 6,
        "bytes": sizes,
        "live": 3,
        "expired": 2,
        "unreadable": 1,
        "read": 6,
        "oldest": None,
        "newest": None,
        "authenticated": 1,
        "users_indexed": 1,
    }
    assert stats["oldest"] <= stats["newest"]
    text = run("stats")
    assert "stats: 6 sessions (3 live, 2 expired)" in text


@pytest.mark.parametrize("tier", ["filesystem"], indirect=True)
def test_stats_trusts_the_listing_for_old_objects(tier: Tier) -> None:
    old = make_session(a=1).session_key
    make_session(b=1)
    backdate(tier, f"{tier.prefix}{object_id(old)}.json", "sessions", hours=25)
    stats = json.loads(run("stats", "--json"))
    assert (stats["sessions"], stats["expired"], stats["read"]) == (2, 1, 1)


# -- lifecycle ------------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["s3"], indirect=True)
def test_lifecycle_prints_and_applies_keeping_other_rules(
    tier: Tier, settings: Any
) -> None:
    assert tier.s3 is not None and tier.bucket is not None
    client = tier.s3.client()
    bucket = tier.s3.new_bucket()  # a bucket of its own: the rules are per bucket
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": tier.s3.storage(bucket, location="app"),
    }
    logs = {
        "ID": "expire-logs",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Expiration": {"Days": 30},
    }
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [logs]}
    )
    printed = run("lifecycle")
    ours = json.loads(printed[: printed.rindex("}") + 1])["Rules"]
    folders = [f"app/{tier.prefix}", f"app/{tier.prefix.rstrip('/')}-expiry/"]
    assert [rule["Filter"] for rule in ours] == [{"Prefix": p} for p in folders]
    # SESSION_COOKIE_AGE is one day.
    assert [rule["Expiration"] for rule in ours] == [{"Days": 2}] * 2
    assert "not installed" in printed
    assert len(client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]) == 1
    assert "installed; the bucket has 3 rules" in run("lifecycle", "--apply")
    rules = {
        r["ID"]: r
        for r in client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    }
    assert rules["expire-logs"]["Filter"] == {"Prefix": "logs/"}
    for rule, folder in zip(ours, folders, strict=True):
        installed = rules[rule["ID"]]
        assert installed["Filter"] == {"Prefix": folder}
        assert installed["Expiration"] == {"Days": 2}
        assert installed["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert "already installed" in run("lifecycle", "--apply")
    assert "installed; the bucket has 3 rules" in run(
        "lifecycle", "--apply", "--days", "9"
    )
    rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["Expiration"] for r in rules if r["ID"] != "expire-logs"] == [
        {"Days": 9}
    ] * 2


@pytest.mark.parametrize("tier", ["s3"], indirect=True)
def test_lifecycle_rules_of_long_prefixes_keep_ids_of_their_own(
    tier: Tier, settings: Any
) -> None:
    """S3 takes IDs of up to 255 characters: cut, the two rules' IDs stay
    apart, and applying them twice changes nothing the second time."""
    assert tier.s3 is not None
    bucket = tier.s3.new_bucket()
    location = "deployments/" + "x" * 230
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": tier.s3.storage(bucket, location=location),
    }
    printed = run("lifecycle")
    ours = json.loads(printed[: printed.rindex("}") + 1])["Rules"]
    ids = [rule["ID"] for rule in ours]
    assert len(set(ids)) == 2 and all(len(i) <= 255 for i in ids)
    assert "installed; the bucket has 2 rules" in run("lifecycle", "--apply")
    assert "already installed" in run("lifecycle", "--apply")


@pytest.mark.parametrize("tier", ["s3"], indirect=True)
@pytest.mark.parametrize("folder", ["sessions", "index"])
def test_lifecycle_refuses_while_a_folder_holds_what_the_engine_did_not_write(
    tier: Tier, folder: str, settings: Any
) -> None:
    """A rule would expire the stranger too: nothing is installed."""
    assert tier.s3 is not None
    bucket = tier.s3.new_bucket()  # a bucket of its own: the rules are per bucket
    settings.STORAGES = {**settings.STORAGES, "sessions": tier.s3.storage(bucket)}
    session = SessionStore()
    session["a"] = 1
    session.set_expiry(600)  # a marker in the index
    session.save()
    prefix = tier.prefix if folder == "sessions" else expiry_index_prefix(tier.prefix)
    stranger = f"{prefix}report.pdf"
    client = tier.s3.client()
    client.put_object(Bucket=bucket, Key=stranger, Body=b"%PDF")
    code, output = exit_code("lifecycle", "--apply")
    assert code == 1 and repr(stranger) in output
    assert "the engine did not write it" in output
    with pytest.raises(client.exceptions.ClientError):  # no configuration at all
        client.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert client.get_object(Bucket=bucket, Key=stranger)["Body"].read() == b"%PDF"
    client.delete_object(Bucket=bucket, Key=stranger)
    assert "installed; the bucket has 2 rules" in run("lifecycle", "--apply")


@pytest.mark.parametrize("tier", ["s3"], indirect=True)
def test_lifecycle_refuses_a_rule_that_would_delete_live_sessions(
    tier: Tier, settings: Any
) -> None:
    settings.SESSIONS_BLOB_MAX_AGE = 3 * 86400
    code, output = exit_code("lifecycle", "--days", "2")
    assert code == 1 and "would delete live sessions. Use at least 3" in output
    settings.SESSIONS_BLOB_PREFIX = ""
    code, output = exit_code("lifecycle")
    assert code == 1 and "every object in it" in output


@pytest.mark.parametrize("tier", ["filesystem", "swift"], indirect=True)
def test_lifecycle_elsewhere_is_an_error(tier: Tier) -> None:
    code, output = exit_code("lifecycle", "--apply")
    assert code == 1
    if tier.name == "filesystem":
        assert "Lifecycle rules are an S3 feature" in output
    else:
        assert "refused the lifecycle configuration" in output


# -- import ---------------------------------------------------------------------------


@LOCAL_AND_S3
def test_import_from_the_database_engine(tier: Tier, django_user_model: Any) -> None:
    from django.contrib.sessions.backends.db import SessionStore as DbStore
    from django.contrib.sessions.models import Session

    live = []
    for n in range(5):
        session = DbStore()
        session.update({"n": n, SESSION_KEY: "7"} if n == 0 else {"n": n})
        session.set_expiry(3600 * (n + 1))
        session.save()
        live.append(session)
    gone = DbStore()
    gone["n"] = "expired"
    gone.set_expiry(-10)
    gone.save()
    forged = DbStore()
    forged["n"] = "forged"
    forged.save()
    Session.objects.filter(pk=forged.session_key).update(session_data="bad:data")
    Session.objects.create(
        session_key="short",
        session_data=DbStore().encode({}),
        expire_date=live[0].get_expiry_date(),
    )
    source = "django.contrib.sessions.backends.db"
    assert "would import 5" in run("import", "--from", source, "--dry-run")
    assert tier.objects() == []
    output = run("import", "--from", source)
    assert "7 live sessions: imported 5, 0 already there, 1 with keys" in output
    assert "1 unreadable" in output
    for session in live:
        key = session.session_key
        assert SessionStore(key)["n"] == session["n"]
        record = stored_record(key)
        assert record is not None
        db_expiry = Session.objects.get(pk=key).expire_date
        assert abs((record.expires - db_expiry).total_seconds()) < 0.01
    assert not session_exists(gone.session_key)
    assert user_index.session_ids("7") == [object_id(live[0].session_key)]
    again, warned = StringIO(), StringIO()
    call_command(
        "sessions_blob", "import", "--from", source, stdout=again, stderr=warned
    )
    assert "imported 0, 5 already there" in again.getvalue()
    assert "empty the old session store" in warned.getvalue()
    assert len(tier.objects()) == 5


def test_import_keeps_people_logged_in(settings: Any, django_user_model: Any) -> None:
    django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    browser = Client()
    assert browser.login(username="boss", password="pw")
    assert browser.get("/admin/").status_code == 200
    settings.SESSION_ENGINE = "sessions_blob.backends.storage"

    def after_the_switch() -> int:  # a new handler: the middleware reads the engine
        switched = Client()
        switched.cookies = copy.deepcopy(browser.cookies)
        return int(switched.get("/admin/").status_code)

    assert after_the_switch() == 302  # not imported yet: logged out
    run("import", "--from", "django.contrib.sessions.backends.db")
    assert after_the_switch() == 200


@LOCAL_AND_S3
def test_import_from_the_file_engine(
    tier: Tier, settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    from django.contrib.sessions.backends.file import SessionStore as FileStore

    folder = tmp_path / "file-sessions"
    folder.mkdir()
    settings.SESSION_FILE_PATH = str(folder)
    monkeypatch.delattr(FileStore, "_storage_path", raising=False)
    sessions = []
    for n in range(3):
        session = FileStore()
        session["n"] = n
        session.save()
        sessions.append(session)
    stale = FileStore()
    stale["n"] = "stale"
    stale.save()
    old = time.time() - settings.SESSION_COOKIE_AGE - 60
    os.utime(folder / f"{settings.SESSION_COOKIE_NAME}{stale.session_key}", (old, old))
    output = run("import", "--from", "django.contrib.sessions.backends.file")
    assert "3 live sessions: imported 3" in output
    for session in sessions:
        assert SessionStore(session.session_key)["n"] == session["n"]
        record = stored_record(session.session_key)
        assert record is not None
        expected = dt.datetime.now(dt.UTC) + dt.timedelta(
            seconds=settings.SESSION_COOKIE_AGE
        )
        assert abs((record.expires - expected).total_seconds()) < 60
    assert not session_exists(stale.session_key)
    assert "imported 0, 3 already there" in run(
        "import", "--from", "django.contrib.sessions.backends.file"
    )


def test_import_from_engines_that_cannot_be_listed() -> None:
    code, output = exit_code(
        "import", "--from", "django.contrib.sessions.backends.cache"
    )
    assert code == 1 and "cannot be listed" in output
    code, output = exit_code("import", "--from", "no.such.engine")
    assert code == 1 and "Cannot import" in output


# -- doctor ---------------------------------------------------------------------------


def findings(*args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    code, output = exit_code("doctor", "--json", *args)
    data = json.loads(output[: output.rindex("]") + 1])
    return code, {f["topic"]: f for f in data}


@pytest.mark.parametrize("tier", ["s3cas"], indirect=True)
def test_doctor_on_moto(tier: Tier, settings: Any) -> None:
    """moto behind the atomic front: its race of writers has one winner."""
    assert tier.s3 is not None
    bucket = tier.s3.new_bucket()
    settings.STORAGES = {**settings.STORAGES, "sessions": tier.s3.storage(bucket)}
    code, found = findings()
    assert code == 0
    assert found["conditional writes"]["level"] == "ok"
    assert found["missing keys"]["level"] == "ok"
    assert found["versioning"]["level"] == "ok"
    assert found["public bucket"]["level"] == "info"  # no Block Public Access
    assert tier.s3.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    client = tier.s3.client()
    client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    code, found = findings()
    assert code == 3 and found["versioning"]["level"] == "warning"
    assert "lifecycle --apply" in found["versioning"]["fix"]
    run("lifecycle", "--apply")
    code, found = findings()
    assert code == 0 and found["versioning"]["level"] == "info"
    client.put_bucket_acl(Bucket=bucket, ACL="public-read")
    code, found = findings()
    assert code == 3 and found["public bucket"]["level"] == "error"
    ids = {m.id for m in run_checks(include_deployment_checks=True)}
    assert "sessions_blob.E104" in ids


@pytest.mark.parametrize("tier", ["s3"], indirect=True)
def test_doctor_on_a_store_that_answers_403_for_missing_keys(
    tier: Tier, settings: Any, cas_proxy: CasFront
) -> None:
    """AWS S3 without s3:ListBucket, imitated by the proxy in front of moto."""
    assert tier.s3 is not None
    proxy = cas_proxy
    bucket = tier.s3.new_bucket()
    behind_proxy = tier.s3.via(proxy.url)
    settings.STORAGES = {**settings.STORAGES, "sessions": behind_proxy.storage(bucket)}
    proxy.forbid_missing()
    code, found = findings()
    assert code == 3
    finding = found["missing keys"]
    assert finding["level"] == "warning" and "403 Forbidden" in finding["title"]
    assert f"s3:ListBucket on arn:aws:s3:::{bucket}" in finding["fix"]
    assert "forbidden" in proxy.outcomes()
    assert found["conditional writes"]["level"] == "ok"


@pytest.mark.parametrize("tier", ["s3"], indirect=True)
def test_doctor_finds_a_store_that_ignores_conditions(
    tier: Tier, settings: Any, proxy: FaultProxy
) -> None:
    assert tier.s3 is not None
    bucket = tier.s3.new_bucket()
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": tier.s3.via(proxy.url).storage(bucket),
    }
    proxy.drop_conditions()
    code, found = findings()
    assert code == 3
    finding = found["conditional writes"]
    assert finding["level"] == "error" and "does not honour them" in finding["title"]
    assert "falls back to check-then-write" in finding["title"]
    assert tier.s3.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize("tier", ["s3"], indirect=True)
def test_doctor_finds_conditional_writes_that_are_not_atomic(
    tier: Tier, settings: Any, proxy: FaultProxy
) -> None:
    """A store that answers 412 to each sequential check, but checks and
    writes in two steps: only the race of concurrent writers shows it."""
    assert tier.s3 is not None
    bucket = tier.s3.new_bucket()
    settings.STORAGES = {
        **settings.STORAGES,
        "sessions": tier.s3.via(proxy.url).storage(bucket),
    }
    proxy.check_then_write()
    code, found = findings()
    assert code == 3
    finding = found["conditional writes"]
    assert finding["level"] == "error"
    # Racers are let through together; under load a few may still lose.
    assert re.search(r"not atomic: [2-8] of 8 concurrent writers", finding["title"])
    assert "precondition failed" in proxy.outcomes()  # the sequential checks
    assert tier.s3.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    settings.SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES = True
    strict = findings()[1]["conditional writes"]
    assert (
        strict["id"] == "sessions_blob.E101" and "refuses to write" in strict["title"]
    )


@pytest.mark.parametrize("tier", ["swift"], indirect=True)
def test_doctor_on_swift_finds_no_conditional_writes(tier: Tier, settings: Any) -> None:
    code, found = findings()
    assert code == 3
    finding = found["conditional writes"]
    assert finding["level"] == "warning" and "501 NotImplemented" in finding["title"]
    assert found["missing keys"]["level"] == "ok"
    assert found["public bucket"]["level"] in {"info", "ok"}
    ids = {m.id for m in run_checks(include_deployment_checks=True)}
    assert "sessions_blob.W101" in ids
    settings.SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES = True
    code, found = findings()
    assert found["conditional writes"]["level"] == "error"


@pytest.mark.parametrize("tier", ["filesystem"], indirect=True)
def test_doctor_on_local_disk(tier: Tier, settings: Any) -> None:
    make_session(a=1)
    code, found = findings()
    assert code == 0
    assert found["conditional writes"]["level"] == "ok"
    assert found["file permissions"]["level"] == "ok"
    folder = Path(storages["sessions"].path(tier.prefix))
    folder.chmod(0o755)
    code, found = findings()
    assert code == 3 and "mode 755" in found["file permissions"]["title"]
    settings.MEDIA_ROOT = str(folder.parent)
    folder.chmod(0o700)
    code, found = findings()
    assert "commonly serve" in found["file permissions"]["title"]


@pytest.mark.parametrize("tier", ["memory"], indirect=True)
def test_doctor_in_memory(tier: Tier) -> None:
    code, found = findings()
    assert code == 3 and found["store"]["level"] == "warning"
    assert found["conditional writes"]["level"] == "ok"


def test_the_deploy_check_is_only_under_deploy() -> None:
    ids = {m.id for m in run_checks()}
    assert not any(i.startswith("sessions_blob.W10") for i in ids)


# -- logout_user ------------------------------------------------------------


@LOCAL_AND_S3
def test_logout_user(tier: Tier, django_user_model: Any) -> None:
    ada = django_user_model.objects.create_user("ada", password="pw")
    grace = django_user_model.objects.create_user("grace", password="pw")
    ada_sessions = [
        make_session(**{SESSION_KEY: str(ada.pk), "n": n}) for n in range(3)
    ]
    other = make_session(**{SESSION_KEY: str(grace.pk)})
    assert "would delete 3 sessions" in run("logout_user", "ada", "--dry-run")
    assert all(session_exists(s.session_key) for s in ada_sessions)
    tier.calls.clear()
    assert "deleted 3 sessions" in run("logout_user", "ada")
    assert tier.calls["list"] == 0  # from the index, not a scan
    assert not any(session_exists(s.session_key) for s in ada_sessions)
    assert session_exists(other.session_key)
    assert user_index.session_ids(str(ada.pk)) == []
    assert "deleted 0 sessions" in run("logout_user", "ada")
    make_session(**{SESSION_KEY: "4242"})
    assert "deleted 1 sessions" in run("logout_user", "4242", "--id")
    code, output = exit_code("logout_user", "nobody")
    assert code == 1 and "No user 'nobody'" in output


@LOCAL_AND_S3
def test_logout_user_on_two_machines_at_once(tier: Tier) -> None:
    keys = [make_session(**{SESSION_KEY: "9", "n": n}).session_key for n in range(6)]
    assert on_machines(lambda: run("logout_user", "9", "--id")) == []
    assert not any(session_exists(k) for k in keys)
    assert user_index.session_ids("9") == []


# -- the command line ------------------------------------------------------------------


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``manage.py``-like run of the engine's test project in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env={
            **os.environ,
            "VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "tests.sessions_blob.settings",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


MEMORY = json.dumps({"BACKEND": "django.core.files.storage.InMemoryStorage"})


def test_exit_codes_of_the_real_command(tmp_path: Path) -> None:
    assert manage(tmp_path, "sessions_blob").returncode == 2  # no subcommand
    done = manage(tmp_path, "sessions_blob", "doctor")
    assert done.returncode == 0, done.stderr
    assert "doctor: 4 checks, all fine" in done.stdout
    attention = manage(
        tmp_path, "sessions_blob", "doctor", SESSIONS_TEST_STORAGE=MEMORY
    )
    assert attention.returncode == 3
    assert "InMemoryStorage" in attention.stdout
    failed = manage(tmp_path, "sessions_blob", "lifecycle")
    assert failed.returncode == 1 and "CommandError" in failed.stderr


def test_cron_commands_are_silent_on_success(tmp_path: Path) -> None:
    """Every command docs/operations.md puts in cron prints nothing at -v 0
    when all is well, so cron mails only trouble."""
    assert manage(tmp_path, "migrate", "-v", "0").returncode == 0
    for args in (
        ("clearsessions", "-v", "0"),
        ("sessions_blob", "doctor", "-v", "0"),
        ("sessions_blob", "stats", "-v", "0"),
        ("sessions_blob", "lifecycle", "-v", "0"),  # fails: not S3 (below)
    ):
        done = manage(tmp_path, *args)
        if args[1] == "lifecycle":
            assert done.returncode == 1 and "S3 feature" in done.stderr
            continue
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), args
    noisy = manage(
        tmp_path, "sessions_blob", "doctor", "-v", "0", SESSIONS_TEST_STORAGE=MEMORY
    )
    assert noisy.returncode == 3
    assert "InMemoryStorage" in noisy.stdout  # what needs attention, only that
    assert "[     OK]" not in noisy.stdout


def test_doctor_json_is_json_alone(tmp_path: Path) -> None:
    for env in ({}, {"SESSIONS_TEST_STORAGE": MEMORY}):
        done = manage(tmp_path, "sessions_blob", "doctor", "--json", **env)
        findings = json.loads(done.stdout)  # nothing but JSON on stdout
        assert {f["topic"] for f in findings} >= {"conditional writes"}


def test_the_documented_cron_lines_work_in_a_shell(tmp_path: Path) -> None:
    """The cron block of docs/operations.md, run as cron would (sh -c) in a
    project at /srv/app: quiet while all is fine, findings when doctor needs
    attention."""
    doc = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"```cron\n(.*?)```", doc, re.S)
    assert block is not None, "docs/operations.md has no ```cron block"
    app = tmp_path / "app"
    (app / ".venv" / "bin").mkdir(parents=True)
    python = app / ".venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    (app / "manage.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    )
    lines = [
        line.split(None, 5)[5].replace("/srv/app", str(app))
        for line in block.group(1).splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 2
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.sessions_blob.settings",
    }
    assert manage(tmp_path, "migrate", "-v", "0").returncode == 0

    def cron(line: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", line],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )

    for line in lines:
        done = cron(line)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), line
    doctor = next(line for line in lines if "doctor" in line)
    loud = cron(doctor, SESSIONS_TEST_STORAGE=MEMORY)
    assert loud.returncode == 3
    assert "[WARNING] store: InMemoryStorage" in loud.stdout


def test_progress_draws_a_bar_on_a_terminal_and_lines_in_logs() -> None:
    from django.core.management.base import OutputWrapper

    tty_out = StringIO()
    bar = ProgressReporter(OutputWrapper(tty_out), "clearing", tty=True, every=0)
    bar(50, 200)
    bar.finish()
    assert "\r\x1b[K" in tty_out.getvalue()
    assert "[########......................] 50/200" in tty_out.getvalue()
    log_out = StringIO()
    lines = ProgressReporter(OutputWrapper(log_out), "reading", tty=False, every=0)
    lines(1500)
    assert log_out.getvalue().startswith("reading: 1,500 sessions (")
    assert "\r" not in log_out.getvalue()
    quiet = StringIO()
    ProgressReporter(OutputWrapper(quiet), "x", enabled=False, every=0)(5, 10)
    assert quiet.getvalue() == ""


def test_commands_refuse_other_engines(settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    code, output = exit_code("stats")
    assert code == 1 and "these commands operate" in output
