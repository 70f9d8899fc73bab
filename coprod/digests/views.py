"""Pages of a collaboration's learning digests: the history of past digests with their settings,
one digest as its reader may read it (printable), the coordinator's review, and the signed
unsubscribe link of the digest emails.

A digest named in a URL is loaded through the policy and must belong to the collaboration in
the URL (404 otherwise). What a digest shows comes from coprod/digests/reading.py, built only
from what the reader's class may read; every figure links to the reflections behind it where
the feed can show them.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import User
from coprod.digests import charts, forms, operations, periods, reading
from coprod.digests.models import Digest, DigestCadence, DigestPreference, DigestStatus
from coprod.digests.sending import unsubscribe_from_token
from coprod.extensions import csrf, db
from coprod.forms import attempt
from coprod.mail.unsubscribe import Subscription, unsubscribe_page
from coprod.markdown import render_markdown
from coprod.reflections.models import Kind
from coprod.spaces.models import Collaboration

bp = Blueprint("digests", __name__)

FORM_INVALID = 422
HISTORY_PAGE = 24


def _actor() -> policy.Actor:
    return policy.current_actor()


def _collaboration(collaboration_id: int, action: str = "read_digests") -> Collaboration:
    return policy.get_or_404(_actor(), Collaboration, collaboration_id, action)


def _digest(collab: Collaboration, digest_id: int, action: str = "read") -> Digest:
    return policy.get_in_collaboration(_actor(), Digest, digest_id, collab.id, action)


def feed_link(collab: Collaboration, period: reading.PeriodDays, **filters) -> str:
    """The feed narrowed to a period (its local days) and a kind, component, perspective or
    partner: the reflections behind a figure, as far as the reader may read them."""
    return url_for("reflections.feed", collaboration_id=collab.id,
                   since=period.first.isoformat(), until=period.last.isoformat(),
                   **{k: v for k, v in filters.items() if v is not None})


@bp.context_processor
def _helpers():
    return {"feed_link": feed_link, "evidence_item": reading.evidence_item}


def digest_emails() -> list[tuple[Collaboration, bool]]:
    """Each collaboration whose digests the member reads, and whether they get them by email:
    the profile's email settings list them (one place for every email setting)."""
    from coprod.spaces import queries

    actor = _actor()
    return [(c, operations.gets_email(actor, c)) for c in queries.my_collaborations(actor)
            if not c.is_archived and policy.may(actor, "read_digests", c)]


@bp.app_context_processor
def _profile_helpers():
    return {"digest_emails": digest_emails}


# -- the history and the settings -----------------------------------------------------------

def _index_page(collab: Collaboration, settings_form=None, status=200):
    actor = _actor()
    digests = list(db.session.scalars(
        policy.scoped(actor, Digest).where(Digest.collaboration_id == collab.id)
        .order_by(Digest.period_start.desc()).limit(HISTORY_PAGE)))
    rows = [{"digest": d, "period": reading.local_days(collab, d.period_start, d.period_end),
             "figures": reading.headline(actor, d)} for d in digests]
    can_configure = policy.may(actor, "digest_settings", collab)
    settings = periods.settings_of(collab)
    if can_configure and settings_form is None:
        settings_form = forms.SettingsForm()
        settings_form.fill_from(settings)
    return render_template(
        "digests/index.html", collaboration=collab, current="digests", rows=rows,
        settings=settings, cadence_label=DigestCadence(settings.cadence).label,
        settings_form=settings_form if can_configure else None,
        gets_email=operations.gets_email(actor, collab)), status


@bp.get("/c/<int:collaboration_id>/digests")
@login_required
def index(collaboration_id: int):
    """Past digests with their headline figures for this reader; coordinators' settings."""
    return _index_page(_collaboration(collaboration_id))


@bp.post("/c/<int:collaboration_id>/digests/settings")
@login_required
def settings(collaboration_id: int):
    collab = _collaboration(collaboration_id, "digest_settings")
    form = forms.SettingsForm()
    if not form.validate():
        return _index_page(collab, form, FORM_INVALID)
    outcome = attempt(form, operations.update_settings, _actor(), collab, **form.settings_data(),
                      aliases={"send_automatically": "delivery"})
    if not outcome.ok:
        return _index_page(collab, form, outcome.status)
    flash(_("The digest settings are saved."), "success")
    return redirect(url_for(".index", collaboration_id=collab.id))


