"""Bad input at scale: schemathesis against the API's own OpenAPI schema.

Every operation of ``/api/schema/`` gets generated requests (valid and
invalid bodies, headers, path parameters), served in-process by the WSGI
application on local disk; no answer may be a 5xx. The second test aims the
same generated requests at a real session (its id in the path and in
``X-Session-ID``), so they reach the code behind the 404s.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, assume, settings
from schemathesis.checks import (
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.uploads.conftest import GOOD_CSV, multipart

EXAMPLES = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure reproduces
    suppress_health_check=list(HealthCheck),
    database=None,
)
# Django's WSGI handler checks database connections at each request's start
# and end (``close_old_connections``); the API itself needs no database.
pytestmark = pytest.mark.django_db(transaction=True)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


# Loaded at collection (pytest-django has set Django up by then): the lazy
# ``schemathesis.pytest.from_fixture`` fails on pytest 9.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def _has_an_empty_file(case: schemathesis.Case) -> bool:
    """An upload with a 0-byte part: Django's multipart parser drops a part
    whose empty body follows its headers directly, so the API sees one file
    fewer than was generated, and a case with one file too many looks
    accepted. Such cases say nothing of the API: they are left out."""
    body = case.body if isinstance(case.body, dict) else {}
    files = body.get("files")
    return isinstance(files, list) and any(item in (b"", "") for item in files)


@schema.parametrize()
@EXAMPLES
def test_no_generated_request_is_a_server_error(case: schemathesis.Case) -> None:
    assume(not _has_an_empty_file(case))
    case.call_and_validate(checks=CHECKS)


@pytest.fixture
def live_session() -> tuple[str, str]:
    """A live upload: its public id and its session key."""
    from django.test import Client

    body, content_type = multipart([("a.csv", GOOD_CSV)])
    created = Client().generic("POST", "/api/upload", body, content_type=content_type)
    assert created.status_code == 201
    return str(created.json()["id"]), created["X-Session-ID"]


@schema.parametrize()
@EXAMPLES
def test_no_generated_request_on_a_live_session_is_a_server_error(
    case: schemathesis.Case, live_session: tuple[str, str]
) -> None:
    upload_id, key = live_session
    if "upload_id" in (case.path_parameters or {}):
        case.path_parameters["upload_id"] = upload_id  # type: ignore[index]
    headers: dict[str, Any] = dict(case.headers or {})
    headers["X-Session-ID"] = key
    case.headers = headers
    case.call_and_validate(checks=[not_a_server_error])
