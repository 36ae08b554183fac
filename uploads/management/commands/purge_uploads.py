"""``manage.py purge_uploads``: delete upload files no live session refers to.

For cron, beside ``clearsessions`` (which deletes expired sessions without
reading them, so it cannot delete their files): ``-v 0`` prints nothing on
success. Exit status: 0 done, 1 failed, 3 nothing deleted because some
sessions could not be read (their files cannot be told from orphans).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.progress import ProgressReporter
from uploads.cleanup import purge_orphans

NEEDS_ATTENTION = 3


class Command(BaseCommand):
    help = (
        "Delete uploaded CSV files and analytics that belong to no live session. "
        "Only files this app wrote are considered."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be deleted, and delete nothing.",
        )
        parser.add_argument(
            "--min-age",
            type=int,
            default=3600,
            metavar="SECONDS",
            help="Keep unreferenced files younger than this (uploads in progress). "
            "Default: 3600.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Delete even when some sessions cannot be read.",
        )

    def handle(self, **options: Any) -> None:
        if options["min_age"] < 0:
            raise CommandError("--min-age must not be negative.")
        verbosity = options["verbosity"]
        progress = ProgressReporter(
            self.stderr, "reading sessions", enabled=verbosity > 0
        )
        try:
            result = purge_orphans(
                min_age=options["min_age"],
                dry_run=options["dry_run"],
                force=options["force"],
                progress=progress,
            )
        except StorageUnavailable as exc:
            raise CommandError(f"Storage unavailable: {exc}") from exc
        elapsed = progress.finish()
        if verbosity > 1:
            for name in result.orphan_names:
                self.stdout.write(f"orphan: {name}")
        if verbosity > 0:
            self.stdout.write(f"purge_uploads: {result.summary()} in {elapsed:.2f}s")
        if result.refused:
            raise CommandError(
                f"{result.unreadable_sessions} sessions could not be read (bad "
                "signature or corrupt), so their files cannot be told from "
                "orphans: nothing was deleted. Check SECRET_KEY / "
                "SECRET_KEY_FALLBACKS, or pass --force.",
                returncode=NEEDS_ATTENTION,
            )
