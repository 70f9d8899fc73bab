"""Pages of a collaboration's routines: members see them and pause their own prompts;
coordinators define, pause and remove them and follow the response rates.

Every routine named in a URL is loaded through the policy and must belong to the collaboration
in the URL (404 otherwise); members who may only read get 403 on the editing pages. Refused
input re-renders the form with the reason next to the field, keeping what was typed.
"""

from __future__ import annotations

from babel.dates import format_date
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required

from coprod import policy
from coprod.forms import attempt
from coprod.i18n import format_instant
from coprod.routines import forms, operations, queries
from coprod.routines.models import Routine
from coprod.spaces import queries as spaces
from coprod.spaces.models import Collaboration

bp = Blueprint("routine_settings", __name__, url_prefix="/c/<int:collaboration_id>/routines")

FORM_INVALID = 422
ALIASES = {"partner_ids": "partners"}


@bp.before_request
@login_required
def _require_login():
    """Every routine page needs a logged-in user."""


def _actor() -> policy.Actor:
    return policy.current_actor()


def _collaboration(collaboration_id: int, action: str = "read") -> Collaboration:
    return policy.get_or_404(_actor(), Collaboration, collaboration_id, action)


def _routine(collab: Collaboration, routine_id: int, action: str = "read") -> Routine:
    return policy.get_in_collaboration(_actor(), Routine, routine_id, collab.id, action)


def _to_list(collab: Collaboration, routine_id: int | None = None):
    anchor = f"routine-{routine_id}" if routine_id else None
    return redirect(url_for(".index", collaboration_id=collab.id, _anchor=anchor))


def local_time(instant, tz_name: str) -> str:
    """A moment as the routine's members read it: in the routine's own time zone."""
    return f"{format_instant(instant, tz_name)} ({tz_name})"


def period_label(period: queries.PeriodRate, routine: Routine) -> str:
    """The local day a period began, e.g. "3 Mar 2026"."""
    return format_date(period.local_start(routine.timezone), "medium", locale=get_locale())


@bp.context_processor
def _helpers():
    return {"local_time": local_time, "period_label": period_label}


def _audience_words(partner_names: dict[int, str]):
    def words(routine: Routine) -> str:
        roles = [str(r.role.label) for r in routine.audience_roles]
        partners = [partner_names[a.partner_id] for a in routine.audience_partners
                    if a.partner_id in partner_names]
        if not roles and not partners:
            return _("Every member")
        parts = ([_("Roles: %(roles)s", roles=", ".join(roles))] if roles else []) + (
            [_("Partner organizations: %(names)s", names=", ".join(partners))]
            if partners else [])
        return "; ".join(parts)
    return words


# -- the list -------------------------------------------------------------------------------

@bp.get("", endpoint="index")
def index(collaboration_id: int):
    """The routines: when each prompts next and whom; coordinators get the controls."""
    collab = _collaboration(collaboration_id)
    actor = _actor()
    return render_template(
        "routines/list.html", collaboration=collab, current="routines",
        routines=queries.routines_of(actor, collab), next_prompt=queries.next_prompt,
        in_words=queries.cadence_in_words, leave=queries.leave_of(actor, collab),
        opted_out=queries.opted_out(actor, collab),
        audience=_audience_words({p.id: p.name for p in spaces.partners_of(actor, collab)}),
        can_create=policy.may(actor, "create_routine", collab),
        can_read_rates=policy.may(actor, "read_response_rates", collab))


# -- new and edit ---------------------------------------------------------------------------

def _form_page(collab, form, routine=None, status=200):
    return render_template("routines/form.html", collaboration=collab, current="routines",
                           form=form, routine=routine), status


def _form(collab, **kwargs) -> forms.RoutineForm:
    return forms.RoutineForm(partners=spaces.partners_of(_actor(), collab), **kwargs)


@bp.route("/new", methods=["GET", "POST"])
def new(collaboration_id: int):
    """Coordinators set up a routine."""
    collab = _collaboration(collaboration_id, "create_routine")
    form = _form(collab)
    if not form.is_submitted():
        form.start_new(collab.timezone or "UTC")
        return _form_page(collab, form)
    if not form.validate():
        return _form_page(collab, form, status=FORM_INVALID)
    outcome = attempt(form, operations.create_routine, _actor(), collab,
                      **form.routine_data(), aliases=ALIASES)
    if not outcome.ok:
        return _form_page(collab, form, status=outcome.status)
    flash(_("The routine “%(name)s” is set up.", name=outcome.value.name), "success")
    return _to_list(collab, outcome.value.id)


