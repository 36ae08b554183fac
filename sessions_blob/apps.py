from django.apps import AppConfig


class SessionsBlobConfig(AppConfig):
    name = "sessions_blob"
    verbose_name = "Sessions (object storage)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sessions_blob import checks  # noqa: F401  (registers the checks)
