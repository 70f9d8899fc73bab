"""Staff pages of a collaboration's citizens: the list, a citizen's record, their consents
(recorded, changed and withdrawn on their behalf), the audit of who read what, and erasure.

Every citizen and consent named in a URL is loaded through the policy and must belong to the
collaboration in the URL: what the user may not read answers 404 (a partner without a need to
know does not learn the citizen exists), a change the user may not make answers 403. The name
and details appear only where the policy allows reading the identity. Refused input re-renders
the form with the reason next to the field, keeping what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import Forbidden

from coprod import policy
from coprod.citizens import forms, operations
from coprod.citizens.models import AuditEvent, Citizen, Consent
from coprod.common import utcnow
from coprod.extensions import db
from coprod.forms import attempt
from coprod.inputs import page_number
from coprod.policy.consent import known_categories
from coprod.reflections.queries import collaboration_today
from coprod.servicemap import queries as servicemap
from coprod.spaces import queries as spaces
from coprod.spaces.models import Collaboration, Partner

bp = Blueprint("citizens", __name__)

FORM_INVALID = 422
CHANGED_MEANWHILE = 409
AUDIT_PAGE = 50


@bp.before_request
@login_required
def _require_login():
    """Every page of a citizen needs a logged-in user."""


# -- helpers --------------------------------------------------------------------------------

def _actor() -> policy.Actor:
    return policy.current_actor()


def _collaboration(collaboration_id: int, action: str = "read") -> Collaboration:
    """The collaboration in the URL (404 for non-members), checked for `action` (403)."""
    collab = policy.get_or_404(_actor(), Collaboration, collaboration_id)
    if action != "read" and not policy.may(_actor(), action, collab):
        abort(403, description=_denied(collab))
    return collab


def _denied(collab: Collaboration) -> str:
    if collab.is_archived:
        return _("This collaboration is archived: nothing in it changes until it is reopened.")
    return _("Your role in this collaboration does not allow this.")


def _citizen(collab: Collaboration, citizen_id: int, action: str = "read") -> Citizen:
    """A citizen of this very collaboration the user may read (404), checked for `action`."""
    try:
        return policy.get_in_collaboration(_actor(), Citizen, citizen_id, collab.id, action)
    except Forbidden:
        abort(403, description=_denied(collab))


def _consent(collab: Collaboration, citizen: Citizen, consent_id) -> Consent:
    """A consent record of this very citizen the user may read; 404 otherwise."""
    consent = policy.get_in_collaboration(_actor(), Consent, consent_id, collab.id)
    if consent.citizen_id != citizen.id:
        abort(404)
    return consent


def _to_citizen(collab: Collaboration, citizen: Citizen, anchor: str | None = None):
    return redirect(url_for(".show", collaboration_id=collab.id, citizen_id=citizen.id,
                            _anchor=anchor))


def _zone(collab: Collaboration):
    try:
        return ZoneInfo(collab.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def consent_days(collab: Collaboration, consent: Consent) -> tuple[date, date | None]:
    """A consent's period as the collaboration's local days: the first and the last included
    (the reverse of operations.period)."""
    zone = _zone(collab)
    first = consent.starts_at.astimezone(zone).date()
    if consent.ends_at is None:
        return first, None
    return first, (consent.ends_at.astimezone(zone) - timedelta(days=1)).date()


@dataclass
class Need:
    """A partner organization with a need to know of the citizen, why, and what it may know
    now (the categories a consent in force covers)."""

    partner: Partner
    reasons: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)


def need_to_know(citizen: Citizen, categories) -> list[Need]:
    """From the service map: the partners that perform an activity of the citizen's service or
    receive an information flow at one, with the reasons in words."""
    needs: dict[int, Need] = {}
    for activity in citizen.activities:
        step = f"{activity.position}. {activity.name}"
        for partner in activity.performers:
            needs.setdefault(partner.id, Need(partner)).reasons.append(
                _("performs “%(activity)s”", activity=step))
        for flow in activity.flows:
            needs.setdefault(flow.to_partner_id, Need(flow.to_partner)).reasons.append(
                _("receives %(categories)s from %(partner)s at “%(activity)s”",
                  categories=", ".join(c.name for c in flow.categories),
                  partner=flow.from_partner.name, activity=step))
    now = utcnow()
    for need in needs.values():
        ids = known_categories(citizen, need.partner.id, now)
        need.known = [c.name for c in categories if c.id in ids]
    return sorted(needs.values(), key=lambda n: n.partner.name.lower())


# -- the list -------------------------------------------------------------------------------

@bp.get("/c/<int:collaboration_id>/citizens")
def index(collaboration_id: int):
    """The citizens the user may know of: pseudonyms, names only where the policy allows."""
    collab = _collaboration(collaboration_id, "list_citizens")
    actor = _actor()
    rows = db.session.execute(
        select(Citizen, policy.where(actor, Citizen, "read_identity").label("identified"))
        .where(policy.where(actor, Citizen, "read"), Citizen.collaboration_id == collab.id)
        .order_by(Citizen.erased_at.is_not(None), func.lower(Citizen.pseudonym), Citizen.id)
        .options(selectinload(Citizen.activities))).all()
    return render_template("citizens/list.html", collaboration=collab, current="citizens",
                           rows=rows)


# -- a citizen's record ---------------------------------------------------------------------

def _citizen_form(collab: Collaboration, **kwargs) -> forms.CitizenForm:
    return forms.CitizenForm(activities=servicemap.activities_of(_actor(), collab), **kwargs)


def _citizen_page(collab, form, citizen=None, status=200):
    return render_template("citizens/form.html", collaboration=collab, current="citizens",
                           form=form, citizen=citizen), status


@bp.route("/c/<int:collaboration_id>/citizens/new", methods=["GET", "POST"])
def new(collaboration_id: int):
    """Coordinators record a citizen the collaboration serves."""
    collab = _collaboration(collaboration_id, "add_citizen")
    form = _citizen_form(collab)
    if not form.is_submitted():
        return _citizen_page(collab, form)
    if not form.validate():
        return _citizen_page(collab, form, status=FORM_INVALID)
    outcome = attempt(form, operations.create_citizen, _actor(), collab, **form.citizen_data(),
                      aliases=forms.CITIZEN_ALIASES)
    if not outcome.ok:
        return _citizen_page(collab, form, status=outcome.status)
    flash(_("The citizen “%(pseudonym)s” is recorded.", pseudonym=outcome.value.pseudonym),
          "success")
    return _to_citizen(collab, outcome.value)


@bp.route("/c/<int:collaboration_id>/citizens/<int:citizen_id>/edit", methods=["GET", "POST"])
def edit(collaboration_id: int, citizen_id: int):
    """Coordinators change a citizen's record, service and user accounts."""
    collab = _collaboration(collaboration_id)
    citizen = _citizen(collab, citizen_id, "update")
    form = _citizen_form(collab)
    if not form.is_submitted():
        form.fill_from(citizen)
        return _citizen_page(collab, form, citizen)
    if not form.validate():
        return _citizen_page(collab, form, citizen, FORM_INVALID)
    outcome = attempt(form, operations.update_citizen, _actor(), citizen,
                      **form.citizen_data(), aliases=forms.CITIZEN_ALIASES)
    if not outcome.ok:
        return _citizen_page(collab, form, citizen, outcome.status)
    flash(_("The citizen “%(pseudonym)s” is saved.", pseudonym=citizen.pseudonym), "success")
    return _to_citizen(collab, citizen)


