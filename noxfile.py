"""The engine's behaviour suite on every supported Python and Django.

    nox                       # every combination, one after another
    python tools/matrix.py    # every combination, in parallel
    nox -s "engine-3.13(django='6.1')"
    nox -l                    # the combinations

Each combination gets its own virtual environment (made by uv) with the
engine installed from this checkout (``.[s3,encryption]``), that Django, and
the ``engine-test`` dependency group: nothing of the site. The suite runs
with the engine's own settings (``tests/sessions_blob/settings.py``) on every
storage tier: memory, local disk, S3 over moto's server, a real Swift s3api,
and the cached tier on Redis.

Interpreters are found by ``tools/find_python.py`` (PATH, pyenv, uv), never
downloaded. A missing one is skipped with a line saying so, or fails the run
when the ``CI`` environment variable is set (nox's own rule).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
#: Django release -> the Pythons it supports (of those this project supports).
MATRIX = {
    "5.2": ["3.11", "3.12", "3.13"],
    "6.0": ["3.12", "3.13"],
    "6.1": ["3.12", "3.13"],
}
PYTHONS = sorted({python for pythons in MATRIX.values() for python in pythons})

nox.options.default_venv_backend = "uv"
nox.options.download_python = "never"
nox.options.sessions = ["engine"]


def _expose_interpreters() -> None:
    """Put ``pythonX.Y`` links to the interpreters found on PATH, so that nox
    finds pyenv's versions too (its shims fail for versions not selected)."""
    links = ROOT / ".nox" / "pythons"
    links.mkdir(parents=True, exist_ok=True)
    found = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "find_python.py"), "--all", *PYTHONS],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split("\n")
    for line in filter(None, found):
        version, path = line.split(" ", 1)
        link = links / f"python{version}"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(path)
    os.environ["PATH"] = f"{links}{os.pathsep}{os.environ.get('PATH', '')}"


_expose_interpreters()


@nox.session
@nox.parametrize(
    "python,django",
    [(python, django) for django, pythons in MATRIX.items() for python in pythons],
    ids=[
        f"{python}-django{django}"
        for django, pythons in MATRIX.items()
        for python in pythons
    ],
)
def engine(session: nox.Session, django: str) -> None:
    major, minor = django.split(".")
    session.install(
        "-e",
        ".[s3,encryption]",
        f"Django>={django},<{major}.{int(minor) + 1}",
        *nox.project.dependency_groups(
            nox.project.load_toml("pyproject.toml"), "engine-test"
        ),
    )
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/sessions_blob",
        "--ds=tests.sessions_blob.settings",
        "-q",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
    )
