"""Charts drawn on the server as SVG: no script, readable without colour (each bar is labelled with its value),
and described for screen readers (`role="img"` with a title); the same figures are in a table beside it."""

from __future__ import annotations

from dataclasses import dataclass
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