@bp.post("/c/<int:collaboration_id>/digests/email")
@login_required
def email(collaboration_id: int):
    """A member asks for the digests by email, or stops them."""
    collab = _collaboration(collaboration_id)
    wanted = request.form.get("email") == "on"
    operations.set_email(_actor(), collab, wanted)
    flash(_("You get the digests by email.") if wanted
          else _("You no longer get the digests by email."), "success")
    if request.form.get("back") == "profile":
        return redirect(url_for("accounts.profile") + "#digest-emails-heading")
    return redirect(url_for(".index", collaboration_id=collab.id))


# -- one digest -----------------------------------------------------------------------------

def _charts(read: reading.Reading) -> dict:
    labels = [format_date(p.first, "d MMM") for p in (t["period"] for t in read.trend)]
    kinds = [str(Kind.WORKS.label), str(Kind.IMPROVE.label)]
    return {
        "trend": charts.stacked_columns(
            "chart-trend", _("Reflections per period"),
            _("Reflections you may read per period, oldest first, split into what works and "
              "what must improve; the table below has the figures."), labels,
            [charts.Series(kinds[0], [t["works"] for t in read.trend]),
             charts.Series(kinds[1], [t["improve"] for t in read.trend])]),
        "kind_component": charts.grouped_bars(
            "chart-components", _("What works and what must improve, per component"),
            _("Reflections of this period per component of the collaboration; the table "
              "below has the figures."), [r["label"] for r in read.kind_component],
            [charts.Series(kinds[0], [r["works"] for r in read.kind_component]),
             charts.Series(kinds[1], [r["improve"] for r in read.kind_component])]),
        "perspectives": charts.stacked_columns(
            "chart-perspectives", _("Perspectives per period"),
            _("Reflections per period by whose perspective they take, oldest first; the table "
              "below has the figures."), labels,
            [charts.Series(p["label"], p["trend"]) for p in read.perspectives]),
    }


def _show_page(collab: Collaboration, digest: Digest, review_form=None, status=200):
    actor = _actor()
    read = reading.read(actor, digest, collab)
    can_review = (digest.status == DigestStatus.BUILT and policy.may(actor, "review", digest))
    if can_review and review_form is None:
        review_form = forms.ReviewForm()
        review_form.note.data = digest.note
    note_by = db.session.get(User, digest.note_by_id) if digest.note_by_id else None
    return render_template(
        "digests/show.html", collaboration=collab, current="digests", digest=digest, read=read,
        charts=_charts(read), note_html=render_markdown(digest.note) if digest.note else None,
        note_by=note_by, review_form=review_form if can_review else None), status


@bp.get("/c/<int:collaboration_id>/digests/<int:digest_id>")
@login_required
def show(collaboration_id: int, digest_id: int):
    """The digest for this reader: participation, trends, themes, actions, barriers, note."""
    collab = _collaboration(collaboration_id)
    return _show_page(collab, _digest(collab, digest_id))


@bp.post("/c/<int:collaboration_id>/digests/<int:digest_id>/review")
@login_required
def review(collaboration_id: int, digest_id: int):
    """A coordinator saves the note, or saves it and sends the digest."""
    collab = _collaboration(collaboration_id)
    digest = _digest(collab, digest_id, "review")
    form = forms.ReviewForm()
    if not form.validate():
        return _show_page(collab, digest, form, FORM_INVALID)
    sends = bool(form.send.data)
    op = operations.send_digest if sends else operations.save_note
    outcome = attempt(form, op, _actor(), digest, form.note.data)
    if not outcome.ok:
        return _show_page(collab, digest, form, outcome.status)
    flash(_("The digest is sent.") if sends else _("The note is saved."), "success")
    return redirect(url_for(".show", collaboration_id=collab.id, digest_id=digest.id))


# -- the unsubscribe link of the emails -----------------------------------------------------

@bp.route("/digests/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # checked below, except for the one-click POST, which the token authenticates
def unsubscribe(token: str):
    """GET shows the button; POST stops the digest emails (or starts them again)."""
    return unsubscribe_page(token, _subscription)


def _subscription(token: str) -> Subscription | None:
    found = unsubscribe_from_token(token)
    collab = db.session.get(Collaboration, found[0]) if found else None
    user = db.session.get(User, found[1]) if found else None
    if collab is None or user is None:
        return None
    return Subscription(
        "digests/unsubscribe.html",
        is_off=lambda: db.session.scalar(select(DigestPreference.email).where(
            DigestPreference.collaboration_id == collab.id,
            DigestPreference.user_id == user.id)) is False,
        turn_off=lambda: operations.store_preference(collab.id, user.id, False),
        turn_on=lambda: operations.store_preference(collab.id, user.id, True),
        context={"collaboration": collab})
