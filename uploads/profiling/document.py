"""The profile document: per-column entries with their warnings, the
correlation matrix, and the whole document as strict JSON values."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from uploads.profiling.source import Column, Source

PROFILE_SCHEMA_VERSION = "1"

EXACT_FIGURES = [
    "row_count",
    "duplicate_rows",
    "rejected_count",
    "null_count",
    "empty_count",
    "distinct_count",
    "min",
    "max",
    "mean",
    "std",
    "quantiles",
    "histogram",
    "top_values",
    "length",
    "true_count",
    "false_count",
    "correlations",
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


def iso(text: str | None) -> str | None:
    return None if text is None else text.replace(" ", "T", 1)


def column_doc(
    c: Column, rows: int, quantiles: dict[str, float] | None
) -> dict[str, Any]:
    """One column's entry: counts, type-specific figures and warnings."""
    s = c.stats
    nulls = rows - int(s.get("nonnull") or 0)
    empty = int(s.get("empty") or 0)
    values = rows - nulls - empty
    distinct = int(s.get("distinct") or 0)
    doc: dict[str, Any] = {
        "name": c.name,
        "type": c.kind,
        "null_count": nulls,
        "null_share": nulls / rows if rows else None,
        "empty_count": empty,
        "distinct_count": distinct,
    }
    warnings = []
    if rows and values == 0:
        warnings.append("all_null")
    elif rows and (nulls + empty) / rows > 0.5:
        warnings.append("mostly_null")
    if values >= 2 and distinct == 1:
        warnings.append("constant")
    if values >= 2 and distinct == values and c.kind not in ("float", "boolean"):
        warnings.append("unique")
    if c.kind in ("integer", "float"):
        doc.update(
            min=s.get("min"),
            max=s.get("max"),
            mean=s.get("mean"),
            std=s.get("std"),
            quantiles=quantiles,
            histogram=s.get("histogram"),
        )
        skew = s.get("skew")
        if skew is not None and math.isfinite(skew) and abs(skew) > 2:
            warnings.append("skewed")
    elif c.kind == "boolean":
        doc.update(
            true_count=int(s.get("true") or 0), false_count=int(s.get("false") or 0)
        )
    elif c.kind in ("date", "datetime"):
        doc.update(
            min=iso(s.get("min")) if c.kind == "datetime" else s.get("min"),
            max=iso(s.get("max")) if c.kind == "datetime" else s.get("max"),
            histogram=s.get("histogram"),
        )
    else:
        doc.update(
            top_values=s.get("top", []),
            length=(
                {"min": s["len_min"], "max": s["len_max"], "mean": s["len_mean"]}
                if values
                else None
            ),
        )
        if values > 50 and distinct > 0.5 * values:
            warnings.append("high_cardinality")
        share = (s.get("numeric") or 0) / values if values else 0.0
        if 0.9 <= share < 1:
            warnings.append("numbers_as_text")
        elif 0.1 <= share < 0.9:
            warnings.append("mixed_types")
    doc["warnings"] = warnings
    return doc


def correlation_matrix(
    cols: list[Column], corr: dict[tuple[int, int], float | None]
) -> dict[str, Any]:
    """Pearson matrix of ``cols``: 1.0 on the diagonal (None without variance)."""
    matrix = []
    for a in cols:
        line: list[float | None] = []
        for b in cols:
            if a is b:
                line.append(1.0 if a.stats.get("std") else None)
            else:
                pair = (min(a.index, b.index), max(a.index, b.index))
                line.append(corr.get(pair))
        matrix.append(line)
    return {"columns": [c.name for c in cols], "matrix": matrix}


def assemble(
    *,
    encoding: str,
    lossy: bool,
    source: Source,
    rows: int,
    duplicates: int,
    rejected_count: int,
    rejected_rows: list[dict[str, Any]],
    columns: list[dict[str, Any]],
    correlations: dict[str, Any],
    samples: list[list[Any]],
    approximate: set[str],
) -> dict[str, Any]:
    """The document, as strict JSON values (no NaN, ISO dates)."""
    doc = {
        "schema_version": PROFILE_SCHEMA_VERSION,
        "encoding": encoding,
        "lossy_decode": lossy,
        "delimiter": source.dialect.delimiter,
        "quote": source.dialect.quote,
        "has_header": source.dialect.header,
        "row_count": rows,
        "column_count": len(columns),
        "duplicate_rows": duplicates,
        "rejected_count": rejected_count,
        "rejected_rows": rejected_rows,
        "columns": columns,
        "correlations": correlations,
        "sample_rows": samples,
        "exact": [f for f in EXACT_FIGURES if f not in approximate],
        "approximate": sorted(approximate),
    }
    return jsonable(doc)
