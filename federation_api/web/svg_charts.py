"""Bar charts drawn on the server as inline SVG: no script, no image request, no library.

A chart is a picture of a table the page also shows, so it is `role="img"` with a `<title>`
and a `<desc>` that say what it shows and where the numbers are (the table is the text
equivalent); screen readers read those and skip the drawing. Every label goes through
markupsafe's escape, like the templates' autoescaping: a chart never carries markup from data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 220
PLOT_WIDTH = 360
VALUE_WIDTH = 90


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its length (in the chart's unit) and the text printed after it."""

    label: str
    value: float
    shown: str


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar],
              *, scale_to: float | None = None) -> Markup:
    """A horizontal bar chart; bars are drawn against the largest value (or `scale_to`,
    e.g. 1.0 for rates), so equal values give equal bars across charts of one scale."""
    top = max([scale_to or 0.0, *(b.value for b in bars)]) or 1.0
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    # Markup.format escapes every argument: the literal templates are the only markup.
    parts = [Markup('<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
                    'viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
                    'aria-labelledby="{id}-title {id}-desc">'
                    '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
                    ).format(w=width, h=height, id=chart_id, title=title, desc=description)]
    if not bars:
        parts.append(Markup('<text x="0" y="{y}" font-size="14">No data yet.</text>').format(
            y=BAR_HEIGHT))
    for i, bar in enumerate(bars):
        y = GAP + i * (BAR_HEIGHT + GAP)
        length = round(PLOT_WIDTH * max(bar.value, 0.0) / top, 1)
        parts.append(Markup(
            '<text x="{lx}" y="{ty}" text-anchor="end" font-size="14" fill="#1b1b1b">{label}'
            '</text><rect x="{x}" y="{y}" width="{length}" height="{bh}" fill="#1d5d90"/>'
            '<text x="{vx}" y="{ty}" font-size="14" fill="#1b1b1b">{shown}</text>').format(
                lx=LABEL_WIDTH - 8, ty=round(y + BAR_HEIGHT * 0.7, 1), label=bar.label,
                x=LABEL_WIDTH, y=y, length=length, bh=BAR_HEIGHT,
                vx=round(LABEL_WIDTH + length + 6, 1), shown=bar.shown))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
