"""Uploads through the API, processing, and reading or deleting a session
and its files."""

from __future__ import annotations

from django.http import FileResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response

from uploads import services
from uploads.conf import conf
from uploads.errors import ApiError
from uploads.limits import charge_upload
from uploads.middleware import session_source
from uploads.parsers import JsonParser, UploadParser
from uploads.serializers import (
    AnalyticsSerializer,
    ProcessAcceptedSerializer,
    ProcessInputSerializer,
    SessionSerializer,
    UploadInputSerializer,
)
from uploads.views.base import (
    LOCATION_RESPONSE_HEADER,
    SESSION_KEY_HEADER,
    SESSION_KEY_RESPONSE_HEADER,
    UPLOAD_ID_PATH,
    ApiView,
    error_responses,
)


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
        parameters=[SESSION_KEY_HEADER, SESSION_KEY_RESPONSE_HEADER],
        responses={
            201: SessionSerializer,
            **error_responses(400, 403, 404, 409, 413, 415, 429),
        },
        tags=["sessions"],
    )
    def post(self, request: Request) -> Response:
        created = request.session.session_key is None
        # Before the body is read: a client over its budget sends no more.
        charge_upload(
            request._request,
            new_session=session_source(request._request) == "none",
        )
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
        response = self.session_response(request, session, status=201)
        if created:
            self.hand_over_key(request, response, session)
        return response


class ProcessView(ApiView):
    parser_classes = [JsonParser, FormParser]

    @extend_schema(
        operation_id="process_session",
        summary="Profile the session's files",
        description=(
            "Profiles every file of the caller's upload (its session: X-Session-ID, "
            "else the cookie; `id` in the body, if sent, must be that upload's) and "
            "stores the analytics document. "
            "Inline mode (the default): runs in the request and answers 200 with "
            "the session once it is `completed` (or `failed`, with the reason). "
            'Queue mode (`UPLOADS_PROCESSING_MODE = "queue"`): hands the session '
            "to a background worker and answers 202 at once, the session `queued`, "
            "its status URL in `Location` and `statusUrl`; poll it until "
            "`completed` or `failed`."
        ),
        request=ProcessInputSerializer,
        parameters=[SESSION_KEY_HEADER, LOCATION_RESPONSE_HEADER],
        responses={
            200: SessionSerializer,
            202: ProcessAcceptedSerializer,
            **error_responses(400, 403, 404, 409, 415, 500, 503),
        },
        tags=["sessions"],
    )
    def post(self, request: Request) -> Response:
        data = ProcessInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload_id = data.validated_data.get("id")
        if conf.PROCESSING_MODE == "inline":
            session = services.upload_session_process(
                session=request.session, upload_id=upload_id
            )
            return self.session_response(request, session)
        session = services.upload_session_enqueue(
            session=request.session, upload_id=upload_id
        )
        status_url = request.build_absolute_uri(
            reverse("uploads:session", args=[session.doc.uid])
        )
        payload = {**self.session_payload(request, session), "statusUrl": status_url}
        return Response(
            ProcessAcceptedSerializer(payload).data,
            status=202,
            headers={"Location": status_url, "Retry-After": "1"},
        )


class UploadSessionView(ApiView):
    @extend_schema(
        operation_id="get_session",
        summary="The session document",
        parameters=[UPLOAD_ID_PATH, SESSION_KEY_HEADER],
        responses={200: SessionSerializer, **error_responses(404)},
        tags=["sessions"],
    )
    def get(self, request: Request, upload_id: str) -> Response:
        session = services.upload_session_get(
            session=request.session, upload_id=upload_id
        )
        return self.session_response(request, session)

    @extend_schema(
        operation_id="delete_session",
        summary="Delete the session, its files and its analytics",
        parameters=[UPLOAD_ID_PATH, SESSION_KEY_HEADER],
        responses={204: None, **error_responses(403, 404)},
        tags=["sessions"],
    )
    def delete(self, request: Request, upload_id: str) -> Response:
        services.upload_session_delete(session=request.session, upload_id=upload_id)
        return Response(status=204)


class AnalyticsView(ApiView):
    @extend_schema(
        operation_id="get_analytics",
        summary="The analytics document",
        description="One profile (or error) per file; 404 `analytics_not_ready` "
        "until the session has been processed.",
        parameters=[UPLOAD_ID_PATH, SESSION_KEY_HEADER],
        responses={200: AnalyticsSerializer, **error_responses(404)},
        tags=["sessions"],
    )
    def get(self, request: Request, upload_id: str) -> Response:
        return Response(
            services.upload_session_analytics(
                session=request.session, upload_id=upload_id
            )
        )


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
            UPLOAD_ID_PATH,
            OpenApiParameter("file_id", str, OpenApiParameter.PATH),
            SESSION_KEY_HEADER,
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            302: OpenApiResponse(description="Redirect to a signed URL (S3)."),
            **error_responses(404),
        },
        tags=["sessions"],
    )
    def get(self, request: Request, upload_id: str, file_id: str) -> HttpResponseBase:
        _session, stored = services.upload_file_get(
            session=request.session, upload_id=upload_id, file_id=file_id
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

    @extend_schema(
        operation_id="delete_file",
        summary="Remove one file from the session",
        description=(
            "Deletes the file. A processed session keeps the other files' "
            "profiles (its analytics are rewritten without this one); a session "
            "left with no files is `uploaded` and empty. Answers the session. "
            "409 `already_processing` while it is queued or processing."
        ),
        parameters=[
            UPLOAD_ID_PATH,
            OpenApiParameter("file_id", str, OpenApiParameter.PATH),
            SESSION_KEY_HEADER,
        ],
        responses={200: SessionSerializer, **error_responses(403, 404, 409, 503)},
        tags=["sessions"],
    )
    def delete(self, request: Request, upload_id: str, file_id: str) -> Response:
        session = services.upload_file_delete(
            session=request.session, upload_id=upload_id, file_id=file_id
        )
        return self.session_response(request, session)


class ProfileExportView(ApiView):
    @extend_schema(
        operation_id="export_profile",
        summary="Download one file's profile as JSON",
        description="The file's profile (docs/profile.schema.json) as an "
        "attachment; 404 `analytics_not_ready` until the session is processed.",
        parameters=[
            UPLOAD_ID_PATH,
            OpenApiParameter("file_id", str, OpenApiParameter.PATH),
            SESSION_KEY_HEADER,
        ],
        responses={200: OpenApiTypes.OBJECT, **error_responses(404, 503)},
        tags=["sessions"],
    )
    def get(self, request: Request, upload_id: str, file_id: str) -> Response:
        stored, profile = services.upload_file_profile(
            session=request.session, upload_id=upload_id, file_id=file_id
        )
        stem = stored.name.rsplit(".", 1)[0] or "profile"
        return Response(
            profile,
            headers={
                "Content-Disposition": content_disposition_header(
                    True, f"{stem}.profile.json"
                )
            },
        )


class NotFoundView(ApiView):
    """Any other path under /api/: a JSON 404 like every other error."""

    @extend_schema(exclude=True)
    def get(self, request: Request, path: str = "") -> Response:
        raise ApiError("not_found", "No such API endpoint.")

    post = put = patch = delete = get
