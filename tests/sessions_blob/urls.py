"""The engine's test project: the admin, and views for request-level tests
(one that ignores the session, one that reads it, one that changes it, the
same in async, and one that also says which process served it)."""

import os

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


async def aincrement(request: HttpRequest) -> JsonResponse:
    count = await request.session.aget("count", 0) + 1
    await request.session.aset("count", count)
    return JsonResponse({"count": count})


def clients(request: HttpRequest) -> JsonResponse:
    """``increment``, with this process's id and its boto3 clients so far."""
    from tests.sessions_blob.counting import clients_created

    request.session["count"] = request.session.get("count", 0) + 1
    return JsonResponse(
        {
            "count": request.session["count"],
            "pid": os.getpid(),
            "clients": clients_created(),
        }
    )


def logout(request: HttpRequest) -> JsonResponse:
    request.session.flush()
    return JsonResponse({})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("untouched", untouched),
    path("read", read),
    path("increment", increment),
    path("aincrement", aincrement),
    path("clients", clients),
    path("logout", logout),
]
