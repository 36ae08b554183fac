"""Profile a CSV file with DuckDB and return a JSON-serialisable document.

This module is pure Python + DuckDB (no Django). The entry point is
:func:`profile_csv`; failures that are the file's fault raise :class:`ProfileError`
with a stable ``code``.

How the file is read
--------------------
* **Sniffing.** The first 64 KiB are checked in Python: a 0-byte (or
  whitespace-only) file is ``empty_file``; known binary signatures (PNG, ZIP/XLSX,
  GZIP, PDF, ...), text formats no CSV starts with (HTML, XML, RTF, PDF), JSON
  (the whole head parses, a longer file's head is valid JSON up to where it was
  cut, or its first line is a JSON object or array), NUL bytes or more than 1 %
  control characters are ``not_csv``.
  The dialect (delimiter, quote, escape, header) and the column types come from
  DuckDB's ``sniff_csv`` (run leniently so that a few ragged rows do not derail it).
* **Encoding.** ``utf-8``, or ``utf-8-sig`` when the file starts with a BOM (DuckDB
  reads both natively). A UTF-16 BOM, or bytes that are not UTF-8, make the module
  stream the file through a Python decoder into a UTF-8 temporary copy (1 MiB
  chunks, never the whole file in memory); the document then says
  ``"encoding": "cp1252"`` (or ``"utf-16"``) and ``"lossy_decode"`` is true when some
  bytes had no cp1252 meaning (0x81, 0x8D, 0x8F, 0x90, 0x9D) and were replaced by
  U+FFFD. When more than 1 % of the non-ASCII bytes of the first 64 KiB are such
  bytes the file is ``undecodable``; so is one whose cp1252 reading is garbled,
  i.e. in another 8-bit encoding. Western words hold at most two non-ASCII
  characters in a row ("Café", "ação"); cp1251 Cyrillic, cp1253 Greek, GBK or
  Big5 Chinese, cp1255 Hebrew... read as cp1252 turn whole words into runs of
  them ("Москва" -> "Ìîñêâà"). Over the distinct runs of non-ASCII characters
  (typographic quotes and dashes aside), the reading is garbled when runs of 3+
  (not one repeated character, as "€€€") or symbols between ASCII letters
  ("z³oty", cp1250 Polish) hold at least half of their characters; distinct,
  so that a value repeated on every row ("été", "Ö") weighs as one. The
  message quotes a garbled run. If the first 64 KiB are valid UTF-8 but a later
  row is not (DuckDB reports ``INVALID ENCODING``), the 64 KiB from that row are
  checked likewise, then the file is transcoded the same way, keeping every
  valid UTF-8 sequence and reading only the invalid bytes as cp1252 (reported
  as ``cp1252``).
* **Passes.** DuckDB queries ``read_csv`` directly: no table is materialised
  (parsing is cheap next to the aggregates, and a 1 GB file does not fit a 512 MB
  ``memory_limit`` anyway). A fresh in-memory connection per call, with explicit
  ``memory_limit``, ``threads`` and a private spill directory, closed and removed
  afterwards. Pass 1 is one wide aggregate: every per-column count, distinct
  count, min/max/mean/std/skewness, length, cast test, correlation, the row hash
  (duplicates) and a small random sample per numeric column. Pass 2 computes the
  histograms and the exact quantiles (see Exactness) in one aggregate. Pass 3
  (only when there are text columns that are not all-distinct) computes exact top
  values with ``GROUP BY GROUPING SETS``. Rare cases add a pass: a column
  re-typed from text, a quantile that the sample failed to bracket, or rows
  whose 64-bit hashes collide (exact duplicate check). A tiny query (``LIMIT``)
  reads the sample rows.
* **Rejected rows.** Rows that DuckDB cannot parse (too many / missing columns,
  unterminated quotes, over-long lines) are skipped and listed under
  ``rejected_rows`` as ``{"line": n, "reason": "..."}`` (1-based physical line in
  the file, header included), capped at ``max_rejects``; ``rejected_count`` is the
  total (a lower bound, listed under ``approximate``, past 100 000 rejected rows).
  A file of which no row could be read while some were rejected (an open quote
  swallowing the rest, say) is a ``parse_error`` naming the first rejected line.
  A value that does not fit the sniffed type does *not* reject its row: the column
  is re-read as text and its type re-inferred over all rows. (DuckDB would
  silently round a later ``9.5`` into a sniffed BIGINT column and cut a later
  ``2024-01-02 10:00`` to a DATE, so integer columns are read as DOUBLE and ISO
  date columns as TIMESTAMP, and pass 1 checks that every value is integral /
  at midnight; integers beyond 2**53 are re-read as BIGINT to stay exact.)

Types, nulls and empty strings
------------------------------
* ``null``: a missing field -- nothing between two delimiters (``a,,b``) or a
  missing trailing field. ``empty``: an explicitly quoted empty string (``a,"",b``).
  Empty strings are counted in ``empty_count`` only: they are not values, so they
  are excluded from type inference, ``distinct_count``, ``top_values``, ``length``
  and every numeric statistic (in a numeric column ``""`` is therefore a blank, not
  an error). ``null_share`` is ``null_count / row_count``.
* ``type`` is one of ``integer``, ``float``, ``boolean``, ``date``, ``datetime``,
  ``text``: DuckDB's sniffed type, or, for a column sniffed as text, the first of
  integer, float, boolean, date (values of at most 10 characters), datetime that
  every non-empty value casts to (``TRY_CAST``); otherwise ``text``. Non-finite
  floats (``nan``, ``inf``) are ignored by the numeric statistics.

Warnings (per column, codes in this order)
------------------------------------------
"Values" below are the non-null, non-empty cells; "missing" = null + empty.

* ``all_null``: the file has rows and every cell of the column is missing.
* ``mostly_null``: more than 50 % of the cells are missing (not all).
* ``constant``: at least 2 values and exactly one distinct value.
* ``unique``: at least 2 values, all distinct (not for float/boolean columns).
* ``high_cardinality``: text column with more than 50 values whose distinct count
  exceeds 50 % of its values.
* ``skewed``: integer/float column whose sample skewness (DuckDB ``skewness``,
  bias-corrected) has absolute value above 2.
* ``numbers_as_text``: text column where at least 90 % (but not all) of the values
  parse as numbers.
* ``mixed_types``: text column where at least 10 % and less than 90 % of the values
  parse as numbers.

Figures
-------
* Histograms: ``histogram_bins`` equal-width bins from min to max, each
  ``[edge_i, edge_i+1)`` with the last one closed; ``edges`` has one more item
  than ``counts``. Dates use whole-day bins (``ceil(span_days / bins)`` days wide,
  ISO-date edges, the last edge after the max); datetimes ISO edges. A constant
  column has one bin.
* ``top_values``: the ``top_values`` most frequent values, by count then value;
  ``length`` is in characters.
* ``correlations``: Pearson over rows where both are non-null, for the first
  ``MAX_CORRELATION_COLUMNS`` integer/float columns; the diagonal is 1.0 (None
  for a column without variance); undefined values are None.
* ``duplicate_rows``: rows identical (nulls equal) to an earlier kept row.
* ``sample_rows``: the first ``sample_rows`` kept rows, cells as strings (None for
  null) -- as read, before typing.

Exactness
---------
Every figure is exact (``exact`` lists them; ``approximate`` is normally empty;
``rejected_count`` moves there past 100 000 rejected rows). Distinct counts use
``count(DISTINCT)``. Duplicates count rows equal to an earlier row: 64-bit row
hashes, verified exactly on the rows whose hashes collide. Quantiles are exact
order statistics with linear interpolation (as DuckDB ``quantile_cont``, numpy
"linear", Python ``statistics.quantiles(method="inclusive")``), found without
holding a column in memory (``quantile_cont`` on five 10M-row columns exceeds a
512 MB limit): a ~131k-value Bernoulli sample from pass 1 brackets each wanted
rank between two sample values (5 standard deviations of margin); pass 2 counts
the values below, equal to and inside each bracket (``histogram(x, bounds)``) and
sorts only the values inside; a rank the brackets missed is found by splitting its
range into sub-ranges in extra passes. The sample only steers the work, never the
result. Means, standard deviations, skewness and correlations are computed in
double precision.
"""

