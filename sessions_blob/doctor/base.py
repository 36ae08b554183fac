"""What every probe reports: a finding with a level, a stable number (the
system check id is ``sessions_blob.{E|W|I}{number}``) and what to do; and the
one probe every adapter answers the same way."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sessions_blob.conf import conf
from sessions_blob.stores import ObjectExists, ObjectStore, VersionMismatch

OK, INFO, WARNING, ERROR = "ok", "info", "warning", "error"
LEVELS = (OK, INFO, WARNING, ERROR)

#: The probes' numbers: stable, they are the check ids' digits.
CONDITIONAL, MISSING_KEY, VERSIONING, PUBLIC, LOCAL, STORE = (
    101,
    102,
    103,
    104,
    105,
    106,
)


@dataclass(frozen=True)
class Finding:
    number: int
    topic: str
    level: str
    title: str
    fix: str = ""

    @property
    def check_id(self) -> str:
        """``sessions_blob.E1nn``, ``W1nn`` or ``I1nn``, by level (OK has the
        number of the probe too, for reference)."""
        letter = {ERROR: "E", WARNING: "W", INFO: "I"}.get(self.level, "I")
        return f"sessions_blob.{letter}{self.number}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.check_id,
            "topic": self.topic,
            "level": self.level,
            "title": self.title,
            "fix": self.fix,
        }


def probe_name() -> str:
    """A name beside the sessions that no listing of sessions shows."""
    return f"{conf.PREFIX}.doctor-{uuid.uuid4().hex}"


def adapter_conditional_writes(store: ObjectStore) -> Finding:
    """Creates are exclusive and updates check the version, through the
    adapter (local disk, memory: the adapter makes them so)."""
    name = probe_name()
    try:
        version = store.create(name, b"1")
        try:
            store.create(name, b"2")
            exclusive = False
        except ObjectExists:
            exclusive = True
        try:
            store.replace(name, b"3", version + "-stale")
            checked = False
        except VersionMismatch:
            checked = True
    finally:
        store.delete(name)
    if exclusive and checked:
        return Finding(
            CONDITIONAL,
            "conditional writes",
            OK,
            "Creates are exclusive and updates check the version.",
        )
    return Finding(
        CONDITIONAL,
        "conditional writes",
        ERROR,
        "The store overwrote an existing object or a newer version.",
        "Report this: the adapter's guarantees do not hold on this storage.",
    )
