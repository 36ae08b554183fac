"""The work behind the uploads API: keyword-only, typed functions that raise
``uploads.exceptions`` (never HTTP errors).

- ``store``: the upload document's compare-and-set persistence in the session;
- ``files``: storing uploads under server ids, reading them back;
- ``direct``: uploads whose bytes go straight to the storage;
- ``sessions``: reading and deleting an upload session;
- ``processing``: profiling the files, inline or queued (its task is there);
- ``liveness``: heartbeats, progress and the timeout of dead runs;
- ``analytics``: the analytics document, and one file's profile;
- ``removal``: taking one file out of an upload.
"""

from uploads.services.analytics import upload_file_profile, upload_session_analytics
from uploads.services.direct import (
    DirectUpload,
    direct_part_receive,
    direct_upload_abort,
    direct_upload_begin,
    direct_upload_complete,
    direct_upload_sign,
    direct_upload_status,
)
from uploads.services.files import (
    upload_file_open,
    upload_file_signed_url,
    upload_session_add_files,
)
from uploads.services.liveness import ProgressRecorder
from uploads.services.processing import (
    process_upload_session,
    upload_session_enqueue,
    upload_session_process,
    upload_session_run_queued,
)
from uploads.services.removal import upload_file_delete
from uploads.services.sessions import (
    upload_file_get,
    upload_session_delete,
    upload_session_get,
)

__all__ = [
    "DirectUpload",
    "ProgressRecorder",
    "direct_part_receive",
    "direct_upload_abort",
    "direct_upload_begin",
    "direct_upload_complete",
    "direct_upload_sign",
    "direct_upload_status",
    "process_upload_session",
    "upload_file_delete",
    "upload_file_get",
    "upload_file_open",
    "upload_file_profile",
    "upload_file_signed_url",
    "upload_session_add_files",
    "upload_session_analytics",
    "upload_session_delete",
    "upload_session_enqueue",
    "upload_session_get",
    "upload_session_process",
    "upload_session_run_queued",
]
