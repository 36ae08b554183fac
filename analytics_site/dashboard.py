"""The dashboard's view model: the analytics document, shaped for templates.

Input: the session document (for file sizes) and the analytics document of
``GET /api/sessions/{id}/analytics`` (one profile or error per file; the
profile's shape is in ``docs/profiling.md`` and
``docs/profile.schema.json``). Output: plain dicts and lists of already
formatted strings and :mod:`analytics_site.charts` charts, so the templates
stay free of logic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.template.defaultfilters import filesizeformat

from analytics_site.charts import (
    DASH,
    Chart,
    GridChart,
    bar_chart,
    density_chart,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_plain,
    fmt_short,
    fmt_when,
    histogram_chart,
    missing_chart,
)
from analytics_site.legacy_profiles import upgrade_profile

TYPE_LABELS = {
    "integer": "Integer",
    "float": "Decimal",
    "boolean": "Boolean",
    "date": "Date",
    "datetime": "Date & time",
    "text": "Text",
}

#: Column warnings: short label and what it means.
WARNINGS = {
    "all_null": ("All missing", "Every cell of this column is empty."),
    "mostly_null": ("Mostly missing", "More than half of the cells are empty."),
    "constant": ("Constant", "Every value is the same."),
    "unique": ("Unique", "Every value is different: an identifier?"),
    "high_cardinality": (
        "High cardinality",
        "More than half of the values are distinct.",
    ),
    "skewed": ("Skewed", "The distribution has a long tail (|skewness| > 2)."),
    "numbers_as_text": (
        "Numbers as text",
        "At least 90% of the values are numbers, but not all.",
    ),
    "mixed_types": ("Mixed types", "Between 10% and 90% of the values are numbers."),
    "correlated": (
        "Correlated",
        "Strongly correlated with another column (see Correlations).",
    ),
}

#: Per-file error codes of the analytics document: a heading for each.
FILE_ERRORS = {
    "not_csv": "Not a CSV file",
    "empty_file": "Empty file",
    "undecodable": "Unreadable text encoding",
    "too_many_columns": "Too many columns",
    "parse_error": "Could not be read as CSV",
    "out_of_memory": "Too large to profile",
    "not_found": "File missing",
    "processing_error": "Processing failed",
}

_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "cp1252": "Windows-1252",
    "utf-16": "UTF-16",
}
_CORRELATION_BUCKETS = ((0.6, "3"), (0.3, "2"), (0.1, "1"))


def file_error(error: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not error:
        return None
    code = str(error.get("code", ""))
    return {
        "code": code,
        "title": FILE_ERRORS.get(code, "Could not be processed"),
        "message": str(error.get("message", "")),
    }


def _warnings(codes: list[str]) -> list[dict[str, str]]:
    out = []
    for code in codes:
        label, help_ = WARNINGS.get(code, (code, ""))
        out.append({"code": code, "label": label, "help": help_})
    return out


def _span(first: Any, last: Any) -> str:
    try:
        start = dt.datetime.fromisoformat(str(first))
        end = dt.datetime.fromisoformat(str(last))
    except ValueError:
        return DASH
    seconds = (end - start).total_seconds()
    if seconds >= 2 * 86400:
        return f"{fmt_int(round(seconds / 86400))} days"
    if seconds >= 2 * 3600:
        return f"{fmt_num(round(seconds / 3600, 1))} hours"
    return f"{fmt_num(round(seconds / 60, 1))} minutes"


def _stats(
    column: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Key figures (label, value, wide) and a strip of related ones (the
    percentiles, the lengths) shown side by side."""
    kind = column["type"]
    if kind in ("integer", "float"):
        q = column.get("quantiles") or {}
        plain = year_like(column)
        num = fmt_plain if plain else fmt_num
        short = fmt_plain if plain else fmt_short
        pairs = [
            ("Min", num(column.get("min"))),
            ("Max", num(column.get("max"))),
            ("Mean", fmt_num(column.get("mean"))),
            ("Std dev", fmt_num(column.get("std"))),
        ]
        strip = None
        if q:
            strip = {
                "title": "Percentiles",
                "items": [
                    (label, short(q.get(key)), num(q.get(key)))
                    for label, key in (
                        ("P5", "p5"),
                        ("P25", "p25"),
                        ("Median", "p50"),
                        ("P75", "p75"),
                        ("P95", "p95"),
                    )
                ],
            }
        return [{"label": k, "value": v, "wide": False} for k, v in pairs], strip
    if kind in ("date", "datetime"):
        if column.get("min") is None:
            return [], None
        zone = " UTC" if column.get("timezone") else ""
        pairs = [
            ("Earliest", fmt_when(column.get("min")) + zone),
            ("Latest", fmt_when(column.get("max")) + zone),
            ("Span", _span(column.get("min"), column.get("max"))),
        ]
        return [{"label": k, "value": v, "wide": True} for k, v in pairs], None
    if kind == "boolean":
        return [], None  # the chart shows both counts and shares
    length = column.get("length") or {}
    if not length:
        return [], None
    return [], {
        "title": "Length in characters",
        "items": [
            (label, text, text)
            for label, text in (
                ("Shortest", fmt_int(length.get("min"))),
                ("Average", fmt_num(round(length.get("mean", 0), 1))),
                ("Longest", fmt_int(length.get("max"))),
            )
        ],
    }


