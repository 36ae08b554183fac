"""What is read: the CSV dialect, the columns with their read and logical
types, and the ``read_csv`` call every pass scans."""

# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from uploads.profiling.errors import ProfileError
from uploads.profiling.limits import MAX_COLUMNS, REJECTS_STORE_LIMIT, SNIFF_SAMPLE_ROWS
from uploads.profiling.sql import CANDIDATES, Database, ident, kind_of, lit


@dataclass
class Column:
    index: int
    name: str
    sniffed: str  # DuckDB type from the sniffer
    read_type: str  # type passed to read_csv
    kind: str = "text"  # logical type
    retyped: bool = False  # read as VARCHAR, cast in SQL
    widened: str = ""  # "integer" read as DOUBLE, "date" read as TIMESTAMP
    cast_candidates: list[tuple[str, str]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return ident(self.name)

    @property
    def value_expr(self) -> str:
        """Typed SQL expression of the column's values (NULL for blanks)."""
        if self.read_type == "VARCHAR" and self.kind != "text":
            duck = dict(CANDIDATES)[self.kind]
            return f"TRY_CAST(NULLIF({self.ref}, '') AS {duck})"
        if self.kind == "date" and self.read_type != "DATE":
            return f"CAST({self.ref} AS DATE)"
        return self.ref

    @property
    def num_expr(self) -> str:
        """Finite DOUBLE of a numeric column, else NULL."""
        v = f"CAST({self.value_expr} AS DOUBLE)"
        if self.kind == "float":
            return f"(CASE WHEN isfinite({v}) THEN {v} END)"
        return v

    @property
    def time_expr(self) -> str:
        """Days (date) or microseconds (datetime) since the epoch, as BIGINT."""
        if self.kind == "date":
            return f"({self.value_expr} - DATE '1970-01-01')"
        return f"epoch_us({self.value_expr})"


@dataclass
class Dialect:
    delimiter: str
    quote: str
    escape: str
    skip: int
    header: bool
    date_format: str | None
    timestamp_format: str | None


@dataclass
class Source:
    path: str
    dialect: Dialect
    columns: list[Column]

    @property
    def row_hash(self) -> str:
        return "hash(" + ", ".join(c.ref for c in self.columns) + ")"

    def read(self, *, mode: str = "ignore", all_varchar: bool = False) -> str:
        d = self.dialect
        if all_varchar:
            cols = ", ".join(f"{lit(c.name)}: 'VARCHAR'" for c in self.columns)
        else:
            cols = ", ".join(f"{lit(c.name)}: {lit(c.read_type)}" for c in self.columns)
        opts = [
            "auto_detect=false",
            f"delim={lit(d.delimiter)}",
            f"quote={lit(d.quote)}",
            f"escape={lit(d.escape)}",
            f"skip={d.skip}",
            f"header={'true' if d.header else 'false'}",
            f"columns={{{cols}}}",
            "allow_quoted_nulls=false",
            "strict_mode=true",
        ]
        if d.date_format:
            opts.append(f"dateformat={lit(d.date_format)}")
        if d.timestamp_format:
            opts.append(f"timestampformat={lit(d.timestamp_format)}")
        if mode == "store":
            opts += [
                "store_rejects=true",
                "rejects_table='profile_rejects'",
                "rejects_scan='profile_reject_scans'",
                f"rejects_limit={REJECTS_STORE_LIMIT}",
            ]
        else:
            opts.append("ignore_errors=true")
        return f"read_csv({lit(self.path)}, {', '.join(opts)})"


def settle_widened(c: Column) -> None:
    """Type of a column read wider than sniffed, from the pass-1 checks."""
    s = c.stats
    if c.widened == "integer" and not s.get("fraction"):
        c.kind = "integer"
        for key in ("min", "max"):
            if s.get(key) is not None:
                s[key] = int(s[key])
    elif c.widened == "date" and not s.get("timed"):
        c.kind = "date"
        for key in ("min", "max"):
            if s.get(key) is not None:
                s[key] = s[key][:10]
        for key in ("tmin", "tmax"):
            if s.get(key) is not None:
                s[key] = s[key] // 86_400_000_000


_COUNTS = frozenset(
    {
        "nonnull",
        "empty",
        "distinct",
        "numeric",
        "n",
        "true",
        "false",
        "fraction",
        "timed",
    }
)


def counted(stats: dict[str, Any]) -> dict[str, Any]:
    """Counts as ints (DuckDB's count_if over no rows is NULL)."""
    return {
        k: int(v or 0) if k in _COUNTS or k.startswith("cast_") else v
        for k, v in stats.items()
    }


def sniff_dialect(db: Database, path: str) -> Source:
    """Dialect and column types from DuckDB's ``sniff_csv`` (lenient, so that a
    few ragged rows do not derail it); columns that DuckDB would silently
    round or cut are read wider and checked in the first pass."""
    sql = (
        "SELECT Delimiter, Quote, Escape, SkipRows, HasHeader, Columns, "
        "DateFormat, TimestampFormat FROM sniff_csv("
        f"{lit(path)}, ignore_errors=true, allow_quoted_nulls=false, "
        f"sample_size={SNIFF_SAMPLE_ROWS})"
    )
    try:
        row = db.con.execute(sql).fetchall()[0]
    except duckdb.Error as exc:
        raise ProfileError(
            "parse_error", f"DuckDB could not detect the CSV dialect: {exc}"
        ) from exc
    delim, quote, escape, skip, header, columns, datef, tsf = row
    quote = '"' if quote in ("(empty)", "", None) else quote
    escape = quote if escape in ("(empty)", "", None) else escape
    if len(columns) > MAX_COLUMNS:
        raise ProfileError(
            "too_many_columns",
            f"The file has {len(columns)} columns; at most {MAX_COLUMNS} can be "
            "profiled.",
        )
    cols = []
    for i, c in enumerate(columns):
        sniffed = str(c["type"]).upper()
        kind = kind_of(sniffed)
        column = Column(i, str(c["name"]), sniffed, sniffed)
        # DuckDB's reader rounds a later "9.5" into a BIGINT column and cuts
        # a later "2024-01-02 10:00" to a DATE, silently: read wider, check
        if kind == "integer":
            column.read_type, column.widened = "DOUBLE", "integer"
        elif kind == "date" and not datef:
            column.read_type, column.widened = "TIMESTAMP", "date"
        elif kind == "text":
            column.read_type = "VARCHAR"
        cols.append(column)
    dialect = Dialect(
        delimiter=delim,
        quote=quote,
        escape=escape,
        skip=int(skip or 0),
        header=bool(header),
        date_format=datef or None,
        timestamp_format=tsf or None,
    )
    return Source(path, dialect, cols)
