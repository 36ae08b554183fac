"""Probes of the configured session store: ``manage.py sessions_blob doctor``
and, as deploy checks, ``manage.py check --deploy``.

One module per kind of store, as in ``sessions_blob/stores/``: each asks its
adapter (never a client) and says what it saw and what to do about it. On S3
the probes write, overwrite and delete small objects of their own beside the
sessions (``{prefix}.doctor-<random>``, and ``...-race-update``/``-create``
for the race of concurrent conditional writes), which no listing of sessions
shows.
"""

from __future__ import annotations

from importlib import import_module

from sessions_blob.doctor.base import (
    CONDITIONAL,
    ERROR,
    INFO,
    LEVELS,
    LOCAL,
    MISSING_KEY,
    OK,
    PUBLIC,
    STORE,
    VERSIONING,
    WARNING,
    Finding,
)
from sessions_blob.stores import ObjectStore, object_store

__all__ = [
    "CONDITIONAL",
    "ERROR",
    "INFO",
    "LEVELS",
    "LOCAL",
    "MISSING_KEY",
    "OK",
    "PUBLIC",
    "STORE",
    "VERSIONING",
    "WARNING",
    "Finding",
    "diagnose",
]


def diagnose(store: ObjectStore | None = None) -> list[Finding]:
    """Every finding about the session store, most severe first. Raises
    ``StorageUnavailable`` when the store cannot be probed."""
    store = store or object_store()
    probes = import_module(f"sessions_blob.doctor.{store.kind}")
    findings: list[Finding] = probes.diagnose(store)
    return sorted(findings, key=lambda f: -LEVELS.index(f.level))
