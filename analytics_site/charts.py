"""Number formatting and the geometry of the dashboard's server-rendered SVG charts.

Pure Python, no Django: a chart is a small dataclass of rectangles and labels in
SVG user units, which ``templates/includes/chart.html`` draws. Colours live in
the stylesheet (CSS classes), never in attributes, so the strict
Content-Security-Policy holds and dark mode works.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Width of every chart's viewBox; the SVG scales to its card.
WIDTH = 320
HISTOGRAM_HEIGHT = 150
_PLOT_TOP, _PLOT_BOTTOM = 16.0, 124.0
_AXIS_LABEL_Y = 142.0
_ROW_HEIGHT = 28
_LABEL_CHARS = 30
#: Shown for a missing figure, and between the ends of a range (an en dash).
DASH = "\u2013"


# ------------------------------------------------------------------ formatting


def fmt_int(value: int | float | None) -> str:
    if value is None:
        return DASH
    return f"{int(value):,}"


def fmt_num(value: int | float | str | None) -> str:
    """A figure for people: ``1,234``, ``32.63``, ``0.0512``, ``1.2e+09``."""
    if value is None or isinstance(value, str):
        return DASH if value is None else value
    if isinstance(value, bool):
        return str(value).lower()
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 1e9 or magnitude < 1e-3:
        return f"{value:.3g}"
    decimals = 1 if magnitude >= 1000 else 2 if magnitude >= 1 else 4
    text = f"{value:,.{decimals}f}".rstrip("0").rstrip(".")
    return text


def fmt_short(value: int | float | None) -> str:
    """At most about 7 characters: ``fmt_num`` below 100,000, else ``123.5k``."""
    if value is None or not math.isfinite(value) or abs(value) < 100_000:
        return fmt_num(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.4g}{suffix}"
    return fmt_num(value)  # pragma: no cover


def fmt_compact(value: int) -> str:
    """``987``, ``12.3k``, ``4.5M``: for axis labels."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return str(value)


def fmt_pct(part: int | float, whole: int | float | None) -> str:
    if not whole:
        return DASH
    share = 100 * part / whole
    if share == 0:
        return "0%"
    if share < 0.1:
        return "<0.1%"
    if share < 10 and not float(share).is_integer():
        return f"{share:.1f}%"
    return f"{share:.0f}%"


def fmt_when(value: str | None) -> str:
    """An ISO date or datetime, compact: ``2024-01-10``, ``2024-01-10 10:00``."""
    if not value:
        return DASH
    text = str(value)
    if "T" not in text and " " not in text:
        return text
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.second or moment.microsecond:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.hour or moment.minute:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d")


