"""Null markers: the cell texts that mean "no value" (docs/profiling.md).

R writes ``NA``, pandas ``NaN`` or what ``na_rep`` says, Excel ``#N/A``,
databases ``NULL`` and ``\\N``. Such a cell is missing: counted in the
column's ``nullCount`` (and, by marker, in ``markerCounts``), and left out of
typing, statistics and top values. Matching is exact and case-sensitive (no
trimming): ``NA`` is a marker, ``na`` and ``Na`` are values, because short
lower-case words are real values too often (sodium, "none" as an answer).
The default set holds the spellings these tools write. ``-`` is a marker only
in a column that is otherwise numeric: a dash stands for "nothing" in tables
of figures, and is a value in a column of text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Markers of every column, in the order documents list them.
DEFAULT_NULL_MARKERS: tuple[str, ...] = (
    "NA",
    "N/A",
    "NaN",
    "nan",
    "NULL",
    "null",
    "None",
    "#N/A",
    "\\N",
)
#: Markers only where the rest of the column is numeric.
DEFAULT_NUMERIC_NULL_MARKERS: tuple[str, ...] = ("-",)
#: At most this many markers in force (each costs a comparison per cell).
MAX_NULL_MARKERS = 64
#: Longest marker accepted, in characters.
MAX_NULL_MARKER_LENGTH = 64


@dataclass(frozen=True)
class NullMarkers:
    """A per-upload change to the default markers.

    ``add``: more texts meaning "no value" in every column (``"n/a"``,
    ``"-999"``, ``"?"``). ``remove``: default markers that are values in this
    file (``"NA"`` in a column of country codes, where it is Namibia); ``"-"``
    may be removed too. A text both added and removed is a ``ValueError``, as
    are an empty text (an empty field is always missing), texts over 64
    characters, and more than 64 markers.
    """

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()

    def __init__(self, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        added = tuple(dict.fromkeys(add))
        removed = tuple(dict.fromkeys(remove))
        for text in (*added, *removed):
            if not isinstance(text, str):
                raise ValueError(f"a null marker must be a string, not {text!r}")
            if not text:
                raise ValueError(
                    "an empty null marker: an empty field is always missing"
                )
            if len(text) > MAX_NULL_MARKER_LENGTH:
                raise ValueError(
                    f"null marker {text[:20]!r}... is longer than "
                    f"{MAX_NULL_MARKER_LENGTH} characters"
                )
        both = sorted(set(added) & set(removed))
        if both:
            raise ValueError(f"null markers both added and removed: {both}")
        object.__setattr__(self, "add", added)
        object.__setattr__(self, "remove", removed)
        if len(self.everywhere) + len(self.numeric_only) > MAX_NULL_MARKERS:
            raise ValueError(f"more than {MAX_NULL_MARKERS} null markers")

    @property
    def everywhere(self) -> tuple[str, ...]:
        """Markers of every column: the defaults, less removed, plus added."""
        kept = [m for m in DEFAULT_NULL_MARKERS if m not in self.remove]
        return tuple(dict.fromkeys([*kept, *self.add]))

    @property
    def numeric_only(self) -> tuple[str, ...]:
        """Markers only of columns that are otherwise numeric."""
        return tuple(
            m
            for m in DEFAULT_NUMERIC_NULL_MARKERS
            if m not in self.remove and m not in self.add
        )

    def as_document(self) -> dict[str, list[str]]:
        return {
            "everywhere": list(self.everywhere),
            "numericOnly": list(self.numeric_only),
        }
