"""Direct uploads: the bytes go to the storage, the API signs and checks."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from uploads import services
from uploads.documents import (
    parse_iso,
)
from uploads.limits import charge_upload
from uploads.middleware import session_source
from uploads.parsers import JsonParser
from uploads.serializers import (
    DirectUploadInputSerializer,
    DirectUploadSerializer,
    PartsInputSerializer,
    SessionSerializer,
)
from uploads.views.base import (
    SESSION_KEY_HEADER,
    SESSION_KEY_RESPONSE_HEADER,
    ApiView,
    error_responses,
)


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
            **error_responses(400, 403, 404, 409, 413, 415, 429, 503),
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
        responses={200: DirectUploadSerializer, **error_responses(404, 503)},
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
        responses={204: None, **error_responses(403, 404, 503)},
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
        responses={
            200: DirectUploadSerializer,
            **error_responses(400, 403, 404, 415, 503),
        },
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
        responses={200: SessionSerializer, **error_responses(400, 403, 404, 409, 503)},
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
        responses={200: OpenApiTypes.OBJECT, **error_responses(400, 403, 503)},
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
