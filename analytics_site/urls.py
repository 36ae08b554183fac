from django.contrib import admin
from django.urls import include, path

from analytics_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "sessions/<str:session_id>/",
        views.session_dashboard,
        name="session-dashboard",
    ),
    path("admin/", admin.site.urls),
    path("api/", include("uploads.urls")),
]