def _chart(column: dict[str, Any], rows: int) -> tuple[Chart | None, str]:
    """The column's chart and a one-line note under it."""
    name, kind = column["name"], column["type"]
    if kind in ("integer", "float", "date", "datetime"):
        hist = column.get("histogram")
        if not hist:
            return None, "No values to chart."
        chart = histogram_chart(
            name, hist["edges"], hist["counts"], rows, plain=year_like(column)
        )
        return chart, ""
    if kind == "boolean":
        values = [
            ("true", int(column.get("trueCount", 0))),
            ("false", int(column.get("falseCount", 0))),
        ]
        if column.get("nullCount"):
            values.append(("missing", int(column["nullCount"])))
        return bar_chart(name, values, rows, title="Values"), ""
    top = [(str(v["value"]), int(v["count"])) for v in column.get("topValues") or []]
    if not top:
        return None, "No values to chart."
    values = rows - column.get("nullCount", 0) - column.get("emptyCount", 0)
    if top[0][1] == 1 and len(top) > 3:
        # Every value occurs once: ten bars of 1 would say nothing more.
        top = top[:3]
        note = (
            f"No value repeats: {fmt_int(column.get('distinctCount'))} distinct "
            "values, the first 3 shown."
        )
        return bar_chart(name, top, rows, title="Values"), note
    covered = sum(count for _v, count in top)
    note = (
        f"Top {len(top)} of {fmt_int(column.get('distinctCount'))} distinct values, "
        f"covering {fmt_pct(covered, values)} of the values."
        if column.get("distinctCount", 0) > len(top)
        else f"All {fmt_int(column.get('distinctCount'))} distinct values."
    )
    return bar_chart(name, top, rows, title="Most frequent values"), note


def year_like(column: dict[str, Any]) -> bool:
    """Integers that read as years (1000 to 2999): shown without separators."""
    low, high = column.get("min"), column.get("max")
    return (
        column.get("type") == "integer"
        and isinstance(low, int)
        and isinstance(high, int)
        and 1000 <= low <= high <= 2999
    )


def _markers(column: dict[str, Any]) -> str:
    """``NA: 13, -: 2``: the null markers seen, most frequent first."""
    counts = column.get("markerCounts") or {}
    return ", ".join(f"{marker}: {fmt_int(n)}" for marker, n in counts.items())


def _extremes(column: dict[str, Any]) -> list[dict[str, Any]]:
    ext = column.get("extremes") or {}
    num = fmt_plain if year_like(column) else fmt_num
    out = []
    for key, title in (("smallest", "Smallest"), ("largest", "Largest")):
        values = ext.get(key) or []
        if values:
            out.append(
                {
                    "title": title,
                    "items": [
                        {"value": num(v["value"]), "count": fmt_int(v["count"])}
                        for v in values
                    ],
                }
            )
    return out


