"""Background processing (``UPLOADS_PROCESSING_MODE = "queue"``).

One Django task (Django 6's ``django.tasks``, or its backport ``django-tasks``
on 5.2) whose only argument is the session id: the worker loads the session
through ``SESSION_ENGINE`` like any instance, so it may run on another process
or machine. ``POST /api/process`` marks the session ``queued`` and enqueues
it; the worker moves it to ``processing`` and then ``completed`` or
``failed`` (see :func:`uploads.services.upload_session_run_queued`).

The project runs it on django-tasks-db's ``DatabaseBackend``: jobs are rows
in the project's database, picked up by ``manage.py db_worker``.
"""

from __future__ import annotations

try:  # Django 6.0+
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef,unused-ignore]

from uploads.services import upload_session_run_queued


@task()
def process_upload_session(session_key: str) -> str:
    """Process the upload session ``session_key``; returns its final status."""
    return upload_session_run_queued(session_key=session_key)
