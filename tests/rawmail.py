"""Emails as bytes: what a mail client reads, before any parser decodes it.

A parsed header hides how it was written (an RFC 2047-encoded List-Unsubscribe parses back
to the URL, yet no client offers a one-click unsubscribe from it), so the tests of such
headers read the raw message.
"""

from __future__ import annotations

import re
from pathlib import Path


def raw_of(app, message) -> bytes:
    """The bytes of the .eml file (written by the `outbox` fixture) holding `message`."""
    wanted = message["Message-ID"].encode()
    found = [raw for raw in (p.read_bytes() for p in Path(app.config["MAIL_FILE_DIR"])
                             .glob("*.eml")) if b"\nMessage-ID: " + wanted in b"\n" + raw]
    assert len(found) == 1, f"{len(found)} .eml files hold {message['Message-ID']}"
    return found[0]


def header_section(raw: bytes) -> bytes:
    return re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0] + b"\n"


def assert_one_click_unsubscribe(raw: bytes, link: str) -> None:
    """List-Unsubscribe is `<link>` as it is, plain ASCII on one line, with RFC 8058's
    List-Unsubscribe-Post next to it."""
    headers = header_section(raw)
    expected = b"List-Unsubscribe: <" + link.encode("ascii") + b">"
    lines = re.findall(rb"(?m)^List-Unsubscribe:.*\r?\n(?:[ \t].*\r?\n)*", headers)
    assert len(lines) == 1, headers.decode("ascii", "replace")
    assert lines[0].rstrip(b"\r\n") == expected, lines[0]
    assert re.search(rb"(?m)^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?\n(?![ \t])",
                     headers), headers.decode("ascii", "replace")
