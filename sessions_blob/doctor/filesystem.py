"""Probes of local disk (``stores/filesystem.py``): permissions, and where
the folder lies."""

from __future__ import annotations

import contextlib
import os
import stat

from django.conf import settings

from sessions_blob.conf import conf
from sessions_blob.doctor.base import (
    INFO,
    LOCAL,
    MISSING_KEY,
    OK,
    STORE,
    WARNING,
    Finding,
    adapter_conditional_writes,
)
from sessions_blob.stores.filesystem import FileSystemObjectStore


def diagnose(store: FileSystemObjectStore) -> list[Finding]:
    findings = [adapter_conditional_writes(store)]
    findings.append(
        Finding(
            MISSING_KEY,
            "missing keys",
            OK,
            "Local disk: a missing session is a missing file.",
        )
    )
    folder = store.root / conf.PREFIX if conf.PREFIX else store.root
    problems = []
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(os.stat(folder).st_mode)
        if mode & 0o077:
            problems.append(f"{folder} is mode {mode:o}")
    served = [
        os.path.realpath(root)
        for root in (settings.MEDIA_ROOT, getattr(settings, "STATIC_ROOT", None))
        if root
    ]
    location = os.path.realpath(store.root)
    for root in served:
        if location == root or location.startswith(root + os.sep):
            problems.append(f"it lies in {root}, which web servers commonly serve")
    if problems:
        findings.append(
            Finding(
                LOCAL,
                "file permissions",
                WARNING,
                "Session files may be readable by others: " + "; ".join(problems) + ".",
                f"chmod 700 {folder}, and keep the sessions out of MEDIA_ROOT "
                "and STATIC_ROOT.",
            )
        )
    else:
        findings.append(
            Finding(
                LOCAL,
                "file permissions",
                OK,
                "The session folder is private to its owner (mode 700, files 600) "
                "and not served.",
            )
        )
    findings.append(
        Finding(
            STORE,
            "store",
            INFO,
            "Local disk: writes are atomic between processes of this machine only.",
            "Run every instance on this machine, or move the sessions to S3.",
        )
    )
    return findings
