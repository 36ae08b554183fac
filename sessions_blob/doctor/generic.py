"""Probes of any other storage (``stores/generic.py``): memory, and storages
the engine has no adapter for."""

from __future__ import annotations

from django.core.files.storage import InMemoryStorage

from sessions_blob.doctor.base import (
    STORE,
    WARNING,
    Finding,
    adapter_conditional_writes,
)
from sessions_blob.stores import ObjectStore


def diagnose(store: ObjectStore) -> list[Finding]:
    findings = [adapter_conditional_writes(store)]
    if isinstance(store.storage, InMemoryStorage):
        findings.append(
            Finding(
                STORE,
                "store",
                WARNING,
                "InMemoryStorage: sessions live in one process and are lost on "
                "restart.",
                "Use it for tests only; use S3 or local disk in production.",
            )
        )
    elif not store.atomic:
        findings.append(
            Finding(
                STORE,
                "store",
                WARNING,
                f"{type(store.storage).__name__} gives no atomic writes across "
                "processes: an update is a delete then a save, so concurrent "
                "requests in other processes can lose updates, or find the "
                "session missing for a moment and log its user out.",
                "Use S3Storage, FileSystemStorage or InMemoryStorage.",
            )
        )
    return findings
