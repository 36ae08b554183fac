from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "uploads"
    verbose_name = "CSV uploads"

    def ready(self) -> None:
        from uploads import checks  # noqa: F401  (registers the checks)
