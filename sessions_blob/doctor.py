"""Probes of the configured session store: ``manage.py sessions_blob doctor``
and, as a deploy check, ``manage.py check --deploy``.

Each finding says what was seen and what to do about it. On S3 the probes
write, overwrite and delete one small object of their own beside the
sessions (``{prefix}.doctor-<random>``), which no listing of sessions shows.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from sessions_blob.conf import conf
from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.stores import (
    ObjectExists,
    ObjectStore,
    VersionMismatch,
    object_store,
)

OK, INFO, WARNING, ERROR = "ok", "info", "warning", "error"
LEVELS = (OK, INFO, WARNING, ERROR)
PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


@dataclass(frozen=True)
class Finding:
    number: int  # stable: the system check ids are sessions_blob.W1nn / E1nn
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


CONDITIONAL, MISSING_KEY, VERSIONING, PUBLIC, LOCAL, STORE = (
    101,
    102,
    103,
    104,
    105,
    106,
)


def diagnose(store: ObjectStore | None = None) -> list[Finding]:
    """Every finding about the session store, most severe first."""
    store = store or object_store()
    from sessions_blob.stores.filesystem import FileSystemObjectStore
    from sessions_blob.stores.s3 import S3ObjectStore

    if isinstance(store, S3ObjectStore):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            findings = _S3Probe(store).run()
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(
                f"The probes of the S3 store failed: {exc}"
            ) from exc
    elif isinstance(store, FileSystemObjectStore):
        findings = _filesystem(store)
    else:
        findings = _generic(store)
    return sorted(findings, key=lambda f: -LEVELS.index(f.level))


# -- S3 ---------------------------------------------------------------------------


def _status(error: Exception) -> int:
    response = getattr(error, "response", {}) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _code(error: Exception) -> str:
    response = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _unsupported(error: Exception) -> bool:
    return _status(error) in {400, 405, 501} or _code(error) in {
        "NotImplemented",
        "MalformedXML",
        "MethodNotAllowed",
    }


class _S3Probe:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.client = store.client
        self.bucket = store.storage.bucket_name
        self.name = f"{conf.PREFIX}.doctor-{uuid.uuid4().hex}"
        self.key = store.key(self.name)

    def run(self) -> list[Finding]:
        findings: list[Finding] = []
        try:
            findings += self.conditional_writes()
            findings += self.object_acl()
        finally:
            with contextlib.suppress(Exception):
                self.client.delete_object(Bucket=self.bucket, Key=self.key)
        findings.append(self.missing_key())
        findings.append(self.versioning())
        findings += self.public_bucket()
        return findings

    def _put(self, **condition: str) -> Any:
        return self.client.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=b'{"doctor":true}',
            **self.store._write_params(self.name),
            **condition,
        )

    def conditional_writes(self) -> list[Finding]:
        from botocore.exceptions import ClientError

        try:
            self._put(IfNoneMatch="*")
        except ClientError as error:
            if not _unsupported(error):
                raise
            self._put()  # the probe object for the next checks
            strict = conf.REQUIRE_CONDITIONAL_WRITES
            return [
                Finding(
                    CONDITIONAL,
                    "conditional writes",
                    ERROR if strict else WARNING,
                    "The store rejects conditional writes "
                    f"({_status(error)} {_code(error)}): "
                    + (
                        "with SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES on, every "
                        "session write fails."
                        if strict
                        else "the engine falls back to check-then-write, so two "
                        "requests of one session at the same moment can lose an "
                        "update."
                    ),
                    "Use a store with If-None-Match/If-Match on PUT (AWS S3, "
                    "MinIO, Ceph RGW, Cloudflare R2, ...)"
                    + (
                        " or turn SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES off to "
                        "accept the fallback."
                        if strict
                        else ", or accept the window and keep "
                        "SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES off."
                    ),
                )
            ]
        outcomes = {}
        for header, value in (("IfNoneMatch", "*"), ("IfMatch", '"' + "0" * 32 + '"')):
            try:
                self._put(**{header: value})
                outcomes[header] = "ignored"
            except ClientError as error:
                status = _status(error)
                if status in {409, 412}:
                    outcomes[header] = "honoured"
                elif _unsupported(error):
                    outcomes[header] = f"rejected ({status} {_code(error)})"
                else:
                    raise
        if all(v == "honoured" for v in outcomes.values()):
            return [
                Finding(
                    CONDITIONAL,
                    "conditional writes",
                    OK,
                    "Conditional writes are honoured: a create over an existing "
                    "object and an update with a stale ETag both got 412.",
                )
            ]
        detail = ", ".join(f"{h}: {v}" for h, v in outcomes.items())
        return [
            Finding(
                CONDITIONAL,
                "conditional writes",
                ERROR,
                "The store accepts conditional headers but does not honour them "
                f"({detail}): concurrent writes silently overwrite each other "
                "while the engine believes they are atomic.",
                "Move the sessions to a store that answers 412 Precondition "
                "Failed (AWS S3, MinIO, Ceph RGW, ...).",
            )
        ]

    def object_acl(self) -> list[Finding]:
        from botocore.exceptions import ClientError

        try:
            acl = self.client.get_object_acl(Bucket=self.bucket, Key=self.key)
        except ClientError:
            return []  # the bucket-level checks below say what they can
        if _public_grants(acl.get("Grants", [])):
            return [
                Finding(
                    PUBLIC,
                    "public objects",
                    ERROR,
                    "A session object written by the engine is readable by "
                    "everyone (its ACL grants AllUsers or AuthenticatedUsers).",
                    "Remove the public grants (bucket default ACL / object "
                    "ownership), and turn on S3 Block Public Access.",
                )
            ]
        return []

    def missing_key(self) -> Finding:
        from botocore.exceptions import ClientError

        key = self.store.key(f"{conf.PREFIX}.doctor-missing-{uuid.uuid4().hex}")
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            status = _status(error)
            if status == 404:
                return Finding(
                    MISSING_KEY,
                    "missing keys",
                    OK,
                    "A missing session answers 404 Not Found.",
                )
            if status == 403:
                return Finding(
                    MISSING_KEY,
                    "missing keys",
                    WARNING,
                    "A missing session answers 403 Forbidden: the credentials "
                    "lack s3:ListBucket, so the engine cannot tell a missing "
                    "session from a denied one and treats every 403 as missing.",
                    f"Grant s3:ListBucket on arn:aws:s3:::{self.bucket} (limited "
                    f"to the prefix {conf.PREFIX!r} if you like).",
                )
            raise
        return Finding(
            MISSING_KEY,
            "missing keys",
            ERROR,
            "A HEAD of a key that was never written succeeded.",
            "Check that the endpoint is really an S3 store.",
        )

    def versioning(self) -> Finding:
        from botocore.exceptions import ClientError

        try:
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except ClientError as error:
            return Finding(
                VERSIONING,
                "versioning",
                INFO,
                f"Could not read the bucket's versioning ({_code(error)}).",
                "Grant s3:GetBucketVersioning to run this check.",
            )
        if status not in {"Enabled", "Suspended"}:
            return Finding(
                VERSIONING,
                "versioning",
                OK,
                "Versioning is off: a deleted session is gone.",
            )
        if self._noncurrent_expiry():
            return Finding(
                VERSIONING,
                "versioning",
                INFO,
                f"Versioning is {status.lower()}; a lifecycle rule expires "
                "noncurrent versions under the session prefix.",
            )
        return Finding(
            VERSIONING,
            "versioning",
            WARNING,
            f"Versioning is {status.lower()}: every write and every delete "
            "(logout, clearsessions) keeps the previous session as a noncurrent "
            "version, readable with s3:GetObjectVersion and billed forever.",
            "Run `manage.py sessions_blob lifecycle --apply` (its rule also "
            "expires noncurrent versions after a day), or suspend versioning.",
        )

    def _noncurrent_expiry(self) -> bool:
        from sessions_blob.lifecycle import covering_rules

        with contextlib.suppress(Exception):
            rules = self.client.get_bucket_lifecycle_configuration(
                Bucket=self.bucket
            ).get("Rules", [])
            return any(
                "NoncurrentVersionExpiration" in rule
                for rule in covering_rules(rules, self.store._key_prefix(conf.PREFIX))
            )
        return False

    def public_bucket(self) -> list[Finding]:
        from botocore.exceptions import ClientError

        findings: list[Finding] = []
        known = False
        try:
            status = self.client.get_bucket_policy_status(Bucket=self.bucket)
            policy = status.get("PolicyStatus", {})
            if "IsPublic" in policy:
                known = True
                if policy["IsPublic"]:
                    findings.append(
                        Finding(
                            PUBLIC,
                            "public bucket",
                            ERROR,
                            "The bucket policy makes the bucket public: anyone "
                            "who guesses an object name reads a session.",
                            "Remove the public statements from the bucket policy "
                            "and turn on S3 Block Public Access.",
                        )
                    )
        except ClientError as error:
            known = known or _code(error) == "NoSuchBucketPolicy"
        try:
            acl = self.client.get_bucket_acl(Bucket=self.bucket)
            known = True
            if _public_grants(acl.get("Grants", [])):
                findings.append(
                    Finding(
                        PUBLIC,
                        "public bucket",
                        ERROR,
                        "The bucket ACL grants access to AllUsers or "
                        "AuthenticatedUsers.",
                        "Set the bucket ACL to private (or enforce bucket owner "
                        "object ownership) and turn on S3 Block Public Access.",
                    )
                )
        except ClientError:
            pass
        block: dict[str, Any] = {}
        try:
            block = self.client.get_public_access_block(Bucket=self.bucket).get(
                "PublicAccessBlockConfiguration", {}
            )
        except ClientError as error:
            if _code(error) != "NoSuchPublicAccessBlockConfiguration":
                block = {"unknown": True}
        flags = (
            "BlockPublicAcls",
            "IgnorePublicAcls",
            "BlockPublicPolicy",
            "RestrictPublicBuckets",
        )
        if findings:
            return findings
        if block and all(block.get(flag) for flag in flags):
            return [
                Finding(
                    PUBLIC,
                    "public bucket",
                    OK,
                    "Block Public Access is on for the bucket.",
                )
            ]
        if not known:
            return [
                Finding(
                    PUBLIC,
                    "public bucket",
                    INFO,
                    "The store does not say whether the bucket is public (no "
                    "policy status or ACL API).",
                    "Check by hand that the bucket is private.",
                )
            ]
        return [
            Finding(
                PUBLIC,
                "public bucket",
                INFO,
                "The bucket is not public now, but Block Public Access is not "
                "fully on, so a later policy or ACL could make it public.",
                "Turn on all four Block Public Access settings for the bucket "
                "(s3api put-public-access-block).",
            )
        ]


def _public_grants(grants: list[dict[str, Any]]) -> bool:
    return any(g.get("Grantee", {}).get("URI") in PUBLIC_GROUPS for g in grants)


# -- local disk and the rest ----------------------------------------------------


def _adapter_conditional_writes(store: ObjectStore) -> Finding:
    name = f"{conf.PREFIX}.doctor-{uuid.uuid4().hex}"
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


def _filesystem(store: Any) -> list[Finding]:
    findings = [_adapter_conditional_writes(store)]
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


def _generic(store: ObjectStore) -> list[Finding]:
    from django.core.files.storage import InMemoryStorage

    findings = [_adapter_conditional_writes(store)]
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
