"""The bucket's side of direct uploads, for ``manage.py uploads_storage``:
the CORS rule browsers need to send parts to it, the lifecycle rule that
aborts multipart uploads nobody completed, and probes of both (and of
whether the store checks the SHA-256 signed into each URL).

Each rule has an ``ID`` of its own: setting it up replaces only that rule,
and every other rule of the bucket stays.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from uploads.conf import conf
from uploads.direct.s3 import CORS_HEADERS, S3DirectStore
from uploads.documents import UPLOADS_ROOT, file_path

CORS_RULE_ID = "uploads-direct-upload"
LIFECYCLE_RULE_ID = "uploads-abort-incomplete-multipart"
#: Days after which S3 aborts a multipart upload nobody completed (a direct
#: upload's own expiry is hours; this is the backstop).
ABORT_AFTER_DAYS = 1
CORS_MAX_AGE = 3600

OK, WARNING, ERROR = "ok", "warning", "error"


@dataclass(frozen=True)
class Finding:
    level: str
    topic: str
    title: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cors_rule(origins: list[str]) -> dict[str, Any]:
    return {
        "ID": CORS_RULE_ID,
        "AllowedOrigins": sorted(origins),
        "AllowedMethods": ["PUT"],
        "AllowedHeaders": list(CORS_HEADERS),
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": CORS_MAX_AGE,
    }


def lifecycle_rule(store: S3DirectStore) -> dict[str, Any]:
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Filter": {"Prefix": store.key(UPLOADS_ROOT)},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_AFTER_DAYS},
    }


def set_up(store: S3DirectStore, origins: list[str]) -> list[str]:
    """Put both rules on the bucket; returns what was done, for people."""
    store.put_cors_rule(cors_rule(origins))
    done = [f"CORS: PUT from {', '.join(sorted(origins))}"]
    store.put_lifecycle_rule(lifecycle_rule(store))
    done.append(
        f"lifecycle: abort multipart uploads under {store.key(UPLOADS_ROOT)} "
        f"after {ABORT_AFTER_DAYS} day"
    )
    return done


def _covers(rule: dict[str, Any], origin: str) -> bool:
    origins = rule.get("AllowedOrigins", [])
    headers = {h.lower() for h in rule.get("AllowedHeaders", [])}
    return (
        (origin in origins or "*" in origins)
        and "PUT" in rule.get("AllowedMethods", [])
        and ("*" in headers or set(CORS_HEADERS) <= headers)
    )


def _direct_origin(store: S3DirectStore) -> list[Finding]:
    """UPLOADS_DIRECT_ORIGIN, when set, must be where the parts go."""
    configured = conf.DIRECT_ORIGIN
    if not configured:
        return []
    actual = store.origin()
    if configured == actual:
        return [Finding(OK, "csp", f"The upload page may send parts to {actual}.")]
    return [
        Finding(
            ERROR,
            "csp",
            f"UPLOADS_DIRECT_ORIGIN is {configured}, but parts go to {actual}: "
            "the upload page's CSP blocks them.",
            f"Set UPLOADS_DIRECT_ORIGIN={actual}, or leave it empty.",
        )
    ]


def diagnose(store: S3DirectStore, origins: list[str]) -> list[Finding]:
    """What stands between a browser of ``origins`` and a direct upload."""
    findings: list[Finding] = []
    fix = "Run manage.py uploads_storage setup."
    try:
        rules = store.cors_rules()
    except Exception as exc:
        findings.append(
            Finding(ERROR, "cors", f"The store has no CORS rules ({exc}).", fix)
        )
        rules = []
    for origin in origins:
        configured = any(_covers(rule, origin) for rule in rules)
        answered = store.preflight(origin)
        if configured and answered:
            findings.append(Finding(OK, "cors", f"Browsers at {origin} may PUT parts."))
        else:
            seen = "no rule allows it" if not configured else "the store refused it"
            findings.append(
                Finding(
                    ERROR,
                    "cors",
                    f"Browsers at {origin} cannot PUT parts ({seen}): the upload "
                    "page fails with a network error.",
                    fix,
                )
            )
    if not origins:
        findings.append(
            Finding(
                WARNING,
                "cors",
                "No site origin is configured: the CORS rule cannot be checked.",
                "Set UPLOADS_CORS_ORIGINS (e.g. https://analytics.example.com) or "
                "pass --origin.",
            )
        )
    findings.extend(_direct_origin(store))
    try:
        lifecycle = store.lifecycle_rules()
    except Exception:
        lifecycle = []
    aborts = [
        rule
        for rule in lifecycle
        if rule.get("Status") == "Enabled"
        and "AbortIncompleteMultipartUpload" in rule
        and store.key(UPLOADS_ROOT).startswith(
            (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", ""))
        )
    ]
    if aborts:
        findings.append(
            Finding(OK, "lifecycle", "Abandoned multipart uploads are aborted.")
        )
    else:
        findings.append(
            Finding(
                WARNING,
                "lifecycle",
                "No lifecycle rule aborts abandoned multipart uploads: parts of "
                "uploads nobody completed stay (and are billed) until "
                "purge_uploads aborts them.",
                fix + " (Stores without lifecycle rules: run purge_uploads from cron.)",
            )
        )
    findings.append(_checksums(store))
    return findings


def _checksums(store: S3DirectStore) -> Finding:
    uid = uuid.uuid4().hex
    name = file_path(uid, uuid.uuid4().hex)  # an owned name: purge_uploads'
    body = b"probe,checksum\n1,2\n"
    try:
        good = store.probe_put(name, body, body)
        bad = store.probe_put(name, body, body[:-2] + b"3\n")
    finally:
        store.client.delete_object(Bucket=store.bucket, Key=store.key(name))
    if good != 200:
        return Finding(
            ERROR,
            "signed uploads",
            f"A signed PUT was refused ({good}): direct uploads cannot work.",
            "Check the storage's credentials and the bucket policy.",
        )
    if bad == 200:
        return Finding(
            WARNING,
            "checksums",
            "The store accepted bytes other than those whose SHA-256 was signed: "
            "it does not check checksums. Complete reads one-part files back to "
            "check them; parts of larger files are checked by length only.",
            "Use a store that checks x-amz-checksum-sha256 (AWS S3 does).",
        )
    return Finding(OK, "checksums", "The store checks each part's SHA-256.")
