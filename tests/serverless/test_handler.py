"""The Lambda handler's own rules, each in a fresh process (it sets Django
up at import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.servers import ROOT

IMPORT = (
    "import analytics_site.lambda_handler\n"
    "from django.conf import settings\n"
    "print(settings.VAR_DIR)\n"
)


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", IMPORT],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_a_secret_key_the_function_does_not_start(tmp_path: Path) -> None:
    done = run({"TMPDIR": str(tmp_path)})

    assert done.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in done.stderr
    assert list(tmp_path.iterdir()) == []  # stopped before writing anything


def test_it_writes_under_the_temporary_directory_by_default(tmp_path: Path) -> None:
    done = run({"TMPDIR": str(tmp_path), "DJANGO_SECRET_KEY": "k"})

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "analytics-site")
    assert (tmp_path / "analytics-site").is_dir()
