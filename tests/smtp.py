"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, a free port) that keeps what it gets.

Use the `smtp_server` fixture: point SMTP_HOST/SMTP_PORT at smtp_server.host/.port, then read
smtp_server.messages (parsed email.message.EmailMessage objects) or wait_for(n). Set
`refuse_rcpt` or `refuse_data` to an SMTP reply such as "451 4.3.0 Try again later" to make
the server refuse, and `hold_reply(seconds)` to make it wait that long before its reply to
the final dot, dropping the message if the client disconnects meanwhile (as servers that
queue a message only once they have answered do). `raw` holds each message's bytes as sent.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: accepts (or refuses) and parses every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse_rcpt: str | None = None
        self.refuse_data: str | None = None
        self.reply_delay = 0.0
        self.held = 0  # messages whose reply was held back (kept or dropped)
        self.raw: list[bytes] = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data:
            return self.refuse_data
        if self.reply_delay:
            with self._lock:
                self.held += 1
            # aiosmtpd cancels this coroutine when the client goes away: nothing is kept.
            await asyncio.sleep(self.reply_delay)
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.raw.append(envelope.original_content or envelope.content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SMTPServer:
    """A running aiosmtpd Controller and its Inbox."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname=self.host, port=self.port)

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        with self.inbox._lock:
            return list(self.inbox.messages)

    def refuse(self, *, rcpt: str | None = None, data: str | None = None) -> None:
        self.inbox.refuse_rcpt = rcpt
        self.inbox.refuse_data = data

    def hold_reply(self, seconds: float) -> None:
        self.inbox.reply_delay = seconds

    @property
    def held(self) -> int:
        with self.inbox._lock:
            return self.inbox.held

    @property
    def raw(self) -> list[bytes]:
        with self.inbox._lock:
            return list(self.inbox.raw)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[email.message.EmailMessage]:
        """Wait until `count` messages arrived; fails the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.05)
        raise AssertionError(f"expected {count} email(s) within {timeout} s, "
                             f"got {len(self.messages)}")

    def env(self) -> dict[str, str]:
        """Environment for a worker process that should send here."""
        return {"SMTP_HOST": self.host, "SMTP_PORT": str(self.port)}


@pytest.fixture
def smtp_server():
    server = SMTPServer()
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()