@bp.route("/<int:routine_id>/edit", methods=["GET", "POST"])
def edit(collaboration_id: int, routine_id: int):
    """Coordinators change a routine's cadence, audience, questions or nudge."""
    collab = _collaboration(collaboration_id)
    routine = _routine(collab, routine_id, "update")
    form = _form(collab)
    if request.method != "POST":
        form.fill_from(routine)
        return _form_page(collab, form, routine)
    if not form.validate():
        return _form_page(collab, form, routine, FORM_INVALID)
    outcome = attempt(form, operations.update_routine, _actor(), routine,
                      **form.routine_data(), aliases=ALIASES)
    if not outcome.ok:
        return _form_page(collab, form, routine, outcome.status)
    flash(_("The routine “%(name)s” is saved.", name=routine.name), "success")
    return _to_list(collab, routine.id)


# -- buttons --------------------------------------------------------------------------------

@bp.post("/<int:routine_id>/pause")
def pause(collaboration_id: int, routine_id: int):
    collab = _collaboration(collaboration_id)
    routine = operations.pause_routine(_actor(), _routine(collab, routine_id, "update"))
    flash(_("The routine “%(name)s” is paused: nobody is prompted until it is resumed.",
            name=routine.name), "success")
    return _to_list(collab, routine.id)


@bp.post("/<int:routine_id>/resume")
def resume(collaboration_id: int, routine_id: int):
    collab = _collaboration(collaboration_id)
    routine = operations.resume_routine(_actor(), _routine(collab, routine_id, "update"))
    flash(_("The routine “%(name)s” prompts again.", name=routine.name), "success")
    return _to_list(collab, routine.id)


@bp.post("/<int:routine_id>/delete")
def delete(collaboration_id: int, routine_id: int):
    collab = _collaboration(collaboration_id)
    routine = _routine(collab, routine_id, "delete")
    name = routine.name
    operations.delete_routine(_actor(), routine)
    flash(_("The routine “%(name)s” is removed.", name=name), "success")
    return _to_list(collab)


@bp.post("/<int:routine_id>/unsubscribe")
def unsubscribe(collaboration_id: int, routine_id: int):
    """A member stops this routine's emails to themselves."""
    collab = _collaboration(collaboration_id)
    routine = _routine(collab, routine_id)
    operations.unsubscribe(routine.id, _actor().user_id)
    flash(_("You no longer get the prompts of “%(name)s”.", name=routine.name), "success")
    return _to_list(collab, routine.id)


@bp.post("/<int:routine_id>/resubscribe")
def resubscribe(collaboration_id: int, routine_id: int):
    """A member gets this routine's emails again."""
    collab = _collaboration(collaboration_id)
    routine = _routine(collab, routine_id)
    operations.resubscribe(routine.id, _actor().user_id)
    flash(_("You get the prompts of “%(name)s” again.", name=routine.name), "success")
    return _to_list(collab, routine.id)


# -- response rates -------------------------------------------------------------------------

@bp.get("/<int:routine_id>/responses")
def responses(collaboration_id: int, routine_id: int):
    """Coordinators: how many answered, per period and per partner organization."""
    collab = _collaboration(collaboration_id, "read_response_rates")
    routine = _routine(collab, routine_id)
    return render_template("routines/responses.html", collaboration=collab,
                           current="routines", routine=routine,
                           periods=queries.response_rates(_actor(), routine))


# -- a member's leave -----------------------------------------------------------------------

def _leave_page(collab, form, status=200):
    return render_template("routines/leave.html", collaboration=collab, current="routines",
                           form=form, leave=queries.leave_of(_actor(), collab)), status


@bp.route("/leave", methods=["GET", "POST"])
def leave(collaboration_id: int):
    """A member pauses their own prompts until a date (sick leave, holidays)."""
    collab = _collaboration(collaboration_id)
    form = forms.LeaveForm()
    if not form.is_submitted():
        current = queries.leave_of(_actor(), collab)
        form.until.data = current.until if current else None
        return _leave_page(collab, form)
    policy.require(_actor(), "take_leave", collab)
    if not form.validate():
        return _leave_page(collab, form, FORM_INVALID)
    outcome = attempt(form, operations.take_leave, _actor(), collab, form.until.data)
    if not outcome.ok:
        return _leave_page(collab, form, outcome.status)
    flash(_("Your prompts are paused until %(day)s.",
            day=format_date(outcome.value.until, "long", locale=get_locale())), "success")
    return redirect(url_for(".leave", collaboration_id=collab.id))


@bp.post("/leave/end")
def end_leave(collaboration_id: int):
    """Back from leave: prompts come again."""
    collab = _collaboration(collaboration_id)
    operations.end_leave(_actor(), collab)
    flash(_("Your prompts come again."), "success")
    return redirect(url_for(".leave", collaboration_id=collab.id))
