"""A standalone HTML report of one profile: one file that opens offline.

:func:`render_profile_report` renders a profile document (docs/profiling.md)
with the dashboard's own view model and templates: the same figures, and the
charts inline as SVG. The stylesheet is inlined too, and the page has no
script and loads nothing, so it can be saved, mailed and opened anywhere.
Serve it as a download (``Content-Disposition: attachment``): the site's
Content-Security-Policy forbids the inline stylesheet a standalone page needs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

from analytics_site.dashboard import file_view


def _stylesheet() -> str:
    path = finders.find("css/site.css")
    if not path or isinstance(path, list):
        raise RuntimeError("the site's stylesheet css/site.css is missing")
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def render_profile_report(
    profile: dict[str, Any],
    *,
    file_name: str,
    size: int | None = None,
    generated_at: dt.datetime | None = None,
) -> str:
    """The report of ``profile`` (the document of ``profile_csv``) as HTML.

    ``file_name`` is shown as the title (it is text, never a path); ``size``
    (bytes) and ``generated_at`` (UTC) are shown when given.
    """
    if not isinstance(profile, dict) or "columns" not in profile:
        raise ValueError("not a profile document: it has no 'columns'")
    view = file_view(1, {"name": file_name, "profile": profile, "error": None}, size)
    return render_to_string(
        "report.html",
        {
            "file": view,
            "stylesheet": _stylesheet(),
            "static_report": True,
            "generated_at": generated_at,
            "schema_version": profile.get("schemaVersion"),
        },
    )
