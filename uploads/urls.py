from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from uploads import views

app_name = "uploads"

urlpatterns = [
    path("upload", views.UploadView.as_view(), name="upload"),
    path("process", views.ProcessView.as_view(), name="process"),
    path("sessions/<str:session_id>", views.SessionView.as_view(), name="session"),
    path(
        "sessions/<str:session_id>/analytics",
        views.AnalyticsView.as_view(),
        name="session-analytics",
    ),
    path(
        "sessions/<str:session_id>/files/<str:file_id>",
        views.FileView.as_view(),
        name="session-file",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="uploads:schema"),
        name="docs",
    ),
    re_path(r"^(?P<path>.*)$", views.NotFoundView.as_view()),
]
