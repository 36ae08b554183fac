"""An app's extension of the sessions admin, on an admin site of its own:
what ``test_an_app_extends_the_pages`` drives."""

from typing import Any

from django.contrib import admin
from django.urls import path

from sessions_blob.admin import DetailSection, StoredSessionAdmin
from sessions_blob.models import StoredSession
from tests.sessions_blob.urls import urlpatterns as engine_urlpatterns


class NotesAdmin(StoredSessionAdmin):
    list_display = (*StoredSessionAdmin.list_display, "cart")

    class Media:
        css = {"all": ["notes/admin.css"]}

    @admin.display(description="Cart")
    def cart(self, session: Any) -> str | None:
        items = session.data.get("cart")
        return f"{len(items)} items <b>" if items else None

    def get_detail_sections(self, request: Any, session: Any) -> list[DetailSection]:
        return [
            DetailSection(
                "Cart",
                "notes/cart.html",
                {"label": "cart box"},
                id="cart",
            )
        ]

    def deletion_notes(self, request: Any, sessions: list[Any]) -> list[str]:
        return [f"{len(sessions)} carts are emptied."]


notes_site = admin.AdminSite(name="notes")
notes_site.register(StoredSession, NotesAdmin)

urlpatterns = [path("notes-admin/", notes_site.urls), *engine_urlpatterns]
