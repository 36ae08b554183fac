"""Cold start of the site's Lambda handler against a bare Django project
under the same adapter.

Generates a bare project (``django-admin startproject bare``, DEBUG off, its
own apig-wsgi handler) in a temporary directory, then starts fresh processes
in turn, each importing one handler and answering one API Gateway HTTP API
(payload 2.0) event for a page without a session: the site's upload page
``/``, the bare project's admin login page (a page too: template, CSRF
token). Prints the median import time, first-request time and whole-process
time (interpreter start included) of each, and the site's ratios to the bare
project, measured in the same run. The site runs as deployed
(docs/serverless.md): sessions and uploads on S3 (an endpoint that is never
reached: the page has no session), ``UPLOADS_DIRECT_ORIGIN`` set; a third
row leaves it unset, so the page asks boto3 for the bucket's origin.

    python bench/cold_start.py            # 15 runs of each
    python bench/cold_start.py --runs 5
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

HOST = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
# One cold start: import the handler, answer one event, report the times.
CHILD = """
import json, sys, time
started = time.perf_counter()
import importlib
module = importlib.import_module(sys.argv[1])
imported = time.perf_counter()
event = json.loads(sys.stdin.read())
answer = module.handler(event, None)
answered = time.perf_counter()
heavy = [m for m in ("boto3", "duckdb", "polars") if m in sys.modules]
print(json.dumps({
    "import": imported - started, "first": answered - imported,
    "status": answer["statusCode"], "heavy": heavy,
}))
"""
BARE_HANDLER = """from apig_wsgi import make_lambda_handler

from bare.wsgi import application

handler = make_lambda_handler(application)
"""


def bare_project(where: Path) -> Path:
    """``django-admin startproject bare`` with DEBUG off and a handler."""
    project = where / "bare"
    project.mkdir()
    subprocess.run(
        [str(BIN / "django-admin"), "startproject", "bare", str(project)], check=True
    )
    settings = project / "bare" / "settings.py"
    text = settings.read_text()
    text = text.replace("DEBUG = True", "DEBUG = False")
    text = text.replace("ALLOWED_HOSTS = []", f"ALLOWED_HOSTS = [{HOST!r}]")
    settings.write_text(text)
    (project / "bare" / "lambda_handler.py").write_text(BARE_HANDLER)
    clean = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=project,
        env=clean,
        check=True,
    )
    return project


def cold_start(
    module: str, cwd: Path, env: dict[str, str], event: dict[str, Any]
) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, module],
        cwd=cwd,
        env=env,
        input=json.dumps(event).encode(),
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr.decode(errors="replace"))
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    result["process"] = wall
    if result["status"] != 200:
        raise SystemExit(f"{module}: {result['status']}\n{done.stderr.decode()}")
    return result


def import_breakdown(cwd: Path, env: dict[str, str], module: str) -> list[str]:
    """The top-level packages that take longest to import (self time)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: collections.Counter[str] = collections.Counter()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _cumulative, name = line.removeprefix("import time:").split("|")
        totals[name.strip().split(".")[0]] += int(own)
    return [f"{name} {us / 1000:.0f} ms" for name, us in totals.most_common(8)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    from tests.support.serverless import http_api_event

    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        where = Path(tmp)
        bare = bare_project(where)
        path = os.environ.get("PATH", "/usr/bin:/bin")
        site_env = {
            "PATH": path,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SECRET_KEY": "cold-start-bench",
            "DJANGO_ALLOWED_HOSTS": HOST,
            "DJANGO_BEHIND_TLS_PROXY": "1",
            "VAR_DIR": str(where / "var"),
            "S3_BUCKET": "never-reached",
            "S3_ENDPOINT_URL": "http://127.0.0.1:9",
            "S3_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "UPLOADS_DIRECT_ORIGIN": "http://127.0.0.1:9",
        }
        no_origin = {k: v for k, v in site_env.items() if k != "UPLOADS_DIRECT_ORIGIN"}
        cases = {
            "bare startproject": (
                "bare.lambda_handler",
                bare,
                {"PATH": path, "PYTHONPATH": str(bare)},
                http_api_event("GET", "/admin/login/", host=HOST),
            ),
            "site": (
                "analytics_site.lambda_handler",
                ROOT,
                site_env,
                http_api_event("GET", "/", host=HOST),
            ),
            "site, origin from boto3": (
                "analytics_site.lambda_handler",
                ROOT,
                no_origin,
                http_api_event("GET", "/", host=HOST),
            ),
        }
        for module, cwd, env, event in cases.values():
            cold_start(module, cwd, env, event)  # warm the page cache, not timed
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
        for run in range(args.runs):
            for name, (module, cwd, env, event) in cases.items():
                results[name].append(cold_start(module, cwd, env, event))
            print(f"  run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
        breakdown = import_breakdown(ROOT, site_env, "analytics_site.lambda_handler")

    medians = {
        name: {
            key: statistics.median(r[key] for r in runs)
            for key in ("import", "first", "process")
        }
        for name, runs in results.items()
    }
    bare_m = medians["bare startproject"]
    print(
        f"\ncold start, median of {args.runs} fresh processes each "
        f"(cpus={os.cpu_count()}, load {os.getloadavg()[0]:.1f})"
    )
    header = (
        f"{'handler':<26} {'import ms':>10} {'1st request ms':>15} {'process ms':>11}"
    )
    print(header + f" {'heavy loaded':>14}")
    print("-" * (len(header) + 15))
    for name, m in medians.items():
        heavy = ",".join(results[name][0]["heavy"]) or "-"
        print(
            f"{name:<26} {m['import'] * 1000:>10.0f} {m['first'] * 1000:>15.0f} "
            f"{m['process'] * 1000:>11.0f} {heavy:>14}"
        )
    print()
    for name, m in medians.items():
        if name == "bare startproject":
            continue
        print(
            f"{name} / bare: import {m['import'] / bare_m['import']:.2f}x, "
            f"first request {m['first'] / bare_m['first']:.2f}x, "
            f"process {m['process'] / bare_m['process']:.2f}x"
        )
    print("site's import, slowest packages (self time): " + ", ".join(breakdown))


if __name__ == "__main__":
    main()
