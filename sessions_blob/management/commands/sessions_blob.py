"""``manage.py sessions_blob SUBCOMMAND``: operating the session store.

    stats                     count, bytes, live/expired, oldest and newest
    lifecycle [--apply]       print (install) S3 rules expiring old sessions and markers
    import --from ENGINE      copy live sessions of another engine, same keys
    doctor                    probe the store; findings and what to do
    logout_user USER          end every session of one user

Exit status, for cron: 0 done; 1 failed (CommandError: storage unreachable,
bad settings, nothing or only part done); 2 bad command line; 3 done but
needs attention (doctor findings at warning or error level).

With ``-v 0`` a run that succeeds prints nothing (cron mails only trouble);
``doctor -v 0`` prints the findings that need attention, nothing else.
``--json`` prints JSON alone on stdout.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_blob.backends import configured_engine
from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.progress import ProgressReporter

NEEDS_ATTENTION = 3


class Command(BaseCommand):
    help = (
        "Operate the object-storage session engine: stats, lifecycle, import, "
        "doctor, logout_user. Exit status: 0 done, 1 failed, 2 usage, 3 needs "
        "attention."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="subcommand", required=True, metavar="SUBCOMMAND"
        )

        stats = sub.add_parser("stats", help="Count the stored sessions.")
        stats.add_argument("--json", action="store_true", help="Print JSON.")

        lifecycle = sub.add_parser(
            "lifecycle",
            help="Print, or --apply, S3 lifecycle rules for sessions and markers.",
        )
        lifecycle.add_argument(
            "--days",
            type=int,
            help="Expire session objects not written for this many days "
            "(default: SESSIONS_BLOB_MAX_AGE in days, plus one).",
        )
        lifecycle.add_argument(
            "--apply", action="store_true", help="Install the rule in the bucket."
        )

        importer = sub.add_parser(
            "import", help="Copy every live session of another engine, same keys."
        )
        importer.add_argument(
            "--from",
            dest="source",
            required=True,
            metavar="ENGINE",
            help="e.g. django.contrib.sessions.backends.db",
        )
        importer.add_argument("--dry-run", action="store_true")

        doctor = sub.add_parser("doctor", help="Probe the session store.")
        doctor.add_argument("--json", action="store_true", help="Print JSON.")

        logout = sub.add_parser("logout_user", help="End every session of a user.")
        logout.add_argument("user", metavar="USER", help="Username.")
        logout.add_argument(
            "--id",
            action="store_true",
            help="USER is a primary key (works for deleted users too).",
        )
        logout.add_argument("--dry-run", action="store_true")

        for subparser in sub.choices.values():  # `sessions_blob stats -v 0` too
            subparser.add_argument(
                "-v",
                "--verbosity",
                type=int,
                choices=[0, 1, 2, 3],
                default=argparse.SUPPRESS,
                help="0 prints nothing but errors (for cron).",
            )

    # -----------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        name = options["subcommand"]
        if name != "import" and configured_engine() is None:
            raise CommandError(
                f"SESSION_ENGINE is {settings.SESSION_ENGINE!r}: these commands "
                "operate sessions_blob.backends.storage or cached_storage."
            )
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "stats": self.do_stats,
            "lifecycle": self.do_lifecycle,
            "import": self.do_import,
            "doctor": self.do_doctor,
            "logout_user": self.do_logout_user,
        }
        handler = handlers[name]
        try:
            handler(options)
        except StorageUnavailable as exc:
            raise CommandError(f"Session storage unavailable: {exc}") from exc

    def progress(self, label: str, unit: str = "sessions") -> ProgressReporter:
        return ProgressReporter(
            self.stderr, label, unit=unit, enabled=self.verbosity > 0
        )

    def summary(self, text: str) -> None:
        if self.verbosity > 0:
            self.stdout.write(text)

    # -- stats ----------------------------------------------------------------

    def do_stats(self, options: dict[str, Any]) -> None:
        from sessions_blob.operations import stats

        progress = self.progress("listing")
        result = stats(progress=progress)
        elapsed = progress.finish()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
            return
        rows = [
            ("sessions", f"{result.sessions:,}"),
            ("bytes", f"{result.bytes:,}"),
            ("live", f"{result.live:,}"),
            ("expired", f"{result.expired:,} (run clearsessions)"),
            ("unreadable", f"{result.unreadable:,}"),
            ("authenticated", f"{result.authenticated:,}"),
            ("users indexed", f"{result.users_indexed:,}"),
            ("oldest write", _when(result.oldest)),
            ("newest write", _when(result.newest)),
        ]
        if self.verbosity > 0:
            for label, value in rows:
                self.stdout.write(f"{label:>16}  {value}")
        self.summary(
            f"stats: {result.sessions} sessions ({result.live} live, "
            f"{result.expired} expired), {result.bytes:,} bytes; read "
            f"{result.read} in {elapsed:.2f}s"
        )

    # -- lifecycle ------------------------------------------------------------

    def do_lifecycle(self, options: dict[str, Any]) -> None:
        from sessions_blob import lifecycle

        try:
            ours = lifecycle.rules(options["days"])
            if self.verbosity > 0 or not options["apply"]:
                self.stdout.write(json.dumps({"Rules": ours}, indent=2))
            if not options["apply"]:
                self.summary(
                    "lifecycle: not installed; run with --apply to install "
                    "them (other rules of the bucket are kept)."
                )
                return
            installed, changed = lifecycle.apply(ours)
        except lifecycle.LifecycleError as exc:
            raise CommandError(str(exc)) from exc
        names = ", ".join(repr(rule["ID"]) for rule in ours)
        self.summary(
            f"lifecycle: rules {names} "
            f"{'installed' if changed else 'already installed'}; the bucket has "
            f"{len(installed)} rules."
        )

    # -- import ---------------------------------------------------------------

    def do_import(self, options: dict[str, Any]) -> None:
        from sessions_blob.importing import CannotImport, import_sessions

        progress = self.progress("importing")
        try:
            result = import_sessions(
                options["source"],
                dry_run=options["dry_run"],
                progress=lambda r, total: progress(r.seen, total),
            )
        except CannotImport as exc:
            raise CommandError(str(exc)) from exc
        elapsed = progress.finish()
        if not options["dry_run"] and self.verbosity > 0:
            # Logouts under the new engine delete objects, not the source rows.
            self.stderr.write(
                "Once SESSION_ENGINE is switched and this has run once more, empty "
                "the old session store: a later import would bring back sessions "
                "whose users have since logged out."
            )
        self.summary(f"import: {result.summary()} in {elapsed:.2f}s")

    # -- doctor ---------------------------------------------------------------

    def do_doctor(self, options: dict[str, Any]) -> None:
        from sessions_blob.doctor import ERROR, WARNING, diagnose

        try:
            findings = diagnose()
        except (StorageUnavailable, OSError) as exc:
            raise CommandError(f"Could not probe the session storage: {exc}") from exc
        serious = [f for f in findings if f.level in {WARNING, ERROR}]
        if options["json"]:
            self.stdout.write(json.dumps([f.as_dict() for f in findings], indent=2))
        else:
            # At -v 0 only what needs attention: silence means all is fine.
            for finding in findings if self.verbosity > 0 else serious:
                self.stdout.write(
                    f"[{finding.level.upper():>7}] {finding.topic}: {finding.title}"
                )
                if finding.fix:
                    self.stdout.write(f"          fix: {finding.fix}")
            self.summary(
                f"doctor: {len(findings)} checks, {len(serious)} need attention"
                if serious
                else f"doctor: {len(findings)} checks, all fine"
            )
        if serious:
            raise CommandError(
                f"{len(serious)} findings need attention.", returncode=NEEDS_ATTENTION
            )

    # -- logout_user ----------------------------------------------------------

    def do_logout_user(self, options: dict[str, Any]) -> None:
        from sessions_blob.operations import logout_user

        user_id = options["user"]
        if not options["id"]:
            model = get_user_model()
            try:
                user = model._default_manager.get_by_natural_key(options["user"])
            except model.DoesNotExist:
                raise CommandError(
                    f"No user {options['user']!r} (pass --id for a primary key)."
                ) from None
            user_id = str(user.pk)
        result = logout_user(user_id, dry_run=options["dry_run"])
        self.summary(f"logout_user: {result.summary()}")


def _when(moment: Any) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"
