"""Sizes and limits of the profiler (see docs/profiling.md)."""

from __future__ import annotations

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

CHUNK = 1024 * 1024
