"""Thin views: validate the input, call a service, shape the answer.

- ``base``: ``ApiView``, the session transport and error answers;
- ``sessions``: upload, process, read, delete (a session and its files);
- ``direct``: direct uploads to the storage.
"""

from uploads.views.base import ApiView
from uploads.views.direct import (
    DirectPartView,
    DirectUploadCompleteView,
    DirectUploadPartsView,
    DirectUploadsView,
    DirectUploadView,
)
from uploads.views.sessions import (
    AnalyticsView,
    FileView,
    NotFoundView,
    ProcessView,
    ProfileExportView,
    UploadSessionView,
    UploadView,
)

__all__ = [
    "AnalyticsView",
    "ApiView",
    "DirectPartView",
    "DirectUploadCompleteView",
    "DirectUploadPartsView",
    "DirectUploadView",
    "DirectUploadsView",
    "FileView",
    "NotFoundView",
    "ProcessView",
    "ProfileExportView",
    "UploadSessionView",
    "UploadView",
]
