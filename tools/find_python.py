"""Find a CPython interpreter of a given minor version, without a fixed path.

    python3 tools/find_python.py 3.13 3.12    # the first version found wins
    python3 tools/find_python.py --all 3.11 3.12 3.13

Looks, in order, at ``pythonX.Y`` on PATH (run once to learn its real
executable: a pyenv shim of a version that is not selected fails, and is
skipped), then at pyenv's versions (``$(pyenv root)/versions/X.Y.*``), then at
``uv python find``. Prints the executable's path; exits 1 when none is found.
Standard library only: it runs before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

_PROBE = "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"


def _probe(executable: str, version: str) -> str | None:
    """The real executable behind ``executable`` if it runs and is ``version``."""
    try:
        done = subprocess.run(
            [executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2 or lines[1] != version:
        return None
    return lines[0]


def _pyenv_candidates(version: str) -> list[str]:
    roots = []
    if os.environ.get("PYENV_ROOT"):
        roots.append(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv:
        done = subprocess.run(
            [pyenv, "root"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and done.stdout.strip():
            roots.append(done.stdout.strip())
    roots.append(str(Path.home() / ".pyenv"))
    pattern = re.compile(rf"{re.escape(version)}\.(\d+)")
    found: list[tuple[int, str]] = []
    for root in dict.fromkeys(roots):
        versions = Path(root) / "versions"
        if not versions.is_dir():
            continue
        for entry in versions.iterdir():
            match = pattern.fullmatch(entry.name)
            executable = entry / "bin" / f"python{version}"
            if match and executable.exists():
                found.append((int(match.group(1)), str(executable)))
    return [path for _patch, path in sorted(found, reverse=True)]


def _uv_candidate(version: str) -> list[str]:
    uv = shutil.which("uv")
    if not uv:
        return []
    done = subprocess.run(
        [uv, "python", "find", "--no-python-downloads", version],
        capture_output=True,
        text=True,
        check=False,
    )
    return [done.stdout.strip()] if done.returncode == 0 and done.stdout else []


def find(version: str) -> str | None:
    candidates = []
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        candidates.append(sys.executable)
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    candidates += _pyenv_candidates(version)
    candidates += _uv_candidate(version)
    for candidate in dict.fromkeys(candidates):
        real = _probe(candidate, version)
        if real:
            return real
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="+", metavar="X.Y")
    parser.add_argument(
        "--all",
        action="store_true",
        help="Print 'X.Y path' for every version found, not only the first.",
    )
    args = parser.parse_args()
    found_any = False
    for version in args.versions:
        path = find(version)
        if path is None:
            continue
        found_any = True
        if not args.all:
            print(path)
            return 0
        print(version, path)
    return 0 if found_any else 1


if __name__ == "__main__":
    sys.exit(main())
