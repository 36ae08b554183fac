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
    column: str, edges: Sequence[int | float | str], counts: Sequence[int], rows: int
) -> Chart | None:
    """Vertical bars of equal-width bins; x labels at both ends and the middle."""
    if not counts or len(edges) != len(counts) + 1:
        return None
    top = max(counts)
    n = len(counts)
    slot = WIDTH / n
    gap = 2.0 if slot > 8 else 1.0 if slot > 3 else 0.0
    plot_height = _PLOT_BOTTOM - _PLOT_TOP
    bars = []
    rows_out = []
    for i, count in enumerate(counts):
        last = i == n - 1
        label = f"{fmt_edge(edges[i])} to {fmt_edge(edges[i + 1])}"
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
        f"{n} equal-width bins from {fmt_edge(edges[0])} to {fmt_edge(edges[-1])}. "
        + (
            f"The fullest, {bars[fullest].label}, holds {fmt_int(top)} values."
            if top
            else "Every bin is empty."
        )
    )
    axis = _axis_formatter(edges)
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
    """Horizontal bars, one row per value: label and count above a bar scaled to
    the largest count."""
    if not values:
        return None
    top = max(count for _value, count in values) or 1
    bars = []
    for i, (value, count) in enumerate(values):
        y = i * _ROW_HEIGHT
        bars.append(
            Bar(
                x=0,
                y=y + 15,
                width=round(max(WIDTH * count / top, 2.0 if count else 0.0), 2),
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
