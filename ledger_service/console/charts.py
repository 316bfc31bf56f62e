"""Charts drawn on the server as SVG: no script, readable without colour (each bar is labelled with its value,
a projection is dashed), and described for screen readers (`role="img"` with a title, and a description for a
line chart); the same figures are in a table beside it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from html import escape

BAR_HEIGHT = 14
ROW_GAP = 10
LABEL_WIDTH = 150
VALUE_WIDTH = 120
PLOT_WIDTH = 420


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend
    css: str  # the bar's class in console.css (its colour)


@dataclass(frozen=True)
class Row:
    label: str
    values: tuple[int, ...]  # one per series, whole units
    shown: tuple[str, ...]  # each value as written (locale and unit)


def bars(title: str, series: list[Series], rows: list[Row]) -> str:
    """A horizontal grouped bar chart: one group per row, one bar per series, scaled to the largest value."""
    largest = max((v for r in rows for v in r.values), default=0) or 1
    group = len(series) * (BAR_HEIGHT + 2) + ROW_GAP
    legend = 22
    height = legend + group * len(rows) + 4
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title" '
           f'preserveAspectRatio="xMinYMin meet"><title id="chart-title">{escape(title)}</title>']
    x = LABEL_WIDTH
    for s in series:
        out.append(f'<rect class="{s.css}" x="{x}" y="4" width="12" height="12"/>'
                   f'<text x="{x + 16}" y="14">{escape(s.name)}</text>')
        x += 16 + 9 * len(s.name) + 20
    for i, row in enumerate(rows):
        top = legend + i * group
        out.append(f'<text class="label" x="{LABEL_WIDTH - 8}" y="{top + BAR_HEIGHT}" text-anchor="end">'
                   f'{escape(row.label)}</text>')
        for j, (s, value, shown) in enumerate(zip(series, row.values, row.shown, strict=True)):
            y = top + j * (BAR_HEIGHT + 2)
            w = max(1, value * PLOT_WIDTH // largest) if value else 0
            out.append(f'<rect class="{s.css}" x="{LABEL_WIDTH}" y="{y}" width="{w}" height="{BAR_HEIGHT}"/>'
                       f'<text x="{LABEL_WIDTH + w + 4}" y="{y + BAR_HEIGHT - 3}">{escape(shown)}</text>')
    out.append("</svg>")
    return "".join(out)


LINE_LEFT = 90  # room for the value axis' labels
LINE_TOP = 30  # room for the legend
LINE_WIDTH = 560
LINE_HEIGHT = 200
LINE_BOTTOM = 40  # room for the category labels
TICKS = 4


@dataclass(frozen=True)
class Line:
    name: str  # shown in the legend
    css: str  # the line's class in console.css (its colour)
    values: tuple[Decimal | None, ...]  # one per category; None: no point there
    dashed: bool = False  # a projection, not a measurement


def _at(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1'))}"


def line(chart_id: str, title: str, description: str, categories: list[str], lines: list[Line],
         shown: Callable[[Decimal], str]) -> str:
    """A line chart over categories (days, months): one line per series, each point marked, scaled from zero to
    the largest value; `shown` writes an axis value (locale and unit). Dashed lines are projections. The title
    and description name it for screen readers (`aria-labelledby`, `aria-describedby`); the page shows the same
    figures in a table."""
    largest = max((v for s in lines for v in s.values if v is not None), default=Decimal(0))
    top = _nice(largest)
    width = LINE_LEFT + LINE_WIDTH + 20
    height = LINE_TOP + LINE_HEIGHT + LINE_BOTTOM
    step = Decimal(LINE_WIDTH) / max(len(categories) - 1, 1)

    def x(i: int) -> Decimal:
        return LINE_LEFT + step * i if len(categories) > 1 else Decimal(LINE_LEFT + LINE_WIDTH // 2)

    def y(value: Decimal) -> Decimal:
        return LINE_TOP + LINE_HEIGHT - value * LINE_HEIGHT / top

    out = [f'<svg class="chart line-chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" '
           f'preserveAspectRatio="xMinYMin meet"><title id="{chart_id}-title">{escape(title)}</title>'
           f'<desc id="{chart_id}-desc">{escape(description)}</desc>']
    legend_x = LINE_LEFT
    for s in lines:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<line class="{s.css}" x1="{legend_x}" y1="12" x2="{legend_x + 22}" y2="12"{dash}/>'
                   f'<text x="{legend_x + 28}" y="16">{escape(s.name)}</text>')
        legend_x += 28 + 8 * len(s.name) + 24
    for k in range(TICKS + 1):
        value = top * k / TICKS
        out.append(f'<line class="grid" x1="{LINE_LEFT}" y1="{_at(y(value))}" x2="{LINE_LEFT + LINE_WIDTH}" '
                   f'y2="{_at(y(value))}"/><text class="label" x="{LINE_LEFT - 6}" y="{_at(y(value) + 4)}" '
                   f'text-anchor="end">{escape(shown(value))}</text>')
    every = max(1, -(-len(categories) // 12))  # at most twelve category labels, evenly spaced, the last one shown
    for i, name in enumerate(categories):
        if (len(categories) - 1 - i) % every == 0:
            out.append(f'<text class="label" x="{_at(x(i))}" y="{LINE_TOP + LINE_HEIGHT + 18}" '
                       f'text-anchor="middle">{escape(name)}</text>')
    for s in lines:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        points = [(x(i), y(v)) for i, v in enumerate(s.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{_at(px)},{_at(py)}" for px, py in points)
            out.append(f'<polyline class="{s.css}" fill="none" points="{path}"{dash}/>')
        for px, py in points:
            out.append(f'<circle class="{s.css}" cx="{_at(px)}" cy="{_at(py)}" r="3"/>')
    out.append("</svg>")
    return "".join(out)


def _nice(largest: Decimal) -> Decimal:
    """The axis' top: the largest value rounded up to 1, 2 or 5 times a power of ten (1 when all are zero)."""
    if largest <= 0:
        return Decimal(1)
    power = Decimal(10) ** (largest.adjusted())
    for factor in (1, 2, 5, 10):
        if power * factor >= largest:
            return power * factor
    return power * 10
