"""Input and output shapes of the API (and of its OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from uploads.documents import PHASES, STATUSES


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for humans.")


# -- input ----------------------------------------------------------------------


class UploadInputSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        allow_empty=False,
        help_text="One or more CSV files (repeat the field).",
        error_messages={
            "required": "No file arrived in the multipart field 'files': send "
            "each CSV file as a part named 'files', with a file name, in a "
            "complete body (one cut short before its closing boundary loses "
            "its files).",
        },
    )


class ProcessInputSerializer(serializers.Serializer):
    session_id = serializers.CharField(
        required=False,
        max_length=128,
        help_text="The session to process; defaults to the X-Session-ID header, "
        "then the session cookie.",
    )


# -- output ---------------------------------------------------------------------


class BadgeSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["uploaded", "profiled", "error"],
        help_text="How the upload page draws the file's row.",
    )
    label = serializers.CharField(help_text="The row's badge, for people.")


class FileSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(
        help_text="The client's file name, for display only (control characters "
        "removed, at most 255 characters)."
    )
    size = serializers.IntegerField(help_text="Bytes.")
    sha256 = serializers.CharField()
    contentType = serializers.CharField(help_text="As sent by the client, or empty.")
    url = serializers.CharField(
        help_text="Where to download the file: a short-lived signed URL on S3; on "
        "local disk this API's download endpoint (send the session cookie or "
        "X-Session-ID)."
    )
    error = ErrorSerializer(
        allow_null=True, help_text="Why the file could not be profiled, else null."
    )
    badge = BadgeSerializer(help_text="Where the file stands, for people.")


class ProgressSerializer(serializers.Serializer):
    file = serializers.IntegerField(help_text="The file being profiled, from 1.")
    files = serializers.IntegerField(help_text="Files in this run.")
    phase = serializers.ChoiceField(
        choices=list(PHASES), help_text="What the profiler is doing."
    )
    message = serializers.CharField(help_text="The same, for people.")


class SessionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The session id (the credential: keep it).")
    createdAt = serializers.DateTimeField()
    expiresAt = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=STATUSES)
    statusMessage = serializers.CharField(
        help_text="What the status means, for people (the upload page shows it)."
    )
    error = ErrorSerializer(
        allow_null=True, help_text="Why processing failed (status failed), else null."
    )
    files = FileSerializer(many=True)
    progress = ProgressSerializer(
        allow_null=True,
        help_text="While processing: the file and phase last recorded (written "
        "when a file starts and then at most every second), else null.",
    )
    analyticsUrl = serializers.CharField(
        allow_null=True, help_text="The analytics endpoint once processed, else null."
    )


class AnalyticsFileSerializer(serializers.Serializer):
    fileId = serializers.CharField()
    name = serializers.CharField()
    profile = serializers.JSONField(
        allow_null=True,
        help_text="The file's profile (docs/profile.schema.json), or null when the "
        "file could not be profiled.",
    )
    error = ErrorSerializer(allow_null=True)


class AnalyticsSerializer(serializers.Serializer):
    schemaVersion = serializers.CharField(
        help_text="Version of this document's shape (2: camelCase keys)."
    )
    id = serializers.CharField(help_text="The upload session's id.")
    generatedAt = serializers.DateTimeField(allow_null=True)
    files = AnalyticsFileSerializer(many=True)


class ProcessAcceptedSerializer(SessionSerializer):
    statusUrl = serializers.CharField(
        help_text="Where to poll the session's status (also the Location header)."
    )
