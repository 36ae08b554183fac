"""An S3 endpoint the tests talk to over HTTP (moto's server, a real Swift
s3api, or either behind the fault proxy), and what the project and the
engine need to reach it."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, replace
from typing import Any

import boto3
from botocore.config import Config

S3_CREDENTIALS = {"access_key": "testing", "secret_key": "testing"}
_bucket_numbers = itertools.count()


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"test-{next(_bucket_numbers)}-{uuid.uuid4().hex[:8]}"
        self.client().create_bucket(Bucket=name)
        return name

    def storage(self, bucket: str, **options: Any) -> dict[str, Any]:
        """A STORAGES entry for django-storages' S3Storage on this endpoint."""
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": self.url,
                "region_name": self.region,
                "access_key": self.access_key,
                "secret_key": self.secret_key,
                "default_acl": None,
                "addressing_style": "path",
                **options,
            },
        }

    def via(self, url: str) -> S3Endpoint:
        """The same store reached through another address (a proxy)."""
        return replace(self, url=url)

    def env(self, bucket: str) -> dict[str, str]:
        """Environment variables that point the project at this bucket."""
        return {
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": self.url,
            "S3_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
