"""What is read: the CSV dialect, the columns with their stored and logical
types, and the ``read_csv`` call that the load scans (once)."""

# ruff: noqa: S608

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import duckdb

from uploads.profiling.errors import ProfileError
from uploads.profiling.limits import MAX_COLUMNS, REJECTS_STORE_LIMIT, SNIFF_SAMPLE_ROWS
from uploads.profiling.sql import CANDIDATES, Database, kind_of, lit

#: Marker codes kept beside each typed value (``m<i>``): 1.. a marker's place
#: in the marker list, EMPTY a quoted empty string, FAILED a value that does
#: not fit the column's type (the column is then read again as text).
EMPTY_CODE = 254
FAILED_CODE = 255


@dataclass
class Column:
    """One column: ``ref`` is its value in the loaded table (``c<i>``), typed
    unless ``stored`` is VARCHAR; ``kind`` its logical type."""

    index: int
    name: str
    sniffed: str  # DuckDB type from the sniffer
    stored: str = "VARCHAR"  # DuckDB type of the loaded value
    kind: str = "text"  # logical type
    retyped: bool = False  # stored as VARCHAR, cast in SQL
    timezone: bool = False  # TIMESTAMP WITH TIME ZONE (read as UTC)
    #: SQL list of the numeric-only markers, read as missing once a text
    #: column is re-typed as numbers.
    numeric_nulls: str = ""
    cast_candidates: list[tuple[str, str]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"c{self.index}"

    @property
    def code_ref(self) -> str:
        return f"m{self.index}"

    @property
    def raw_ref(self) -> str:
        return f"r{self.index}"

    @property
    def is_text(self) -> bool:
        return self.stored == "VARCHAR"

    @property
    def value_expr(self) -> str:
        """Typed SQL expression of the column's values (NULL for blanks)."""
        if self.is_text and self.kind != "text":
            duck = dict(CANDIDATES)[self.kind]
            inner = f"NULLIF({self.ref}, '')"
            if self.kind in ("integer", "float") and self.numeric_nulls:
                inner = f"CASE WHEN {self.ref} IN ({self.numeric_nulls}) "
                inner += f"THEN NULL ELSE NULLIF({self.ref}, '') END"
            return f"TRY_CAST({inner} AS {duck})"
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

    @property
    def missing_expr(self) -> str:
        """True where the cell is missing: empty, a marker, or a quoted ''."""
        if self.is_text:
            markers = ""
            if self.kind in ("integer", "float") and self.numeric_nulls:
                markers = f" OR {self.ref} IN ({self.numeric_nulls})"
            return f"({self.ref} IS NULL OR {self.ref} = ''{markers})"
        return f"{self.ref} IS NULL"


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

    def read(self) -> str:
        """``read_csv`` of the file, every column as text (``r<i>``), storing
        the rows it rejects; the load casts."""
        d = self.dialect
        cols = ", ".join(f"{lit(c.raw_ref)}: 'VARCHAR'" for c in self.columns)
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
            "store_rejects=true",
            "rejects_table='profile_rejects'",
            "rejects_scan='profile_reject_scans'",
            f"rejects_limit={REJECTS_STORE_LIMIT}",
        ]
        return f"read_csv({lit(self.path)}, {', '.join(opts)})"

    def read_first_row(self) -> str:
        """A query of the first line after the skipped ones, as text."""
        d = self.dialect
        cols = ", ".join(f"{lit(c.raw_ref)}: 'VARCHAR'" for c in self.columns)
        return (
            f"SELECT * FROM read_csv({lit(self.path)}, auto_detect=false, "
            f"delim={lit(d.delimiter)}, quote={lit(d.quote)}, "
            f"escape={lit(d.escape)}, skip={d.skip}, header=false, "
            f"columns={{{cols}}}, ignore_errors=true) LIMIT 1"
        )


def _too_many_columns(count: int) -> ProfileError:
    return ProfileError(
        "too_many_columns",
        f"The file has {count} columns; at most {MAX_COLUMNS} can be profiled.",
    )


#: How much of the first line ``first_line_width`` reads.
_FIRST_LINE_LIMIT = 16 * 1024 * 1024


def first_line_width(path: str) -> int:
    """The most fields the first line has under any candidate delimiter."""
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        line = fh.readline(_FIRST_LINE_LIMIT)
    widths = [0]
    for delimiter in (",", ";", "\t", "|"):
        try:
            fields = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
        except csv.Error:  # one field over csv's size limit: not this delimiter
            continue
        widths.append(len(fields))
    return max(widths)


def sniff_dialect(db: Database, path: str, null_markers: tuple[str, ...]) -> Source:
    """Dialect and column types from DuckDB's ``sniff_csv`` (lenient, so that a
    few ragged rows do not derail it; null markers do not make a column text).
    """
    nullstr = ", ".join(lit(m) for m in ("", *null_markers))
    sql = (
        "SELECT Delimiter, Quote, Escape, SkipRows, HasHeader, Columns, "
        "DateFormat, TimestampFormat FROM sniff_csv("
        f"{lit(path)}, ignore_errors=true, allow_quoted_nulls=false, "
        f"nullstr=[{nullstr}], sample_size={SNIFF_SAMPLE_ROWS})"
    )
    try:
        row = db.con.execute(sql).fetchall()[0]
    except duckdb.Error as exc:
        # DuckDB's sniffer runs out of memory on very wide headers: say why.
        width = first_line_width(path)
        if width > MAX_COLUMNS:
            raise _too_many_columns(width) from exc
        raise ProfileError(
            "parse_error", f"DuckDB could not detect the CSV dialect: {exc}"
        ) from exc
    delim, quote, escape, skip, header, columns, datef, tsf = row
    quote = '"' if quote in ("(empty)", "", None) else quote
    escape = quote if escape in ("(empty)", "", None) else escape
    if len(columns) > MAX_COLUMNS:
        raise _too_many_columns(len(columns))
    cols = []
    for i, c in enumerate(columns):
        sniffed = str(c["type"]).upper()
        column = Column(i, str(c["name"]), sniffed)
        kind = kind_of(sniffed)
        if kind != "text":
            column.stored, column.kind = _STORED[kind], kind
            column.timezone = sniffed == "TIMESTAMP WITH TIME ZONE"
            if column.timezone:
                column.stored = "TIMESTAMPTZ"
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


_STORED = {
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}


def typed_value(c: Column, raw: str, dialect: Dialect) -> str:
    """SQL casting the raw text ``raw`` of a typed column; NULL if it does not
    fit (DuckDB would round ``9.5`` into a BIGINT and cut ``2024-01-02 10:00``
    to a DATE, so those are refused here)."""
    if c.stored == "BIGINT":
        plain = f"strpos({raw}, '.') = 0 AND strpos(lower({raw}), 'e') = 0"
        return f"CASE WHEN {plain} THEN TRY_CAST({raw} AS BIGINT) END"
    if c.stored == "DATE":
        if dialect.date_format:
            return f"CAST(try_strptime({raw}, {lit(dialect.date_format)}) AS DATE)"
        return f"CASE WHEN length({raw}) <= 10 THEN TRY_CAST({raw} AS DATE) END"
    if c.stored == "TIMESTAMP" and dialect.timestamp_format:
        return f"try_strptime({raw}, {lit(dialect.timestamp_format)})"
    return f"TRY_CAST({raw} AS {c.stored})"
