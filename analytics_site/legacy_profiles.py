"""Profiles stored before the profile document switched to camelCase.

A session processed before the switch keeps its stored schema-1 profile
(snake_case keys) until it expires; the dashboard and the report read it
through :func:`upgrade_profile` as schema 2.
"""

from __future__ import annotations

from typing import Any

#: Keys of profile schema 1 (snake_case) and their schema-2 names.
_V1_KEYS = {
    "schema_version": "schemaVersion",
    "lossy_decode": "lossyDecode",
    "has_header": "hasHeader",
    "row_count": "rowCount",
    "column_count": "columnCount",
    "duplicate_rows": "duplicateRows",
    "rejected_count": "rejectedCount",
    "rejected_rows": "rejectedRows",
    "sample_rows": "sampleRows",
    "null_count": "nullCount",
    "null_share": "nullShare",
    "empty_count": "emptyCount",
    "distinct_count": "distinctCount",
    "top_values": "topValues",
    "true_count": "trueCount",
    "false_count": "falseCount",
}


def upgrade_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 profile (stored before the switch to camelCase, in a session
    that is still live) read as schema 2; other profiles unchanged. Only keys
    are renamed: values (column names, cells) are the file's."""
    if profile.get("schema_version") != "1":
        return profile

    def renamed(part: dict[str, Any]) -> dict[str, Any]:
        return {_V1_KEYS.get(k, k): v for k, v in part.items()}

    out = renamed(profile)
    out["columns"] = [renamed(c) for c in profile.get("columns") or []]
    out["approximate"] = [_V1_KEYS.get(k, k) for k in profile.get("approximate") or []]
    corr = profile.get("correlations") or {}
    out["correlations"] = {
        "columns": corr.get("columns") or [],
        "pearson": corr.get("matrix") or [],
        "spearman": [],
        "omitted": [],
        "pairs": [],
    }
    return out
