"""The site's pages, on the uploads API. They name an upload by its public id
(never the session key) and show it only to the browser whose session holds
it; the ``X-Session-ID`` header is the API's alone and is never read here.

``/`` uploads files (``static/js/upload.js`` talks to ``/api/upload``,
``/api/process`` and ``/api/sessions/{id}``) and shows the browser's current
session, rendered here from the session cookie so that a reload or a second
tab shows the same state. ``/sessions/{id}/`` is the dashboard, rendered from
the analytics document; only the session's owner (its cookie) sees it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import ensure_csrf_cookie

from analytics_site.dashboard import dashboard_context, file_error
from analytics_site.report import render_profile_report
from uploads import services
from uploads.conf import conf
from uploads.direct import direct_store
from uploads.documents import (
    EMPTY_STATUS_MESSAGE,
    PERMANENT_FILE_ERRORS,
    UploadDocument,
    UploadSession,
    file_badge,
    parse_iso,
    status_message,
)
from uploads.exceptions import AnalyticsNotReady, UploadError

#: Stands for the upload id in URL templates handed to the page's script.
_ID = "UPLOAD_ID"


def _current(request: HttpRequest) -> tuple[UploadSession | None, bool]:
    """The browser's upload session (from its cookie), and whether the cookie
    named a session that has expired or was deleted."""
    had_cookie = settings.SESSION_COOKIE_NAME in request.COOKIES
    doc = UploadDocument.from_session(request.session)  # a gone session drops its key
    key = request.session.session_key
    if key is None:
        return None, had_cookie
    if doc is None:
        return None, False
    return UploadSession(key=key, doc=doc), False


def _session_context(session: UploadSession | None) -> dict[str, Any]:
    if session is None:
        return {
            "session": None,
            "status": "",
            "files": [],
            "status_text": EMPTY_STATUS_MESSAGE,
        }
    doc = session.doc
    rows = []
    for index, f in enumerate(doc.files, start=1):
        state, badge = file_badge(doc, index)
        rows.append(
            {
                "file": {
                    "id": f.id,
                    "name": f.name,
                    "size": f.size,
                    "error": file_error(f.error),
                },
                "state": state,
                "badge": badge,
            }
        )
    return {
        "session": session,
        "status": doc.status,
        "status_text": status_message(doc),
        "session_error": doc.error,
        "hopeless": not doc.worth_processing_again(),
        "expires_at": parse_iso(doc.expires_at),
        "files": rows,
    }


@never_cache
@ensure_csrf_cookie
def home(request: HttpRequest) -> HttpResponse:
    session, expired = _current(request)
    context = {
        **_session_context(session),
        "expired": expired,
        "empty_status": EMPTY_STATUS_MESSAGE,
        "max_file_size": conf.MAX_FILE_SIZE,
        "max_files": conf.MAX_FILES,
        "part_size": conf.DIRECT_PART_SIZE,
        "permanent_errors": " ".join(sorted(PERMANENT_FILE_ERRORS)),
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "urls": {
            "upload": reverse("uploads:upload"),
            "direct": reverse("uploads:direct-uploads"),
            "process": reverse("uploads:process"),
            "session": reverse("uploads:session", args=[_ID]),
            "dashboard": reverse("session-dashboard", args=[_ID]),
        },
    }
    response = render(request, "home.html", context)
    origin = conf.DIRECT_ORIGIN or direct_store().origin()
    if not origin:
        return response
    # The page sends parts straight to the bucket: its CSP must allow that
    # origin (known only once the storage is, so not in SECURE_CSP).
    policy: dict[str, Any] = {**settings.SECURE_CSP, "connect-src": [CSP.SELF, origin]}
    return csp_override(policy)(lambda _request: response)(request)


def _missing(request: HttpRequest) -> HttpResponse:
    hours = settings.SESSION_COOKIE_AGE // 3600
    return render(request, "session_missing.html", {"session_hours": hours}, status=404)


@never_cache
@ensure_csrf_cookie
def session_dashboard(request: HttpRequest, upload_id: str) -> HttpResponse:
    session, _expired = _current(request)
    if session is None or session.doc.uid != upload_id:
        return _missing(request)  # gone, or someone else's: the same answer
    if session.doc.analytics_path is None:
        return redirect("home")  # not processed yet: the upload page shows why
    try:
        analytics = services.upload_session_analytics(
            session=request.session, upload_id=upload_id
        )
    except AnalyticsNotReady:
        return redirect("home")
    except UploadError:
        return _missing(request)
    sizes = {f.id: f.size for f in session.doc.files}
    context = {
        **_session_context(session),
        **dashboard_context(analytics, sizes),
    }
    return render(request, "dashboard.html", context)


@never_cache
def file_report(request: HttpRequest, upload_id: str, file_id: str) -> HttpResponse:
    """One file's profile as a standalone HTML report (opens offline)."""
    try:
        stored, profile = services.upload_file_profile(
            session=request.session, upload_id=upload_id, file_id=file_id
        )
    except AnalyticsNotReady:
        return redirect("session-dashboard", upload_id=upload_id)
    except UploadError:
        return _missing(request)
    html = render_profile_report(profile, file_name=stored.name, size=stored.size)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    stem = stored.name.rsplit(".", 1)[0] or "profile"
    response["Content-Disposition"] = content_disposition_header(
        True, f"{stem}.report.html"
    )
    return response
