"""Rows the parser rejected, each listed with its physical line in the file
and the columns it concerns."""

from __future__ import annotations

from typing import Any

from uploads.profiling.errors import ProfileError
from uploads.profiling.limits import CHUNK

#: A reject as pass 1 reads it: (record, error type, column names, message,
#: byte position of the line).
Reject = tuple[Any, ...]


def physical_lines(path: str, positions: list[int]) -> dict[int, int]:
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
            while start + CHUNK <= pos:
                newlines += fh.read(CHUNK).count(b"\n")
                start += CHUNK
            chunk = fh.read(pos - start)
            newlines += chunk.count(b"\n")
            start = pos
            out[pos] = newlines + 1
    return out


def listed_rejects(
    path: str,
    rejects: list[Reject],
    *,
    rows: int,
    limit: int,
    names: dict[str, str],
) -> tuple[int, list[dict[str, Any]]]:
    """The number of rejected rows and the first ``limit`` as {line, reason}.

    A file of which no row could be read while some were rejected is a
    ``parse_error`` naming the first rejected line. ``names`` maps the
    load's column names (``r<i>``) to the file's.
    """
    # a malformed row's cast errors are noise next to its structural error
    broken = {r[0] for r in rejects if r[1] != "CAST"}
    rejects = [r for r in rejects if r[1] != "CAST" or r[0] not in broken]
    count = len({r[0] for r in rejects})
    if rows == 0 and count:
        first = rejects[0]
        line = physical_lines(path, [int(first[4] or 0)])[int(first[4] or 0)]
        raise ProfileError(
            "parse_error",
            f"No row could be read: line {line}: {first[1]}: {first[3]}",
        )
    listed = rejects[:limit]
    lines = physical_lines(path, [int(r[4] or 0) for r in listed])
    out = []
    for _record, etype, colnames, message, position in listed:
        reason = f"{etype}: {message}"
        if colnames:
            shown = [names.get(n.strip(), n.strip()) for n in str(colnames).split(",")]
            reason += f" (column {', '.join(shown)})"
        out.append({"line": lines[int(position or 0)], "reason": reason})
    return count, out
