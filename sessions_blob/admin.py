"""Admin pages for the sessions in object storage.

There is no table: ``StoredSession`` is an unmanaged model that gives the
admin index its entry and the permissions (``view_storedsession``,
``delete_storedsession``). Every view below reads the storage through
``sessions_blob.inspection`` and ``sessions_blob.operations``:

- list: one listing page per page (S3 continuation tokens in the links), each
  object on it read in parallel; filter by state, search by key prefix;
- detail: the verified payload as JSON, object metadata;
- actions: delete selected, delete all expired, and log out every session of
  a user. Each is written to the admin log.

Extending it, for apps that keep data in their sessions: subclass
``StoredSessionAdmin`` and register the subclass in place of this one
(``admin.site.unregister(StoredSession)``, then ``admin.site.register``), as
projects do with ``UserAdmin``:

- ``list_display``: the list's columns, as in ``ModelAdmin``: each is a
  method of the admin that takes a
  :class:`~sessions_blob.inspection.SessionObject` (decorate it with
  ``@admin.display(description=...)``). Beyond the built-in columns
  (``BUILTIN_COLUMNS``) it is called only for sessions whose data verified,
  and its value is escaped unless marked safe.
- ``get_detail_sections(request, session)``: extra boxes on the detail page,
  each a :class:`DetailSection` rendered from its own template.
- ``deletion_notes(request, sessions)``: lines shown on the delete
  confirmation, saying what else goes with these sessions.
- ``get_urls()``: extra pages, as in ``ModelAdmin``; ``admin_url(name,
  *args)`` reverses this admin's URL names.
- ``class Media``: stylesheets for the extra columns and sections.

What else goes when a session is deleted is for the app to do: it receives
``sessions_blob.signals.sessions_deleted``.

Why one module of over 500 lines: it is one ``ModelAdmin`` whose list,
detail and actions are views over the same state (the listing, the filters,
the extension points) and share its helpers; split by view, each part would
reach into the others' privates. The storage work is already elsewhere
(``inspection``, ``listing``, ``operations``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, re_path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from sessions_blob import inspection, operations, user_index
from sessions_blob.cleanup import clear_expired_sessions
from sessions_blob.exceptions import StorageUnavailable
from sessions_blob.inspection import SessionObject
from sessions_blob.models import StoredSession

OBJECT_ID = r"(?P<object_id>[0-9a-f]{64})"
PAGE_SALT = "sessions_blob.admin.page"
MASKED_KEYS = ("_auth_user_hash", "_csrftoken")
STATE_FILTERS = (
    (None, "All"),
    (inspection.LIVE, "Live"),
    (inspection.EXPIRED, "Expired"),
    ("unreadable", "Tampered or corrupt"),
)
#: Expired sessions deleted by one click run at most this long (seconds);
#: clearsessions from cron does the rest.
DELETE_EXPIRED_BUDGET = 20.0
#: The columns the admin draws itself (methods below), in their order.
BUILTIN_COLUMNS: tuple[str, ...] = (
    "key",
    "state",
    "user",
    "size",
    "last_modified",
    "expires",
)
EMPTY = mark_safe('<span class="quiet">&ndash;</span>')  # a constant
ANONYMOUS = mark_safe('<span class="quiet">anonymous</span>')


@dataclass(frozen=True)
class DetailSection:
    """A box on a session's detail page (``get_detail_sections``)."""

    title: str
    template: str  # rendered with this section as ``section``
    context: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # the box's HTML id


def _masked(data: dict[str, Any]) -> dict[str, Any]:
    return {k: ("•••• (hidden)" if k in MASKED_KEYS else v) for k, v in data.items()}


