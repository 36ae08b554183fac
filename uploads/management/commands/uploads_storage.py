"""``manage.py uploads_storage``: the uploads storage's set-up for direct
uploads (browsers and clients sending files straight to the bucket).

    setup    put the bucket's CORS rule (PUT from the site's origins) and
             the lifecycle rule that aborts abandoned multipart uploads
    doctor   check both with real requests, and whether the store checks
             the SHA-256 signed into each URL

The site's origins come from ``UPLOADS_CORS_ORIGINS`` or ``--origin``. On
local disk there is nothing to set up: the site serves the upload URLs.
``doctor -v 0`` prints only what needs attention. Exit status: 0 fine,
1 failed, 3 needs attention.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from uploads.conf import conf
from uploads.direct import S3DirectStore, direct_store
from uploads.direct.bucket import ERROR, WARNING, diagnose, set_up

NEEDS_ATTENTION = 3


class Command(BaseCommand):
    help = "Set up and check the uploads storage for direct uploads."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("setup", "Put the bucket's CORS and lifecycle rules."),
            ("doctor", "Check them, with real requests."),
        ):
            action = sub.add_parser(name, help=text)
            action.add_argument(
                "--origin",
                action="append",
                default=[],
                metavar="URL",
                help="The site's origin (scheme://host[:port]); repeat for more. "
                "Default: UPLOADS_CORS_ORIGINS.",
            )
            if name == "doctor":
                action.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, **options: Any) -> None:
        origins = [o.rstrip("/") for o in options["origin"] or conf.CORS_ORIGINS]
        store = direct_store()
        if not isinstance(store, S3DirectStore):
            if options["verbosity"] > 0:
                self.stdout.write(
                    "uploads_storage: local storage; this site serves the upload "
                    "URLs itself: nothing to set up."
                )
            return
        if options["action"] == "setup":
            self.setup(store, origins, options)
        else:
            self.doctor(store, origins, options)

    def setup(
        self, store: S3DirectStore, origins: list[str], options: dict[str, Any]
    ) -> None:
        if not origins:
            raise CommandError(
                "Name the site's origins: set UPLOADS_CORS_ORIGINS or pass --origin "
                "https://analytics.example.com."
            )
        try:
            done = set_up(store, origins)
        except Exception as exc:
            raise CommandError(
                f"The bucket {store.bucket!r} refused its set-up: {exc}"
            ) from exc
        if options["verbosity"] > 0:
            for line in done:
                self.stdout.write(f"uploads_storage setup: {line}")

    def doctor(
        self, store: S3DirectStore, origins: list[str], options: dict[str, Any]
    ) -> None:
        try:
            findings = diagnose(store, origins)
        except Exception as exc:
            raise CommandError(f"Could not probe the uploads storage: {exc}") from exc
        serious = [f for f in findings if f.level in {WARNING, ERROR}]
        if options["json"]:
            self.stdout.write(json.dumps([f.as_dict() for f in findings], indent=2))
        else:
            for finding in findings if options["verbosity"] > 0 else serious:
                self.stdout.write(
                    f"[{finding.level.upper():>7}] {finding.topic}: {finding.title}"
                )
                if finding.fix:
                    self.stdout.write(f"          fix: {finding.fix}")
        if serious:
            raise CommandError(
                f"{len(serious)} findings need attention.", returncode=NEEDS_ATTENTION
            )
