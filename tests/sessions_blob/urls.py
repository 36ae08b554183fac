"""The engine's test project: the admin, and views for request-level tests
(one that ignores the session, one that reads it, one that changes it)."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path


def untouched(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


def read(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"count": request.session.get("count", 0)})


def increment(request: HttpRequest) -> JsonResponse:
    request.session["count"] = request.session.get("count", 0) + 1
    return JsonResponse({"count": request.session["count"]})


def logout(request: HttpRequest) -> JsonResponse:
    request.session.flush()
    return JsonResponse({})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("untouched", untouched),
    path("read", read),
    path("increment", increment),
    path("logout", logout),
]