# SQL is assembled from identifiers quoted by _ident(), literals quoted by _lit() and
# numbers formatted by _num(); no user text reaches a query unquoted.
# ruff: noqa: S608

from __future__ import annotations

import bisect
import codecs
import contextlib
import datetime as dt
import itertools
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

__all__ = ["PROFILE_SCHEMA_VERSION", "ProfileError", "profile_csv"]

PROFILE_SCHEMA_VERSION = "1"

#: Bytes read in Python to check for binary content and guess the encoding.
SNIFF_BYTES = 64 * 1024
#: Rows DuckDB's sniffer samples for the dialect and types.
SNIFF_SAMPLE_ROWS = 20_480
#: Wider files are refused (``too_many_columns``).
MAX_COLUMNS = 1_000
#: At most this many numeric columns enter the correlation matrix (the first ones).
MAX_CORRELATION_COLUMNS = 30
#: Rows sampled (by row hash, deterministic) to bracket each quantile.
QUANTILE_SAMPLE_SIZE = 131_072
#: Upper bound on sampled values over all numeric columns.
QUANTILE_SAMPLE_BUDGET = 4_000_000
#: A value range holding at most this many values is sorted to pick exact order
#: statistics; fuller ranges are first split into sub-ranges (one more pass).
QUANTILE_COLLECT_LIMIT = 1_000_000
#: Rejected rows DuckDB keeps (beyond this ``rejected_count`` is a lower bound).
REJECTS_STORE_LIMIT = 100_000

_QUANTILES: tuple[tuple[str, int], ...] = (
    ("p5", 5),
    ("p25", 25),
    ("p50", 50),
    ("p75", 75),
    ("p95", 95),
)
_SPLIT_BUCKETS = 1_024
_MAX_QUANTILE_ROUNDS = 12
_CHUNK = 1024 * 1024
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or XLSX/ODS workbook)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"%PDF-", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE document (XLS/DOC)"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "a SQLite database"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"RIFF", "a RIFF media file"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
)
#: Text formats no CSV starts with (lowercased, after a BOM and whitespace).
_TEXT_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%pdf-", "a PDF document"),
    (b"{\\rtf", "an RTF document"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<?xml", "an XML document"),
)
#: Typographic marks (quotes, dashes, guillemets, soft hyphen...) that Western
#: text puts next to anything: they neither make nor break a run below.
_CP1252_MARKS = frozenset(
    "\u2018\u2019\u201a\u201c\u201d\u201e\u00b4\u00b7\u2013\u2014\u2026"
    "\u2039\u203a\u00ab\u00bb\u00ae\u2122\u00a9\u00b0\u00a0\u00ad"
)
#: Runs of cp1252's non-ASCII characters (marks excluded). Only cp1252's own
#: repertoire: the late-bytes check reads valid UTF-8 ("Москва") as such.
_CP1252_RUN = re.compile(
    "["
    + "".join(
        re.escape(c)
        for c in bytes(range(0x80, 0x100)).decode("cp1252", errors="ignore")
        if c not in _CP1252_MARKS
    )
    + "]+"
)
#: A cp1252 reading is garbled when garbled runs hold at least this share of
#: the characters of its distinct non-ASCII runs.
_CP1252_MAX_GARBLED_SHARE = 0.5
_OTHER_ENCODING = (
    "The file is not UTF-8, and read as Windows-1252 (cp1252) its text is "
    "garbled ({example!r}): it is probably in another 8-bit encoding (Cyrillic, "
    "Greek, Chinese...). Save it as UTF-8 and upload it again."
)
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
_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("integer", "BIGINT"),
    ("float", "DOUBLE"),
    ("boolean", "BOOLEAN"),
    ("date", "DATE"),
    ("datetime", "TIMESTAMP"),
)
_EXACT_FIGURES = [
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


class ProfileError(Exception):
    """The file cannot be profiled.

    ``code`` is stable and machine readable: ``not_found``, ``empty_file``,
    ``not_csv``, ``undecodable``, ``too_many_columns``, ``parse_error``,
    ``out_of_memory``. ``message`` is a sentence for humans.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# --------------------------------------------------------------------------- SQL


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _num(value: float | int) -> str:
    """A numeric SQL literal that DuckDB reads back as the same double/integer."""
    if isinstance(value, int):
        return str(value)
    return repr(float(value)) + "::DOUBLE"


class _Select:
    """Collects aggregate expressions; results are read back by handle."""

    def __init__(self) -> None:
        self.exprs: list[str] = []

    def add(self, expr: str) -> int:
        self.exprs.append(expr)
        return len(self.exprs) - 1

    def sql(self, source: str) -> str:
        cols = ",\n  ".join(f"{e} AS a{i}" for i, e in enumerate(self.exprs))
        return f"SELECT\n  {cols}\nFROM {source}"


# ------------------------------------------------------------------ data model


@dataclass
class _Column:
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
        return _ident(self.name)

    @property
    def value_expr(self) -> str:
        """Typed SQL expression of the column's values (NULL for blanks)."""
        if self.read_type == "VARCHAR" and self.kind != "text":
            duck = dict(_CANDIDATES)[self.kind]
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
class _Dialect:
    delimiter: str
    quote: str
    escape: str
    skip: int
    header: bool
    date_format: str | None
    timestamp_format: str | None


@dataclass
class _Source:
    path: str
    dialect: _Dialect
    columns: list[_Column]

    @property
    def row_hash(self) -> str:
        return "hash(" + ", ".join(c.ref for c in self.columns) + ")"

    def read(self, *, mode: str = "ignore", all_varchar: bool = False) -> str:
        d = self.dialect
        if all_varchar:
            cols = ", ".join(f"{_lit(c.name)}: 'VARCHAR'" for c in self.columns)
        else:
            cols = ", ".join(
                f"{_lit(c.name)}: {_lit(c.read_type)}" for c in self.columns
            )
        opts = [
            "auto_detect=false",
            f"delim={_lit(d.delimiter)}",
            f"quote={_lit(d.quote)}",
            f"escape={_lit(d.escape)}",
            f"skip={d.skip}",
            f"header={'true' if d.header else 'false'}",
            f"columns={{{cols}}}",
            "allow_quoted_nulls=false",
            "strict_mode=true",
        ]
        if d.date_format:
            opts.append(f"dateformat={_lit(d.date_format)}")
        if d.timestamp_format:
            opts.append(f"timestampformat={_lit(d.timestamp_format)}")
        if mode == "store":
            opts += [
                "store_rejects=true",
                "rejects_table='profile_rejects'",
                "rejects_scan='profile_reject_scans'",
                f"rejects_limit={REJECTS_STORE_LIMIT}",
            ]
        else:
            opts.append("ignore_errors=true")
        return f"read_csv({_lit(self.path)}, {', '.join(opts)})"


# ------------------------------------------------------------ byte-level sniff


@dataclass
class _Encoding:
    name: str  # reported encoding
    transcode: str | None  # Python codec to transcode with, or None
    fallback: bool = False  # utf-8 with per-byte cp1252 fallback


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):
        raise err
    bad = err.object[err.start : err.end]
    return bad.decode("cp1252", errors="replace"), err.end


