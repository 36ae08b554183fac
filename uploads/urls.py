from django.conf import settings
from django.urls import path, re_path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from uploads import views

app_name = "uploads"

urlpatterns = [
    path("upload", views.UploadView.as_view(), name="upload"),
    path("process", views.ProcessView.as_view(), name="process"),
    path("sessions/<str:upload_id>", views.UploadSessionView.as_view(), name="session"),
    path(
        "sessions/<str:upload_id>/analytics",
        views.AnalyticsView.as_view(),
        name="session-analytics",
    ),
    path(
        "sessions/<str:upload_id>/files/<str:file_id>",
        views.FileView.as_view(),
        name="session-file",
    ),
    path(
        "sessions/<str:upload_id>/files/<str:file_id>/profile",
        views.ProfileExportView.as_view(),
        name="session-file-profile",
    ),
    path("direct-uploads", views.DirectUploadsView.as_view(), name="direct-uploads"),
    path(
        "direct-uploads/<str:file_id>",
        views.DirectUploadView.as_view(),
        name="direct-upload",
    ),
    path(
        "direct-uploads/<str:file_id>/parts",
        views.DirectUploadPartsView.as_view(),
        name="direct-upload-parts",
    ),
    path(
        "direct-uploads/<str:file_id>/complete",
        views.DirectUploadCompleteView.as_view(),
        name="direct-upload-complete",
    ),
    path(
        "direct-upload-parts/<str:token>",
        views.DirectPartView.as_view(),
        name="direct-part",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "docs/",
        # Swagger UI's page has an inline <style> and an inline init <script>.
        csp_override(
            {
                **settings.SECURE_CSP,  # type: ignore[dict-item]
                "script-src": [CSP.SELF, CSP.UNSAFE_INLINE],
                "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
            }
        )(SpectacularSwaggerView.as_view(url_name="uploads:schema")),
        name="docs",
    ),
    re_path(r"^(?P<path>.*)$", views.NotFoundView.as_view()),
]
