"""Storage outages over real HTTP: the sessions storage reached through the
fault proxy (``tests/support/faultproxy.py``) in front of moto, with short
timeouts and botocore's standard retry mode, as production should; and what
is stored, read from moto directly, past the proxy."""

from __future__ import annotations

from botocore.config import Config
from django.conf import settings as django_settings

from sessions_blob.records import object_name
from tests.support.s3 import S3Endpoint

# Long enough for moto on a loaded 2-core machine (a CI run with the matrix
# beside it), short enough to keep the outage tests quick.
TIMEOUT = 1.0
ATTEMPTS = 3
CLIENT_CONFIG = Config(
    connect_timeout=TIMEOUT,
    read_timeout=TIMEOUT,
    retries={"total_max_attempts": ATTEMPTS, "mode": "standard"},
    s3={"addressing_style": "path"},
)


def raw(s3: S3Endpoint, bucket: str, key: str) -> bytes | None:
    """The stored object's bytes, read from moto directly."""
    client = s3.client()
    name = object_name(django_settings.SESSIONS_BLOB_PREFIX, key)
    try:
        return bytes(client.get_object(Bucket=bucket, Key=name)["Body"].read())
    except client.exceptions.NoSuchKey:
        return None


def session_objects(s3: S3Endpoint, bucket: str) -> int:
    prefix = django_settings.SESSIONS_BLOB_PREFIX
    listing = s3.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return len(listing.get("Contents", []))
