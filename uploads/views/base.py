"""What every API view shares: the session transport, the error answers,
the OpenAPI parameters."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from uploads import services
from uploads.documents import (
    UploadSession,
    file_badge,
    parse_iso,
    progress_message,
    status_message,
)
from uploads.middleware import SESSION_HEADER, session_source
from uploads.permissions import CsrfForCookieSessions, from_a_browser
from uploads.serializers import (
    ErrorSerializer,
    SessionSerializer,
)

SESSION_KEY_HEADER = OpenApiParameter(
    SESSION_HEADER,
    str,
    OpenApiParameter.HEADER,
    description="The session key, for API clients without the cookie (wins over "
    "it). A credential: keep it like a password.",
)
SESSION_KEY_RESPONSE_HEADER = OpenApiParameter(
    SESSION_HEADER,
    str,
    OpenApiParameter.HEADER,
    description="The new session's key, sent once: only by the upload that "
    "created the session. Send it back in this header; it appears nowhere else.",
    response=[201],
)
LOCATION_RESPONSE_HEADER = OpenApiParameter(
    "Location",
    str,
    OpenApiParameter.HEADER,
    description="The upload's status URL (`GET /api/sessions/{id}`).",
    response=[202],
)
UPLOAD_ID_PATH = OpenApiParameter(
    "upload_id",
    str,
    OpenApiParameter.PATH,
    description="The upload's public id (`id` in its document). It grants "
    "nothing: the session itself (cookie or X-Session-ID) must hold it.",
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description="`{code, message}`")
        for code in codes
    }


class ApiView(APIView):
    """JSON only, the CSRF rule of :mod:`uploads.permissions`, never cached."""

    renderer_classes = [JSONRenderer]
    authentication_classes: list[Any] = []
    permission_classes = [CsrfForCookieSessions]

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_cache_control(response, private=True, no_store=True)
        if session_source(request._request) == "cookie" or request.session.modified:
            get_token(request._request)  # browsers need the CSRF cookie to POST
        return response

    def session_response(
        self, request: Request, session: UploadSession, status: int = 200
    ) -> Response:
        return Response(
            SessionSerializer(self.session_payload(request, session)).data,
            status=status,
        )

    def hand_over_key(
        self, request: Request, response: Response, session: UploadSession
    ) -> None:
        """Send a session this request created its key, once, in a header:
        the one place an API client learns its credential. Never to a
        browser: page scripts could read it (the cookie is HttpOnly)."""
        if session_source(request._request) == "none" and not from_a_browser(request):
            response[SESSION_HEADER] = session.key

    def session_payload(
        self, request: Request, session: UploadSession
    ) -> dict[str, Any]:
        doc = session.doc
        files = []
        for index, f in enumerate(doc.files, start=1):
            state, label = file_badge(doc, index)
            url = services.upload_file_signed_url(file=f) or request.build_absolute_uri(
                reverse("uploads:session-file", args=[doc.uid, f.id])
            )
            files.append(
                {
                    "id": f.id,
                    "name": f.name,
                    "size": f.size,
                    "sha256": f.sha256,
                    "contentType": f.content_type,
                    "url": url,
                    "error": f.error,
                    "badge": {"state": state, "label": label},
                }
            )
        analytics_url = (
            request.build_absolute_uri(
                reverse("uploads:session-analytics", args=[doc.uid])
            )
            if doc.analytics_path
            else None
        )
        return {
            "id": doc.uid,
            "createdAt": parse_iso(doc.created_at),
            "expiresAt": parse_iso(doc.expires_at),
            "status": doc.status,
            "statusMessage": status_message(doc),
            "error": doc.error,
            "files": files,
            "progress": (
                {**doc.progress, "message": progress_message(doc.progress)}
                if doc.progress and doc.status == "processing"
                else None
            ),
            "analyticsUrl": analytics_url,
        }
