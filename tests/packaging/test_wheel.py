"""The distribution as an adopter gets it.

The wheel is built from this checkout, checked for what it holds and what it
depends on, then installed as the README says into a fresh virtual
environment (Python 3.13, Django 6.1), into a project made by ``django-admin
startproject`` with the README's settings snippet appended as written. Real
HTTP to two ``runserver`` processes of that project: a login on one, the
session read on the other, the admin's session pages; then ``clearsessions``,
``sessions_blob doctor`` and ``check --deploy``. Once on S3 (moto's server),
once on local disk.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest
import requests

from tests.support.s3 import S3Endpoint
from tests.support.servers import free_port, serve

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
UV = str(Path(sys.executable).parent / "uv")
#: Every top-level name of the checkout that is not the engine.
NOT_THE_ENGINE = ("uploads", "analytics_site", "tests", "bench", "tools", "docs")
#: Dependencies of the site that must never reach the engine's metadata.
SITE_DEPENDENCIES = (
    "djangorestframework",
    "drf-spectacular",
    "duckdb",
    "whitenoise",
    "django-tasks",
    "psycopg",
    "redis",
    "gunicorn",
    "jsonschema",
    "pyyaml",
)


def readme_block(marker: str) -> str:
    """The fenced block right after ``<!-- marker -->`` in the README."""
    text = README.read_text()
    found = re.search(rf"<!-- {re.escape(marker)} -->\n```\w*\n(.*?)```", text, re.S)
    assert found, f"README.md has no block marked <!-- {marker} -->"
    return found.group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [UV, "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("django_sessions_blob-*.whl")
    return built


def test_the_wheel_holds_the_engine_alone(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    tops = {name.split("/")[0] for name in names}
    assert tops == {"sessions_blob", metadata_name.split("/")[0]}, tops
    assert not [n for n in names if n.split("/")[0] in NOT_THE_ENGINE]
    for shipped in (
        "sessions_blob/py.typed",
        "sessions_blob/migrations/0001_initial.py",
        "sessions_blob/templates/admin/sessions_blob/storedsession/change_list.html",
        "sessions_blob/static/sessions_blob/admin.css",
        "sessions_blob/management/commands/sessions_blob.py",
    ):
        assert shipped in names
    requires = metadata.get_all("Requires-Dist") or []
    plain = [r for r in requires if "extra ==" not in r]
    assert [re.split(r"[<>=!~; ]", r)[0].lower() for r in plain] == ["django"]
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert extras == {"s3", "encryption"}
    for requirement in requires:
        name = re.split(r"[<>=!~;\[ ]", requirement)[0].lower()
        assert name not in SITE_DEPENDENCIES, requirement
    assert metadata["Requires-Python"] == ">=3.11"


# -- a new project that adopts it -------------------------------------------


def python_313() -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "find_python.py"), "3.13"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if "CI" in os.environ:
            pytest.fail("Python 3.13 is not installed (CI needs it)")
        pytest.skip("Python 3.13 is not installed on this machine")
    return done.stdout.strip()


class Project:
    """A project made by ``django-admin startproject`` in a fresh venv."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.venv = root / "venv"
        self.dir = root / "mysite"
        self.env = {**os.environ, **env}
        for name in ("DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONPATH"):
            self.env.pop(name, None)

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def install(self, wheel: Path) -> None:
        subprocess.run(
            [UV, "venv", "--python", python_313(), str(self.venv)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        # The README's install line, with the wheel for the package name.
        line = readme_block("install: s3").strip()
        assert line.startswith("pip install ")
        requirement = shlex.split(line)[2].replace("django-sessions-blob", str(wheel))
        subprocess.run(
            [
                UV,
                "pip",
                "install",
                "--python",
                self.python,
                requirement,
                "Django>=6.1,<6.2",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )

    def start(self, snippet: str) -> None:
        subprocess.run(
            [str(self.venv / "bin" / "django-admin"), "startproject", "mysite"],
            cwd=self.root,
            check=True,
            env=self.env,
            timeout=60,
        )
        settings = self.dir / "mysite" / "settings.py"
        settings.write_text(settings.read_text() + "\n\n" + readme_block(snippet))

    def manage(
        self, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.python, "manage.py", *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    @contextlib.contextmanager
    def server(self, log: Path) -> Iterator[str]:
        port = free_port()
        command = [self.python, "manage.py", "runserver", "--noreload"]
        with serve(
            [*command, f"127.0.0.1:{port}"],
            log,
            port=port,
            ready="/admin/login/",
            cwd=self.dir,
            env=self.env,
        ) as url:
            yield url


def log_in(url: str, username: str, password: str) -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{url}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    done = browser.post(
        f"{url}/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": password,
        },
        headers={"Referer": f"{url}/admin/login/"},
        timeout=10,
    )
    assert done.ok and "Log out" in done.text, done.text[:500]
    return browser


def adopt(project: Project, wheel: Path, snippet: str, tmp_path: Path) -> None:
    project.install(wheel)
    project.start(snippet)
    project.manage("migrate", "-v", "0")
    project.manage(
        "createsuperuser", "--noinput", "--username", "ada", "--email", "a@example.com"
    )
    with (
        project.server(tmp_path / "a.log") as a,
        project.server(tmp_path / "b.log") as b,
    ):
        browser = log_in(a, "ada", "pw-for-the-wheel-test")
        key = browser.cookies["sessionid"]
        # The other process has never seen this session: it reads it.
        other = requests.Session()
        other.cookies.set("sessionid", key)
        index = other.get(f"{b}/admin/", timeout=10)
        assert index.ok and "Site administration" in index.text
        assert "Sessions (object storage)" in index.text
        sessions = other.get(f"{b}/admin/sessions_blob/storedsession/", timeout=10)
        assert sessions.ok and f"{key[:8]}…" in sessions.text
        assert key not in sessions.text  # never the whole key
        assert ">ada</a>" in sessions.text
        assert "upload" not in sessions.text.lower()  # the engine knows no uploads
    cleared = project.manage("clearsessions")
    assert "clearsessions: examined" in cleared.stdout
    doctor = project.manage("sessions_blob", "doctor", check=False)
    assert doctor.returncode in (0, 3), doctor.stderr
    assert "doctor:" in doctor.stdout
    # A bare startproject fails Django's own deploy checks (DEBUG, the
    # generated SECRET_KEY, Django 6.1's mail.E001); none may be the engine's.
    deploy = project.manage("check", "--deploy", check=False)
    report = deploy.stdout + deploy.stderr
    assert "System check identified" in report, report
    assert "(sessions_blob.E" not in report and "(sessions_blob.W" not in report
    assert re.search(r"\(sessions_blob\.I10[46]\)", report), report  # the probes ran
    commands = project.manage("help").stdout
    assert "[sessions_blob]" in commands and "purge_uploads" not in commands


@pytest.fixture
def superuser_env() -> dict[str, str]:
    return {"DJANGO_SUPERUSER_PASSWORD": "pw-for-the-wheel-test"}


def test_a_new_project_on_s3(
    wheel: Path, tmp_path: Path, s3: S3Endpoint, superuser_env: dict[str, str]
) -> None:
    bucket = s3.new_bucket()
    project = Project(
        tmp_path,
        {
            **superuser_env,
            "SESSIONS_BUCKET": bucket,
            "SESSIONS_S3_ENDPOINT_URL": s3.url,
            "SESSIONS_S3_ADDRESSING": "path",
            "AWS_REGION": s3.region,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        },
    )
    adopt(project, wheel, "settings: s3", tmp_path)
    listed = s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    assert any(item["Key"].startswith("sessions/") for item in listed)


def test_a_new_project_on_local_disk(
    wheel: Path, tmp_path: Path, superuser_env: dict[str, str]
) -> None:
    project = Project(tmp_path, superuser_env)
    adopt(project, wheel, "settings: disk", tmp_path)
    assert list((project.dir / "var" / "sessions" / "sessions").glob("*.json"))
    mode = (project.dir / "var" / "sessions" / "sessions").stat().st_mode & 0o777
    assert mode == 0o700