def _withdraw_form(consent: Consent, **kwargs) -> forms.WithdrawForm:
    return forms.WithdrawForm(prefix=f"withdraw-{consent.id}", consent=consent, **kwargs)


def _audit_events(citizen: Citizen, page: int) -> tuple[list[AuditEvent], bool]:
    """One page of the citizen's audit, newest first, and whether older events follow."""
    events = db.session.scalars(
        policy.scoped(_actor(), AuditEvent).where(AuditEvent.citizen_id == citizen.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(AUDIT_PAGE + 1).offset((page - 1) * AUDIT_PAGE)
        .options(selectinload(AuditEvent.user), selectinload(AuditEvent.partner))).all()
    return list(events[:AUDIT_PAGE]), len(events) > AUDIT_PAGE


def _detail_page(collab: Collaboration, citizen: Citizen, *, withdraw_forms=None,
                 status: int = 200, error: str | None = None):
    """The citizen's page: identity where allowed, service, need to know, consents, audit."""
    actor = _actor()
    consents_shown = policy.may(actor, "read_consents", citizen)
    current = operations.current_consents(citizen) if consents_shown else []
    history = operations.history(citizen) if consents_shown else []
    withdraw = {}
    if policy.may(actor, "withdraw_consent", citizen):
        withdraw = {c.id: (withdraw_forms or {}).get(c.id) or _withdraw_form(c)
                    for c in current}
    audit_page = page_number("audit_page")
    if audit_page < 1:
        abort(404)
    events, more_events = ([], False)
    if policy.may(actor, "read_audit", citizen):
        events, more_events = _audit_events(citizen, audit_page)
    categories = servicemap.categories_of(actor, collab)
    return render_template(
        "citizens/show.html", collaboration=collab, current="citizens", citizen=citizen,
        identified=policy.may(actor, "read_identity", citizen),
        needs=need_to_know(citizen, categories), consents_shown=consents_shown,
        current_consents=current, history=history,
        replaced_by={c.replaces_id: c for c in history if c.replaces_id},
        withdraw_forms=withdraw, days=lambda c: consent_days(collab, c),
        events=events, audit_page=audit_page, more_events=more_events,
        action_error=error), status


@bp.get("/c/<int:collaboration_id>/citizens/<int:citizen_id>")
def show(collaboration_id: int, citizen_id: int):
    """One citizen, as far as the user may know of them."""
    collab = _collaboration(collaboration_id)
    return _detail_page(collab, _citizen(collab, citizen_id))


# -- consent --------------------------------------------------------------------------------

def _consent_form(collab: Collaboration, **kwargs) -> forms.ConsentForm:
    return forms.ConsentForm(partners=spaces.partners_of(_actor(), collab),
                             categories=servicemap.categories_of(_actor(), collab), **kwargs)


def _fill_from(form: forms.ConsentForm, collab: Collaboration, consent: Consent) -> None:
    """A change starts from the consent it replaces."""
    form.partners.data = [p.id for p in consent.partners]
    form.categories.data = [c.id for c in consent.categories]
    form.purpose.data = consent.purpose
    form.starts_on.data, form.ends_on.data = consent_days(collab, consent)
    form.given_by.data = consent.given_by.value
    form.given_by_name.data = consent.given_by_name
    form.method.data = consent.method.value
    form.replaces.data = str(consent.id)


@bp.route("/c/<int:collaboration_id>/citizens/<int:citizen_id>/consents/new",
          methods=["GET", "POST"])
def record_consent(collaboration_id: int, citizen_id: int):
    """Staff record a consent given in person or on paper, or a change to one (?replaces=)."""
    collab = _collaboration(collaboration_id)
    citizen = _citizen(collab, citizen_id, "record_consent")
    form = _consent_form(collab)
    wanted = form.replaces.data if form.is_submitted() else request.args.get("replaces")
    replaces = _consent(collab, citizen, wanted) if wanted else None
    status = 200
    if not form.is_submitted():
        if replaces is not None:
            _fill_from(form, collab, replaces)
        else:
            form.starts_on.data = collaboration_today(collab)
    elif not form.validate():
        status = FORM_INVALID
    else:
        outcome = attempt(form, operations.give_consent, _actor(), citizen,
                          **form.consent_data(), replaces=replaces)
        if outcome.ok:
            flash(_("The consent is changed.") if replaces else _("The consent is recorded."),
                  "success")
            return _to_citizen(collab, citizen, "consents")
        status = outcome.status
    return render_template("citizens/consent.html", collaboration=collab, current="citizens",
                           citizen=citizen, form=form, replaces=replaces), status


@bp.post("/c/<int:collaboration_id>/citizens/<int:citizen_id>/consents/<int:consent_id>"
         "/withdraw")
def withdraw(collaboration_id: int, citizen_id: int, consent_id: int):
    """Staff withdraw a consent on the citizen's behalf, wholly or for one partner."""
    collab = _collaboration(collaboration_id)
    citizen = _citizen(collab, citizen_id, "withdraw_consent")
    consent = _consent(collab, citizen, consent_id)
    form = _withdraw_form(consent)
    if not form.validate():
        return _detail_page(collab, citizen, withdraw_forms={consent.id: form},
                            status=FORM_INVALID)
    outcome = attempt(form, operations.withdraw_consent, _actor(), consent,
                      partner_id=form.partner_id(), **form.giver_data())
    if outcome.status == CHANGED_MEANWHILE:
        return _detail_page(collab, citizen, status=outcome.status,
                            error=" ".join(str(e) for e in form.form_errors))
    if not outcome.ok:
        return _detail_page(collab, citizen, withdraw_forms={consent.id: form},
                            status=outcome.status)
    flash(_("The withdrawal is recorded; it acts at once."), "success")
    return _to_citizen(collab, citizen, "consents")


# -- erasure --------------------------------------------------------------------------------

@bp.route("/c/<int:collaboration_id>/citizens/<int:citizen_id>/erase", methods=["GET", "POST"])
def erase(collaboration_id: int, citizen_id: int):
    """Coordinators erase a citizen on request, after typing the pseudonym to confirm."""
    collab = _collaboration(collaboration_id)
    citizen = _citizen(collab, citizen_id, "erase")
    form = forms.EraseForm()
    status = 200
    if form.is_submitted():
        status = FORM_INVALID
        if form.validate():
            if form.confirm.data != citizen.pseudonym:
                form.confirm.errors = [*form.confirm.errors,
                                       _("Type the pseudonym exactly as shown to confirm.")]
            else:
                outcome = attempt(form, operations.erase_citizen, _actor(), citizen)
                if outcome.ok:
                    flash(_("The citizen is erased. Their consents and the audit are kept."),
                          "success")
                    return redirect(url_for(".index", collaboration_id=collab.id))
                status = outcome.status
    return render_template("citizens/erase.html", collaboration=collab, current="citizens",
                           citizen=citizen, form=form), status
