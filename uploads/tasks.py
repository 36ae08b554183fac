"""Background processing (``UPLOADS_PROCESSING_MODE = "queue"``).

One Django task (``django.tasks``) whose only argument is the session id:
the worker loads the session through ``SESSION_ENGINE`` like any instance,
so it may run on another process or machine. ``POST /api/process`` marks
the session ``queued`` and enqueues it; the worker moves it to
``processing`` and then ``completed`` or ``failed`` (see
:func:`uploads.services.upload_session_run_queued`).

Django itself ships no backend that runs tasks in another process; the
project uses django-tasks-db's ``DatabaseBackend``: jobs are rows in the
project's database, picked up by ``manage.py db_worker``.
"""

from __future__ import annotations

from django.tasks import task

from uploads.services import upload_session_run_queued


@task()
def process_upload_session(session_key: str) -> str:
    """Process the upload session ``session_key``; returns its final status."""
    return upload_session_run_queued(session_key=session_key)