def column_view(column: dict[str, Any], rows: int, chart_id: str) -> dict[str, Any]:
    chart, note = _chart(column, rows)
    stats, strip = _stats(column)
    nulls = int(column.get("nullCount", 0))
    return {
        "id": chart_id,
        "name": column["name"],
        "type": column["type"],
        "type_label": TYPE_LABELS.get(column["type"], column["type"]),
        "nulls": fmt_int(nulls),
        "null_share": fmt_pct(nulls, rows) if rows and nulls else "",
        "has_nulls": nulls > 0,
        "markers": _markers(column),
        "empty": fmt_int(column.get("emptyCount", 0)),
        "has_empty": bool(column.get("emptyCount")),
        "distinct": fmt_int(column.get("distinctCount", 0)),
        "stats": stats,
        "strip": strip,
        "extremes": _extremes(column),
        "chart": chart,
        "chart_note": note,
        "warnings": _warnings(list(column.get("warnings") or [])),
    }


def _matrix(columns: list[str], matrix: list[list[Any]]) -> list[dict[str, Any]]:
    rows = []
    for name, values in zip(columns, matrix, strict=False):
        cells = []
        for value in values:
            if value is None:
                cells.append({"text": DASH, "css": "corr-none"})
                continue
            sign = "p" if value >= 0 else "n"
            bucket = next(
                (b for limit, b in _CORRELATION_BUCKETS if abs(value) >= limit), "0"
            )
            css = "corr-0" if bucket == "0" else f"corr-{sign}{bucket}"
            cells.append({"text": f"{value:.2f}", "css": css})
        rows.append({"name": name, "cells": cells})
    return rows


def _coefficient(value: Any) -> str:
    return DASH if value is None else f"{value:.2f}"


def _correlations(data: dict[str, Any] | None, anchor: str) -> dict[str, Any] | None:
    if not data or len(data.get("columns") or []) < 2:
        return None
    columns = data["columns"]
    pairs = []
    for k, pair in enumerate(data.get("pairs") or [], start=1):
        grid = pair["grid"]
        pairs.append(
            {
                "id": f"{anchor}-pair{k}",
                "x": pair["x"],
                "y": pair["y"],
                "pearson": _coefficient(pair.get("pearson")),
                "spearman": _coefficient(pair.get("spearman")),
                "chart": density_chart(
                    pair["x"], pair["y"], grid["xEdges"], grid["yEdges"], grid["counts"]
                ),
            }
        )
    return {
        "columns": columns,
        "tables": [
            {
                "kind": kind,
                "label": label,
                "rows": _matrix(columns, data.get(kind) or []),
            }
            for kind, label in (("pearson", "Pearson"), ("spearman", "Spearman"))
            if data.get(kind)
        ],
        "omitted": data.get("omitted") or [],
        "threshold": fmt_num(data.get("threshold")),
        "pairs": pairs,
    }


def _missing(profile: dict[str, Any], rows: int) -> GridChart | None:
    overview = profile.get("missing") or {}
    columns = profile.get("columns") or []
    totals = [int(c.get("nullCount", 0)) + int(c.get("emptyCount", 0)) for c in columns]
    return missing_chart(
        [c["name"] for c in columns],
        overview.get("ranges") or [],
        overview.get("counts") or [],
        totals,
        rows,
    )


