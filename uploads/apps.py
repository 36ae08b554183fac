from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "uploads"
    verbose_name = "CSV uploads"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from sessions_blob.signals import sessions_deleted
        from uploads import checks  # noqa: F401  (registers the checks)
        from uploads.cleanup import (
            delete_files_of_deleted_sessions,
            drop_upload_at_login,
        )

        sessions_deleted.connect(
            delete_files_of_deleted_sessions, dispatch_uid="uploads.cleanup"
        )
        user_logged_in.connect(drop_upload_at_login, dispatch_uid="uploads.login")
