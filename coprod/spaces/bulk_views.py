"""Invite many at once: upload a CSV on the invitations page, see each row's problem, send
the valid rows with one POST. The pages of coprod/accounts/bulk.py; their writes are
committed by coprod.web.commits_once once the answer is made."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy import select

from coprod import policy
from coprod.accounts import bulk
from coprod.extensions import db
from coprod.spaces.forms import BulkInviteForm, BulkSendForm
from coprod.spaces.models import Collaboration

bp = Blueprint("bulk_invitations", __name__, url_prefix="/c/<int:collaboration_id>/invitations")


@bp.before_request
@login_required
def _require_login():
    """Every page needs a logged-in user."""


def _collaboration(collaboration_id: int, action: str) -> Collaboration:
    return policy.get_or_404(policy.current_actor(), Collaboration, collaboration_id, action)


def _batch(collaboration: Collaboration, batch_id: int) -> bulk.InvitationBatch:
    """A batch of this collaboration (404 for another's, or one that is gone)."""
    batch = db.session.scalar(select(bulk.InvitationBatch).where(
        bulk.InvitationBatch.id == batch_id,
        bulk.InvitationBatch.collaboration_id == collaboration.id))
    if batch is None:
        abort(404)
    return batch


def _upload_page(collaboration, form, status=200):
    return render_template("spaces/bulk_upload.html", collaboration=collaboration, form=form,
                           max_rows=bulk.max_rows(), max_kib=bulk.max_bytes() // 1024,
                           current="invitations"), status


@bp.get("/bulk")
def upload_form(collaboration_id: int):
    return _upload_page(_collaboration(collaboration_id, "invite"), BulkInviteForm())


@bp.post("/bulk")
def upload(collaboration_id: int):
    """Read the file and keep its rows for the preview; a file that cannot be read is said
    next to the field."""
    collaboration = _collaboration(collaboration_id, "invite")
    form = BulkInviteForm()
    if not form.validate_on_submit():
        return _upload_page(collaboration, form, 422)
    upload = form.file.data
    data = upload.stream.read(bulk.max_bytes() + 1)
    try:
        rows = bulk.read_csv(data)
    except bulk.UploadError as err:
        form.file.errors = [*form.file.errors, err.message]
        return _upload_page(collaboration, form, err.status)
    batch = bulk.create_batch(policy.current_actor(), collaboration, rows,
                              upload.filename or "")
    return redirect(url_for(".batch", collaboration_id=collaboration.id, batch_id=batch.id))


@bp.get("/bulk/<int:batch_id>")
def batch(collaboration_id: int, batch_id: int):
    """Before sending: each row and its problem, checked now. After: what became of each."""
    collaboration = _collaboration(collaboration_id, "read_invitations")
    batch = _batch(collaboration, batch_id)
    if batch.sent_at is not None:
        rows = bulk.report_rows(batch)
        sent = sum(1 for row in rows if row.invitation_id)
        return render_template("spaces/bulk_batch.html", collaboration=collaboration,
                               batch=batch, rows=rows, valid=sent, form=None,
                               current="invitations")
    if not policy.may(policy.current_actor(), "invite", collaboration):
        abort(403)
    rows = bulk.check_rows(collaboration, bulk.batch_rows(batch))
    return render_template("spaces/bulk_batch.html", collaboration=collaboration, batch=batch,
                           rows=rows, valid=bulk.count_valid(rows), form=BulkSendForm(),
                           current="invitations")


@bp.post("/bulk/<int:batch_id>/send")
def send(collaboration_id: int, batch_id: int):
    """Invite the valid rows, once: a second submit of the same preview sends nothing."""
    collaboration = _collaboration(collaboration_id, "invite")
    batch = _batch(collaboration, batch_id)
    if not BulkSendForm().validate_on_submit():
        abort(400)
    report = url_for(".batch", collaboration_id=collaboration.id, batch_id=batch.id)
    rows = bulk.send_batch(policy.current_actor(), collaboration, batch)
    if rows is None:
        db.session.rollback()
        flash(_("These invitations were already sent."), "info")
    else:
        sent = sum(1 for row in rows if row.invitation_id)
        left = len(rows) - sent
        message = ngettext("We emailed %(num)d invitation.", "We emailed %(num)d invitations.",
                           sent)
        if left:
            message += " " + ngettext("%(num)d row was left out.", "%(num)d rows were left out.",
                                      left)
        flash(message, "success")
    return redirect(report)
