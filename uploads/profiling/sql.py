"""SQL building blocks: quoting, one wide aggregate read back by handle, DuckDB
types mapped to the profile's types, and a connection wrapper that turns
DuckDB's out-of-memory error into a :class:`ProfileError`."""

# SQL is assembled from identifiers quoted by ident(), literals quoted by lit() and
# numbers formatted by num(); no user text reaches a query unquoted.

from __future__ import annotations

from typing import Any

import duckdb

from uploads.profiling.errors import ProfileError

_INT_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
    }
)

_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE", "REAL"})

_DATETIME_TYPES = frozenset(
    {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS"}
)

#: Re-typing candidates for text columns, in priority order.
CANDIDATES: tuple[tuple[str, str], ...] = (
    ("integer", "BIGINT"),
    ("float", "DOUBLE"),
    ("boolean", "BOOLEAN"),
    ("date", "DATE"),
    ("datetime", "TIMESTAMP"),
)


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def num(value: float | int) -> str:
    """A numeric SQL literal that DuckDB reads back as the same double/integer."""
    if isinstance(value, int):
        return str(value)
    return repr(float(value)) + "::DOUBLE"


class Select:
    """Collects aggregate expressions; results are read back by handle."""

    def __init__(self) -> None:
        self.exprs: list[str] = []

    def add(self, expr: str) -> int:
        self.exprs.append(expr)
        return len(self.exprs) - 1

    def sql(self, source: str) -> str:
        cols = ",\n  ".join(f"{e} AS a{i}" for i, e in enumerate(self.exprs))
        return f"SELECT\n  {cols}\nFROM {source}"


def kind_of(duck_type: str) -> str:
    t = duck_type.upper()
    if t in _INT_TYPES:
        return "integer"
    if t in _FLOAT_TYPES or t.startswith("DECIMAL"):
        return "float"
    if t == "BOOLEAN":
        return "boolean"
    if t == "DATE":
        return "date"
    if t in _DATETIME_TYPES:
        return "datetime"
    return "text"


def cast_test(x: str, kind: str, duck: str) -> str:
    if kind == "integer":  # TRY_CAST('9.5' AS BIGINT) rounds instead of failing
        digits = f"regexp_full_match(trim({x}), '[+-]?[0-9]+')"
        return f"{digits} AND TRY_CAST({x} AS {duck}) IS NOT NULL"
    test = f"TRY_CAST({x} AS {duck}) IS NOT NULL"
    if kind == "date":  # '2024-01-02 10:00' casts to DATE too: keep those datetime
        test += f" AND length({x}) <= 10"
    return test


class Database:
    """A DuckDB connection; queries that run out of memory are a ProfileError."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql).fetchall()
        except duckdb.OutOfMemoryException as exc:
            raise ProfileError(
                "out_of_memory",
                f"Profiling needs more memory than the limit allows: {exc}",
            ) from exc

    def one(self, select: Select, source: str) -> tuple[Any, ...]:
        return self.fetch(select.sql(source))[0]
