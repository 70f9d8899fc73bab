"""Turn an outbox row into a MIME message and deliver it: SMTP, or an .eml file when embedded."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from flask import current_app

from coprod.mail.models import OutboxEmail

# Errors worth trying again later; anything else marks the row failed at once.
TRANSIENT_ERRORS = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError,
                    TimeoutError, OSError)


def build_message(row: OutboxEmail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = row.to_address
    msg["Subject"] = row.subject
    msg["Message-ID"] = row.message_id
    msg["Date"] = format_datetime(row.created_at)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    return msg


def deliver(row: OutboxEmail) -> None:
    """Send one message through the configured backend; raises on failure."""
    msg = build_message(row)
    cfg = current_app.config
    if cfg["SMTP_HOST"]:
        with smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"]) as s:
            if cfg["SMTP_STARTTLS"]:
                s.starttls()
            if cfg["SMTP_USERNAME"]:
                s.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
            s.send_message(msg)
        return
    folder = Path(cfg["MAIL_FILE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{row.created_at:%Y%m%dT%H%M%S}-{row.id}.eml"
    tmp = folder / (name + ".tmp")
    tmp.write_bytes(bytes(msg))
    tmp.replace(folder / name)