codecs.register_error("profile_cp1252_fallback", _cp1252_fallback)


def _sniff_bytes(path: str) -> _Encoding:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise ProfileError("not_found", "The file does not exist.") from None
    except IsADirectoryError:
        raise ProfileError("not_found", "The path is a directory.") from None
    if size == 0:
        raise ProfileError("empty_file", "The file is empty (0 bytes).")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _Encoding("utf-16", "utf-16")
    bom = head.startswith(codecs.BOM_UTF8)
    body = head[3:] if bom else head
    if size <= SNIFF_BYTES and not body.strip():
        raise ProfileError("empty_file", "The file contains no data.")
    for magic, what in _SIGNATURES:
        # a printable magic ("MZ", "GIF89a") could start a CSV header: trust it
        # only when the head has NUL bytes too
        binary = any(b < 0x20 or b >= 0x7F for b in magic) or b"\x00" in head
        if head.startswith(magic) and binary:
            raise ProfileError("not_csv", f"The file is {what}, not a CSV file.")
    start = body.lstrip()[:64].lower()
    for magic, what in _TEXT_SIGNATURES:
        if start.startswith(magic):
            raise ProfileError("not_csv", f"The file is {what}, not a CSV file.")
    if _is_json(body, whole=size <= SNIFF_BYTES):
        raise ProfileError("not_csv", "The file is JSON, not a CSV file.")
    if b"\x00" in head:
        raise ProfileError(
            "not_csv", "The file contains NUL bytes: it is binary, not CSV text."
        )
    control = sum(body.count(bytes([b])) for b in (*range(1, 9), *range(14, 32), 127))
    if control > 0.01 * len(body):
        raise ProfileError(
            "not_csv", "The file is mostly control characters: it is not CSV text."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(body, final=size <= SNIFF_BYTES)
    except UnicodeDecodeError:
        pass
    else:
        return _Encoding("utf-8-sig" if bom else "utf-8", None)
    high = sum(1 for b in body if b >= 0x80)
    undefined = sum(1 for b in body if b in _CP1252_UNDEFINED)
    if undefined > 0.01 * high:
        raise ProfileError(
            "undecodable",
            "The file is neither UTF-8 nor Windows-1252 (cp1252) text.",
        )
    example = _garbled_cp1252(body.decode("cp1252", errors="replace"))
    if example:
        raise ProfileError("undecodable", _OTHER_ENCODING.format(example=example))
    return _Encoding("cp1252", "cp1252")


def _check_late_bytes(path: str, position: int) -> None:
    """Refuse a file whose non-UTF-8 part, first met at byte ``position`` (past
    the sniffed head), is garbled as cp1252 (the sniff never saw it)."""
    with open(path, "rb") as fh:
        fh.seek(position)
        window = fh.read(SNIFF_BYTES)
    decoder = codecs.getincrementaldecoder("utf-8")("profile_cp1252_fallback")
    example = _garbled_cp1252(decoder.decode(window, final=False))
    if example:
        raise ProfileError("undecodable", _OTHER_ENCODING.format(example=example))


def _is_json(body: bytes, *, whole: bool) -> bool:
    """A JSON document (the whole file, when it fits the sniffed head; else a
    head that is valid JSON up to where it was cut) or JSON Lines (a first line
    that is a JSON object or array)."""
    text = body.lstrip()
    if not text.startswith((b"{", b"[")):
        return False
    if not whole:
        head = text.decode("utf-8", errors="replace")
        try:
            json.loads(head)
        except json.JSONDecodeError as exc:
            # a cut document fails only at the cut: in its last token, or in a
            # string still open there (JSON strings hold no raw newline)
            rest = head[exc.pos :]
            if exc.msg.startswith("Unterminated string") or (
                len(rest) <= 64 and "\n" not in rest
            ):
                return True
    candidates = [text] if whole else []
    candidates.append(text.split(b"\n", 1)[0])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict | list):
            return True
    return False


def _garbled_cp1252(text: str) -> str | None:
    """A garbled run when text decoded as cp1252 is not a Western language.

    Western words hold one or two non-ASCII characters in a row ("Café",
    "Straße", "ação", "süß"); another 8-bit encoding read as cp1252 turns whole
    words into such runs: "Ìîñêâà" (cp1251 Москва), "ÁèÞíá" (cp1253), "±±¾©"
    (GBK 北京), "éøåùìéí" (cp1255). A run is garbled when it has 3+ characters
    (not all the same: "€€€" is a price band), or is made of symbols between
    two ASCII letters (cp1250 Polish "z³oty"). Each distinct run is judged once,
    so a value repeated on every row ("été", "Ö", "µ") weighs as one; the text
    is garbled when garbled runs hold half the characters of all the runs.
    Returns the longest garbled run (cut to 20 characters), or None.
    """
    runs: dict[str, bool] = {}
    for m in _CP1252_RUN.finditer(text):
        run = m.group()
        if run in runs:
            continue
        garbled = len(run) >= 3 and len(set(run)) >= 2
        if not garbled and not any(c.isalpha() for c in run):
            before = text[m.start() - 1 : m.start()]
            after = text[m.end() : m.end() + 1]
            garbled = all(c.isascii() and c.isalpha() for c in (before, after))
        runs[run] = garbled
    bad = [run for run, garbled in runs.items() if garbled]
    total = sum(len(run) for run in runs)
    if not bad or sum(len(run) for run in bad) < _CP1252_MAX_GARBLED_SHARE * total:
        return None
    return max(bad, key=len)[:20]


def _transcode(src: str, dst: str, enc: _Encoding) -> int:
    """Stream ``src`` into a UTF-8 copy; return the number of replaced bytes."""
    decoder: codecs.IncrementalDecoder
    if enc.fallback:
        decoder = codecs.getincrementaldecoder("utf-8")("profile_cp1252_fallback")
    else:
        assert enc.transcode is not None
        decoder = codecs.getincrementaldecoder(enc.transcode)("replace")
    replaced = 0
    with open(src, "rb") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        while True:
            chunk = fin.read(_CHUNK)
            text = decoder.decode(chunk, final=not chunk)
            if text:
                replaced += text.count("\ufffd")
                fout.write(text)
            if not chunk:
                break
    return replaced


