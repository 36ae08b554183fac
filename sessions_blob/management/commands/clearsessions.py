"""Django's ``clearsessions``, reporting what it did for this engine.

For other engines it behaves exactly like Django's own command. With
``-v 0`` a run that succeeds prints nothing, for cron.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.conf import settings
from django.contrib.sessions.management.commands import clearsessions
from django.core.management.base import CommandError, CommandParser

from sessions_blob.backends import configured_engine
from sessions_blob.cleanup import ClearResult, clear_expired_sessions
from sessions_blob.exceptions import StorageUnavailable


class Command(clearsessions.Command):
    help = (
        "Deletes expired sessions. For sessions in object storage, reports how "
        "many were examined, read and deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count expired sessions without deleting them.",
        )

    def handle(self, **options: Any) -> None:
        if configured_engine() is None:
            if options["dry_run"]:
                raise CommandError(
                    f"--dry-run needs sessions_blob's engine; SESSION_ENGINE is "
                    f"{settings.SESSION_ENGINE!r}, whose clear_expired() deletes."
                )
            return super().handle(**options)
        started = time.monotonic()
        tty = sys.stderr.isatty() and options["verbosity"] > 0

        def progress(result: ClearResult) -> None:
            if options["verbosity"] < 1:
                return
            rate = result.examined / max(time.monotonic() - started, 1e-6)
            line = (
                f"examined {result.examined}, expired {result.expired} "
                f"({rate:,.0f} sessions/s)"
            )
            if tty:
                self.stderr.write(f"\r{line}", ending="")
            elif result.examined % 10_000 < 1000:
                self.stderr.write(line)

        try:
            result = clear_expired_sessions(
                dry_run=options["dry_run"], progress=progress
            )
        except StorageUnavailable as exc:
            raise CommandError(str(exc)) from exc
        if tty:
            self.stderr.write("")
        elapsed = time.monotonic() - started
        if options["verbosity"] > 0:
            self.stdout.write(f"clearsessions: {result.summary()} in {elapsed:.2f}s")
