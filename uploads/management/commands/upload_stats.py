"""``manage.py upload_stats``: the live upload sessions and their files."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.progress import ProgressReporter
from uploads.cleanup import upload_stats


class Command(BaseCommand):
    help = "Count the live upload sessions, their files and bytes, by status."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, **options: Any) -> None:
        verbosity = options["verbosity"]
        progress = ProgressReporter(
            self.stderr, "reading sessions", enabled=verbosity > 0
        )
        try:
            result = upload_stats(progress=progress)
        except StorageUnavailable as exc:
            raise CommandError(f"Storage unavailable: {exc}") from exc
        progress.finish()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        elif verbosity > 0:
            statuses = ", ".join(
                f"{n} {s}" for s, n in sorted(result.by_status.items())
            )
            self.stdout.write(
                f"upload_stats: {result.sessions} upload sessions ({statuses or '-'}), "
                f"{result.files} files, {result.bytes:,} bytes"
            )
