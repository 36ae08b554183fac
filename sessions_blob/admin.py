"""Admin pages for the sessions in object storage.

There is no table: ``StoredSession`` is an unmanaged model that gives the
admin index its entry and the permissions (``view_storedsession``,
``delete_storedsession``). Every view below reads the storage through
``sessions_blob.inspect`` and ``sessions_blob.operations``:

- list: one listing page per page (S3 continuation tokens in the links), each
  object on it read in parallel; filter by state, search by key prefix;
- detail: the verified payload as JSON, object metadata, upload files;
- actions: delete selected (with upload files), delete all expired, and log
  out every session of a user. Each is written to the admin log.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, re_path, reverse
from django.utils.http import urlencode

from sessions_blob import inspect, operations, user_index
from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.models import StoredSession

OBJECT_ID = r"(?P<object_id>[0-9a-f]{64})"
PAGE_SALT = "sessions_blob.admin.page"
MASKED_KEYS = ("_auth_user_hash", "_csrftoken")
STATE_FILTERS = (
    (None, "All"),
    (inspect.LIVE, "Live"),
    (inspect.EXPIRED, "Expired"),
    ("unreadable", "Tampered or corrupt"),
)
#: Expired sessions deleted by one click run at most this long (seconds);
#: clearsessions and purge_uploads from cron do the rest.
DELETE_EXPIRED_BUDGET = 20.0


def _masked(data: dict[str, Any]) -> dict[str, Any]:
    return {k: ("•••• (hidden)" if k in MASKED_KEYS else v) for k, v in data.items()}


@admin.register(StoredSession)
class StoredSessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_per_page = 50
    max_scan = 1000  # objects read per request by a filter or a key search

    # -- permissions: view and delete only -------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _require(self, request: HttpRequest, action: str) -> None:
        allowed = (
            self.has_delete_permission(request)
            if action == "delete"
            else self.has_view_permission(request)
        )
        if not allowed:
            raise PermissionDenied

    # -- urls -------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name=f"{prefix}_changelist"),
            path(
                "delete-expired/",
                wrap(self.delete_expired_view),
                name=f"{prefix}_delete_expired",
            ),
            path(
                "user/<str:user_id>/",
                wrap(self.user_view),
                name=f"{prefix}_user",
            ),
            re_path(
                rf"^{OBJECT_ID}/$", wrap(self.detail_view), name=f"{prefix}_change"
            ),
            re_path(
                rf"^{OBJECT_ID}/delete/$",
                wrap(self.delete_view),
                name=f"{prefix}_delete",
            ),
            re_path(
                rf"^{OBJECT_ID}/analytics/$",
                wrap(self.analytics_view),
                name=f"{prefix}_analytics",
            ),
            re_path(
                rf"^{OBJECT_ID}/files/(?P<file_id>[\w-]{{1,64}})/$",
                wrap(self.file_view),
                name=f"{prefix}_file",
            ),
        ]

    def _url(self, name: str, *args: Any) -> str:
        return reverse(
            f"admin:sessions_blob_storedsession_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

    def _context(
        self, request: HttpRequest, title: str, **extra: Any
    ) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "has_view_permission": self.has_view_permission(request),
            "has_delete_permission": self.has_delete_permission(request),
            "changelist_url": self._url("changelist"),
            **extra,
        }

    # -- list -------------------------------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require(request, "view")
        if request.method == "POST":
            return self._action(request)
        username = request.GET.get("username", "").strip()
        if username:
            return self._to_user(request, username)
        state = request.GET.get("state") or None
        if state not in {s for s, _ in STATE_FILTERS}:
            state = None
        query = request.GET.get("q", "").strip()
        try:
            token = _unsign(request.GET.get("page"))
            page = inspect.browse(
                token=token,
                per_page=self.list_per_page,
                state=state,
                query=query,
                max_scan=self.max_scan,
            )
        except inspect.BadPageToken:
            messages.warning(request, "That page link has expired; back to the start.")
            return HttpResponseRedirect(self._list_url(state=state, q=query))
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        rows = self._rows(page.rows)
        if query and not page.exact and inspect.key_prefix_match(query) is None:
            messages.warning(
                request,
                "Search takes the start of a session key (letters and digits), "
                "a whole key, or an object id.",
            )
        context = self._context(
            request,
            "Sessions (object storage)",
            rows=rows,
            page=page,
            query=query,
            state=state,
            filters=[
                (label, self._list_url(state=value, q=query), value == state)
                for value, label in STATE_FILTERS
            ],
            next_url=(
                self._list_url(state=state, q=query, page=_sign(page.next_token))
                if page.next_token
                else None
            ),
            first_url=self._list_url(state=state, q=query) if token else None,
            delete_expired_url=self._url("delete_expired"),
            searched_hint=len(query) > 8 and not page.exact,
            actions_available=self.has_delete_permission(request),
            **(extra_context or {}),
        )
        return TemplateResponse(
            request, "admin/sessions_blob/storedsession/change_list.html", context
        )

    def _list_url(self, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v}
        base = self._url("changelist")
        return f"{base}?{urlencode(query)}" if query else base

    def _rows(self, views: list[inspect.SessionView]) -> list[dict[str, Any]]:
        names = _usernames(v.user_id for v in views)
        return [
            {
                "view": view,
                "url": self._url("change", view.object_id),
                "user": names.get(view.user_id or "", view.user_id),
                "user_url": (
                    self._url("user", view.user_id)
                    if view.user_id is not None
                    else None
                ),
            }
            for view in views
        ]

    def _to_user(self, request: HttpRequest, username: str) -> HttpResponse:
        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            messages.error(request, f"No user {username!r}.")
            return HttpResponseRedirect(self._url("changelist"))
        return HttpResponseRedirect(self._url("user", str(user.pk)))

    def _unavailable(self, request: HttpRequest, exc: Exception) -> HttpResponse:
        context = self._context(request, "Session storage unavailable", error=str(exc))
        return TemplateResponse(
            request,
            "admin/sessions_blob/storedsession/unavailable.html",
            context,
            status=503,
        )

    # -- actions ------------------------------------------------------------

    def _action(self, request: HttpRequest) -> HttpResponse:
        self._require(request, "delete")
        action = request.POST.get("action")
        if action == "delete_expired":
            return HttpResponseRedirect(self._url("delete_expired"))
        if action != "delete_selected":
            messages.warning(request, "Choose an action.")
            return HttpResponseRedirect(request.get_full_path())
        oids = [
            oid
            for oid in request.POST.getlist(ACTION_CHECKBOX_NAME)
            if inspect.is_object_id(oid)
        ]
        if not oids:
            messages.warning(
                request,
                "Items must be selected in order to perform actions on them. "
                "No items have been changed.",
            )
            return HttpResponseRedirect(request.get_full_path())
        if request.POST.get("post") == "yes":
            return self._delete(request, oids, request.get_full_path())
        views = [v for v in inspect.read_views(oids) if v.state != inspect.MISSING]
        context = self._context(
            request,
            "Delete sessions?",
            rows=self._rows(views),
            oids=oids,
            action="delete_selected",
            action_checkbox_name=ACTION_CHECKBOX_NAME,
            files=sum(len(v.upload.files) for v in views if v.upload),
        )
        return TemplateResponse(
            request,
            "admin/sessions_blob/storedsession/delete_confirmation.html",
            context,
        )

    def _delete(self, request: HttpRequest, oids: list[str], back: str) -> HttpResponse:
        try:
            result = operations.delete_sessions(oids)
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        self._log_deletions(
            request,
            result.deleted,
            "Deleted from object storage with its upload files.",
        )
        messages.success(
            request,
            f"Deleted {result.sessions} sessions and {result.files} upload files"
            + (f"; {result.missing} were already gone." if result.missing else "."),
        )
        return HttpResponseRedirect(back)

    def _log_deletions(
        self, request: HttpRequest, views: list[inspect.SessionView], message: str
    ) -> None:
        objects = []
        for view in views:
            obj = StoredSession(id=view.object_id)
            obj.key_hint = view.key_hint  # type: ignore[attr-defined]
            objects.append(obj)
        if objects:
            LogEntry.objects.log_actions(
                _actor(request), objects, DELETION, change_message=message
            )

    def delete_view(
        self,
        request: HttpRequest,
        object_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self._require(request, "delete")
        if request.method == "POST":
            return self._delete(request, [object_id], self._url("changelist"))
        view = inspect.read_view(object_id)
        if view.state == inspect.MISSING:
            raise Http404("No such session.")
        context = self._context(
            request,
            "Delete session?",
            rows=self._rows([view]),
            oids=[object_id],
            action=None,
            files=len(view.upload.files) if view.upload else 0,
        )
        return TemplateResponse(
            request,
            "admin/sessions_blob/storedsession/delete_confirmation.html",
            context,
        )

    def delete_expired_view(self, request: HttpRequest) -> HttpResponse:
        self._require(request, "delete")
        if request.method != "POST":
            context = self._context(
                request,
                "Delete all expired sessions?",
                budget=int(DELETE_EXPIRED_BUDGET),
            )
            return TemplateResponse(
                request,
                "admin/sessions_blob/storedsession/delete_expired.html",
                context,
            )
        try:
            result = operations.delete_expired(budget=DELETE_EXPIRED_BUDGET)
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        message = (
            f"Deleted {result.sessions} expired sessions and {result.files} upload "
            f"files (examined {result.examined})."
        )
        if result.stopped_early:
            message += " Stopped after the time limit: run it again, or leave it to "
            message += "`manage.py clearsessions` and `sessions_blob purge_uploads`."
        LogEntry.objects.create(
            user_id=_actor(request),
            content_type=ContentType.objects.get_for_model(
                StoredSession, for_concrete_model=False
            ),
            object_id=None,
            object_repr=f"{result.sessions} expired sessions",
            action_flag=DELETION,
            change_message=message,
        )
        messages.success(request, message)
        return HttpResponseRedirect(self._url("changelist"))

    # -- detail ------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return self.detail_view(request, object_id)

    def detail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._require(request, "view")
        try:
            view = inspect.read_view(object_id, metadata=True)
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        if view.state == inspect.MISSING:
            raise Http404("No such session: deleted, or never existed.")
        data_json = (
            json.dumps(
                _masked(view.data),
                indent=2,
                sort_keys=True,
                ensure_ascii=False,
                default=str,
            )
            if view.data is not None
            else None
        )
        files = []
        if view.upload is not None:
            for f in view.upload.files:
                file_id = f.get("id")
                files.append(
                    {
                        **f,
                        "stored_as": str(f.get("path", "")).rpartition("/")[2],
                        "uploaded": _parse_time(f.get("uploaded_at")),
                        "url": self._url("file", object_id, file_id)
                        if isinstance(file_id, str) and file_id.isalnum()
                        else None,
                    }
                )
        rows = self._rows([view])
        context = self._context(
            request,
            f"Session {view.key_hint or '?'}…",
            view=view,
            row=rows[0],
            data_json=data_json,
            metadata=sorted(view.metadata.items()),
            files=files,
            analytics_url=(
                self._url("analytics", object_id)
                if view.upload and view.upload.analytics_path
                else None
            ),
            delete_url=self._url("delete", object_id),
            user_sessions=(
                len(user_index.session_ids(view.user_id)) if view.user_id else 0
            ),
        )
        return TemplateResponse(
            request, "admin/sessions_blob/storedsession/detail.html", context
        )

    def _upload_path(self, object_id: str, file_id: str | None) -> str:
        view = inspect.read_view(object_id)
        if view.upload is None:
            raise Http404("This session has no upload.")
        allowed = set(operations._safe_paths(view.upload))
        if file_id is None:
            name = view.upload.analytics_path
        else:
            name = next(
                (f.get("path") for f in view.upload.files if f.get("id") == file_id),
                None,
            )
        if not isinstance(name, str) or name not in allowed:
            raise Http404("No such file in this session.")
        return name

    def _serve(
        self, name: str, content_type: str, download: str | None
    ) -> HttpResponseBase:
        try:
            handle = operations.uploads_storage().open(name, "rb")
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
        self._require(request, "view")
        return self._serve(
            self._upload_path(object_id, None), "application/json", download=None
        )

    def file_view(
        self, request: HttpRequest, object_id: str, file_id: str
    ) -> HttpResponseBase:
        self._require(request, "view")
        name = self._upload_path(object_id, file_id)
        view = inspect.read_view(object_id)
        assert view.upload is not None
        label = next(
            (f.get("name") for f in view.upload.files if f.get("id") == file_id),
            None,
        )
        return self._serve(name, "text/csv", download=str(label or f"{file_id}.csv"))

    # -- users -------------------------------------------------------------

    def user_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        self._require(request, "view")
        if request.method == "POST":
            return self._logout_user(request, user_id)
        try:
            views = operations.user_sessions(user_id)
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        user = _user(user_id)
        context = self._context(
            request,
            f"Sessions of {user or 'user ' + user_id}",
            rows=self._rows(views),
            user_id=user_id,
            account=user,
            account_url=_user_admin_url(user_id) if user else None,
        )
        return TemplateResponse(
            request, "admin/sessions_blob/storedsession/user.html", context
        )

    def _logout_user(self, request: HttpRequest, user_id: str) -> HttpResponse:
        self._require(request, "delete")
        try:
            result = operations.logout_user(user_id)
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        self._log_deletions(
            request, result.deleted, f"Logged out user {user_id} everywhere."
        )
        account = _user(user_id)
        if account is not None:
            LogEntry.objects.log_actions(
                _actor(request),
                [account],
                CHANGE,
                change_message=(
                    f"Logged out everywhere: ended {result.sessions} sessions "
                    "in object storage."
                ),
                single_object=True,
            )  # type: ignore[call-overload]
        messages.success(
            request,
            f"Ended {result.sessions} sessions of {account or 'user ' + user_id} "
            f"and deleted {result.files} upload files.",
        )
        return HttpResponseRedirect(self._url("user", user_id))


def _actor(request: HttpRequest) -> Any:
    """The logged-in staff member's primary key (admin_view guarantees one)."""
    return request.user.pk


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _sign(token: str | None) -> str | None:
    """Page tokens travel signed: a forged one never reaches the storage."""
    return signing.dumps(token, salt=PAGE_SALT, compress=True) if token else None


def _unsign(value: str | None) -> str | None:
    if not value:
        return None
    try:
        token = signing.loads(value, salt=PAGE_SALT)
    except signing.BadSignature:
        raise inspect.BadPageToken(value) from None
    return str(token)


def _user(user_id: str) -> Any:
    model = get_user_model()
    try:
        return model._default_manager.filter(pk=user_id).first()
    except (ValueError, ValidationError):
        return None


def _usernames(user_ids: Iterable[str | None]) -> dict[str, str]:
    ids = {u for u in user_ids if u is not None}
    if not ids:
        return {}
    model = get_user_model()
    try:
        users = model._default_manager.filter(pk__in=ids)
        return {str(u.pk): u.get_username() for u in users}
    except (ValueError, ValidationError):
        return {}


def _user_admin_url(user_id: str) -> str | None:
    model = get_user_model()
    try:
        return reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
            args=[user_id],
        )
    except Exception:
        return None
