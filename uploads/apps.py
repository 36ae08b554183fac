from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "uploads"
    verbose_name = "CSV uploads"

    def ready(self) -> None:
        from sessions_blob.signals import sessions_deleted
        from uploads import checks  # noqa: F401  (registers the checks)
        from uploads.cleanup import delete_files_of_deleted_sessions

        sessions_deleted.connect(
            delete_files_of_deleted_sessions, dispatch_uid="uploads.cleanup"
        )
