"""Input and output shapes of the API (and of its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxLengthValidator
from rest_framework import serializers

from uploads.conf import conf
from uploads.documents import PHASES, STATUSES


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for humans.")


# -- input ----------------------------------------------------------------------


class UploadInputSerializer(serializers.Serializer):
    # One to UPLOADS_MAX_FILES files: the schema says so too (minItems,
    # maxItems), read from the settings whenever the serializer is made.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        files = self.fields["files"]
        files.max_length = conf.MAX_FILES
        files.validators = [
            v for v in files.validators if not isinstance(v, MaxLengthValidator)
        ] + [MaxLengthValidator(conf.MAX_FILES)]

    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        allow_empty=False,
        min_length=1,
        help_text="One or more CSV files (repeat the field), at most "
        "UPLOADS_MAX_FILES.",
        error_messages={
            "required": "No file arrived in the multipart field 'files': send "
            "each CSV file as a part named 'files', with a file name, in a "
            "complete body (one cut short before its closing boundary loses "
            "its files).",
        },
    )


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a misspelt one (``"addd"``) would
    otherwise be dropped, and the request run as if it had not been sent."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}
                )
        return super().to_internal_value(data)


class TextField(serializers.CharField):
    """A JSON string, as sent: DRF's CharField turns numbers into text
    (``5`` into ``"5"``), which for a null marker means another marker."""

    default_error_messages = {"invalid": "Not a text: send a JSON string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


def _markers(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=TextField(max_length=64, trim_whitespace=False),
        max_length=64,
        required=False,
        default=list,
        help_text=help_text,
    )


class NullMarkersSerializer(StrictSerializer):
    add = _markers(
        'More texts that mean "no value" in every column (e.g. "n/a", "-999").'
    )
    remove = _markers(
        'Default markers that are values in these files (e.g. "NA" for Namibia).'
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        both = sorted(set(attrs["add"]) & set(attrs["remove"]))
        if both:
            raise serializers.ValidationError(
                f"Both added and removed: {', '.join(both)}."
            )
        return attrs


class ProcessInputSerializer(StrictSerializer):
    nullMarkers = NullMarkersSerializer(
        required=False,
        help_text="Change the texts read as missing for this upload (kept for "
        "later runs; send empty lists to go back to the defaults). The defaults "
        "are in docs/profiling.md.",
    )
    id = serializers.RegexField(
        r"^[0-9a-f]{32}$",
        required=False,
        help_text="The upload to process, if the caller wants it checked: it must "
        "be the one its session (X-Session-ID or the cookie) holds.",
        error_messages={"invalid": "Not an upload id."},
    )


SHA256_HEX = r"^[0-9a-f]{64}$"


class DirectUploadInputSerializer(StrictSerializer):
    name = serializers.CharField(
        max_length=1024,
        trim_whitespace=False,
        help_text="The file's name, for display only (never a path).",
    )
    size = serializers.IntegerField(min_value=0, help_text="Bytes.")
    sha256 = serializers.RegexField(
        SHA256_HEX,
        required=False,
        allow_blank=True,
        help_text="SHA-256 of the whole file, lowercase hex. Required for a file "
        "of one part (up to partSize bytes): it is signed into the upload URL. "
        "Optional above: each part carries its own; if sent, it is checked when "
        "the file is first processed.",
        error_messages={"invalid": "Not a SHA-256 in lowercase hex."},
    )
    contentType = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="As the client knows it (recorded; the file is stored as text/csv).",
    )


class PartInputSerializer(StrictSerializer):
    number = serializers.IntegerField(min_value=1, max_value=10_000)
    sha256 = serializers.RegexField(
        SHA256_HEX,
        help_text="SHA-256 of the part's bytes, lowercase hex.",
        error_messages={"invalid": "Not a SHA-256 in lowercase hex."},
    )


class PartsInputSerializer(StrictSerializer):
    parts = PartInputSerializer(
        many=True,
        allow_empty=False,
        max_length=100,
        help_text="The parts to sign (at most 100 per request).",
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
    id = serializers.CharField(
        help_text="The upload's public id: it names the upload in URLs and grants "
        "nothing (the session key is the credential, never shown)."
    )
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
    nullMarkers = NullMarkersSerializer(
        help_text="This upload's change to the default null markers."
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


class SignedPartSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="The part, from 1.")
    method = serializers.CharField(help_text="Always PUT.")
    url = serializers.CharField(
        help_text="Where to send the part's bytes as the request body: a "
        "presigned S3 URL, or this API's own signed URL on local disk."
    )
    headers = serializers.DictField(
        child=serializers.CharField(),
        help_text="Headers to send with it, exactly (they are signed).",
    )
    expiresAt = serializers.DateTimeField(
        help_text="After this the URL is refused: ask for a new one."
    )


class DirectUploadSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The file's id, once it has joined.")
    uploadId = serializers.CharField(help_text="The upload session's id.")
    name = serializers.CharField()
    size = serializers.IntegerField()
    partSize = serializers.IntegerField(
        help_text="Bytes per part; the last part has the rest."
    )
    partCount = serializers.IntegerField()
    expiresAt = serializers.DateTimeField(
        help_text="Complete before this, or the upload is discarded."
    )
    parts = SignedPartSerializer(
        many=True,
        help_text="Requests signed by this call: part 1 of a one-part file at "
        "the start; those asked for by POST …/parts.",
    )
    received = serializers.ListField(
        child=serializers.IntegerField(),
        allow_null=True,
        help_text="The parts the storage holds (GET only; else null).",
    )
    url = serializers.CharField(help_text="This upload: GET for its parts, DELETE.")
    partsUrl = serializers.CharField(help_text="POST to sign parts.")
    completeUrl = serializers.CharField(help_text="POST once every part is sent.")


class ProcessAcceptedSerializer(SessionSerializer):
    statusUrl = serializers.CharField(
        help_text="Where to poll the session's status (also the Location header)."
    )
