"""The profile document (docs/profile.schema.json): per-column entries with
their warnings, and the whole document as strict JSON values. Keys are
camelCase; values from the data (column names, cells) are never changed."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from uploads.profiling.source import Column

PROFILE_SCHEMA_VERSION = "2"

EXACT_FIGURES = [
    "rowCount",
    "duplicateRows",
    "duplicateExamples",
    "rejectedCount",
    "nullCount",
    "markerCounts",
    "emptyCount",
    "distinctCount",
    "min",
    "max",
    "mean",
    "std",
    "quantiles",
    "histogram",
    "extremes",
    "topValues",
    "length",
    "trueCount",
    "falseCount",
    "missing",
    "pearson",
    "spearman",
]


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return jsonable(float(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def iso(text: str | None, *, utc: bool = False) -> str | None:
    """DuckDB's ``2024-01-02 10:00:00[+00]`` as ISO 8601 (``Z`` for UTC)."""
    if text is None:
        return None
    text = text.replace(" ", "T", 1)
    if utc and text.endswith("+00"):
        text = text[:-3] + "Z"
    return text


def column_doc(c: Column, rows: int, markers: list[str]) -> dict[str, Any]:
    """One column's entry: counts, type-specific figures and warnings.

    ``markers``: the marker list by code (code k is ``markers[k - 1]``).
    """
    s = c.stats
    marker_counts = {
        markers[int(code) - 1]: int(n) for code, n in (s.get("markers") or {}).items()
    }
    if c.retyped and c.kind in ("integer", "float"):
        for text, n in (s.get("numeric_markers") or {}).items():
            marker_counts[text] = marker_counts.get(text, 0) + int(n)
    numeric_markers = sum((s.get("numeric_markers") or {}).values())
    nonnull = int(s.get("nonnull") or 0)
    if c.retyped and c.kind in ("integer", "float"):
        nonnull -= numeric_markers
    nulls = rows - nonnull
    empty = int(s.get("empty") or 0)
    values = rows - nulls - empty
    distinct = int(s.get("distinct") or 0)
    doc: dict[str, Any] = {
        "name": c.name,
        "type": c.kind,
        "nullCount": nulls,
        "nullShare": nulls / rows if rows else None,
        "markerCounts": dict(
            sorted(marker_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        "emptyCount": empty,
        "distinctCount": distinct,
    }
    warnings = []
    if rows and values == 0:
        warnings.append("all_null")
    elif rows and (nulls + empty) / rows > 0.5:
        warnings.append("mostly_null")
    if values >= 2 and distinct == 1:
        warnings.append("constant")
    unique = values >= 2 and distinct == values and c.kind not in ("float", "boolean")
    if unique:
        warnings.append("unique")
    if c.kind in ("integer", "float"):
        doc.update(
            min=s.get("min"),
            max=s.get("max"),
            mean=s.get("mean"),
            std=s.get("std"),
            quantiles=s.get("quantiles"),
            histogram=s.get("histogram"),
            extremes=s.get("extremes"),
        )
        skew = s.get("skew")
        if skew is not None and math.isfinite(skew) and abs(skew) > 2:
            warnings.append("skewed")
    elif c.kind == "boolean":
        doc.update(
            trueCount=int(s.get("true") or 0), falseCount=int(s.get("false") or 0)
        )
    elif c.kind in ("date", "datetime"):
        if c.kind == "datetime":
            doc.update(
                min=iso(s.get("min"), utc=c.timezone),
                max=iso(s.get("max"), utc=c.timezone),
            )
        else:
            doc.update(min=s.get("min"), max=s.get("max"))
        doc.update(histogram=s.get("histogram"))
        if c.kind == "datetime":
            doc["timezone"] = "UTC" if c.timezone else None
    else:
        doc.update(
            topValues=s.get("top", []),
            length=(
                {"min": s["len_min"], "max": s["len_max"], "mean": s["len_mean"]}
                if values
                else None
            ),
        )
        # an all-distinct column is "unique": saying "high cardinality" too
        # would repeat it
        if values > 50 and distinct > 0.5 * values and not unique:
            warnings.append("high_cardinality")
        share = (s.get("numeric") or 0) / values if values else 0.0
        if 0.9 <= share < 1:
            warnings.append("numbers_as_text")
        elif 0.1 <= share < 0.9:
            warnings.append("mixed_types")
    doc["warnings"] = warnings
    return doc


def missing_overview(cols: list[Column], rows: int, ranges: int) -> dict[str, Any]:
    """Missing cells (empty, marker or quoted '') per column per row range."""
    if not rows:
        return {"ranges": [], "counts": []}
    bounds = []
    for k in range(ranges):
        # rows r (0-based) with r * ranges // rows == k, for the ranges in use
        first = -(-k * rows // ranges)
        last = -(-(k + 1) * rows // ranges) - 1
        if first <= last:
            bounds.append((k, first, last))
    counts = []
    for c in cols:
        by_range = {
            int(k): int(n) for k, n in (c.stats.get("missing_ranges") or {}).items()
        }
        counts.append([by_range.get(k, 0) for k, _first, _last in bounds])
    return {
        "ranges": [
            {"firstRow": first + 1, "lastRow": last + 1} for _k, first, last in bounds
        ],
        "counts": counts,
    }


def assemble(**parts: Any) -> dict[str, Any]:
    """The document from its parts (keys as in the schema), as strict JSON
    values (no NaN, ISO dates)."""
    approximate: set[str] = parts.pop("approximate")
    doc = {
        "schemaVersion": PROFILE_SCHEMA_VERSION,
        **parts,
        "exact": [f for f in EXACT_FIGURES if f not in approximate],
        "approximate": sorted(approximate),
    }
    return jsonable(doc)
