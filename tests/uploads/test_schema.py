"""The OpenAPI schema is generated from the code, valid, and served offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client


def test_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/upload",
        "/api/process",
        "/api/sessions/{upload_id}",
        "/api/sessions/{upload_id}/analytics",
        "/api/sessions/{upload_id}/files/{file_id}",
        "/api/direct-uploads",
        "/api/direct-uploads/{file_id}",
        "/api/direct-uploads/{file_id}/parts",
        "/api/direct-uploads/{file_id}/complete",
        "/api/direct-upload-parts/{token}",
        "/api/sessions/{upload_id}/files/{file_id}/profile",
    }
    begin = schema["paths"]["/api/direct-uploads"]["post"]
    assert "X-Session-ID" in begin["responses"]["201"]["headers"]
    assert set(begin["responses"]) >= {"201", "400", "409", "413", "429", "503"}
    part = schema["paths"]["/api/direct-upload-parts/{token}"]["put"]
    assert "application/octet-stream" in part["requestBody"]["content"]
    upload = schema["paths"]["/api/upload"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "X-Session-ID" in upload["responses"]["201"]["headers"]
    assert set(upload["responses"]) >= {"201", "400", "404", "409", "413"}


def test_the_upload_schema_bounds_the_number_of_files(settings: Any) -> None:
    """Zero files and more than UPLOADS_MAX_FILES are outside the schema
    (schemathesis generated both while the schema allowed them)."""
    settings.UPLOADS_MAX_FILES = 3
    schema = Client().get("/api/schema/", headers={"Accept": "application/json"})
    upload = schema.json()["components"]["schemas"]["UploadInputRequest"]
    files = upload["properties"]["files"]
    assert (files["minItems"], files["maxItems"]) == (1, 3)


def test_schema_endpoint() -> None:
    response = Client().get("/api/schema/", headers={"Accept": "application/json"})

    assert response.status_code == 200
    assert "/api/process" in response.json()["paths"]


def test_swagger_ui_is_served_offline() -> None:
    client = Client()
    page = client.get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


@pytest.mark.django_db  # JSONField's check asks SQLite whether it supports JSON
def test_system_checks_pass() -> None:
    call_command("check", fail_level="WARNING")


def test_system_checks_report_misconfiguration(settings: Any) -> None:
    from uploads.checks import check_settings

    settings.UPLOADS_STORAGE_ALIAS = "nowhere"
    settings.UPLOADS_MAX_FILES = 0
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    settings.MIDDLEWARE = [
        m.replace("uploads.middleware", "django.contrib.sessions.middleware")
        for m in settings.MIDDLEWARE
    ]

    ids = [m.id for m in check_settings()]

    assert ids == ["uploads.E001", "uploads.E002", "uploads.E003", "uploads.W001"]
