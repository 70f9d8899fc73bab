"""Bulk invitations: a CSV of people (email, name, partner, role), checked row by row, then
the valid rows invited at once, one email each.

Upload, preview, send: the upload is kept as an InvitationBatch (its rows as read), the
preview shows each row's problem, and sending marks the batch sent in the same transaction as
its invitations, with a conditional UPDATE, so a second submit (a double click, a reload)
sends nothing twice. The API takes the same rows as CSV or JSON, with a dry run that answers
the preview.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ForeignKey, String, Text, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from coprod.common import UTCDateTime, utcnow
from coprod.extensions import db

COLUMNS = ("email", "name", "partner", "role")
# A preview nobody sent is dropped after this long.
PREVIEW_LIFETIME = timedelta(days=1)


class InvitationBatch(db.Model):
    """An uploaded list of people to invite: previewed, then sent once."""

    __tablename__ = "invitation_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    # The rows as read from the file: a JSON list of {"line", "email", "name", "partner",
    # "role"}, plus {"too_many": n} rows beyond the limit.
    rows_json: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # After sending: each row's outcome (an invitation id or its problems), as JSON.
    report_json: Mapped[str | None] = mapped_column(Text)
