"""Sizes and limits of the profiler (see docs/profiling.md)."""

from __future__ import annotations

#: Bytes read in Python to check for binary content and guess the encoding.
SNIFF_BYTES = 64 * 1024
#: Rows DuckDB's sniffer samples for the dialect and types.
SNIFF_SAMPLE_ROWS = 20_480
#: Wider files are refused (``too_many_columns``).
MAX_COLUMNS = 1_000
#: At most this many numeric columns (the first ones) enter the correlation
#: matrices; the document lists the others under ``correlations.omitted``.
MAX_CORRELATION_COLUMNS = 100
#: Spearman ranks at most this many rows: past it, a uniform sample of this
#: size (and ``spearman`` is listed under ``approximate``).
SPEARMAN_SAMPLE_ROWS = 200_000
#: Pairs whose |Pearson| or |Spearman| reaches this are flagged.
CORRELATION_THRESHOLD = 0.7
#: At most this many flagged pairs get a density grid (the strongest).
MAX_FLAGGED_PAIRS = 20
#: Bins per axis of a flagged pair's density grid.
PAIR_GRID_BINS = 20
#: Rejected rows DuckDB keeps (beyond this ``rejected_count`` is a lower bound).
REJECTS_STORE_LIMIT = 100_000
#: Smallest and largest distinct values listed per numeric column.
EXTREME_VALUES = 5
#: Duplicated rows listed (the first ones), each with its count.
DUPLICATE_EXAMPLES = 10
#: Row ranges of the missing-values overview.
MISSING_RANGES = 20
#: Upper bound of ``sample_rows`` and ``random_rows``.
MAX_SAMPLE_ROWS = 100
#: Seed of the random sample rows: the same file gives the same rows.
RANDOM_SAMPLE_SEED = 42
#: Bytes per read when streaming a file (transcoding, counting lines).
CHUNK = 1024 * 1024
