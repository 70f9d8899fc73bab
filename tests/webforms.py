"""The forms of a page as a browser sees them, and what a browser would send for them.

Tests that must cover every form of the site read the forms from the pages that show them
(so a new form is covered where it appears) and send what a user would: each field's value
as the page has it, blank text filled in, a choice picked where none is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

TEXT = "Handovers work when we phone first"
TEXT_KINDS = ("text", "search", "textarea", "email", "password", "date", "time", "number",
              "url", "tel")


@dataclass
class Field:
    name: str
    kind: str  # an <input> type, "textarea" or "select"
    value: str = ""
    checked: bool = False
    options: list[str] = field(default_factory=list)
    required: bool = False


@dataclass
class PageForm:
    action: str
    fields: list[Field] = field(default_factory=list)

    @property
    def path(self) -> str:
        return urlsplit(self.action).path

    def names(self, *kinds: str) -> list[str]:
        return [f.name for f in self.fields if not kinds or f.kind in kinds]

    def data(self, **overrides) -> dict[str, list[str]]:
        """What a user would send: the page's values, required blanks filled in, a choice
        where none is picked; `overrides` (name=value or name=[values], None drops it)."""
        sent: dict[str, list[str]] = {}
        radios: dict[str, Field] = {}
        for f in self.fields:
            if f.kind == "submit":
                continue
            if f.kind in ("checkbox", "radio"):
                if f.checked:
                    sent.setdefault(f.name, []).append(f.value)
                elif f.kind == "radio":
                    radios.setdefault(f.name, f)
                continue
            value = f.value
            if f.kind == "select" and not value:
                value = f.options[0] if f.options else ""  # what a browser sends
            elif not value.strip() and (f.required or f.kind in ("textarea", "text")):
                value = _filled(f)
            sent.setdefault(f.name, []).append(value)
        for name, first in radios.items():
            sent.setdefault(name, [first.value])
        for name, value in overrides.items():
            name = name.replace("__", "-")
            if value is None:
                sent.pop(name, None)
            else:
                sent[name] = value if isinstance(value, list) else [value]
        return sent


def _filled(f: Field) -> str:
    if f.kind == "email":
        return "new.member@example.org"
    if f.kind == "date":
        return (date.today() + timedelta(days=30)).isoformat()
    if f.kind == "time":
        return "09:00"
    if f.kind == "number":
        return "3"
    return TEXT


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[PageForm] = []
        self._form: PageForm | None = None
        self._text: Field | None = None  # a <textarea> or <option> being read
        self._select: Field | None = None
        self._option: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if (a.get("method") or "get").lower() == "post":
                self._form = PageForm(a.get("action") or "")
                self.forms.append(self._form)
            return
        if self._form is None or ("name" not in a and tag != "option"):
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            default = "on" if kind in ("checkbox", "radio") else ""
            self._form.fields.append(Field(a["name"], kind, a.get("value") or default,
                                           "checked" in a, required="required" in a))
        elif tag == "textarea":
            self._text = Field(a["name"], "textarea", required="required" in a)
            self._form.fields.append(self._text)
        elif tag == "select":
            self._select = Field(a["name"], "select", required="required" in a)
            self._form.fields.append(self._select)
        elif tag == "button" and a.get("type", "submit") == "submit":
            self._form.fields.append(Field(a["name"], "submit", a.get("value") or ""))
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]

    def handle_data(self, data):
        if self._text is not None:
            self._text.value += data
        if self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            if self._text is not None:  # a browser drops the newline after <textarea>
                self._text.value = self._text.value.removeprefix("\r").removeprefix("\n")
            self._text = None
        elif tag == "select":
            self._select = None
        elif tag == "option" and self._option is not None and self._select is not None:
            value, selected, text = self._option
            value = text.strip() if value is None else value
            self._select.options.append(value)
            if selected:
                self._select.value = value
            self._option = None


def forms_of(html: str) -> list[PageForm]:
    """The POST forms of a page."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class _Errors(HTMLParser):
    """Text of the elements of class "error" (a field's message, id "<field id>-error")."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}
        self._open: list[str | None] = []  # per open tag: the error's key, or None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("input", "br", "img", "meta", "link", "hr"):
            return
        is_error = "error" in (a.get("class") or "").split()
        key = (a.get("id") or f"error-{len(self.found)}") if is_error else None
        if key is not None:
            self.found[key] = ""
        self._open.append(key)

    def handle_endtag(self, tag):
        if self._open and tag not in ("input", "br", "img", "meta", "link", "hr"):
            self._open.pop()

    def handle_data(self, data):
        for key in self._open:
            if key is not None:
                self.found[key] += data


def errors_of(html: str) -> dict[str, str]:
    """The page's error messages by element id ("title-error" for the field "title")."""
    parser = _Errors()
    parser.feed(html)
    return {key: " ".join(text.split()) for key, text in parser.found.items()}
