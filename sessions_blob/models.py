"""No tables: the sessions are objects in storage.

``StoredSession`` is an unmanaged model that exists for the admin: it gives
the admin index its "Sessions (object storage)" entry, the permissions
``sessions_blob.view_storedsession`` and ``sessions_blob.delete_storedsession``
that guard the pages and actions, and a content type for admin log entries.
Nothing ever queries it.
"""

from __future__ import annotations

from django.db import models


class StoredSession(models.Model):
    #: The object id: SHA-256 of the session key, which names the object.
    id = models.CharField(primary_key=True, max_length=64)

    class Meta:
        managed = False
        default_permissions = ("view", "delete")
        verbose_name = "session"
        verbose_name_plural = "sessions"

    def __str__(self) -> str:
        hint = getattr(self, "key_hint", None)
        label = f"session {hint}…" if hint else "session"
        return f"{label} (object {self.id[:12]}…)"