def file_view(index: int, entry: dict[str, Any], size: int | None) -> dict[str, Any]:
    """One file of the analytics document: summary, columns, extras."""
    view: dict[str, Any] = {
        "anchor": f"file-{index}",
        "file_id": str(entry.get("fileId") or ""),
        "name": entry.get("name") or "unnamed",
        "size": filesizeformat(size) if size is not None else DASH,
        "error": file_error(entry.get("error")),
        "profile": None,
    }
    profile = entry.get("profile")
    if profile:
        profile = upgrade_profile(profile)
    if not profile:
        if view["error"] is None:
            view["error"] = file_error(
                {"code": "processing_error", "message": "No profile was produced."}
            )
        return view
    rows = int(profile.get("rowCount", 0))
    anchor = view["anchor"]
    columns = [
        column_view(column, rows, f"f{index}-c{i}")
        for i, column in enumerate(profile.get("columns") or [], start=1)
    ]
    warnings = [
        {"column": c["name"], "column_id": c["id"], **w}
        for c in columns
        for w in c["warnings"]
    ]
    rejected = int(profile.get("rejectedCount", 0))
    duplicates = int(profile.get("duplicateRows", 0))
    delimiter = profile.get("delimiter", ",")
    missing_cells = sum(
        int(c.get("nullCount", 0)) + int(c.get("emptyCount", 0))
        for c in profile.get("columns") or []
    )
    cells = rows * len(columns)
    view["profile"] = {
        "tiles": [
            {"label": "Rows", "value": fmt_int(rows), "tone": ""},
            {
                "label": "Columns",
                "value": fmt_int(profile.get("columnCount")),
                "tone": "",
            },
            {"label": "Size", "value": view["size"], "tone": ""},
            {
                "label": "Missing cells",
                "value": fmt_int(missing_cells),
                "tone": "warn" if missing_cells else "",
                "note": fmt_pct(missing_cells, cells) if missing_cells else "",
            },
            {
                "label": "Duplicate rows",
                "value": fmt_int(duplicates),
                "tone": "warn" if duplicates else "",
                "note": fmt_pct(duplicates, rows) if duplicates else "",
            },
            {
                "label": "Rejected rows",
                "value": fmt_int(rejected),
                "tone": "warn" if rejected else "",
                "note": "lower bound"
                if "rejectedCount" in profile.get("approximate", [])
                else "",
            },
            {
                "label": "Warnings",
                "value": fmt_int(len(warnings)),
                "tone": "warn" if warnings else "",
            },
        ],
        "format": [
            _ENCODINGS.get(profile.get("encoding", ""), profile.get("encoding", "")),
            f"{_DELIMITERS.get(delimiter, repr(delimiter))}-separated",
            "header row" if profile.get("hasHeader") else "no header row",
        ],
        "no_rows": rows == 0,
        "lossy_decode": bool(profile.get("lossyDecode")),
        "columns": columns,
        "warnings": warnings,
        "rejected_rows": profile.get("rejectedRows") or [],
        "rejected_count": rejected,
        "missing": _missing(profile, rows) if rows else None,
        "correlations": _correlations(profile.get("correlations"), anchor),
        "spearman_sampled": "spearman" in (profile.get("approximate") or []),
        "sample_head": [c["name"] for c in profile.get("columns") or []],
        "sample_rows": profile.get("sampleRows") or [],
        "random_rows": profile.get("randomRows") or [],
        "sample_count": len(profile.get("sampleRows") or [])
        + len(profile.get("randomRows") or []),
        "duplicates": [
            {
                "count": fmt_int(d["count"]),
                "first_row": fmt_int(d["firstRow"]),
                "cells": d["cells"],
            }
            for d in profile.get("duplicateExamples") or []
        ],
        "duplicate_count": duplicates,
        "null_markers": (profile.get("nullMarkers") or {}).get("everywhere") or [],
        "approximate": profile.get("approximate") or [],
    }
    return view


def _moment(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def dashboard_context(
    analytics: dict[str, Any], sizes: dict[str, int]
) -> dict[str, Any]:
    """``sizes``: the session's file sizes by file id (the analytics lack them)."""
    files = [
        file_view(i, entry, sizes.get(entry.get("fileId")))
        for i, entry in enumerate(analytics.get("files") or [], start=1)
    ]
    return {
        "files": files,
        "failed_count": sum(1 for f in files if f["error"]),
        "generated_at": _moment(analytics.get("generatedAt")),
    }
