"""The site's S3 storage: django-storages' own, within each request's storage
time budget (``uploads.budget``). Imported only where S3 is configured, so a
site on local disk never loads boto3."""

from __future__ import annotations

from typing import Any

from storages.backends.s3 import S3Storage

from uploads.budget import HANDLER_ID, before_send, response_received


class BudgetedS3Storage(S3Storage):
    """Its clients (its own per-thread ones and any built from its session,
    such as the session engine's shared client) count and check the
    request's storage time."""

    def _create_session(self) -> Any:
        session = super()._create_session()
        session.events.register(
            "before-send.s3", before_send, unique_id=f"{HANDLER_ID}-send"
        )
        session.events.register(
            "response-received.s3", response_received, unique_id=f"{HANDLER_ID}-answer"
        )
        return session
