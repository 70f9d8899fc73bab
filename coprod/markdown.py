"""Markdown for what members write: CommonMark without raw HTML, then sanitized with nh3.

Two layers on purpose: the parser never passes HTML through, and nh3 removes whatever a
parser bug or a crafted link might still let in (scripts, event attributes, javascript: URLs).
"""

from __future__ import annotations

import functools
import html

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_parser.enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"},
                      "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


# Rendering is a pure function of the text, and every page shows again what earlier pages
# showed (the feed's twenty excerpts, a thread's replies): a worker keeps its latest answers.
RENDERED_KEPT = 2048


@functools.lru_cache(maxsize=RENDERED_KEPT)
def render_markdown(text: str) -> Markup:
    """Safe HTML for a member's Markdown; links get rel=noopener noreferrer nofollow."""
    html = _parser.render(text or "")
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                      url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow")
    return Markup(clean)  # noqa: S704  (sanitized by nh3 just above)


@functools.lru_cache(maxsize=RENDERED_KEPT)
def plain_excerpt(text: str, length: int = 200) -> str:
    """A one-line excerpt of Markdown for lists and emails (no markup at all)."""
    flat = " ".join(html.unescape(nh3.clean(_parser.render(text or ""), tags=set())).split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"