@admin.register(StoredSession)
class StoredSessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_per_page = 50
    list_display = BUILTIN_COLUMNS
    max_scan = 1000  # objects read per request by a filter or a key search

    # -- extension points ---------------------------------------------------

    def get_detail_sections(
        self, request: HttpRequest, session: SessionObject
    ) -> list[DetailSection]:
        """Extra boxes on the detail page (none here)."""
        return []

    def deletion_notes(
        self, request: HttpRequest, sessions: list[SessionObject]
    ) -> list[str]:
        """Lines for the delete confirmation: what else these deletions take
        with them (none here)."""
        return []

    def _declared_media(self) -> forms.Media:
        """Only what a subclass declares in ``class Media`` (stylesheets for
        its columns and sections); the admin's own scripts load as usual."""
        declared = getattr(type(self), "Media", None)
        return forms.Media(declared) if declared is not None else forms.Media()

    def admin_url(self, name: str, *args: Any) -> str:
        """This admin's URL ``name`` (``changelist``, ``change``, ...)."""
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

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
        ]

    def _context(
        self, request: HttpRequest, title: str, **extra: Any
    ) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "has_view_permission": self.has_view_permission(request),
            "has_delete_permission": self.has_delete_permission(request),
            "changelist_url": self.admin_url("changelist"),
            "media": self._declared_media(),
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
            page = inspection.browse(
                token=token,
                per_page=self.list_per_page,
                state=state,
                query=query,
                max_scan=self.max_scan,
            )
        except inspection.BadPageToken:
            messages.warning(request, "That page link has expired; back to the start.")
            return HttpResponseRedirect(self._list_url(state=state, q=query))
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        if query and not page.exact and inspection.key_prefix_match(query) is None:
            messages.warning(
                request,
                "Search takes the start of a session key (letters and digits), "
                "a whole key, or an object id.",
            )
        context = self._context(
            request,
            "Sessions (object storage)",
            **self._table(request, page.rows),
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
            delete_expired_url=self.admin_url("delete_expired"),
            searched_hint=len(query) > 8 and not page.exact,
            actions_available=self.has_delete_permission(request),
            **(extra_context or {}),
        )
        return TemplateResponse(
            request, "admin/sessions_blob/storedsession/change_list.html", context
        )

    def _list_url(self, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v}
        base = self.admin_url("changelist")
        return f"{base}?{urlencode(query)}" if query else base

    def _table(
        self, request: HttpRequest, sessions: list[SessionObject]
    ) -> dict[str, Any]:
        """The rows and headings of a session table (``_rows.html``)."""
        columns = [str(column) for column in self.get_list_display(request)]
        names = _usernames(s.user_id for s in sessions)
        rows = []
        for session in sessions:
            session.username = names.get(session.user_id or "")
            cells = [(column, self._cell(column, session)) for column in columns]
            rows.append({"session": session, "cells": cells})
        headings = [(column, self._heading(column)) for column in columns]
        return {"rows": rows, "headings": headings}

    def _heading(self, column: str) -> str:
        method = getattr(self, column)
        return str(
            getattr(method, "short_description", column.replace("_", " ").title())
        )

    def _cell(self, column: str, session: SessionObject) -> Any:
        if column not in BUILTIN_COLUMNS and session.data is None:
            return EMPTY  # an extension never sees unverified data
        value = getattr(self, column)(session)
        return EMPTY if value in (None, "") else value

    # -- the built-in columns -------------------------------------------------

    @admin.display(description="Key")
    def key(self, session: SessionObject) -> str:
        hint = f"{session.key_hint}…" if session.key_hint else "?"
        return format_html(
            '<a href="{}" title="object {}"><code>{}</code></a>',
            self.admin_url("change", session.object_id),
            session.object_id,
            hint,
        )

    @admin.display(description="State")
    def state(self, session: SessionObject) -> str:
        return format_html('<span class="state state-{0}">{0}</span>', session.state)

    @admin.display(description="User")
    def user(self, session: SessionObject) -> str:
        if session.user_id is None:
            return ANONYMOUS
        return format_html(
            '<a href="{}">{}</a>',
            self.admin_url("user", session.user_id),
            session.username or session.user_id,
        )

    @admin.display(description="Size")
    def size(self, session: SessionObject) -> str:
        return filesizeformat(session.size or 0)

    @admin.display(description="Last modified")
    def last_modified(self, session: SessionObject) -> str | None:
        return _when(session.last_modified)

    @admin.display(description="Expires")
    def expires(self, session: SessionObject) -> str | None:
        return _when(session.expires)

    def _to_user(self, request: HttpRequest, username: str) -> HttpResponse:
        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            messages.error(request, f"No user {username!r}.")
            return HttpResponseRedirect(self.admin_url("changelist"))
        return HttpResponseRedirect(self.admin_url("user", str(user.pk)))

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
            return HttpResponseRedirect(self.admin_url("delete_expired"))
        if action != "delete_selected":
            messages.warning(request, "Choose an action.")
            return HttpResponseRedirect(request.get_full_path())
        oids = [
            oid
            for oid in request.POST.getlist(ACTION_CHECKBOX_NAME)
            if inspection.is_object_id(oid)
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
        sessions = [
            s for s in inspection.read_many(oids) if s.state != inspection.MISSING
        ]
        return self._confirm_delete(request, sessions, oids, action="delete_selected")

    def _confirm_delete(
        self,
        request: HttpRequest,
        sessions: list[SessionObject],
        oids: list[str],
        action: str | None,
    ) -> HttpResponse:
        context = self._context(
            request,
            "Delete sessions?" if action else "Delete session?",
            **self._table(request, sessions),
            oids=oids,
            action=action,
            action_checkbox_name=ACTION_CHECKBOX_NAME,
            notes=self.deletion_notes(request, sessions),
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
        self._log_deletions(request, result.deleted, "Deleted from object storage.")
        messages.success(
            request,
            f"Deleted {result.sessions} sessions"
            + (f"; {result.missing} were already gone." if result.missing else "."),
        )
        return HttpResponseRedirect(back)

    def _log_deletions(
        self, request: HttpRequest, sessions: list[SessionObject], message: str
    ) -> None:
        objects = []
        for session in sessions:
            obj = StoredSession(id=session.object_id)
            obj.key_hint = session.key_hint  # type: ignore[attr-defined]
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
            return self._delete(request, [object_id], self.admin_url("changelist"))
        session = inspection.read(object_id)
        if session.state == inspection.MISSING:
            raise Http404("No such session.")
        return self._confirm_delete(request, [session], [object_id], action=None)

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
            result = clear_expired_sessions(budget=DELETE_EXPIRED_BUDGET)
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        message = (
            f"Deleted {result.deleted} expired sessions (examined {result.examined})."
        )
        if result.stopped_early:
            message += " Stopped after the time limit: run it again, or leave it to "
            message += "`manage.py clearsessions`."
        LogEntry.objects.create(
            user_id=_actor(request),
            content_type=ContentType.objects.get_for_model(
                StoredSession, for_concrete_model=False
            ),
            object_id=None,
            object_repr=f"{result.deleted} expired sessions",
            action_flag=DELETION,
            change_message=message,
        )
        messages.success(request, message)
        return HttpResponseRedirect(self.admin_url("changelist"))

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
            session = inspection.read(object_id, metadata=True)
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        if session.state == inspection.MISSING:
            raise Http404("No such session: deleted, or never existed.")
        data_json = (
            json.dumps(
                _masked(session.data),
                indent=2,
                sort_keys=True,
                ensure_ascii=False,
                default=str,
            )
            if session.data is not None
            else None
        )
        user = _usernames([session.user_id]).get(session.user_id or "")
        context = self._context(
            request,
            f"Session {session.key_hint or '?'}…",
            session=session,
            user=user or session.user_id,
            user_url=(
                self.admin_url("user", session.user_id) if session.user_id else None
            ),
            data_json=data_json,
            metadata=sorted(session.metadata.items()),
            sections=(
                self.get_detail_sections(request, session)
                if session.data is not None
                else []
            ),
            delete_url=self.admin_url("delete", object_id),
            user_sessions=(
                len(user_index.session_ids(session.user_id)) if session.user_id else 0
            ),
        )
        return TemplateResponse(
            request, "admin/sessions_blob/storedsession/detail.html", context
        )

    # -- users -------------------------------------------------------------

    def user_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        self._require(request, "view")
        if request.method == "POST":
            return self._logout_user(request, user_id)
        try:
            sessions = operations.user_sessions(user_id)
        except StorageUnavailable as exc:
            return self._unavailable(request, exc)
        user = _user(user_id)
        context = self._context(
            request,
            f"Sessions of {user or 'user ' + user_id}",
            **self._table(request, sessions),
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
            f"Ended {result.sessions} sessions of {account or 'user ' + user_id}.",
        )
        return HttpResponseRedirect(self.admin_url("user", user_id))


def _when(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if settings.USE_TZ:
        moment = timezone.localtime(moment)
    return date_filter(moment, "Y-m-d H:i")


def _actor(request: HttpRequest) -> Any:
    """The logged-in staff member's primary key (admin_view guarantees one)."""
    return request.user.pk


def _sign(token: str | None) -> str | None:
    """Page tokens travel signed: a forged one never reaches the storage."""
    return signing.dumps(token, salt=PAGE_SALT, compress=True) if token else None


def _unsign(value: str | None) -> str | None:
    if not value:
        return None
    try:
        token = signing.loads(value, salt=PAGE_SALT)
    except signing.BadSignature:
        raise inspection.BadPageToken(value) from None
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
