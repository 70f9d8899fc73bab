"""Reading what a page shows, the way a person would: its text and the error next to a field."""

from __future__ import annotations

import html
import re


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_of(response, field_id: str) -> str | None:
    """The error shown next to a field (by the field macro), or None."""
    found = re.search(rf'id="{re.escape(field_id)}-error">(.*?)</p>',
                      response.get_data(as_text=True), re.S)
    return html.unescape(found.group(1)).strip() if found else None


def text_of_page(response) -> str:
    """The visible text of a page, tags removed and spaces collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()
