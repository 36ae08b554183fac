"""Probes of S3 and S3-compatible stores (``stores/s3.py``): conditional
writes (sequential 412 checks, then a race of concurrent writers), what a
missing key answers, versioning, public access. Every call goes through the
adapter."""

from __future__ import annotations

import contextlib
import uuid

from sessions_blob.conf import conf
from sessions_blob.doctor.base import (
    CONDITIONAL,
    ERROR,
    INFO,
    MISSING_KEY,
    OK,
    PUBLIC,
    VERSIONING,
    WARNING,
    Finding,
    probe_name,
)
from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.records import expiry_index_prefix
from sessions_blob.stores.s3 import S3ObjectStore


def diagnose(store: S3ObjectStore) -> list[Finding]:
    name = probe_name()
    findings: list[Finding] = []
    try:
        findings.append(conditional_writes(store, name))
        findings += object_acl(store, name)
    finally:
        with contextlib.suppress(StorageUnavailable):
            store.delete(name)
    findings.append(missing_key(store))
    findings.append(versioning(store))
    findings.append(public_bucket(store))
    return findings


def conditional_writes(store: S3ObjectStore, name: str) -> Finding:
    probe = store.probe_conditional_writes(name)
    if not probe.supported:
        strict = conf.REQUIRE_CONDITIONAL_WRITES
        return Finding(
            CONDITIONAL,
            "conditional writes",
            ERROR if strict else WARNING,
            f"The store rejects conditional writes ({probe.rejection}): "
            + (
                "with SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES on, every session "
                "write fails."
                if strict
                else "the engine falls back to check-then-write, so two requests "
                "of one session at the same moment can lose an update."
            ),
            "Use a store with If-None-Match/If-Match on PUT (AWS S3, MinIO, Ceph "
            "RGW, Cloudflare R2, ...)"
            + (
                " or turn SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES off to accept "
                "the fallback."
                if strict
                else ", or accept the window and keep "
                "SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES off."
            ),
        )
    honoured = all(outcome == "honoured" for outcome in probe.outcomes.values())
    # A sequential 412 does not prove the check and the write are one step:
    # race them too, under the probe's own name.
    race = store.race_conditional_writes(f"{name}-race")
    if honoured and race.atomic:
        return Finding(
            CONDITIONAL,
            "conditional writes",
            OK,
            "Conditional writes are honoured: a create over an existing object "
            "and an update with a stale ETag both got 412, and of concurrent "
            f"writers only one won ({race.describe()}).",
        )
    if not honoured:
        detail = ", ".join(f"{h}: {v}" for h, v in probe.outcomes.items())
        seen = (
            f"the store accepts conditional headers but does not honour them ({detail})"
        )
    else:
        seen = f"concurrent conditional writes are not atomic: {race.describe()}"
    return Finding(
        CONDITIONAL,
        "conditional writes",
        ERROR,
        f"No real conditional writes: {seen}. Concurrent writes can silently "
        "overwrite each other. "
        + (
            "With SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES on, the engine refuses "
            "to write once its own race on first use sees this."
            if conf.REQUIRE_CONDITIONAL_WRITES
            else "The engine falls back to check-then-write once its own race on "
            "first use sees this (a race can miss a rare window)."
        ),
        "Move the sessions to a store that answers 412 Precondition Failed "
        "atomically (AWS S3, MinIO, Ceph RGW, ...).",
    )


def object_acl(store: S3ObjectStore, name: str) -> list[Finding]:
    if store.probe_object_public(name):
        return [
            Finding(
                PUBLIC,
                "public objects",
                ERROR,
                "A session object written by the engine is readable by everyone "
                "(its ACL grants AllUsers or AuthenticatedUsers).",
                "Remove the public grants (bucket default ACL / object "
                "ownership), and turn on S3 Block Public Access.",
            )
        ]
    return []  # not public, or no ACLs: the bucket-level checks say the rest


