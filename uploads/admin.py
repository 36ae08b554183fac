"""The uploads of each session, in the engine's admin pages.

``sessions_blob``'s admin knows nothing of uploads; this subclass, registered
in its place, adds what staff need here through the engine's extension
points: an "Upload" column, an upload box on the detail page with the files
and analytics (served to staff from storage), and a note on the delete
confirmation. Deleting the files with their session is the
``sessions_deleted`` receiver's job (``uploads.cleanup``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.http import FileResponse, Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import URLPattern, re_path

from sessions_blob import inspection
from sessions_blob.admin import OBJECT_ID, DetailSection, StoredSessionAdmin
from sessions_blob.inspection import SessionObject
from sessions_blob.models import StoredSession
from uploads.documents import StoredFile, UploadDocument, owned_upload
from uploads.services.files import uploads_storage


def _document(session: SessionObject) -> UploadDocument | None:
    return UploadDocument.from_session(session.data)


class UploadSessionAdmin(StoredSessionAdmin):
    list_display = (
        *StoredSessionAdmin.list_display[:3],
        "upload",
        *StoredSessionAdmin.list_display[3:],
    )

    class Media:
        css = {"all": ["uploads/admin.css"]}

    @admin.display(description="Upload")
    def upload(self, session: SessionObject) -> str | None:
        doc = _document(session)
        if doc is None:
            return None
        count = len(doc.files)
        return f"{doc.status}, {count} file{'s' if count != 1 else ''}"

    def get_detail_sections(
        self, request: HttpRequest, session: SessionObject
    ) -> list[DetailSection]:
        doc = _document(session)
        if doc is None:
            return []
        oid = session.object_id
        files = [
            {
                "file": f,
                "stored_as": f.path.rpartition("/")[2],
                "uploaded": _parse_time(f.uploaded_at),
                "url": self.admin_url("upload_file", oid, f.id),
            }
            for f in doc.files
        ]
        return [
            DetailSection(
                title=f"Upload session: {doc.status}",
                template="admin/uploads/upload_section.html",
                context={
                    "doc": doc,
                    "files": files,
                    "analytics_url": (
                        self.admin_url("upload_analytics", oid)
                        if doc.analytics_path
                        else None
                    ),
                },
                id="upload",
            )
        ]

    def deletion_notes(
        self, request: HttpRequest, sessions: list[SessionObject]
    ) -> list[str]:
        docs = [doc for doc in map(_document, sessions) if doc is not None]
        files = sum(len(doc.files) for doc in docs)
        if not docs:
            return []
        return [
            f"{files} uploaded file{'s' if files != 1 else ''} and the analytics "
            f"of {len(docs)} upload session{'s' if len(docs) != 1 else ''} are "
            "deleted with them."
        ]

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            re_path(
                rf"^{OBJECT_ID}/analytics/$",
                wrap(self.analytics_view),
                name=f"{prefix}_upload_analytics",
            ),
            re_path(
                rf"^{OBJECT_ID}/files/(?P<file_id>[0-9a-f]{{32}})/$",
                wrap(self.file_view),
                name=f"{prefix}_upload_file",
            ),
            *super().get_urls(),
        ]

    # -- serving the files to staff -----------------------------------------

    def _verified_document(
        self, request: HttpRequest, object_id: str
    ) -> UploadDocument:
        self._require(request, "view")
        doc = _document(inspection.read(object_id))
        if doc is None:
            raise Http404("This session has no upload.")
        return doc

    def _serve(
        self, name: str | None, uid: str, content_type: str, download: str | None
    ) -> HttpResponseBase:
        if not name or owned_upload(name) != uid:  # only the upload's own files
            raise Http404("No such file in this session.")
        try:
            handle = uploads_storage().open(name, "rb")
        except FileNotFoundError:
            raise Http404("The file is gone from storage.") from None
        response = FileResponse(
            handle,
            content_type=content_type,
            as_attachment=download is not None,
            filename=download or "",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    def analytics_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        doc = self._verified_document(request, object_id)
        return self._serve(doc.analytics_path, doc.uid, "application/json", None)

    def file_view(
        self, request: HttpRequest, object_id: str, file_id: str
    ) -> HttpResponseBase:
        doc = self._verified_document(request, object_id)
        stored: StoredFile | None = doc.file(file_id)
        if stored is None:
            raise Http404("No such file in this session.")
        return self._serve(stored.path, doc.uid, "text/csv", stored.name)


def _parse_time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


admin.site.unregister(StoredSession)
admin.site.register(StoredSession, UploadSessionAdmin)
