"""Thin views: validate the input, call a service, shape the answer."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponseBase, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
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
from uploads.limits import charge_upload
from uploads.middleware import SESSION_HEADER, session_source
from uploads.parsers import JsonParser, UploadParser
from uploads.permissions import CsrfForCookieSessions, from_a_browser
from uploads.serializers import (
    AnalyticsSerializer,
    DirectUploadInputSerializer,
    DirectUploadSerializer,
    ErrorSerializer,
    PartsInputSerializer,
    ProcessAcceptedSerializer,
    ProcessInputSerializer,
    SessionSerializer,
    UploadInputSerializer,
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
            **_errors(400, 403, 404, 409, 413, 415, 429),
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


def _direct_upload_payload(
    request: Request, upload: services.DirectUpload, *, with_received: bool = False
) -> dict[str, Any]:
    pending = upload.pending
    here = request.build_absolute_uri(
        reverse("uploads:direct-upload", args=[pending.id])
    )
    return {
        "id": pending.id,
        "uploadId": upload.session.doc.uid,
        "name": pending.name,
        "size": pending.size,
        "partSize": pending.part_size,
        "partCount": pending.part_count,
        "expiresAt": parse_iso(pending.expires_at),
        "parts": [
            {
                "number": part.number,
                "method": part.method,
                "url": request.build_absolute_uri(part.url),
                "headers": part.headers,
                "expiresAt": part.expires_at,
            }
            for part in upload.signed
        ],
        "received": (
            [part.number for part in upload.received] if with_received else None
        ),
        "url": here,
        "partsUrl": f"{here}/parts",
        "completeUrl": f"{here}/complete",
    }


DIRECT_UPLOAD_ID_PATH = OpenApiParameter(
    "file_id",
    str,
    OpenApiParameter.PATH,
    description="The direct upload's id (the file's id once it joins).",
)


class DirectUploadsView(ApiView):
    parser_classes = [JsonParser]

    @extend_schema(
        operation_id="begin_direct_upload",
        summary="Begin a direct upload",
        description=(
            "Declare one file (name, size, SHA-256) whose bytes the client sends "
            "straight to the storage, never through this API: the way for large "
            "files, and the only one where request bodies are capped (serverless "
            "platforms). Limits are checked before anything is signed. A file of "
            "up to `partSize` bytes is one part, signed at once (`parts[0]`); a "
            "larger one is sent in parts of `partSize` bytes, each signed by "
            "`POST partsUrl` with its own SHA-256. Then `POST completeUrl`. "
            "Creates a session when the caller has none."
        ),
        request=DirectUploadInputSerializer,
        parameters=[SESSION_KEY_HEADER, SESSION_KEY_RESPONSE_HEADER],
        responses={
            201: DirectUploadSerializer,
            **_errors(400, 403, 404, 409, 413, 415, 429, 503),
        },
        tags=["direct uploads"],
    )
    def post(self, request: Request) -> Response:
        data = DirectUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        declared = data.validated_data
        created = session_source(request._request) == "none"
        charge_upload(request._request, new_session=created, size=declared["size"])
        upload = services.direct_upload_begin(
            session=request.session,
            name=declared["name"],
            size=declared["size"],
            content_type=declared.get("contentType", ""),
            sha256=declared.get("sha256", ""),
            create=session_source(request._request) != "header",
        )
        payload = _direct_upload_payload(request, upload)
        response = Response(
            DirectUploadSerializer(payload).data,
            status=201,
            headers={"Location": payload["url"]},
        )
        if created:
            self.hand_over_key(request, response, upload.session)
        return response


class DirectUploadView(ApiView):
    @extend_schema(
        operation_id="get_direct_upload",
        summary="A direct upload and the parts the storage holds",
        description="To resume: send the parts not in `received`, then complete.",
        parameters=[DIRECT_UPLOAD_ID_PATH, SESSION_KEY_HEADER],
        responses={200: DirectUploadSerializer, **_errors(404, 503)},
        tags=["direct uploads"],
    )
    def get(self, request: Request, file_id: str) -> Response:
        upload = services.direct_upload_status(session=request.session, file_id=file_id)
        payload = _direct_upload_payload(request, upload, with_received=True)
        return Response(DirectUploadSerializer(payload).data)

    @extend_schema(
        operation_id="abort_direct_upload",
        summary="Abort a direct upload and discard what it stored",
        parameters=[DIRECT_UPLOAD_ID_PATH, SESSION_KEY_HEADER],
        responses={204: None, **_errors(403, 404, 503)},
        tags=["direct uploads"],
    )
    def delete(self, request: Request, file_id: str) -> Response:
        services.direct_upload_abort(session=request.session, file_id=file_id)
        return Response(status=204)


class DirectUploadPartsView(ApiView):
    parser_classes = [JsonParser]

    @extend_schema(
        operation_id="sign_direct_upload_parts",
        summary="Sign requests for parts of a direct upload",
        description=(
            "Each part's URL carries its length and SHA-256: the storage refuses "
            "other bytes. Ask again for a part whose URL expired or whose upload "
            "failed."
        ),
        request=PartsInputSerializer,
        parameters=[DIRECT_UPLOAD_ID_PATH, SESSION_KEY_HEADER],
        responses={200: DirectUploadSerializer, **_errors(400, 403, 404, 415, 503)},
        tags=["direct uploads"],
    )
    def post(self, request: Request, file_id: str) -> Response:
        data = PartsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = services.direct_upload_sign(
            session=request.session,
            file_id=file_id,
            parts=[(p["number"], p["sha256"]) for p in data.validated_data["parts"]],
        )
        payload = _direct_upload_payload(request, upload)
        return Response(DirectUploadSerializer(payload).data)


class DirectUploadCompleteView(ApiView):
    @extend_schema(
        operation_id="complete_direct_upload",
        summary="Complete a direct upload: the file joins the session",
        description=(
            "Checks what the storage holds (every part, its size, the SHA-256 "
            "the storage checked) and joins the parts. 409 `upload_incomplete` "
            "names parts still to send; 400 `checksum_mismatch` means the bytes "
            "were not the declared ones (discarded: send them again). Answers "
            "the session; calling it again after success answers the same."
        ),
        request=None,
        parameters=[DIRECT_UPLOAD_ID_PATH, SESSION_KEY_HEADER],
        responses={200: SessionSerializer, **_errors(400, 403, 404, 409, 503)},
        tags=["direct uploads"],
    )
    def post(self, request: Request, file_id: str) -> Response:
        session = services.direct_upload_complete(
            session=request.session, file_id=file_id
        )
        return self.session_response(request, session)


class DirectPartView(ApiView):
    """The signed part URLs of the Django-served store (local disk): the
    token authorises the request, as a presigned URL does on S3."""

    permission_classes: list[Any] = []
    parser_classes: list[Any] = []

    @extend_schema(
        operation_id="put_direct_upload_part",
        summary="Send a part's bytes (local-disk storage)",
        description=(
            "The URL of a signed part where the storage is local disk: send the "
            "bytes as the body. No session needed: the URL is the permission, "
            "for its part, its length and its SHA-256, until it expires."
        ),
        request={"application/octet-stream": OpenApiTypes.BINARY},
        parameters=[OpenApiParameter("token", str, OpenApiParameter.PATH)],
        responses={200: OpenApiTypes.OBJECT, **_errors(400, 403, 503)},
        tags=["direct uploads"],
    )
    def put(self, request: Request, token: str) -> Response:
        length = request.META.get("CONTENT_LENGTH")
        number = services.direct_part_receive(
            token=token,
            body=request._request,
            length=int(length) if length else None,
        )
        return Response({"number": number})


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
            **_errors(400, 403, 404, 409, 415, 500, 503),
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
        responses={200: SessionSerializer, **_errors(404)},
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
        responses={204: None, **_errors(403, 404)},
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
        responses={200: AnalyticsSerializer, **_errors(404)},
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
            **_errors(404),
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
        responses={200: SessionSerializer, **_errors(403, 404, 409, 503)},
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
        responses={200: OpenApiTypes.OBJECT, **_errors(404, 503)},
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