def fmt_plain(value: Any) -> str:
    """A number without thousands separators (years: ``2013``, not ``2,013``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and float(value).is_integer():
            return str(int(value))
        return f"{value:.6g}"
    return fmt_num(value)


def fmt_edge(value: int | float | str) -> str:
    return fmt_when(value) if isinstance(value, str) else fmt_num(value)


def shorten(text: str, limit: int = _LABEL_CHARS) -> str:
    text = " ".join(str(text).split())  # newlines and tabs would break a label
    if not text:
        return "(blank)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------ charts


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the bin or the value, in full
    count: int
    share: str  # of all rows
    count_text: str = ""
    # For horizontal bars: where the label and the count are written.
    text_y: float = 0.0
    short_label: str = ""


@dataclass(frozen=True)
class AxisLabel:
    x: float
    text: str
    anchor: str  # start, middle, end


@dataclass(frozen=True)
class Chart:
    kind: str  # "histogram" or "bars"
    title: str
    description: str
    height: int
    bars: list[Bar]
    #: The text alternative: column headings and rows of the data table.
    table_head: tuple[str, str, str]
    table_rows: list[tuple[str, str, str]]
    x_labels: list[AxisLabel] = field(default_factory=list)
    y_max_label: str = ""
    width: int = WIDTH
    plot_top: float = _PLOT_TOP
    plot_bottom: float = _PLOT_BOTTOM
    axis_label_y: float = _AXIS_LABEL_Y

    @property
    def plot_height(self) -> float:
        return self.plot_bottom - self.plot_top

    @property
    def y_label_y(self) -> float:
        return self.plot_top - 5


def _axis_formatter(edges: Sequence[int | float | str]) -> Callable[[Any], str]:
    """Axis labels are short: datetimes spanning days show their dates only."""
    first, last = edges[0], edges[-1]
    if isinstance(first, str) and isinstance(last, str) and "T" in first:
        try:
            start = dt.datetime.fromisoformat(first)
            end = dt.datetime.fromisoformat(last)
        except ValueError:
            return fmt_edge
        if (end - start).total_seconds() >= 2 * 86400:
            return lambda edge: fmt_when(str(edge)[:10])
    return fmt_edge


def histogram_chart(
    column: str,
    edges: Sequence[int | float | str],
    counts: Sequence[int],
    rows: int,
    *,
    plain: bool = False,
) -> Chart | None:
    """Vertical bars of equal-width bins; x labels at both ends and the middle.

    ``plain``: numbers without thousands separators (years).
    """
    if not counts or len(edges) != len(counts) + 1:
        return None
    edge = fmt_plain if plain else fmt_edge
    top = max(counts)
    n = len(counts)
    slot = WIDTH / n
    gap = 2.0 if slot > 8 else 1.0 if slot > 3 else 0.0
    plot_height = _PLOT_BOTTOM - _PLOT_TOP
    bars = []
    rows_out = []
    for i, count in enumerate(counts):
        last = i == n - 1
        label = f"{edge(edges[i])} to {edge(edges[i + 1])}"
        label += " (inclusive)" if last else ""
        height = plot_height * count / top if top else 0.0
        if count and height < 1.5:
            height = 1.5  # a non-empty bin stays visible
        bars.append(
            Bar(
                x=round(i * slot + gap / 2, 2),
                y=round(_PLOT_BOTTOM - height, 2),
                width=round(slot - gap, 2),
                height=round(height, 2),
                label=label,
                count=count,
                share=fmt_pct(count, rows),
                count_text=fmt_int(count),
            )
        )
        rows_out.append((label, fmt_int(count), fmt_pct(count, rows)))
    fullest = counts.index(top)
    description = (
        f"{n} equal-width bins from {edge(edges[0])} to {edge(edges[-1])}. "
        + (
            f"The fullest, {bars[fullest].label}, holds {fmt_int(top)} values."
            if top
            else "Every bin is empty."
        )
    )
    axis = fmt_plain if plain else _axis_formatter(edges)
    x_labels = [
        AxisLabel(0, axis(edges[0]), "start"),
        AxisLabel(WIDTH, axis(edges[-1]), "end"),
    ]
    if n >= 4:
        x_labels.insert(1, AxisLabel(WIDTH / 2, axis(edges[n // 2]), "middle"))
    return Chart(
        kind="histogram",
        title=f"Distribution of {column}",
        description=description,
        height=HISTOGRAM_HEIGHT,
        bars=bars,
        table_head=("Range", "Values", "Share of rows"),
        table_rows=rows_out,
        x_labels=x_labels,
        y_max_label=fmt_compact(top),
    )


def bar_chart(
    column: str,
    values: Sequence[tuple[str, int]],
    rows: int,
    *,
    title: str,
    label_head: str = "Value",
) -> Chart | None:
    """Horizontal bars, one row per value: label and count above a bar whose
    length is the value's share of ``rows``."""
    if not values:
        return None
    # Scaled to the share of rows, not to the largest count: a value held by
    # 0.1% of the rows draws a sliver, not a full bar.
    whole = rows or max(count for _value, count in values) or 1
    bars = []
    for i, (value, count) in enumerate(values):
        y = i * _ROW_HEIGHT
        bars.append(
            Bar(
                x=0,
                y=y + 15,
                width=round(max(WIDTH * count / whole, 2.0 if count else 0.0), 2),
                height=8,
                label=value,
                count=count,
                share=fmt_pct(count, rows),
                count_text=fmt_int(count),
                text_y=y + 11,
                short_label=shorten(value),
            )
        )
    first = values[0]
    description = (
        f"{len(values)} bars. The most frequent, {shorten(first[0], 60)!r}, "
        f"appears {fmt_int(first[1])} times ({fmt_pct(first[1], rows)} of rows)."
    )
    return Chart(
        kind="bars",
        title=f"{title} of {column}",
        description=description,
        height=len(values) * _ROW_HEIGHT,
        bars=bars,
        table_head=(label_head, "Count", "Share of rows"),
        table_rows=[(b.label, fmt_int(b.count), b.share) for b in bars],
    )


# ------------------------------------------------------------- grid charts


@dataclass(frozen=True)
class Cell:
    x: float
    y: float
    width: float
    height: float
    level: int  # 0 (empty) to 5 (fullest): a CSS class, never a colour here
    label: str  # what the cell counts, in full


@dataclass(frozen=True)
class GridChart:
    """Cells of a matrix (missing values by column and row range, or rows by
    x and y bin of a correlated pair), shaded in 6 levels by the stylesheet."""

    kind: str  # "missing" or "density"
    title: str
    description: str
    width: int
    height: int
    cells: list[Cell]
    x_labels: list[AxisLabel]
    y_labels: list[AxisLabel]
    table_head: tuple[str, str, str]
    table_rows: list[tuple[str, str, str]]
    plot_left: float = 0.0
    plot_bottom: float = 0.0