def missing_key(store: S3ObjectStore) -> Finding:
    status = store.probe_missing_key(f"{conf.PREFIX}.doctor-missing-{uuid.uuid4().hex}")
    if status == 404:
        return Finding(
            MISSING_KEY, "missing keys", OK, "A missing session answers 404 Not Found."
        )
    if status == 403:
        return Finding(
            MISSING_KEY,
            "missing keys",
            WARNING,
            "A missing session answers 403 Forbidden: the credentials lack "
            "s3:ListBucket, so the engine cannot tell a missing session from a "
            "denied one and treats every 403 as missing.",
            f"Grant s3:ListBucket on arn:aws:s3:::{store.bucket} (limited to the "
            f"prefix {conf.PREFIX!r} if you like).",
        )
    return Finding(
        MISSING_KEY,
        "missing keys",
        ERROR,
        "A HEAD of a key that was never written succeeded.",
        "Check that the endpoint is really an S3 store.",
    )


def versioning(store: S3ObjectStore) -> Finding:
    try:
        status = store.versioning()
    except StorageUnavailable as exc:
        return Finding(
            VERSIONING,
            "versioning",
            INFO,
            f"Could not read the bucket's versioning ({exc}).",
            "Grant s3:GetBucketVersioning to run this check.",
        )
    if status not in {"Enabled", "Suspended"}:
        return Finding(
            VERSIONING,
            "versioning",
            OK,
            "Versioning is off: a deleted session is gone.",
        )
    if _noncurrent_expiry(store):
        return Finding(
            VERSIONING,
            "versioning",
            INFO,
            f"Versioning is {status.lower()}; lifecycle rules expire noncurrent "
            "versions under the session prefix and the expiry index.",
        )
    return Finding(
        VERSIONING,
        "versioning",
        WARNING,
        f"Versioning is {status.lower()}: every write and every delete (logout, "
        "clearsessions) keeps the previous session as a noncurrent version, "
        "readable with s3:GetObjectVersion and billed forever.",
        "Run `manage.py sessions_blob lifecycle --apply` (its rules also expire "
        "noncurrent versions after a day; run it again after an upgrade that "
        "adds a rule), or suspend versioning.",
    )


def _noncurrent_expiry(store: S3ObjectStore) -> bool:
    from sessions_blob.lifecycle import covering_rules

    try:
        rules = store.lifecycle_rules()
    except StorageUnavailable:
        return False
    folders = [conf.PREFIX, expiry_index_prefix(conf.PREFIX)]
    return all(
        any(
            "NoncurrentVersionExpiration" in rule
            for rule in covering_rules(rules, store.key_prefix(folder))
        )
        for folder in folders
    )


def public_bucket(store: S3ObjectStore) -> Finding:
    access = store.public_access()
    if access.policy_public:
        return Finding(
            PUBLIC,
            "public bucket",
            ERROR,
            "The bucket policy makes the bucket public: anyone who guesses an "
            "object name reads a session.",
            "Remove the public statements from the bucket policy and turn on S3 "
            "Block Public Access.",
        )
    if access.acl_public:
        return Finding(
            PUBLIC,
            "public bucket",
            ERROR,
            "The bucket ACL grants access to AllUsers or AuthenticatedUsers.",
            "Set the bucket ACL to private (or enforce bucket owner object "
            "ownership) and turn on S3 Block Public Access.",
        )
    if access.blocked:
        return Finding(
            PUBLIC, "public bucket", OK, "Block Public Access is on for the bucket."
        )
    if access.policy_public is None and access.acl_public is None:
        return Finding(
            PUBLIC,
            "public bucket",
            INFO,
            "The store does not say whether the bucket is public (no policy status "
            "or ACL API).",
            "Check by hand that the bucket is private.",
        )
    return Finding(
        PUBLIC,
        "public bucket",
        INFO,
        "The bucket is not public now, but Block Public Access is not fully on, "
        "so a later policy or ACL could make it public.",
        "Turn on all four Block Public Access settings for the bucket (s3api "
        "put-public-access-block).",
    )
