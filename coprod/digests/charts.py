"""The digest's small charts, drawn as inline SVG on the server (no script, no colour needed).

Each chart is an <svg role="img"> labelled by its <title> and <desc>; the page puts a table
with the same figures right after it. Series differ by pattern (solid, hatched, dotted) and
are named in a written legend; every bar carries its number as text, so nothing is told by
colour alone, on screen or on paper.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from markupsafe import Markup

INK = "#1d2327"
BAR = 16          # thickness of one bar
GAP = 10          # between groups of bars
LABEL_WIDTH = 250  # room for the category names left of horizontal bars
LABEL_WRAP = 34    # characters per line of a category name (12px text)
PLOT = 260        # the longest bar
COLUMN = 44       # width of one period's column
HEIGHT = 140      # the tallest column
LEGEND = 26
FILLS = ("url(#{id}-solid)", "url(#{id}-hatched)", "url(#{id}-dotted)")


@dataclass
class Series:
    name: str
    values: list[int]


def _defs(ident: str) -> Markup:
    return Markup(
        '<defs>'
        '<pattern id="{i}-solid" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<rect width="6" height="6" fill="{ink}"/></pattern>'
        '<pattern id="{i}-hatched" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="{ink}" stroke-width="3"/></pattern>'
        '<pattern id="{i}-dotted" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<rect width="6" height="6" fill="#ffffff"/><circle cx="3" cy="3" r="1.3" fill="{ink}"/>'
        '</pattern></defs>').format(i=ident, ink=INK)


def _fill(ident: str, index: int) -> str:
    return FILLS[index % len(FILLS)].format(id=ident)


def _open(ident: str, title: str, desc: str, width: int, height: int) -> Markup:
    return Markup(
        '<svg class="digest-chart" role="img" aria-labelledby="{i}-title {i}-desc" '
        'viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{i}-title">{t}</title><desc id="{i}-desc">{d}</desc>').format(
            i=ident, t=title, d=desc, w=width, h=height) + _defs(ident)


def _legend_width(series: list[Series]) -> int:
    return sum(_legend_step(s) for s in series)


def _legend_step(s: Series) -> int:
    return 36 + 7 * len(s.name)


def _legend(ident: str, series: list[Series], y: int) -> Markup:
    parts, x = [], 0
    for index, s in enumerate(series):
        parts.append(Markup(
            '<rect x="{}" y="{}" width="14" height="14" fill="{}" stroke="{}"/>'
            '<text x="{}" y="{}" class="chart-text">{}</text>').format(
                x + 1, y + 1, _fill(ident, index), INK, x + 20, y + 12, s.name))
        x += _legend_step(s)
    return Markup("").join(parts)


def _label(text: str, x: int, middle: float) -> Markup:
    """A category name on one or two lines, centred on its bars."""
    rows = textwrap.wrap(text, LABEL_WRAP)[:2] or [""]
    top = middle + 4 - 7 * (len(rows) - 1)
    return Markup("").join(
        Markup('<text x="{}" y="{}" class="chart-text">{}</text>').format(x, top + 14 * i, row)
        for i, row in enumerate(rows))


def grouped_bars(ident: str, title: str, desc: str, categories: list[str],
                 series: list[Series]) -> Markup:
    """Horizontal bars: per category one bar per series, each with its number."""
    most = max([v for s in series for v in s.values] + [1])
    group = BAR * len(series) + GAP
    height = LEGEND + group * len(categories) + 4
    width = max(LABEL_WIDTH + PLOT + 40, _legend_width(series))
    parts = [_open(ident, title, desc, width, height), _legend(ident, series, 0)]
    for row, category in enumerate(categories):
        top = LEGEND + row * group
        parts.append(_label(category, 0, top + BAR * len(series) / 2))
        for index, s in enumerate(series):
            value = s.values[row]
            length = round(PLOT * value / most)
            y = top + index * BAR
            parts.append(Markup(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="{}"/>'
                '<text x="{}" y="{}" class="chart-number">{}</text>').format(
                    LABEL_WIDTH, y + 1, length, BAR - 2, _fill(ident, index), INK,
                    LABEL_WIDTH + length + 4, y + BAR - 4, value))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def stacked_columns(ident: str, title: str, desc: str, periods: list[str],
                    series: list[Series]) -> Markup:
    """One column per period, its series stacked, the total written above it."""
    totals = [sum(s.values[i] for s in series) for i in range(len(periods))]
    most = max(totals + [1])
    step = COLUMN + GAP
    width = max(step * len(periods), 260, _legend_width(series)) + 10
    base = LEGEND + 16 + HEIGHT
    height = base + 22
    parts = [_open(ident, title, desc, width, height), _legend(ident, series, 0)]
    for i, label in enumerate(periods):
        x = i * step + 4
        y = base
        for index, s in enumerate(series):
            size = round(HEIGHT * s.values[i] / most)
            if size:
                y -= size
                parts.append(Markup(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="{}"/>').format(
                        x, y, COLUMN, size, _fill(ident, index), INK))
        parts.append(Markup(
            '<text x="{}" y="{}" class="chart-number" text-anchor="middle">{}</text>'
            '<text x="{}" y="{}" class="chart-text" text-anchor="middle">{}</text>').format(
                x + COLUMN / 2, y - 4, totals[i], x + COLUMN / 2, base + 16, label))
    parts.append(Markup('<line x1="0" y1="{b}" x2="{w}" y2="{b}" stroke="{ink}"/>').format(
        b=base, w=width, ink=INK))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
