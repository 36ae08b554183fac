"""S3 and S3-compatible stores, through one boto3 client per process.

django-storages' ``save()`` cannot send ``If-None-Match``/``If-Match``
(s3transfer rejects them), and ``open().read()`` costs two HEADs and a GET, so
this adapter calls ``put_object``/``get_object`` on a boto3 client built from
the storage's own settings: one round trip each.

The client is ``s3_client.shared_client(storage)``: one per process and
storage configuration, used by every thread and event loop.

Not every S3-compatible store honours conditional writes. OpenStack Swift's
s3api, for one, answers ``501 NotImplemented``; others accept the headers and
ignore them, or check them without a lock (two writers of one version both
win). So before its first conditional write the adapter races a few
conditional PUTs of its own under the probe prefix (``race_conditional_writes``;
``SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES``), and a store that rejects them or
lets two racers win is treated alike: the adapter says so once in the log and
falls back to check-then-write (a HEAD before the PUT), which leaves a window
of a few milliseconds for lost updates, unless
``SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES`` asks to refuse instead.

Why one module of over 500 lines: it is the one adapter class through which
the engine, ``doctor``, the admin's listing and ``lifecycle`` reach S3, so
that no other module touches a boto3 client; its methods share the error
translation (``_missing_or_raise``, ``_unavailable``) and the write
parameters. The client cache lives in ``s3_client``.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from sessions_blob.conf import conf
from sessions_blob.exceptions import ConditionalWritesUnsupported, StorageUnavailable
from sessions_blob.stores.base import (
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    ObjectPage,
    ObjectStore,
    StoredObject,
    VersionMismatch,
)
from sessions_blob.stores.s3_client import shared_client

logger = logging.getLogger("sessions_blob")

# Only these travel with a GET/HEAD (SSE-C keys); the rest are write settings.
_READ_PARAMETERS = frozenset(
    {"SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5", "RequestPayer"}
)
#: Grantees that make an object or bucket public.
PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_PROBE_BODY = b'{"doctor":true}'


@dataclass(frozen=True)
class ConditionProbe:
    """How the store answered conditional PUTs on a probe object."""

    #: False: the store rejects conditional PUTs (``rejection`` says how).
    supported: bool
    #: Header -> "honoured" (412), "ignored" (written anyway) or "rejected (...)".
    outcomes: dict[str, str] = field(default_factory=dict)
    rejection: str = ""


@dataclass(frozen=True)
class ConditionRace:
    """How many racing conditional PUTs of one key the store let through."""

    #: Writers that all sent ``If-Match`` with the same version, and winners.
    writers: int = 0
    updated: int = 0
    #: Creators that all sent ``If-None-Match: *`` for a new key, and winners.
    creators: int = 0
    created: int = 0
    #: The store refused conditional PUTs outright ("501 NotImplemented").
    rejection: str = ""

    @property
    def atomic(self) -> bool:
        return not self.rejection and self.updated <= 1 and self.created <= 1

    def describe(self) -> str:
        if self.rejection:
            return f"conditional PUTs rejected ({self.rejection})"
        return (
            f"{self.updated} of {self.writers} concurrent writers of one If-Match "
            f"version and {self.created} of {self.creators} concurrent creators "
            "(If-None-Match) won"
        )


@dataclass(frozen=True)
class PublicAccess:
    """What the bucket's policy status, ACL and Block Public Access say.
    None: the store did not say (no such API)."""

    policy_public: bool | None
    acl_public: bool | None
    #: All four Block Public Access settings are on.
    blocked: bool | None


def _public_grants(grants: list[dict[str, Any]]) -> bool:
    return any(g.get("Grantee", {}).get("URI") in PUBLIC_GROUPS for g in grants)


def _unsupported(error: ClientError) -> bool:
    """The store does not implement what was asked (as opposed to refusing it)."""
    return _status(error) in {400, 405, 501} or _code(error) in {
        "NotImplemented",
        "MalformedXML",
        "MethodNotAllowed",
    }


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3ObjectStore(ObjectStore):
    storage: S3Storage
    kind = "s3"
    supports_lifecycle = True
    pages_by_name = True

    def __init__(self, storage: S3Storage) -> None:
        super().__init__(storage)
        self.conditional_writes: bool | None = None  # None: not known yet
        self._no_conditions = ""  # why the store has none, once known
        self._probe_lock = threading.Lock()
        self._warned_forbidden = False
        self._client: tuple[int, Any] | None = None  # (pid, client)

    # -- plumbing -----------------------------------------------------------

    @property
    def client(self) -> Any:
        # Remembered here too: finding it by configuration costs a hash.
        pid = os.getpid()
        if self._client is None or self._client[0] != pid:
            self._client = (pid, shared_client(self.storage))
        return self._client[1]

    def key(self, name: str) -> str:
        # The storage's own normalisation: its location prefix, no escaping it.
        return str(self.storage._normalize_name(clean_name(name)))

    def key_prefix(self, prefix: str) -> str:
        """The bucket key prefix of ``prefix`` (with the storage's location)."""
        location = self.storage.location.strip("/")
        return f"{location}/{prefix}" if location else prefix

    def _name(self, key: str) -> str:
        location = self.storage.location
        return key[len(location) :].lstrip("/") if location else key

    def _read_params(self, name: str) -> dict[str, Any]:
        params = self.storage.get_object_parameters(name)
        return {k: v for k, v in params.items() if k in _READ_PARAMETERS}

    def _write_params(self, name: str) -> dict[str, Any]:
        params = self.storage.get_object_parameters(name)
        params.pop("ACL", None)  # session objects are private, whatever the default
        params.setdefault("ContentType", "application/json")
        return params

    def _unavailable(
        self, action: str, name: str, error: Exception
    ) -> StorageUnavailable:
        return StorageUnavailable(
            f"Session storage {action} of {name!r} failed: {error}"
        )

    # -- reads --------------------------------------------------------------

    def _missing_or_raise(self, error: ClientError, action: str, name: str) -> None:
        status = _status(error)
        if status == 404:
            return
        # HEAD answers carry no error code; GET says AccessDenied. A bad
        # signature or unknown key is a misconfiguration, never "missing".
        if status == 403 and _code(error) in {"AccessDenied", "403"}:
            # Without s3:ListBucket, S3 answers 403 for a missing key.
            if not self._warned_forbidden:
                logger.warning(
                    "Session storage answered 403 for %s; treating it as missing. "
                    "Grant s3:ListBucket on the bucket so missing keys answer 404 "
                    "(see `manage.py sessions_blob doctor`).",
                    name,
                )
                self._warned_forbidden = True
            else:
                logger.debug("403 for %s treated as a missing session", name)
            return
        raise self._unavailable(action, name, error) from error

    def read(self, name: str) -> StoredObject | None:
        try:
            response = self.client.get_object(
                Bucket=self.storage.bucket_name,
                Key=self.key(name),
                **self._read_params(name),
            )
            data = response["Body"].read()
        except ClientError as error:
            self._missing_or_raise(error, "read", name)
            return None
        except BotoCoreError as error:
            raise self._unavailable("read", name, error) from error
        return StoredObject(data=data, version=response["ETag"])

    def _head(self, name: str) -> str | None:
        try:
            response = self.client.head_object(
                Bucket=self.storage.bucket_name,
                Key=self.key(name),
                **self._read_params(name),
            )
        except ClientError as error:
            if _status(error) == 403:
                # A HEAD answer has no body, so a 403 cannot tell a missing
                # key (no s3:ListBucket) from bad credentials: a one-byte GET
                # of the same key says which.
                return self._head_by_get(name)
            self._missing_or_raise(error, "head", name)
            return None
        except BotoCoreError as error:
            raise self._unavailable("head", name, error) from error
        return str(response["ETag"])

    def _head_by_get(self, name: str) -> str | None:
        try:
            response = self.client.get_object(
                Bucket=self.storage.bucket_name,
                Key=self.key(name),
                Range="bytes=0-0",
                **self._read_params(name),
            )
            response["Body"].close()
        except ClientError as error:
            self._missing_or_raise(error, "head", name)
            return None
        except BotoCoreError as error:
            raise self._unavailable("head", name, error) from error
        return str(response["ETag"])

    def exists(self, name: str) -> bool:
        return self._head(name) is not None

    # -- writes -------------------------------------------------------------

    def _put(self, name: str, data: bytes, **condition: str) -> str:
        response = self.client.put_object(
            Bucket=self.storage.bucket_name,
            Key=self.key(name),
            Body=data,
            **self._write_params(name),
            **condition,
        )
        return str(response["ETag"])

    def _conditional_put(self, name: str, data: bytes, **condition: str) -> str | None:
        """PUT with the condition; None when the store cannot do conditions."""
        if self.conditional_writes is None and conf.PROBE_CONDITIONAL_WRITES:
            self._verify_conditional_writes()
        if self.conditional_writes is False:
            if conf.REQUIRE_CONDITIONAL_WRITES:
                raise ConditionalWritesUnsupported(self._refusal())
            return None
        try:
            etag = self._put(name, data, **condition)
        except ClientError as error:
            if _status(error) == 501 or _code(error) == "NotImplemented":
                message = error.response.get("Error", {}).get("Message", "")
                self._no_conditional_writes(f"{_code(error)}: {message}", error)
                return None
            raise
        if not conf.PROBE_CONDITIONAL_WRITES:
            self.conditional_writes = True  # else only a race decides
        return etag

    def _verify_conditional_writes(self) -> None:
        """Race conditional PUTs once before trusting them (a store that
        ignores the headers passes any sequential check)."""
        with self._probe_lock:  # one race, however many requests arrive first
            if self.conditional_writes is not None:
                return
            try:
                race = self.race_conditional_writes(
                    f"{conf.PREFIX}.doctor-race-{uuid.uuid4().hex}"
                )
            except StorageUnavailable:
                return  # undecided: the write says what is wrong, the next probes
            if race.atomic:
                self.conditional_writes = True
            else:
                self._no_conditional_writes(race.describe())

    def _refusal(self) -> str:
        return (
            "The session storage does not support conditional writes "
            f"({self._no_conditions}). SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES is on."
        )

    def _no_conditional_writes(
        self, reason: str, cause: BaseException | None = None
    ) -> None:
        self.conditional_writes = False
        self.atomic = False
        self._no_conditions = reason
        if conf.REQUIRE_CONDITIONAL_WRITES:
            raise ConditionalWritesUnsupported(self._refusal()) from cause
        logger.warning(
            "The session storage does not support conditional writes (%s). "
            "Falling back to check-then-write: session creates and updates are "
            "no longer atomic, so concurrent requests may lose updates. Set "
            "SESSIONS_BLOB_REQUIRE_CONDITIONAL_WRITES = True to refuse instead.",
            reason,
        )

    def create(self, name: str, data: bytes) -> str:
        try:
            etag = self._conditional_put(name, data, IfNoneMatch="*")
            if etag is not None:
                return etag
            if self._head(name) is not None:
                raise ObjectExists(name)
            return self._put(name, data)
        except ClientError as error:
            if _status(error) in {409, 412}:  # 409: a concurrent conditional write
                raise ObjectExists(name) from error
            raise self._unavailable("create", name, error) from error
        except BotoCoreError as error:
            raise self._unavailable("create", name, error) from error

    def replace(self, name: str, data: bytes, version: str) -> str:
        try:
            etag = self._conditional_put(name, data, IfMatch=version)
            if etag is not None:
                return etag
            current = self._head(name)
            if current is None:
                raise ObjectMissing(name)
            if current != version:
                raise VersionMismatch(name)
            return self._put(name, data)
        except ClientError as error:
            if _status(error) == 404:
                raise ObjectMissing(name) from error
            if _status(error) in {409, 412}:
                raise VersionMismatch(name) from error
            raise self._unavailable("update", name, error) from error
        except BotoCoreError as error:
            raise self._unavailable("update", name, error) from error

    def delete(self, name: str) -> None:
        try:
            self.client.delete_object(
                Bucket=self.storage.bucket_name, Key=self.key(name)
            )
        except ClientError as error:
            if _status(error) != 404:
                raise self._unavailable("delete", name, error) from error
        except BotoCoreError as error:
            raise self._unavailable("delete", name, error) from error

    def delete_many(self, names: Iterable[str]) -> int:
        batch = [{"Key": self.key(name)} for name in names]
        calls = 0
        for start in range(0, len(batch), 1000):
            chunk = batch[start : start + 1000]
            try:
                response = self.client.delete_objects(
                    Bucket=self.storage.bucket_name,
                    Delete={"Objects": chunk, "Quiet": True},
                )
            except (ClientError, BotoCoreError) as error:
                raise self._unavailable(
                    "batch delete", f"{len(chunk)} objects", error
                ) from error
            calls += 1
            errors = [
                e for e in response.get("Errors", []) if e.get("Code") != "NoSuchKey"
            ]
            if errors:
                raise StorageUnavailable(
                    f"Session storage refused to delete {len(errors)} objects, "
                    f"first: {errors[0]}"
                )
        return calls

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(
                Bucket=self.storage.bucket_name, Prefix=self.key_prefix(prefix)
            ):
                for item in page.get("Contents", []):
                    yield self._info(item)
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable("listing", prefix, error) from error

    def _info(self, item: dict[str, Any]) -> ObjectInfo:
        return ObjectInfo(
            name=self._name(item["Key"]),
            last_modified=item["LastModified"],
            size=int(item["Size"]),
        )

    def list_page(
        self, prefix: str, *, token: str | None = None, limit: int = 50
    ) -> ObjectPage:
        """One ``ListObjectsV2`` call: S3 pages by name (for session objects,
        hashes: no useful order), and the token is S3's continuation token."""
        params: dict[str, Any] = {
            "Bucket": self.storage.bucket_name,
            "Prefix": self.key_prefix(prefix),
            "Delimiter": "/",
            "MaxKeys": limit,
        }
        if token:
            params["ContinuationToken"] = token
        try:
            response = self.client.list_objects_v2(**params)
        except ClientError as error:
            # A token the store did not give out is refused with a 400; a 5xx
            # (an outage met on a later page) is the store's, as on any page.
            if token and _status(error) == 400:
                raise ValueError(f"not a continuation token: {error}") from error
            raise self._unavailable("listing", prefix, error) from error
        except BotoCoreError as error:
            raise self._unavailable("listing", prefix, error) from error
        more = response.get("IsTruncated")
        return ObjectPage(
            items=[self._info(item) for item in response.get("Contents", [])],
            next_token=response.get("NextContinuationToken") if more else None,
            newest_first=False,
        )

    def metadata(self, name: str) -> dict[str, Any]:
        """The object's HEAD (ETag, version, encryption, storage class, ...)."""
        try:
            head = self.client.head_object(
                Bucket=self.storage.bucket_name,
                Key=self.key(name),
                **self._read_params(name),
            )
        except (ClientError, BotoCoreError) as exc:  # extra: say why it is missing
            return {"error": str(exc)}
        wanted = (
            "ETag",
            "VersionId",
            "LastModified",
            "ContentLength",
            "ContentType",
            "ServerSideEncryption",
            "SSEKMSKeyId",
            "StorageClass",
            "Metadata",
        )
        return {k: head[k] for k in wanted if head.get(k) not in (None, {}, "")} | {
            "Bucket": self.storage.bucket_name,
            "Key": self.key(name),
        }

    # -- probes and bucket configuration (doctor, lifecycle) --------------------

    @property
    def bucket(self) -> str:
        return str(self.storage.bucket_name)

    def probe_conditional_writes(self, name: str) -> ConditionProbe:
        """Write the probe object ``name``, then a create over it
        (``If-None-Match: *``) and an update with a stale ETag (``If-Match``):
        a store that honours conditions answers 412 to both. The probe object
        is left for ``probe_object_public``; delete it afterwards."""
        try:
            try:
                self._put(name, _PROBE_BODY, IfNoneMatch="*")
            except ClientError as error:
                if not _unsupported(error):
                    raise
                self._put(name, _PROBE_BODY)  # the probe object, unconditionally
                return ConditionProbe(
                    supported=False, rejection=f"{_status(error)} {_code(error)}"
                )
            outcomes = {}
            for header, value in (
                ("IfNoneMatch", "*"),
                ("IfMatch", '"' + "0" * 32 + '"'),
            ):
                try:
                    self._put(name, _PROBE_BODY, **{header: value})
                    outcomes[header] = "ignored"
                except ClientError as error:
                    if _status(error) in {409, 412}:
                        outcomes[header] = "honoured"
                    elif _unsupported(error):
                        outcomes[header] = f"rejected ({_status(error)} {_code(error)})"
                    else:
                        raise
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable("probe", name, error) from error
        return ConditionProbe(supported=True, outcomes=outcomes)

    def race_conditional_writes(
        self, name: str, *, writers: int = 8, creators: int = 2
    ) -> ConditionRace:
        """Race conditional PUTs of the store, as concurrent requests do:
        ``writers`` PUTs of ``{name}-update`` with one ``If-Match`` version,
        then ``creators`` PUTs of the new ``{name}-create`` with
        ``If-None-Match: *``. A store that honours conditions atomically lets
        at most one of each win. Deletes the two objects it wrote, nothing else."""
        client = self.client  # thread-safe; other threads' connections are new
        updated, created = f"{name}-update", f"{name}-create"
        written: list[str] = []  # only names that were new: ours to delete
        try:
            try:
                version = self._put(updated, _PROBE_BODY, IfNoneMatch="*")
                written.append(updated)
                written.append(created)  # new too: whatever lands there is ours
                won_update = self._race(client, updated, writers, IfMatch=version)
                won_create = self._race(client, created, creators, IfNoneMatch="*")
            except ClientError as error:
                if _unsupported(error):
                    return ConditionRace(rejection=f"{_status(error)} {_code(error)}")
                raise
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable("probe", name, error) from error
        finally:
            for probe in written:  # never through delete(): not a session's
                with contextlib.suppress(ClientError, BotoCoreError):
                    client.delete_object(Bucket=self.bucket, Key=self.key(probe))
        return ConditionRace(writers, won_update, creators, won_create)

    def _race(self, client: Any, name: str, racers: int, **condition: str) -> int:
        """How many of ``racers`` conditional PUTs, released at once, won."""
        start = threading.Barrier(racers)
        params = self._write_params(name)

        def put(number: int) -> bool:
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait(timeout=10)  # a starved racer: the rest go anyway
            try:
                client.put_object(
                    Bucket=self.bucket,
                    Key=self.key(name),
                    Body=b'{"doctor":%d}' % number,  # each its own ETag
                    **params,
                    **condition,
                )
            except ClientError as error:
                if _status(error) in {409, 412}:  # lost (409: a conflicting write)
                    return False
                raise
            return True

        with ThreadPoolExecutor(
            racers, thread_name_prefix="sessions-blob-probe"
        ) as pool:
            return sum(pool.map(put, range(racers)))

    def probe_object_public(self, name: str) -> bool | None:
        """Whether the object's ACL grants everyone; None: the store has no ACLs."""
        try:
            acl = self.client.get_object_acl(Bucket=self.bucket, Key=self.key(name))
        except (ClientError, BotoCoreError):
            return None
        return _public_grants(acl.get("Grants", []))

    def probe_missing_key(self, name: str) -> int:
        """The HTTP status of a HEAD of ``name``, a key never written: 404,
        403 without ``s3:ListBucket``, 200 if something answers anyway."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as error:
            if _status(error) in {403, 404}:
                return _status(error)
            raise self._unavailable("probe", name, error) from error
        except BotoCoreError as error:
            raise self._unavailable("probe", name, error) from error
        return 200

    def versioning(self) -> str | None:
        """``Enabled``, ``Suspended`` or None (never turned on). Raises
        ``StorageUnavailable`` when the store does not say."""
        try:
            response = self.client.get_bucket_versioning(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            code = _code(error) if isinstance(error, ClientError) else str(error)
            raise StorageUnavailable(code) from error
        status = response.get("Status")
        return str(status) if status else None

    def public_access(self) -> PublicAccess:
        """The bucket's policy status, ACL and Block Public Access settings."""
        try:
            return self._public_access()
        except BotoCoreError as error:
            raise self._unavailable("probe", self.bucket, error) from error

    def _public_access(self) -> PublicAccess:
        policy_public: bool | None = None
        try:
            status = self.client.get_bucket_policy_status(Bucket=self.bucket)
            policy = status.get("PolicyStatus", {})
            if "IsPublic" in policy:
                policy_public = bool(policy["IsPublic"])
        except ClientError as error:
            if _code(error) == "NoSuchBucketPolicy":
                policy_public = False
        acl_public: bool | None = None
        try:
            acl = self.client.get_bucket_acl(Bucket=self.bucket)
            acl_public = _public_grants(acl.get("Grants", []))
        except ClientError:
            pass
        blocked: bool | None = None
        try:
            block = self.client.get_public_access_block(Bucket=self.bucket).get(
                "PublicAccessBlockConfiguration", {}
            )
            blocked = all(
                block.get(flag)
                for flag in (
                    "BlockPublicAcls",
                    "IgnorePublicAcls",
                    "BlockPublicPolicy",
                    "RestrictPublicBuckets",
                )
            )
        except ClientError as error:
            if _code(error) == "NoSuchPublicAccessBlockConfiguration":
                blocked = False
        return PublicAccess(policy_public, acl_public, blocked)

    def lifecycle_rules(self) -> builtins.list[dict[str, Any]]:
        """The bucket's lifecycle rules ([] when it has none)."""
        try:
            response = self.client.get_bucket_lifecycle_configuration(
                Bucket=self.bucket
            )
        except ClientError as error:
            if _code(error) == "NoSuchLifecycleConfiguration":
                return []
            raise self._unavailable("lifecycle read", self.bucket, error) from error
        except BotoCoreError as error:
            raise self._unavailable("lifecycle read", self.bucket, error) from error
        return list(response.get("Rules", []))

    def put_lifecycle_rules(self, rules: builtins.list[dict[str, Any]]) -> None:
        """Replace the bucket's lifecycle configuration with ``rules``."""
        try:
            self.client.put_bucket_lifecycle_configuration(
                Bucket=self.bucket, LifecycleConfiguration={"Rules": rules}
            )
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable("lifecycle write", self.bucket, error) from error