def _level(count: int, top: int) -> int:
    if not count or not top:
        return 0
    return max(1, min(5, math.ceil(5 * count / top)))


_GRID_LEFT = 110.0
_GRID_CELL_H = 16.0


def missing_chart(
    columns: Sequence[str],
    ranges: Sequence[dict[str, int]],
    counts: Sequence[Sequence[int]],
    missing_totals: Sequence[int],
    rows: int,
) -> GridChart | None:
    """A row per column, a cell per range of rows: darker = more missing."""
    if not ranges or not columns or not any(missing_totals):
        return None
    n = len(ranges)
    slot = (WIDTH * 2 - _GRID_LEFT) / n
    cells = []
    y_labels = []
    table = []
    for i, name in enumerate(columns):
        y = i * _GRID_CELL_H
        y_labels.append(AxisLabel(_GRID_LEFT - 6, shorten(name, 16), "end"))
        for k, r in enumerate(ranges):
            size = r["lastRow"] - r["firstRow"] + 1
            count = counts[i][k]
            cells.append(
                Cell(
                    x=round(_GRID_LEFT + k * slot, 2),
                    y=y,
                    width=round(slot - 1, 2),
                    height=_GRID_CELL_H - 2,
                    level=_level(count, size),
                    label=(
                        f"{name}, rows {fmt_int(r['firstRow'])} to "
                        f"{fmt_int(r['lastRow'])}: {fmt_int(count)} missing "
                        f"of {fmt_int(size)}"
                    ),
                )
            )
        table.append(
            (name, fmt_int(missing_totals[i]), fmt_pct(missing_totals[i], rows))
        )
    height = int(len(columns) * _GRID_CELL_H)
    worst = max(range(len(columns)), key=lambda i: missing_totals[i])
    return GridChart(
        kind="missing",
        title="Missing values by column and row range",
        description=(
            f"{len(columns)} columns by {n} ranges of rows; darker cells hold more "
            f"missing values. Most missing: {columns[worst]} "
            f"({fmt_pct(missing_totals[worst], rows)} of rows)."
        ),
        width=WIDTH * 2,
        height=height + 24,
        cells=cells,
        x_labels=[
            AxisLabel(_GRID_LEFT, f"row {fmt_int(ranges[0]['firstRow'])}", "start"),
            AxisLabel(WIDTH * 2, f"row {fmt_int(ranges[-1]['lastRow'])}", "end"),
        ],
        y_labels=y_labels,
        table_head=("Column", "Missing", "Share of rows"),
        table_rows=table,
        plot_left=_GRID_LEFT,
        plot_bottom=height + 16,
    )


def density_chart(
    x_name: str,
    y_name: str,
    x_edges: Sequence[float],
    y_edges: Sequence[float],
    counts: Sequence[Sequence[int]],
) -> GridChart | None:
    """A hexbin-like scatter: rows per cell of an x by y grid (y upwards)."""
    nx, ny = len(counts), len(counts[0]) if counts else 0
    if not nx or not ny:
        return None
    side = 240.0
    left, bottom = 44.0, side
    cw, ch = side / nx, side / ny
    top = max(max(col) for col in counts)
    cells = []
    table = []
    for i in range(nx):
        for j in range(ny):
            count = counts[i][j]
            if not count:
                continue
            xr = f"{fmt_num(x_edges[i])} to {fmt_num(x_edges[i + 1])}"
            yr = f"{fmt_num(y_edges[j])} to {fmt_num(y_edges[j + 1])}"
            cells.append(
                Cell(
                    x=round(left + i * cw, 2),
                    y=round(bottom - (j + 1) * ch, 2),
                    width=round(cw, 2),
                    height=round(ch, 2),
                    level=_level(count, top),
                    label=f"{x_name} {xr}, {y_name} {yr}: {fmt_int(count)} rows",
                )
            )
            table.append((xr, yr, fmt_int(count)))
    return GridChart(
        kind="density",
        title=f"{y_name} against {x_name}",
        description=(
            f"Rows by {nx} ranges of {x_name} (across) and {ny} of {y_name} "
            f"(up); darker cells hold more rows, the fullest {fmt_int(top)}."
        ),
        width=int(left + side + 8),
        height=int(side + 36),
        cells=cells,
        x_labels=[
            AxisLabel(left, fmt_short(x_edges[0]), "start"),
            AxisLabel(left + side, fmt_short(x_edges[-1]), "end"),
        ],
        y_labels=[
            AxisLabel(left - 4, fmt_short(y_edges[-1]), "end"),
            AxisLabel(left - 4, fmt_short(y_edges[0]), "end"),
        ],
        table_head=(x_name, y_name, "Rows"),
        table_rows=table,
        plot_left=left,
        plot_bottom=bottom,
    )
