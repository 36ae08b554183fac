from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from analytics_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "sessions/<str:upload_id>/",
        views.session_dashboard,
        name="session-dashboard",
    ),
    path(
        "sessions/<str:upload_id>/files/<str:file_id>/report",
        views.file_report,
        name="file-report",
    ),
    path("admin/", admin.site.urls),
    # Pages without a <link rel="icon"> (the admin's) ask for /favicon.ico.
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"))),
    path("api/", include("uploads.urls")),
]
