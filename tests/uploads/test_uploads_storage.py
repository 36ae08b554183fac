"""``manage.py uploads_storage setup|doctor``: the bucket's CORS and
lifecycle rules for direct uploads, made and checked with real requests
(moto's server; Swift, which has no CORS, for a store that refuses)."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.support.s3 import S3Endpoint

ORIGIN = "https://analytics.example.com"


def run(*args: str, verbosity: int = 1) -> str:
    out = StringIO()
    call_command("uploads_storage", *args, stdout=out, verbosity=verbosity)
    return out.getvalue()


def doctor(*args: str) -> tuple[int, dict[str, list[str]]]:
    """Exit status and the levels of the findings, by topic."""
    out = StringIO()
    status = 0
    try:
        call_command("uploads_storage", "doctor", "--json", *args, stdout=out)
    except CommandError as exc:
        status = exc.returncode
    levels: dict[str, list[str]] = {}
    for finding in json.loads(out.getvalue()):
        levels.setdefault(finding["topic"], []).append(finding["level"])
    return status, levels


@pytest.fixture
def bucket(settings: Any, s3: S3Endpoint) -> str:
    """A bucket of its own: CORS and lifecycle rules are the bucket's."""
    name = s3.new_bucket()
    settings.STORAGES = {**settings.STORAGES, "default": s3.storage(name)}
    return name


def test_local_disk_needs_nothing() -> None:
    assert "nothing to set up" in run("setup", "--origin", ORIGIN)
    assert run("doctor", verbosity=0) == ""


def test_setup_makes_what_doctor_checks(bucket: str) -> None:
    status, before = doctor("--origin", ORIGIN)
    assert status == 3
    assert before["cors"] == ["error"] and before["lifecycle"] == ["warning"]

    done = run("setup", "--origin", ORIGIN)

    assert "CORS" in done and "lifecycle" in done
    status, after = doctor("--origin", ORIGIN)
    assert after["cors"] == ["ok"] and after["lifecycle"] == ["ok"]
    # moto keeps whatever bytes a signed PUT sends: doctor says so, and that
    # is the one finding left that needs attention.
    assert after["checksums"] == ["warning"] and status == 3
    status, other = doctor("--origin", "https://elsewhere.example.com")
    assert other["cors"] == ["error"]


def test_setup_keeps_the_buckets_other_rules(bucket: str, s3: S3Endpoint) -> None:
    client = s3.client()
    client.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {"ID": "fonts", "AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}
            ]
        },
    )
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "logs",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "logs/"},
                    "Expiration": {"Days": 30},
                }
            ]
        },
    )

    run("setup", "--origin", ORIGIN)
    run("setup", "--origin", ORIGIN, "--origin", "https://second.example.com")

    cors = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert sorted(rule.get("ID", "") for rule in cors) == [
        "fonts",
        "uploads-direct-upload",
    ]
    [ours] = [rule for rule in cors if rule.get("ID") == "uploads-direct-upload"]
    assert sorted(ours["AllowedOrigins"]) == [ORIGIN, "https://second.example.com"]
    rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert sorted(rule["ID"] for rule in rules) == [
        "logs",
        "uploads-abort-incomplete-multipart",
    ]


def test_setup_needs_an_origin(bucket: str, settings: Any) -> None:
    settings.UPLOADS_CORS_ORIGINS = []
    with pytest.raises(CommandError, match="UPLOADS_CORS_ORIGINS"):
        run("setup")
    settings.UPLOADS_CORS_ORIGINS = [ORIGIN]
    assert "CORS" in run("setup")


def test_doctor_is_silent_at_verbosity_0_only_when_all_is_well(bucket: str) -> None:
    out = StringIO()
    with pytest.raises(CommandError):
        call_command(
            "uploads_storage", "doctor", "--origin", ORIGIN, stdout=out, verbosity=0
        )
    printed = out.getvalue()
    assert (
        "[  ERROR] cors" in printed
        and "fix: Run manage.py uploads_storage setup" in printed
    )
    assert "[     OK]" not in printed


def test_a_store_without_cors_refuses_setup_clearly(
    settings: Any, swift: S3Endpoint, swift_bucket: str
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": swift.storage(swift_bucket, location="storage-check"),
    }
    with pytest.raises(CommandError, match=f"bucket '{swift_bucket}' refused"):
        run("setup", "--origin", ORIGIN)
    status, levels = doctor("--origin", ORIGIN)
    assert status == 3 and levels["cors"][0] == "error"
