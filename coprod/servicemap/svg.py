"""The service map drawn as inline SVG on the server: activities as numbered steps, left to
right and wrapping into rows, with who performs each one and which information flows there.

Readable without colour: co-produced steps carry a written marker and a hatched pattern, flows
are written out as "from → to: categories" with an arrow, and the whole drawing has a <title>
and a <desc>. The page next to it has the same content as an ordered list.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup

from coprod.servicemap.models import Activity, InformationFlow

COLUMNS = 3
BOX_WIDTH = 300
GAP = 48
PAD = 16
LINE = 20
INSET = 12
WRAP = 38  # characters per line inside a box (13px text)
NAME_WRAP = 32  # the step's name is larger and bold


@dataclass
class Line:
    text: str
    css: str = "map-text"


def flow_text(flow: InformationFlow) -> str:
    """ "Job centre → Café: contact details, support needs" """
    categories = ", ".join(c.name for c in flow.categories)
    return f"{flow.from_partner.name} → {flow.to_partner.name}: {categories}"


def _wrapped(text: str, css: str, indent: str = "", width: int = WRAP) -> list[Line]:
    """One text as lines that fit in a box (a hanging indent after the first)."""
    rows = textwrap.wrap(text, width, subsequent_indent=indent) or [""]
    return [Line(row, css) for row in rows]


def step_lines(activity: Activity) -> list[Line]:
    """What one step shows, top to bottom."""
    lines = _wrapped(f"{activity.position}. {activity.name}", "map-name", "   ", NAME_WRAP)
    if activity.co_produced:
        lines.append(Line("◆ " + _("Co-produced with citizens"), "map-marker"))
    lines.append(Line(_("Performed by:"), "map-label"))
    if activity.performers:
        for partner in activity.performers:
            lines += _wrapped("• " + partner.name, "map-text", "  ")
    else:
        lines.append(Line(_("nobody yet"), "map-muted"))
    if activity.flows:
        lines.append(Line(_("Information flows:"), "map-label"))
        for flow in activity.flows:
            lines += _wrapped("➝ " + flow_text(flow), "map-flow", "   ")
    return lines


def summary(activities: list[Activity]) -> str:
    """The drawing's description: how many steps, co-produced ones, and flows."""
    co = sum(1 for a in activities if a.co_produced)
    flows = sum(len(a.flows) for a in activities)
    return " ".join([
        ngettext("%(num)d activity in order,", "%(num)d activities in order,", len(activities)),
        ngettext("%(num)d of them co-produced with citizens,",
                 "%(num)d of them co-produced with citizens,", co),
        ngettext("%(num)d information flow.", "%(num)d information flows.", flows),
        _("The same map follows as a list."),
    ])


def _box(activity: Activity, lines: list[Line], x: int, y: int, height: int) -> Markup:
    """One step: a framed box (hatched when co-produced) and its lines of text."""
    fill = "url(#map-coproduced)" if activity.co_produced else "#ffffff"
    dash = "8 4" if activity.co_produced else "none"
    parts = [Markup(
        '<g class="map-step{}"><rect x="{}" y="{}" width="{}" height="{}" rx="8" fill="{}" '
        'stroke="#1d2327" stroke-width="2" stroke-dasharray="{}"/>').format(
            " map-step-coproduced" if activity.co_produced else "", x, y, BOX_WIDTH, height,
            fill, dash)]
    for i, line in enumerate(lines):
        parts.append(Markup('<text x="{}" y="{}" class="{}">{}</text>').format(
            x + INSET, y + INSET + LINE * (i + 1) - 4, line.css, line.text))
    parts.append(Markup("</g>"))
    return Markup("").join(parts)


def _arrow(x1: int, y1: int, x2: int, y2: int) -> Markup:
    return Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" class="map-next" stroke="#1d2327" '
                  'stroke-width="2" marker-end="url(#map-arrow)"/>').format(x1, y1, x2, y2)


def _turn(x1: int, y1: int, x2: int, y2: int) -> Markup:
    """From the bottom of a row's last step to the top of the next row's first step."""
    middle = y1 + GAP // 2
    return Markup('<path d="M{} {} V{} H{} V{}" fill="none" stroke="#1d2327" stroke-width="2" '
                  'marker-end="url(#map-arrow)"/>').format(x1, y1, middle, x2, y2)


DEFS = Markup(
    '<defs><pattern id="map-coproduced" width="10" height="10" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="10" height="10" fill="#ffffff"/>'
    '<line x1="0" y1="0" x2="0" y2="10" stroke="#c9d1d8" stroke-width="4"/></pattern>'
    '<marker id="map-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
    'markerHeight="8" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" '
    'fill="#1d2327"/></marker></defs>')


def render(activities: list[Activity], title: str, ident: str = "service-map") -> Markup:
    """The whole map as an <svg role="img"> labelled by its title and description."""
    lines = [step_lines(a) for a in activities]
    rows = [list(range(i, min(i + COLUMNS, len(activities))))
            for i in range(0, len(activities), COLUMNS)]
    heights = [max(len(lines[i]) for i in row) * LINE + 2 * INSET for row in rows]
    width = 2 * PAD + COLUMNS * BOX_WIDTH + (COLUMNS - 1) * GAP
    height = 2 * PAD + sum(heights) + GAP * max(len(rows) - 1, 0) if rows else 2 * PAD + LINE
    body, tops, y = [], [], PAD
    for row, row_height in zip(rows, heights, strict=True):
        tops.append(y)
        for column, index in enumerate(row):
            x = PAD + column * (BOX_WIDTH + GAP)
            body.append(_box(activities[index], lines[index], x, y, row_height))
            if column:
                body.append(_arrow(x - GAP, y + LINE, x - 2, y + LINE))
        y += row_height + GAP
    for r in range(1, len(rows)):
        last_x = PAD + (len(rows[r - 1]) - 1) * (BOX_WIDTH + GAP) + BOX_WIDTH // 2
        body.append(_turn(last_x, tops[r - 1] + heights[r - 1], PAD + BOX_WIDTH // 2,
                          tops[r] - 2))
    if not activities:
        body.append(Markup('<text x="{}" y="{}" class="map-muted">{}</text>').format(
            PAD, PAD + LINE, _("No activities yet.")))
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="service-map" role="img" '
        'viewBox="0 0 {w} {h}" width="100%" aria-labelledby="{i}-title {i}-desc">'
        '<title id="{i}-title">{title}</title><desc id="{i}-desc">{desc}</desc>{defs}{body}'
        '</svg>').format(w=width, h=height, i=ident, title=title, desc=summary(activities),
                         defs=DEFS, body=Markup("").join(body))
