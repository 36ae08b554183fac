"""Thin views: validate the input, call a service, shape the answer."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponseBase, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.cache import patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from uploads import services
from uploads.conf import conf
from uploads.documents import (
    UploadSession,
    file_badge,
    parse_iso,
    progress_message,
    status_message,
)
from uploads.errors import ApiError
from uploads.exceptions import SessionNotFound
from uploads.middleware import SESSION_HEADER, session_source
from uploads.parsers import JsonParser, UploadParser
from uploads.permissions import CsrfForCookieSessions
from uploads.serializers import (
    AnalyticsSerializer,
    ErrorSerializer,
    ProcessAcceptedSerializer,
    ProcessInputSerializer,
    SessionSerializer,
    UploadInputSerializer,
)

SESSION_ID_HEADER = OpenApiParameter(
    SESSION_HEADER,
    str,
    OpenApiParameter.HEADER,
    description="The session id, for API clients (wins over the session cookie).",
)
SESSION_ID_RESPONSE_HEADER = OpenApiParameter(
    SESSION_HEADER,
    str,
    OpenApiParameter.HEADER,
    description="The session id (also in the body's `id`).",
    response=[200, 201, 202],
)
LOCATION_RESPONSE_HEADER = OpenApiParameter(
    "Location",
    str,
    OpenApiParameter.HEADER,
    description="The session's status URL (`GET /api/sessions/{id}`).",
    response=[202],
)
SESSION_ID_PATH = OpenApiParameter(
    "session_id", str, OpenApiParameter.PATH, description="The session id."
)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
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
            headers={SESSION_HEADER: session.key},
        )

    def session_payload(
        self, request: Request, session: UploadSession
    ) -> dict[str, Any]:
        doc = session.doc
        files = []
        for index, f in enumerate(doc.files, start=1):
            state, label = file_badge(doc, index)
            url = services.upload_file_signed_url(file=f) or request.build_absolute_uri(
                reverse("uploads:session-file", args=[session.key, f.id])
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
                reverse("uploads:session-analytics", args=[session.key])
            )
            if doc.analytics_path
            else None
        )
        return {
            "id": session.key,
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


class UploadView(ApiView):
    parser_classes = [UploadParser]

    @extend_schema(
        operation_id="upload_files",
        summary="Upload CSV files",
        description=(
            "Multipart upload, one or more files in the field `files`. Creates a "
            "session when the caller has none (cookie or X-Session-ID), else adds "
            "to it. Answers the session and its id."
        ),
        request={"multipart/form-data": UploadInputSerializer},
        parameters=[SESSION_ID_HEADER, SESSION_ID_RESPONSE_HEADER],
        responses={201: SessionSerializer, **_errors(400, 403, 404, 409, 413, 415)},
        tags=["sessions"],
    )
    def post(self, request: Request) -> Response:
        try:
            data = UploadInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            session = services.upload_session_add_files(
                session=request.session,
                files=data.validated_data["files"],
                create=session_source(request._request) != "header",
            )
        finally:
            # Delete the temporary files now (those not moved into storage),
            # not when the server gets round to closing the response.
            for _name, items in request.FILES.lists():
                for item in items:
                    item.close()
        return self.session_response(request, session, status=201)


class ProcessView(ApiView):
    parser_classes = [JsonParser, FormParser]

    @extend_schema(
        operation_id="process_session",
        summary="Profile the session's files",
        description=(
            "Profiles every file of the session (`session_id` in the body, else "
            "X-Session-ID, else the cookie) and stores the analytics document. "
            "Inline mode (the default): runs in the request and answers 200 with "
            "the session once it is `completed` (or `failed`, with the reason). "
            'Queue mode (`UPLOADS_PROCESSING_MODE = "queue"`): hands the session '
            "to a background worker and answers 202 at once, the session `queued`, "
            "its status URL in `Location` and `statusUrl`; poll it until "
            "`completed` or `failed`."
        ),
        request=ProcessInputSerializer,
        parameters=[
            SESSION_ID_HEADER,
            SESSION_ID_RESPONSE_HEADER,
            LOCATION_RESPONSE_HEADER,
        ],
        responses={
            200: SessionSerializer,
            202: ProcessAcceptedSerializer,
            **_errors(400, 403, 404, 409, 415, 500, 503),
        },
        tags=["sessions"],
    )
    def post(self, request: Request) -> Response:
        data = ProcessInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = data.validated_data.get("session_id") or request.session.session_key
        if conf.PROCESSING_MODE == "inline":
            session = services.upload_session_process(session_key=key)
            return self.session_response(request, session)
        session = services.upload_session_enqueue(session_key=key)
        status_url = request.build_absolute_uri(
            reverse("uploads:session", args=[session.key])
        )
        payload = {**self.session_payload(request, session), "statusUrl": status_url}
        return Response(
            ProcessAcceptedSerializer(payload).data,
            status=202,
            headers={
                SESSION_HEADER: session.key,
                "Location": status_url,
                "Retry-After": "1",
            },
        )


class UploadSessionView(ApiView):
    @extend_schema(
        operation_id="get_session",
        summary="The session document",
        parameters=[SESSION_ID_PATH, SESSION_ID_RESPONSE_HEADER],
        responses={200: SessionSerializer, **_errors(404)},
        tags=["sessions"],
    )
    def get(self, request: Request, session_id: str) -> Response:
        session = services.upload_session_get(session_key=session_id)
        return self.session_response(request, session)

    @extend_schema(
        operation_id="delete_session",
        summary="Delete the session, its files and its analytics",
        parameters=[SESSION_ID_PATH],
        responses={204: None, **_errors(403, 404)},
        tags=["sessions"],
    )
    def delete(self, request: Request, session_id: str) -> Response:
        services.upload_session_delete(session_key=session_id, current=request.session)
        return Response(status=204)


class AnalyticsView(ApiView):
    @extend_schema(
        operation_id="get_analytics",
        summary="The analytics document",
        description="One profile (or error) per file; 404 `analytics_not_ready` "
        "until the session has been processed.",
        parameters=[SESSION_ID_PATH],
        responses={200: AnalyticsSerializer, **_errors(404)},
        tags=["sessions"],
    )
    def get(self, request: Request, session_id: str) -> Response:
        return Response(services.upload_session_analytics(session_key=session_id))


class FileView(ApiView):
    @extend_schema(
        operation_id="download_file",
        summary="Download an uploaded file",
        description=(
            "Only for the session's owner: send its cookie or X-Session-ID. Streams "
            "the file from local disk; where the storage signs URLs (S3) redirects "
            "to a short-lived signed URL."
        ),
        parameters=[
            SESSION_ID_PATH,
            OpenApiParameter("file_id", str, OpenApiParameter.PATH),
            SESSION_ID_HEADER,
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            302: OpenApiResponse(description="Redirect to a signed URL (S3)."),
            **_errors(404),
        },
        tags=["sessions"],
    )
    def get(self, request: Request, session_id: str, file_id: str) -> HttpResponseBase:
        if request.session.session_key != session_id:
            raise SessionNotFound(
                "Send this session's cookie or X-Session-ID header to download its "
                "files."
            )
        _session, stored = services.upload_file_get(
            session_key=session_id, file_id=file_id
        )
        url = services.upload_file_signed_url(file=stored)
        if url is not None:
            return HttpResponseRedirect(url)
        return FileResponse(
            services.upload_file_open(file=stored),
            as_attachment=True,
            filename=stored.name,
            content_type="text/csv",
        )


class NotFoundView(ApiView):
    """Any other path under /api/: a JSON 404 like every other error."""

    @extend_schema(exclude=True)
    def get(self, request: Request, path: str = "") -> Response:
        raise ApiError("not_found", "No such API endpoint.")

    post = put = patch = delete = get