# ---------------------------------------------------------------- main worker


def _kind_of(duck_type: str) -> str:
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


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _jsonable(float(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _iso(text: str | None) -> str | None:
    return None if text is None else text.replace(" ", "T", 1)


def _fraction_rank(n: int, pct: int) -> tuple[int, int]:
    """0-based lower order statistic of the ``pct`` quantile and its weight (/100).

    Integer arithmetic, so the rank is exact: h = (n - 1) * pct / 100.
    """
    pos = (n - 1) * pct
    return pos // 100, pos % 100


def _quantile_ranks(n: int) -> list[int]:
    ranks: set[int] = set()
    for _, pct in _QUANTILES:
        lo, frac = _fraction_rank(n, pct)
        ranks.add(lo)
        if frac:
            ranks.add(lo + 1)
    return sorted(ranks)


def _brackets(
    sample: list[float], vmin: float, vmax: float
) -> tuple[list[tuple[float, float]], float]:
    """Value intervals that almost surely hold the wanted quantiles.

    From a uniform sample of ``m`` values, the sample order statistics 5 standard
    deviations (+3) either side of each quantile. Returns disjoint sorted closed
    intervals and the share of the values they are expected to hold.
    """
    m = len(sample)
    if m == 0:
        return [(vmin, vmax)], 1.0
    spans = []
    for _, pct in _QUANTILES:
        p = pct / 100
        pos = p * (m - 1)
        k = math.ceil(5 * math.sqrt(m * p * (1 - p)) + 3)
        lo_i, hi_i = math.floor(pos) - k, math.ceil(pos) + k
        spans.append((max(lo_i, 0), min(hi_i, m - 1)))
    spans.sort()
    merged: list[list[int]] = []
    for lo_i, hi_i in spans:
        if merged and lo_i <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi_i)
        else:
            merged.append([lo_i, hi_i])
    out: list[tuple[float, float]] = []
    share = 0.0
    for lo_i, hi_i in merged:
        lo = vmin if lo_i == 0 else sample[lo_i]
        hi = vmax if hi_i == m - 1 else sample[hi_i]
        share += (hi_i - lo_i + 1) / m
        if out and lo <= out[-1][1]:  # ties can make neighbours touch
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out, min(share, 1.0)


def _upper_bounds(edges: list[float]) -> list[float] | None:
    """``histogram(x, bounds)`` boundaries giving bins [e0, e1), ..., [en-1, en].

    DuckDB counts a value in the first boundary >= value, so each bin's boundary is
    the largest double below the next edge. None when edges are not increasing.
    """
    if any(b <= a for a, b in itertools.pairwise(edges)):
        return None
    return [math.nextafter(e, -math.inf) for e in edges[1:-1]]


def _binned(counts_map: dict[Any, Any] | None, bounds: list[Any]) -> list[int]:
    """Counts per bin from a ``histogram(x, bounds)`` map (overflow = last bin)."""
    index = {b: i for i, b in enumerate(bounds)}
    counts = [0] * (len(bounds) + 1)
    for key, value in (counts_map or {}).items():
        counts[index.get(key, len(bounds))] += int(value)
    return counts


@dataclass
class _Region:
    """Values of one numeric column in an open/closed range, with known ranks.

    ``pred`` selects the values; ``base`` values of the column are smaller than all
    of them; ``ranks`` are the global 0-based ranks to find inside; ``lo``/``hi``
    bound the values (used to split the range).
    """

    column: _Column
    pred: str
    count: int
    base: int
    ranks: list[int]
    lo: float
    hi: float


class _Profiler:
    def __init__(
        self,
        path: str,
        con: duckdb.DuckDBPyConnection,
        workdir: str,
        *,
        top_values: int,
        histogram_bins: int,
        sample_rows: int,
        max_rejects: int,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.original = path
        self.con = con
        self.workdir = workdir
        self.top_k = max(0, top_values)
        self.bins = max(1, histogram_bins)
        self.sample_n = max(0, sample_rows)
        self.max_rejects = max(0, max_rejects)
        self._progress = progress
        self.approximate: set[str] = set()
        self.lossy = False
        self.order: dict[int, dict[int, float]] = {}
        self.corr: dict[tuple[int, int], float | None] = {}
        self.sample_rate = 1.0

    # -- helpers ------------------------------------------------------------
    def phase(self, name: str) -> None:
        if self._progress is not None:
            self._progress(name)

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql).fetchall()
        except duckdb.OutOfMemoryException as exc:
            raise ProfileError(
                "out_of_memory",
                f"Profiling needs more memory than the limit allows: {exc}",
            ) from exc

    def one(self, select: _Select, source: str) -> tuple[Any, ...]:
        return self.fetch(select.sql(source))[0]

    # -- sniffing -----------------------------------------------------------
    def sniff(self, path: str) -> _Source:
        sql = (
            "SELECT Delimiter, Quote, Escape, SkipRows, HasHeader, Columns, "
            "DateFormat, TimestampFormat FROM sniff_csv("
            f"{_lit(path)}, ignore_errors=true, allow_quoted_nulls=false, "
            f"sample_size={SNIFF_SAMPLE_ROWS})"
        )
        try:
            row = self.con.execute(sql).fetchall()[0]
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
            kind = _kind_of(sniffed)
            column = _Column(i, str(c["name"]), sniffed, sniffed)
            # DuckDB's reader rounds a later "9.5" into a BIGINT column and cuts
            # a later "2024-01-02 10:00" to a DATE, silently: read wider, check
            if kind == "integer":
                column.read_type, column.widened = "DOUBLE", "integer"
            elif kind == "date" and not datef:
                column.read_type, column.widened = "TIMESTAMP", "date"
            elif kind == "text":
                column.read_type = "VARCHAR"
            cols.append(column)
        dialect = _Dialect(
            delimiter=delim,
            quote=quote,
            escape=escape,
            skip=int(skip or 0),
            header=bool(header),
            date_format=datef or None,
            timestamp_format=tsf or None,
        )
        return _Source(path, dialect, cols)

    def guess_candidates(self, src: _Source) -> None:
        """Types that every sampled value of a text column casts to.

        Only these casts are counted over the whole file in the first pass, so
        obviously textual columns cost no cast attempts.
        """
        texts = [c for c in src.columns if c.read_type == "VARCHAR"]
        if not texts:
            return
        sel = _Select()
        handles = []
        for c in texts:
            nonblank = sel.add(f"count(NULLIF({c.ref}, ''))")
            per = [
                (kind, duck, sel.add(f"count_if({_cast_test(c.ref, kind, duck)})"))
                for kind, duck in _CANDIDATES
            ]
            handles.append((c, nonblank, per))
        sample = f"(SELECT * FROM {src.read()} LIMIT {SNIFF_SAMPLE_ROWS})"
        row = self.one(sel, sample)
        for c, nonblank, per in handles:
            n = row[nonblank]
            c.cast_candidates = [(k, d) for k, d, h in per if n and row[h] == n]

    # -- pass 1: one wide aggregate ---------------------------------------------
    def stats_exprs(
        self, sel: _Select, c: _Column, src: _Source, *, raw_text: bool
    ) -> dict[str, int]:
        """Per-column aggregates; ``raw_text`` = figures of a VARCHAR column."""
        h: dict[str, int] = {}
        x = c.ref
        h["nonnull"] = sel.add(f"count({x})")
        if c.read_type == "VARCHAR":
            h["empty"] = sel.add(f"count_if({x} = '')")
        if raw_text:
            nb = f"NULLIF({x}, '')"
            length = f"length({nb})"
            h["distinct"] = sel.add(f"count(DISTINCT {nb})")
            h["len_min"] = sel.add(f"min({length})")
            h["len_max"] = sel.add(f"max({length})")
            h["len_mean"] = sel.add(f"avg({length})")
            h["numeric"] = sel.add(f"count(TRY_CAST({nb} AS DOUBLE))")
            for kind, duck in c.cast_candidates:
                h["cast_" + kind] = sel.add(f"count_if({_cast_test(x, kind, duck)})")
            return h
        v = c.value_expr
        h["distinct"] = sel.add(f"count(DISTINCT {v})")
        if c.kind in ("integer", "float"):
            n = c.num_expr
            h["n"] = sel.add(f"count({n})")
            if c.kind == "integer":
                h["min"] = sel.add(f"min({v})")
                h["max"] = sel.add(f"max({v})")
            else:
                h["min"] = sel.add(f"min({n})")
                h["max"] = sel.add(f"max({n})")
            h["mean"] = sel.add(f"avg({n})")
            h["std"] = sel.add(f"stddev_samp({n})")
            h["skew"] = sel.add(f"skewness({n})")
            if c.widened == "integer":
                h["fraction"] = sel.add(
                    f"count_if(NOT isfinite({x}) OR {x} <> trunc({x}))"
                )
            pred = f"{n} IS NOT NULL"
            if self.sample_rate < 1:
                pred += f" AND random() < {self.sample_rate!r}"
            h["sample"] = sel.add(f"list({n}) FILTER (WHERE {pred})")
        elif c.kind == "boolean":
            h["true"] = sel.add(f"count_if({v})")
            h["false"] = sel.add(f"count_if(NOT {v})")
        elif c.kind in ("date", "datetime"):
            t = c.time_expr
            h["min"] = sel.add(f"CAST(min({v}) AS VARCHAR)")
            h["max"] = sel.add(f"CAST(max({v}) AS VARCHAR)")
            h["tmin"] = sel.add(f"min({t})")
            h["tmax"] = sel.add(f"max({t})")
            if c.widened == "date":
                h["timed"] = sel.add(f"count_if({x} <> date_trunc('day', {x}))")
        return h

    def pass_one(self, src: _Source) -> tuple[int, int, list[tuple[Any, ...]]]:
        for c in src.columns:
            c.kind = _kind_of(c.read_type)
            c.retyped = False
        self.corr.clear()
        sel = _Select()
        rows_h = sel.add("count(*)")
        hash_h = sel.add(f"count(DISTINCT {src.row_hash})")
        handles = [
            (c, self.stats_exprs(sel, c, src, raw_text=c.read_type == "VARCHAR"))
            for c in src.columns
        ]
        numeric = [c for c in src.columns if c.kind in ("integer", "float")]
        corr_h = self.corr_exprs(sel, numeric[:MAX_CORRELATION_COLUMNS])
        self.fetch("DROP TABLE IF EXISTS profile_rejects")
        self.fetch("DROP TABLE IF EXISTS profile_reject_scans")
        row = self.one(sel, src.read(mode="store"))
        for c, h in handles:
            c.stats = _counted({k: row[i] for k, i in h.items()})
            _settle_widened(c)
        self.corr.update({pair: row[h] for pair, h in corr_h.items()})
        rejects = self.fetch(
            "SELECT line, error_type, string_agg(DISTINCT column_name, ', '), "
            "first(error_message ORDER BY column_idx), min(line_byte_position) "
            "FROM profile_rejects "
            "GROUP BY line, error_type ORDER BY line, error_type"
        )
        return int(row[rows_h]), int(row[hash_h]), rejects

    def corr_exprs(
        self, sel: _Select, cols: list[_Column], only: set[int] | None = None
    ) -> dict[tuple[int, int], int]:
        """corr() of column pairs not computed yet (with a column in ``only``)."""
        out = {}
        for i, a in enumerate(cols):
            for b in cols[i + 1 :]:
                pair = (a.index, b.index)
                if pair in self.corr:
                    continue
                if only is not None and not ({a.index, b.index} & only):
                    continue
                out[pair] = sel.add(f"corr({a.num_expr}, {b.num_expr})")
        return out

    def retype(self, src: _Source) -> None:
        """Give text columns whose values all cast to one type that type."""
        retyped = []
        for c in src.columns:
            if c.read_type != "VARCHAR":
                continue
            s = c.stats
            values = s["nonnull"] - s["empty"]
            for kind, _duck in c.cast_candidates:
                if values and s.get("cast_" + kind) == values:
                    c.kind, c.retyped = kind, True
                    retyped.append(c)
                    break
        if not retyped:
            return
        self.phase("aggregating")
        sel = _Select()
        handles = [(c, self.stats_exprs(sel, c, src, raw_text=False)) for c in retyped]
        numeric = [c for c in src.columns if c.kind in ("integer", "float")]
        corr_h = self.corr_exprs(
            sel, numeric[:MAX_CORRELATION_COLUMNS], {c.index for c in retyped}
        )
        row = self.one(sel, src.read())
        for c, h in handles:
            keep = {"nonnull": c.stats["nonnull"], "empty": c.stats["empty"]}
            c.stats = _counted({**{k: row[i] for k, i in h.items()}, **keep})
        self.corr.update({pair: row[h] for pair, h in corr_h.items()})

    # -- pass 2: distributions --------------------------------------------------
    def plan_numeric(self, sel: _Select, c: _Column) -> dict[str, Any]:
        """One boundary histogram and one sorted list per numeric column.

        The boundaries are the display histogram's plus, around each quantile
        bracket [lo, hi], the doubles just below lo and hi and lo and hi
        themselves: bins then count values below a bracket, equal to lo, strictly
        inside, equal to hi. The values strictly inside brackets are listed.
        """
        s = c.stats
        n = int(s["n"])
        vmin, vmax = float(s["min"]), float(s["max"])
        edges: list[float] = [vmin, vmax]
        display: list[float] = []
        if vmax > vmin and self.bins > 1:
            width = (vmax - vmin) / self.bins
            edges = [vmin + i * width for i in range(self.bins)] + [vmax]
            display = _upper_bounds(edges) or []
            if not display:
                edges = [vmin, vmax]
        sample = sorted(float(x) for x in s.get("sample") or [])
        brackets, share = _brackets(sample, vmin, vmax)
        marks = set(display)
        interiors = []
        for lo, hi in brackets:
            marks.update((math.nextafter(lo, -math.inf), lo))
            if hi > lo:
                marks.update((math.nextafter(hi, -math.inf), hi))
                interiors.append((lo, hi))
        bounds = sorted(marks)
        v = c.num_expr
        lit = ", ".join(repr(b) for b in bounds)
        plan: dict[str, Any] = {
            "edges": edges,
            "display": display,
            "bounds": bounds,
            "interiors": interiors,
            "map": sel.add(f"histogram({v}, [{lit}]::DOUBLE[])"),
        }
        if interiors and n * share * 1.5 + 1000 <= QUANTILE_COLLECT_LIMIT:
            pred = " OR ".join(
                f"({v} > {_num(lo)} AND {v} < {_num(hi)})" for lo, hi in interiors
            )
            plan["list"] = sel.add(f"list_sort(list({v}) FILTER (WHERE {pred}))")
        return plan

    def finish_numeric(
        self, c: _Column, plan: dict[str, Any], row: tuple[Any, ...]
    ) -> list[_Region]:
        """Histogram and the order statistics found; misses become regions."""
        s = c.stats
        n = int(s["n"])
        bounds: list[float] = plan["bounds"]
        counts = _binned(row[plan["map"]], bounds)
        display = [0] * (len(plan["display"]) + 1)
        for k, count in enumerate(counts):
            top = bounds[k] if k < len(bounds) else math.inf
            display[bisect.bisect_left(plan["display"], top)] += count
        s["histogram"] = {"edges": plan["edges"], "counts": display}

        listed = row[plan["list"]] if "list" in plan else None
        order = self.order.setdefault(c.index, {})
        ranks = _quantile_ranks(n)
        v = c.num_expr
        vmin, vmax = float(s["min"]), float(s["max"])
        regions = []
        base = 0
        offset = 0  # position in the listed values
        for k, count in enumerate(counts):
            lo = bounds[k - 1] if k > 0 else None
            hi = bounds[k] if k < len(bounds) else None
            collected = (
                listed is not None
                and lo is not None
                and hi is not None
                and any(a <= lo and hi < b for a, b in plan["interiors"])
            )
            inside = [r for r in ranks if base <= r < base + count]
            if inside:
                if (
                    lo is not None
                    and hi is not None
                    and hi == math.nextafter(lo, math.inf)
                ):
                    for r in inside:  # the bin holds a single double
                        order[r] = hi
                elif collected:
                    assert listed is not None
                    for r in inside:
                        order[r] = listed[offset + r - base]
                else:
                    conds = []
                    if lo is not None:
                        conds.append(f"{v} > {_num(lo)}")
                    if hi is not None:
                        conds.append(f"{v} <= {_num(hi)}")
                    regions.append(
                        _Region(
                            c,
                            " AND ".join(conds),
                            count,
                            base,
                            inside,
                            vmin if lo is None else lo,
                            vmax if hi is None else hi,
                        )
                    )
            if collected:
                offset += count
            base += count
        return regions

    def plan_histogram(self, sel: _Select, c: _Column) -> dict[str, Any] | None:
        """Date/datetime histogram (numbers are planned by plan_numeric)."""
        s = c.stats
        if c.kind not in ("date", "datetime") or s.get("tmin") is None:
            return None
        lo, hi = int(s["tmin"]), int(s["tmax"])
        if c.kind == "date":
            # whole days: bins [lo + i*w, lo + (i+1)*w) of w days, last ends after hi
            span = hi - lo + 1
            width = -(-span // self.bins)
            nb = -(-span // width)
            ticks = [lo + i * width for i in range(nb + 1)]
            epoch = dt.date(1970, 1, 1)
            edges = [
                _safe(lambda t: (epoch + dt.timedelta(days=t)).isoformat(), t)
                for t in ticks
            ]
        else:
            nb = self.bins if hi - lo >= self.bins else max(1, hi - lo)
            ticks = [lo + round(i * (hi - lo) / nb) for i in range(nb)] + [hi]
            epoch_dt = dt.datetime(1970, 1, 1)
            edges = [
                _safe(
                    lambda t: (epoch_dt + dt.timedelta(microseconds=t)).isoformat(), t
                )
                for t in ticks
            ]
        if nb == 1:
            return {
                "edges": edges,
                "fixed": [int(s["nonnull"]) - int(s.get("empty") or 0)],
            }
        bounds_i = [t - 1 for t in ticks[1:-1]]
        lit = ", ".join(str(b) for b in bounds_i)
        h = sel.add(f"histogram({c.time_expr}, [{lit}]::BIGINT[])")
        return {"edges": edges, "bounds": bounds_i, "map": h}

    def refine(self, src: _Source, regions: list[_Region]) -> None:
        """Resolve order statistics the brackets missed (rare: extra passes).

        A region small enough is sorted and its ranks picked. A larger one is cut
        into equal-width sub-ranges counted with ``histogram(x, bounds)`` (plus its
        min and max: a region of identical values is resolved at once); the
        sub-ranges holding wanted ranks are handled in the next round.
        """
        rounds = 0
        while regions:
            rounds += 1
            self.phase("quantiles")
            sel = _Select()
            plans: list[tuple[_Region, int, list[float] | None, int, int]] = []
            for rg in regions:
                v = rg.column.num_expr
                edges = [
                    rg.lo + (rg.hi - rg.lo) * i / _SPLIT_BUCKETS
                    for i in range(_SPLIT_BUCKETS + 1)
                ]
                bounds = _upper_bounds(edges) if rg.hi > rg.lo else None
                if (
                    rg.count <= QUANTILE_COLLECT_LIMIT
                    or rounds >= _MAX_QUANTILE_ROUNDS
                    or not bounds
                ):
                    picks = ", ".join(str(r - rg.base + 1) for r in rg.ranks)
                    h = sel.add(
                        f"list_select(list_sort(list({v}) FILTER (WHERE {rg.pred})),"
                        f" [{picks}])"
                    )
                    plans.append((rg, h, None, -1, -1))
                    continue
                lit = ", ".join(repr(b) for b in bounds)
                h = sel.add(
                    f"histogram({v}, [{lit}]::DOUBLE[]) FILTER (WHERE {rg.pred})"
                )
                hmin = sel.add(f"min({v}) FILTER (WHERE {rg.pred})")
                hmax = sel.add(f"max({v}) FILTER (WHERE {rg.pred})")
                plans.append((rg, h, bounds, hmin, hmax))
            row = self.one(sel, src.read())
            regions = []
            for rg, h, bounds, hmin, hmax in plans:
                order = self.order.setdefault(rg.column.index, {})
                if bounds is None:
                    for r, value in zip(rg.ranks, row[h], strict=True):
                        order[r] = value
                    continue
                if row[hmin] == row[hmax]:
                    for r in rg.ranks:
                        order[r] = row[hmin]
                    continue
                v = rg.column.num_expr
                base = rg.base
                for i, count in enumerate(_binned(row[h], bounds)):
                    inside = [r for r in rg.ranks if base <= r < base + count]
                    if inside:
                        conds = [rg.pred]
                        if i > 0:
                            conds.append(f"{v} > {_num(bounds[i - 1])}")
                        if i < len(bounds):
                            conds.append(f"{v} <= {_num(bounds[i])}")
                        regions.append(
                            _Region(
                                rg.column,
                                " AND ".join(conds),
                                count,
                                base,
                                inside,
                                float(row[hmin]) if i == 0 else bounds[i - 1],
                                float(row[hmax]) if i == len(bounds) else bounds[i],
                            )
                        )
                    base += count

    def quantiles(self, c: _Column) -> dict[str, float] | None:
        n = int(c.stats.get("n") or 0)
        if not n:
            return None
        order = self.order[c.index]
        out = {}
        for label, pct in _QUANTILES:
            lo, frac = _fraction_rank(n, pct)
            a = float(order[lo])
            if frac:
                a += (float(order[lo + 1]) - a) * (frac / 100)
            out[label] = a
        return out

    # -- pass 3: top values -----------------------------------------------------
    def top_values_grouped(self, src: _Source, cols: list[_Column]) -> None:
        refs = ", ".join(c.ref for c in cols)
        sets = ", ".join(f"({c.ref})" for c in cols)
        if len(cols) > 1:
            value, gid = f"coalesce({refs})", f"grouping_id({refs})"
            width = len(cols)
            full = (1 << width) - 1
            by_gid = {full ^ (1 << (width - 1 - i)): c for i, c in enumerate(cols)}
        else:
            value, gid, by_gid = cols[0].ref, "0", {0: cols[0]}
        sql = (
            f"SELECT gid, val, n FROM (SELECT {gid} AS gid, {value} AS val, "
            f"count(*) AS n FROM {src.read()} GROUP BY GROUPING SETS ({sets})) "
            "WHERE val IS NOT NULL AND val <> '' "
            "QUALIFY row_number() OVER (PARTITION BY gid ORDER BY n DESC, val) <= "
            f"{self.top_k} ORDER BY gid, n DESC, val"
        )
        for c in cols:
            c.stats["top"] = []
        for gid_value, val, n in self.fetch(sql):
            by_gid[int(gid_value)].stats["top"].append({"value": val, "count": int(n)})

    # -- orchestration ------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        self.phase("sniffing")
        enc = _sniff_bytes(self.original)
        path = self.transcode(enc) if enc.transcode else self.original
        src = self.sniff(path)
        self.guess_candidates(src)
        self.set_sampling(src)
        self.phase("aggregating")
        for _attempt in range(4):
            rows, distinct_rows, rejects = self.pass_one(src)
            invalid = [int(r[4] or 0) for r in rejects if r[1] == "INVALID ENCODING"]
            if invalid and not enc.transcode:
                _check_late_bytes(self.original, min(invalid))
                enc = _Encoding("cp1252", "utf-8", fallback=True)
                src = self.sniff(self.transcode(enc))
                self.guess_candidates(src)
                self.set_sampling(src)
                self.phase("aggregating")
                continue
            # a value that does not fit its sniffed type, on a row that is
            # otherwise well-formed: re-read that column as text
            broken = {r[0] for r in rejects if r[1] != "CAST"}
            cast_cols = {
                name.strip()
                for r in rejects
                if r[1] == "CAST" and r[2] and r[0] not in broken
                for name in str(r[2]).split(",")
            }
            bad = [
                c
                for c in src.columns
                if c.name in cast_cols and c.read_type != "VARCHAR"
            ]
            for c in bad:  # a later value does not fit the sniffed type
                c.read_type, c.widened = "VARCHAR", ""
                c.cast_candidates = list(_CANDIDATES)
            # integers beyond 2**53 are not exact as doubles: re-read as sniffed
            giant = [
                c
                for c in src.columns
                if c.widened == "integer"
                and c.kind == "integer"
                and c.stats.get("min") is not None
                and max(abs(c.stats["min"]), abs(c.stats["max"])) >= 2**53
            ]
            for c in giant:
                c.read_type, c.widened = c.sniffed, ""
            if not bad and not giant:
                break
        self.retype(src)
        cols = src.columns

        self.phase("distributions")
        numeric = [
            c for c in cols if c.kind in ("integer", "float") and c.stats.get("n")
        ]
        corr_cols = [c for c in cols if c.kind in ("integer", "float")][
            :MAX_CORRELATION_COLUMNS
        ]
        texts = [c for c in cols if c.kind == "text" and c.stats.get("distinct")]
        unique_texts = [
            c
            for c in texts
            if c.stats["distinct"] == c.stats["nonnull"] - c.stats["empty"]
        ]
        sel = _Select()
        hist_plans = {c.index: self.plan_histogram(sel, c) for c in cols}
        num_plans = {c.index: self.plan_numeric(sel, c) for c in numeric}
        min_h = {}
        if self.top_k:
            for c in unique_texts:  # every count is 1: the first values in order
                min_h[c.index] = sel.add(f"min(NULLIF({c.ref}, ''), {self.top_k})")
        row: tuple[Any, ...] = self.one(sel, src.read()) if sel.exprs else ()
        for c in cols:
            plan = hist_plans[c.index]
            if plan is not None:
                counts = plan.get("fixed") or _binned(row[plan["map"]], plan["bounds"])
                c.stats["histogram"] = {"edges": plan["edges"], "counts": counts}
            if c.index in min_h:
                c.stats["top"] = [{"value": v, "count": 1} for v in row[min_h[c.index]]]
        regions = []
        for c in numeric:
            regions += self.finish_numeric(c, num_plans[c.index], row)
        self.refine(src, regions)

        grouped = [c for c in texts if c not in unique_texts] if self.top_k else []
        if grouped:
            self.phase("top_values")
            self.top_values_grouped(src, grouped)

        duplicates = rows - distinct_rows
        if duplicates:
            self.phase("duplicates")
            duplicates = self.exact_duplicates(src)

        self.phase("sampling")
        samples: list[list[Any]] = []
        if self.sample_n:
            read = src.read(all_varchar=True)
            sql = f"SELECT * FROM {read} LIMIT {self.sample_n}"
            samples = [list(r) for r in self.fetch(sql)]

        # a malformed row's cast errors are noise next to its structural error
        broken = {r[0] for r in rejects if r[1] != "CAST"}
        rejects = [r for r in rejects if r[1] != "CAST" or r[0] not in broken]
        rejected_count = len({r[0] for r in rejects})
        if rows == 0 and rejected_count:
            first = rejects[0]
            line = _physical_lines(src.path, [int(first[4] or 0)])[int(first[4] or 0)]
            raise ProfileError(
                "parse_error",
                f"No row could be read: line {line}: {first[1]}: {first[3]}",
            )
        if rejected_count >= REJECTS_STORE_LIMIT:
            self.approximate.add("rejected_count")
        rejected = []
        listed = rejects[: self.max_rejects]
        lines = _physical_lines(src.path, [int(r[4] or 0) for r in listed])
        for _record, etype, colnames, message, position in listed:
            reason = f"{etype}: {message}"
            if colnames:
                reason += f" (column {colnames})"
            rejected.append({"line": lines[int(position or 0)], "reason": reason})

        matrix = []
        for a in corr_cols:
            line_: list[float | None] = []
            for b in corr_cols:
                if a is b:
                    line_.append(1.0 if a.stats.get("std") else None)
                else:
                    pair = (min(a.index, b.index), max(a.index, b.index))
                    line_.append(self.corr.get(pair))
            matrix.append(line_)

        doc = {
            "schema_version": PROFILE_SCHEMA_VERSION,
            "encoding": enc.name,
            "lossy_decode": self.lossy,
            "delimiter": src.dialect.delimiter,
            "quote": src.dialect.quote,
            "has_header": src.dialect.header,
            "row_count": rows,
            "column_count": len(cols),
            "duplicate_rows": duplicates,
            "rejected_count": rejected_count,
            "rejected_rows": rejected,
            "columns": [self.column_doc(c, rows) for c in cols],
            "correlations": {"columns": [c.name for c in corr_cols], "matrix": matrix},
            "sample_rows": samples,
            "exact": [f for f in _EXACT_FIGURES if f not in self.approximate],
            "approximate": sorted(self.approximate),
        }
        return _jsonable(doc)

    def set_sampling(self, src: _Source) -> None:
        """Share of rows sampled (``random()``) to bracket quantiles.

        Aims at QUANTILE_SAMPLE_SIZE values per numeric column; rows are estimated
        from the file size and the first 64 KiB's lines. A Bernoulli sample is
        uniform over rows (DuckDB's reservoir sample is not, on sorted input, once
        threads merge their reservoirs). The sample only steers the work: the
        quantiles are exact whatever it holds.
        """
        numeric = sum(
            1
            for c in src.columns
            if _kind_of(c.read_type) in ("integer", "float")
            or any(k in ("integer", "float") for k, _ in c.cast_candidates)
        )
        per_column = min(
            QUANTILE_SAMPLE_SIZE, QUANTILE_SAMPLE_BUDGET // max(1, numeric)
        )
        size = os.path.getsize(src.path)
        with open(src.path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
        lines = max(1, head.count(b"\n"))
        est_rows = size * lines / max(1, len(head))
        rate = per_column / max(1.0, est_rows)
        self.sample_rate = min(1.0, rate)

    def transcode(self, enc: _Encoding) -> str:
        self.phase("transcoding")
        dst = os.path.join(self.workdir, "utf8.csv")
        self.lossy = _transcode(self.original, dst, enc) > 0
        return dst

    def exact_duplicates(self, src: _Source) -> int:
        """Rows equal to an earlier row, checked on the rows whose hashes collide."""
        refs = ", ".join(c.ref for c in src.columns)
        read = src.read()
        fields = ", ".join(
            f"{_lit('c' + str(i))}: {c.ref}" for i, c in enumerate(src.columns)
        )
        sql = (
            f"WITH h AS (SELECT hash({refs}) AS h FROM {read} GROUP BY 1 "
            "HAVING count(*) > 1) "
            f"SELECT count(*) - count(DISTINCT {{{fields}}}) FROM {read} "
            f"WHERE hash({refs}) IN (SELECT h FROM h)"
        )
        return int(self.fetch(sql)[0][0])

    def column_doc(self, c: _Column, rows: int) -> dict[str, Any]:
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
                quantiles=self.quantiles(c),
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
                min=_iso(s.get("min")) if c.kind == "datetime" else s.get("min"),
                max=_iso(s.get("max")) if c.kind == "datetime" else s.get("max"),
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


def _settle_widened(c: _Column) -> None:
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


def _physical_lines(path: str, positions: list[int]) -> dict[int, int]:
    """1-based line number (as an editor shows it) of each byte position.

    Streams the file up to the last position, counting newlines in 1 MiB chunks;
    only run for the few rejected rows that are listed.
    """
    out: dict[int, int] = {}
    wanted = sorted(set(positions))
    if not wanted:
        return out
    newlines = 0
    start = 0
    with open(path, "rb") as fh:
        for pos in wanted:
            while start + _CHUNK <= pos:
                newlines += fh.read(_CHUNK).count(b"\n")
                start += _CHUNK
            chunk = fh.read(pos - start)
            newlines += chunk.count(b"\n")
            start = pos
            out[pos] = newlines + 1
    return out


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


def _counted(stats: dict[str, Any]) -> dict[str, Any]:
    """Counts as ints (DuckDB's count_if over no rows is NULL)."""
    return {
        k: int(v or 0) if k in _COUNTS or k.startswith("cast_") else v
        for k, v in stats.items()
    }


def _cast_test(x: str, kind: str, duck: str) -> str:
    if kind == "integer":  # TRY_CAST('9.5' AS BIGINT) rounds instead of failing
        digits = f"regexp_full_match(trim({x}), '[+-]?[0-9]+')"
        return f"{digits} AND TRY_CAST({x} AS {duck}) IS NOT NULL"
    test = f"TRY_CAST({x} AS {duck}) IS NOT NULL"
    if kind == "date":  # '2024-01-02 10:00' casts to DATE too: keep those datetime
        test += f" AND length({x}) <= 10"
    return test


def _safe(fn: Callable[[int], str], arg: int) -> str | None:
    try:
        return fn(arg)
    except (OverflowError, ValueError):
        return None


def profile_csv(
    path: str | os.PathLike[str],
    *,
    memory_limit: str = "512MB",
    threads: int = 2,
    top_values: int = 10,
    histogram_bins: int = 20,
    sample_rows: int = 5,
    max_rejects: int = 100,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Profile the CSV file at ``path`` and return the profile document.

    ``memory_limit`` and ``threads`` bound DuckDB (it spills to a private temporary
    directory beyond the limit). ``top_values``, ``histogram_bins`` and
    ``sample_rows`` size those parts of the document; ``max_rejects`` caps the
    listed rejected rows (``rejected_count`` is the total). ``progress`` is called
    with each phase name: sniffing, transcoding, aggregating, distributions,
    quantiles, top_values, duplicates, sampling, done.

    Raises :class:`ProfileError` for files that cannot be profiled.
    """
    workdir = tempfile.mkdtemp(prefix="csvprofile-")
    con: duckdb.DuckDBPyConnection | None = None
    try:
        try:
            con = duckdb.connect(
                ":memory:",
                config={
                    "memory_limit": memory_limit,
                    "threads": max(1, int(threads)),
                    "temp_directory": os.path.join(workdir, "spill"),
                    "autoinstall_known_extensions": False,
                    "autoload_known_extensions": False,
                },
            )
        except duckdb.Error as exc:
            raise ValueError(f"invalid DuckDB settings: {exc}") from exc
        con.execute("SET enable_progress_bar = false")  # no bars on stderr
        with contextlib.suppress(duckdb.Error):
            # DuckDB 2.0 rewrites count(DISTINCT) next to other aggregates into a
            # materialised CTE, which doubles the cost of the wide first pass.
            con.execute("SET disabled_optimizers = 'distinct_aggregate_rewrite'")
        profiler = _Profiler(
            os.fspath(path),
            con,
            workdir,
            top_values=top_values,
            histogram_bins=histogram_bins,
            sample_rows=sample_rows,
            max_rejects=max_rejects,
            progress=progress,
        )
        doc = profiler.run()
        if progress is not None:
            progress("done")
        return doc
    except duckdb.Error as exc:
        raise ProfileError(
            "parse_error", f"DuckDB could not read the file: {exc}"
        ) from exc
    finally:
        if con is not None:
            with contextlib.suppress(duckdb.Error):
                con.close()
        shutil.rmtree(workdir, ignore_errors=True)
