"""Run the engine's version matrix (noxfile.py) in parallel, and optionally
another command beside it (the site's suite), on one machine.

    python tools/matrix.py --jobs 3
    python tools/matrix.py --jobs 3 -- .venv/bin/python -m pytest -q

Each nox session (one Python and Django combination) runs in its own
process with its output in ``.nox/logs/<session>.log``; the combinations use
free ports of their own, so they do not collide. A line per finished job says
how it went and how long it took; a failed job's log tail is printed. The
command after ``--`` runs at the same time with its output passed through,
and counts as one more job. Exit status: 0 when every job passed (a skipped
combination, a missing interpreter outside CI, counts as passed), else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOX = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py")]
LOGS = ROOT / ".nox" / "logs"
_print_lock = threading.Lock()


@dataclass
class Outcome:
    name: str
    status: str  # passed, failed, skipped
    seconds: float
    detail: str = ""


def say(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


def sessions() -> list[str]:
    done = subprocess.run(
        [*NOX, "--list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return [entry["session"] for entry in json.loads(done.stdout)]


def run_session(name: str) -> Outcome:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / (re.sub(r"[^\w.-]+", "_", name) + ".log")
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.call(
            [*NOX, "--session", name],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    seconds = time.monotonic() - started
    text = log.read_text(errors="replace")
    counts = re.findall(r"^=*\s*(\d+ passed.*?) in [\d.]+s", text, re.M)
    if "skipped: Python interpreter" in text and code == 0:
        reason = re.search(r"skipped: (Python interpreter [^)]*)", text)
        return Outcome(name, "skipped", seconds, reason.group(1) if reason else "")
    if code == 0:
        return Outcome(name, "passed", seconds, counts[-1] if counts else "")
    tail = "\n".join(deque(text.splitlines(), maxlen=40))
    return Outcome(name, "failed", seconds, f"log: {log}\n{tail}")


def run_command(command: list[str]) -> Outcome:
    started = time.monotonic()
    code = subprocess.call(command, cwd=ROOT)
    seconds = time.monotonic() - started
    return Outcome(" ".join(command), "passed" if code == 0 else "failed", seconds)


def report(outcome: Outcome) -> None:
    line = f"{outcome.status:>7}  {outcome.name}  ({outcome.seconds:.0f} s)"
    if outcome.status != "failed" and outcome.detail:
        line += f"  {outcome.detail}"
    say(line)
    if outcome.status == "failed" and outcome.detail:
        say(outcome.detail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="matrix jobs at once")
    parser.add_argument("command", nargs="*", help="run beside the matrix")
    args = parser.parse_args()
    names = sessions()
    ci = "CI" in os.environ
    say(
        f"matrix: {len(names)} combinations, {args.jobs} at a time"
        + (" (CI: a missing interpreter fails)" if ci else "")
    )
    started = time.monotonic()
    outcomes: list[Outcome] = []
    side: threading.Thread | None = None
    if args.command:

        def beside() -> None:
            outcome = run_command(args.command)
            outcomes.append(outcome)
            report(outcome)

        side = threading.Thread(target=beside)
        side.start()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for outcome in pool.map(run_session, names):
            outcomes.append(outcome)
            report(outcome)
    if side is not None:
        side.join()
    failed = [o for o in outcomes if o.status == "failed"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    say(
        f"matrix: {len(outcomes) - len(failed) - len(skipped)} passed, "
        f"{len(skipped)} skipped, {len(failed)} failed in "
        f"{time.monotonic() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
