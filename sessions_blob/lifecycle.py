"""S3 lifecycle rules that expire old session objects and expiry markers: a
backstop to ``clearsessions``, not a replacement (S3 expires objects within a
day or two of their due date, and only by age).

Every write clamps a session's expiry to ``SESSIONS_BLOB_MAX_AGE`` after the
write, so an object not written for that long is expired: a rule of at least
``ceil(MAX_AGE / 1 day)`` days never removes a live session. An expiry marker
is written with its session and names an expiry no later than that, so the
same age proves it unneeded. The rules also expire noncurrent versions after
a day, so that a versioned bucket does not keep every deleted session. They
cover the session folder and the expiry index only: the per-user index (a
sibling folder) and anything else in the bucket are left alone, and they are
refused while either folder holds objects the engine did not write (a rule
cannot tell them apart).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from sessions_blob.conf import conf
from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.records import (
    expiry_index_prefix,
    object_id_from_name,
    parse_expiry_marker,
)
from sessions_blob.stores import ObjectStore, object_store

RULE_ID_PREFIX = "sessions-blob-expire"


class LifecycleError(Exception):
    """The rule cannot be made or installed; the message says why."""


def minimum_days() -> int:
    return max(1, math.ceil(conf.MAX_AGE / 86400))


def default_days() -> int:
    return minimum_days() + 1


def _store() -> ObjectStore:
    store = object_store()
    if not store.supports_lifecycle:
        raise LifecycleError(
            f"Lifecycle rules are an S3 feature; the session storage is "
            f"{type(store.storage).__name__}. Run `manage.py clearsessions` from "
            "cron instead."
        )
    return store


def key_prefix() -> str:
    prefix = _store().key_prefix(conf.PREFIX)
    if not prefix:
        raise LifecycleError(
            "The sessions are at the top of the bucket (SESSIONS_BLOB_PREFIX is "
            "empty): a rule would expire every object in it. Give the sessions "
            "a prefix of their own."
        )
    return str(prefix)


def rules(days: int | None = None) -> list[dict[str, Any]]:
    """The rule of the session folder, then the rule of the expiry index."""
    days = default_days() if days is None else days
    if days < minimum_days():
        raise LifecycleError(
            f"{days} days is shorter than SESSIONS_BLOB_MAX_AGE "
            f"({conf.MAX_AGE} s): the rule would delete live sessions. Use at "
            f"least {minimum_days()}."
        )
    index = _store().key_prefix(expiry_index_prefix(conf.PREFIX))
    return [_expiring(key_prefix(), days), _expiring(index, days)]


def rule_id(prefix: str) -> str:
    """``sessions-blob-expire:<prefix>``; past S3's 255 characters, cut and
    ended with a digest of the whole prefix, so that two long prefixes (the
    sessions' and the index's) never share an ID."""
    whole = f"{RULE_ID_PREFIX}:{prefix}"
    if len(whole) <= 255:
        return whole
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:16]
    return f"{whole[: 255 - len(digest) - 1]}~{digest}"


def _expiring(prefix: str, days: int) -> dict[str, Any]:
    return {
        "ID": rule_id(prefix),
        "Filter": {"Prefix": prefix},
        "Status": "Enabled",
        "Expiration": {"Days": days},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
    }


def covering_rules(rules: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Enabled rules whose filter includes every object under ``prefix``."""
    covering = []
    for candidate in rules:
        if candidate.get("Status") != "Enabled":
            continue
        rule_filter = candidate.get("Filter", {})
        rule_prefix = rule_filter.get("Prefix", candidate.get("Prefix"))
        if rule_prefix is None and rule_filter:
            continue  # tags or sizes: not every session object
        if prefix.startswith(rule_prefix or ""):
            covering.append(candidate)
    return covering


def current_rules() -> list[dict[str, Any]]:
    try:
        return _store().lifecycle_rules()
    except StorageUnavailable as exc:
        raise LifecycleError(f"Could not read the bucket's lifecycle: {exc}") from exc


def apply(new_rules: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Install ``new_rules`` beside the bucket's other rules.

    Returns the rules now installed and whether anything changed. A rule
    with the same ID as a new one is replaced; every other rule is kept as it
    was. Two machines applying at once both write the same result.
    """
    store = _store()
    _refuse_foreign_objects(store)
    installed = current_rules()
    by_id = {r.get("ID"): r for r in installed}
    if all(_same(by_id.get(new["ID"], {}), new) for new in new_rules):
        return installed, False
    ids = {new["ID"] for new in new_rules}
    wanted = [*(r for r in installed if r.get("ID") not in ids), *new_rules]
    try:
        store.put_lifecycle_rules(wanted)
    except StorageUnavailable as exc:
        raise LifecycleError(
            f"The store refused the lifecycle configuration: {exc}"
        ) from exc
    return wanted, True


def _refuse_foreign_objects(store: ObjectStore) -> None:
    """A rule on a folder would expire everything under it: refuse while
    something there is not a session object (or a doctor probe of ours), or
    not an expiry marker in the index."""
    for info in store.list(conf.PREFIX):
        probe = info.name[len(conf.PREFIX) :].startswith(".doctor-")
        if object_id_from_name(conf.PREFIX, info.name) is None and not probe:
            raise _foreign(info.name, "the session folder", conf.PREFIX)
    index = expiry_index_prefix(conf.PREFIX)
    for info in store.list(index):
        if parse_expiry_marker(conf.PREFIX, info.name) is None:
            raise _foreign(info.name, "the expiry index", index)


def _foreign(name: str, folder: str, prefix: str) -> LifecycleError:
    return LifecycleError(
        f"{name!r} lies in {folder} ({prefix!r}) but the engine did not write "
        "it: a lifecycle rule on the folder would expire it too. Give the "
        "sessions a prefix of their own (SESSIONS_BLOB_PREFIX), or move that "
        "object."
    )


def _same(installed: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(installed.get(k) == v for k, v in wanted.items())
