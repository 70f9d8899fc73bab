"""Pages of a collaboration space: parse the form, call an operation, commit once, render.

Every collaboration and object named in a URL is loaded through the policy: a collaboration
the user is not a member of (or an object of another collaboration) answers 404, an edit the
user may not make answers 403. Refused changes re-render the page with the message next to the
field at fault and the status of the refusal, keeping what the user typed.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from coprod import policy
from coprod.accounts import operations as accounts
from coprod.accounts.models import Invitation
from coprod.common import OperationError
from coprod.extensions import db
from coprod.forms import attempt
from coprod.forms import show_refusal as _show_error
from coprod.policy import installation
from coprod.reflections import queries as reflection_queries
from coprod.spaces import forms, history, operations, queries
from coprod.spaces.models import (
    Charter,
    Collaboration,
    CollaborationStatus,
    Membership,
    Partner,
)

bp = Blueprint("spaces", __name__)

FORM_INVALID = 422
# The newest reflections the overview shows; the Reflections tab has them all.
LATEST_REFLECTIONS = 5


@bp.before_request
@login_required
def _require_login():
    """Every page of a space needs a logged-in user."""


# -- helpers --------------------------------------------------------------------------------

def _actor() -> policy.Actor:
    return policy.current_actor()


def _collaboration(collaboration_id: int, action: str = "read") -> Collaboration:
    return policy.get_or_404(_actor(), Collaboration, collaboration_id, action)


def _in_collaboration(model: type, ident: int, collaboration: Collaboration,
                      action: str = "read"):
    """An object of this very collaboration (404 otherwise), checked for `action` (403)."""
    return policy.get_in_collaboration(_actor(), model, ident, collaboration.id, action)


def _rollback() -> None:
    """Nothing of a refused change may stay in the session."""
    db.session.rollback()


# -- dashboard and new collaboration -------------------------------------------------------

@bp.get("/")
def dashboard():
    """My collaborations: the active ones first, the archived ones apart."""
    actor = _actor()
    mine = queries.my_collaborations(actor)
    seats = actor.seats()
    return render_template(
        "spaces/dashboard.html",
        active=[c for c in mine if not c.is_archived],
        archived=[c for c in mine if c.is_archived],
        seats=seats,
    )


@bp.route("/collaborations/new", methods=["GET", "POST"])
def new_collaboration():
    """Start a collaboration; its creator becomes its coordinator. Who may is the
    installation's setting (policy.installation); the others get 403 and no button."""
    actor = _actor()
    if not installation.may_create_collaboration(actor):
        abort(403)
    form = forms.NewCollaborationForm(organizations=queries.known_organizations(actor))
    if not form.is_submitted():
        form.timezone.data = current_user.timezone
    if form.validate_on_submit():
        try:
            collaboration = operations.create_collaboration(
                actor, **form.fields_data(), organization_id=form.organization_id.data,
                organization_name=form.organization_name.data or None,
                organization_sector=form.organization_sector.data)
        except OperationError as err:
            _rollback()
            _show_error(form, err, {"name": "organization_name", "sector": "organization_sector"})
            return render_template("spaces/new.html", form=form), err.status
        flash(_("The collaboration “%(title)s” is ready. Start with its charter.",
                title=collaboration.title), "success")
        return redirect(url_for(".collaboration", collaboration_id=collaboration.id))
    status = FORM_INVALID if form.is_submitted() else 200
    return render_template("spaces/new.html", form=form), status


# -- one collaboration ---------------------------------------------------------------------

@bp.get("/c/<int:collaboration_id>")
def collaboration(collaboration_id: int):
    """Overview: what the collaboration is, my place in it, and its latest reflections."""
    actor = _actor()
    collab = _collaboration(collaboration_id)
    return render_template(
        "spaces/overview.html", collaboration=collab, current="overview",
        membership=queries.membership_of(actor, collab),
        partner_count=queries.partner_count(actor, collab),
        member_count=queries.member_count(actor, collab),
        latest=reflection_queries.feed(actor, collab, limit=LATEST_REFLECTIONS),
        today=reflection_queries.collaboration_today(collab),
    )


def _settings_page(collab: Collaboration, form, status: int = 200, error: str | None = None):
    return render_template("spaces/settings.html", collaboration=collab, form=form,
                           current="settings", action_error=error), status


@bp.route("/c/<int:collaboration_id>/settings", methods=["GET", "POST"])
def settings(collaboration_id: int):
    """Coordinators edit the collaboration's fields."""
    collab = _collaboration(collaboration_id, "update")
    form = forms.SettingsForm(obj=collab)
    if form.validate_on_submit():
        try:
            operations.update_collaboration(_actor(), collab, **form.fields_data())
        except OperationError as err:
            _rollback()
            _show_error(form, err)
            return _settings_page(collab, form, err.status)
        flash(_("The settings are saved."), "success")
        return redirect(url_for(".collaboration", collaboration_id=collab.id))
    return _settings_page(collab, form, FORM_INVALID if form.is_submitted() else 200)


def _set_status(collaboration_id: int, action: str, status: CollaborationStatus, done: str):
    collab = _collaboration(collaboration_id, action)
    try:
        operations.update_collaboration(_actor(), collab, status=status)
    except OperationError as err:
        _rollback()
        return _settings_page(collab, forms.SettingsForm(obj=collab, formdata=None), err.status,
                              err.message)
    flash(done, "success")
    return redirect(url_for(".collaboration", collaboration_id=collab.id))


@bp.post("/c/<int:collaboration_id>/archive")
def archive(collaboration_id: int):
    """Archive: the space stays readable and nothing in it changes until it is reopened."""
    return _set_status(collaboration_id, "edit", CollaborationStatus.ARCHIVED,
                       _("The collaboration is archived. It is read-only until reopened."))


@bp.post("/c/<int:collaboration_id>/reopen")
def reopen(collaboration_id: int):
    """Reopen an archived collaboration so its members can change it again."""
    return _set_status(collaboration_id, "update", CollaborationStatus.ACTIVE,
                       _("The collaboration is active again."))


# -- charter --------------------------------------------------------------------------------

@bp.get("/c/<int:collaboration_id>/charter")
def charter(collaboration_id: int):
    """The four questions and their answers, with who last changed them and when."""
    collab = _collaboration(collaboration_id)
    the_charter = policy.get_or_404(_actor(), Charter, collab.id)
    return render_template("spaces/charter.html", collaboration=collab, charter=the_charter,
                           questions=Charter.QUESTIONS, current="charter")


@bp.route("/c/<int:collaboration_id>/charter/edit", methods=["GET", "POST"])
def edit_charter(collaboration_id: int):
    """Coordinators answer the questions; a save over someone else's newer one is refused."""
    collab = _collaboration(collaboration_id)
    the_charter = policy.get_or_404(_actor(), Charter, collab.id, "update")
    form = forms.CharterForm(obj=the_charter)
    if not form.is_submitted():
        form.base_version.data = str(the_charter.version)
    conflict = False
    status = 200
    if form.validate_on_submit():
        try:
            operations.update_charter(_actor(), the_charter, **form.answers(),
                                      base_version=int(form.base_version.data))
        except OperationError as err:
            _rollback()
            _show_error(form, err)
            conflict, status = err.status == 409, err.status
            # The next save is meant to replace what is saved now, shown beside the form.
            form.base_version.data = str(the_charter.version)
        else:
            flash(_("The charter is saved."), "success")
            return redirect(url_for(".charter", collaboration_id=collab.id))
    elif form.is_submitted():
        status = FORM_INVALID
    return render_template("spaces/charter_edit.html", collaboration=collab,
                           charter=the_charter, form=form, conflict=conflict,
                           current="charter"), status


@bp.get("/c/<int:collaboration_id>/charter/history")
def charter_history(collaboration_id: int):
    """Every saved version, newest first, with who saved it, when, and what changed."""
    collab = _collaboration(collaboration_id)
    revisions = queries.charter_history(_actor(), collab)
    return render_template("spaces/charter_history.html", collaboration=collab,
                           entries=history.history_with_changes(revisions), current="charter")


# -- partners -------------------------------------------------------------------------------

def _partners_page(collab: Collaboration, add_form=None, status: int = 200,
                   error: str | None = None):
    actor = _actor()
    partners = queries.partners_of(actor, collab, details=True)
    if add_form is None and policy.may(actor, "manage_partners", collab):
        add_form = forms.AddPartnerForm(organizations=_pickable_organizations(partners),
                                        formdata=None)
    return render_template("spaces/partners.html", collaboration=collab, partners=partners,
                           add_form=add_form, action_error=error, current="partners"), status


def _pickable_organizations(partners: list[Partner]):
    """Organizations the user knows that are not partners here yet."""
    taken = {p.organization_id for p in partners}
    return [o for o in queries.known_organizations(_actor()) if o.id not in taken]


@bp.get("/c/<int:collaboration_id>/partners")
def partners(collaboration_id: int):
    """Each partner with what it is responsible for and what it brings."""
    return _partners_page(_collaboration(collaboration_id))


@bp.post("/c/<int:collaboration_id>/partners/add")
def add_partner(collaboration_id: int):
    """Coordinators add a known organization, or a new one, as a partner."""
    collab = _collaboration(collaboration_id, "manage_partners")
    form = forms.AddPartnerForm(
        organizations=_pickable_organizations(queries.partners_of(_actor(), collab)))
    if not form.validate_on_submit():
        return _partners_page(collab, form, FORM_INVALID)
    if form.organization_id.data is None and not form.name.data:
        form.name.errors.append(_("Name the new organization, or pick a known one."))
        return _partners_page(collab, form, FORM_INVALID)
    try:
        partner = operations.add_partner(_actor(), collab,
                                         organization_id=form.organization_id.data,
                                         name=form.name.data, sector=form.sector.data)
    except OperationError as err:
        _rollback()
        _show_error(form, err)
        return _partners_page(collab, form, err.status)
    flash(_("%(name)s is now a partner.", name=partner.name), "success")
    return redirect(url_for(".partners", collaboration_id=collab.id))


@bp.route("/c/<int:collaboration_id>/partners/<int:partner_id>/edit", methods=["GET", "POST"])
def edit_partner(collaboration_id: int, partner_id: int):
    """Coordinators and the partner's own staff describe its responsibilities and resources."""
    collab = _collaboration(collaboration_id)
    partner = _in_collaboration(Partner, partner_id, collab, "update")
    # Posted rows replace the stored ones; only a fresh form starts from them.
    form = forms.DescribePartnerForm(**({} if request.method == "POST" else {"obj": partner}))
    status = 200
    if form.validate_on_submit():
        outcome = attempt(form, operations.describe_partner,
                          _actor(), partner, responsibilities=form.filled_responsibilities(),
                          resources=form.filled_resources())
        if outcome.ok:
            flash(_("The description of %(name)s is saved.", name=partner.name), "success")
            return redirect(url_for(".partners", collaboration_id=collab.id,
                                    _anchor=f"partner-{partner.id}"))
        status = outcome.status
    elif form.is_submitted():
        status = FORM_INVALID
    else:
        form.add_blank_rows()
    return render_template("spaces/partner_edit.html", collaboration=collab, partner=partner,
                           form=form, current="partners"), status


@bp.post("/c/<int:collaboration_id>/partners/<int:partner_id>/remove")
def remove_partner(collaboration_id: int, partner_id: int):
    """Coordinators remove a partner nobody acts on behalf of any more."""
    collab = _collaboration(collaboration_id)
    partner = _in_collaboration(Partner, partner_id, collab, "delete")
    name = partner.name
    try:
        operations.remove_partner(_actor(), partner)
    except OperationError as err:
        _rollback()
        return _partners_page(collab, status=err.status,
                              error=_("%(name)s: %(message)s", name=name, message=err.message))
    flash(_("%(name)s is no longer a partner.", name=name), "success")
    return redirect(url_for(".partners", collaboration_id=collab.id))


# -- members --------------------------------------------------------------------------------

def _members_page(collab: Collaboration, failed: tuple[int, forms.MemberForm] | None = None,
                  status: int = 200, error: str | None = None):
    """The member list; a refused role change keeps its row's form with the error."""
    actor = _actor()
    members = queries.members_of(actor, collab)
    partners = queries.partners_of(actor, collab)
    row_forms = {}
    for m in members:
        if policy.may(actor, "update", m):
            row_forms[m.id] = forms.MemberForm(
                prefix=f"member-{m.id}", partners=partners, formdata=None,
                data={"role": m.role, "partner_id": m.partner_id})
    if failed is not None and failed[0] in row_forms:
        row_forms[failed[0]] = failed[1]
    return render_template("spaces/members.html", collaboration=collab, members=members,
                           row_forms=row_forms, me=actor.user_id, action_error=error,
                           current="members"), status


@bp.get("/c/<int:collaboration_id>/members")
def members(collaboration_id: int):
    """Who takes part, in which role, on behalf of which partner."""
    return _members_page(_collaboration(collaboration_id))


@bp.post("/c/<int:collaboration_id>/members/<int:membership_id>")
def change_member(collaboration_id: int, membership_id: int):
    """Coordinators change a member's role and partner."""
    collab = _collaboration(collaboration_id)
    membership = _in_collaboration(Membership, membership_id, collab, "update")
    form = forms.MemberForm(prefix=f"member-{membership.id}",
                            partners=queries.partners_of(_actor(), collab))
    if not form.validate_on_submit():
        return _members_page(collab, (membership.id, form), FORM_INVALID)
    name = membership.user.display_name
    try:
        operations.change_member(_actor(), membership, role=form.role.data,
                                 partner_id=form.partner_id.data)
    except OperationError as err:
        _rollback()
        _show_error(form, err)
        return _members_page(collab, (membership_id, form), err.status)
    flash(_("%(name)s's role is saved.", name=name), "success")
    return redirect(url_for(".members", collaboration_id=collab.id))


def _end_membership(collab: Collaboration, membership: Membership, done: str, leaving: bool):
    try:
        operations.remove_member(_actor(), membership)
    except OperationError as err:
        _rollback()
        message = (_("You cannot leave: %(message)s Make someone else coordinator first.",
                     message=err.message) if leaving else err.message)
        return _members_page(collab, status=err.status, error=message)
    flash(done, "success")
    if leaving:
        return redirect(url_for(".dashboard"))
    return redirect(url_for(".members", collaboration_id=collab.id))


@bp.post("/c/<int:collaboration_id>/members/<int:membership_id>/remove")
def remove_member(collaboration_id: int, membership_id: int):
    """Coordinators remove a member; their access ends at once."""
    collab = _collaboration(collaboration_id)
    membership = _in_collaboration(Membership, membership_id, collab, "delete")
    leaving = membership.user_id == _actor().user_id
    name = membership.user.display_name
    done = (_("You left %(title)s.", title=collab.title) if leaving
            else _("%(name)s is no longer a member.", name=name))
    return _end_membership(collab, membership, done, leaving)


@bp.post("/c/<int:collaboration_id>/leave")
def leave(collaboration_id: int):
    """Anyone may leave, except the last coordinator."""
    collab = _collaboration(collaboration_id)
    membership = queries.membership_of(_actor(), collab)
    if membership is None:
        abort(404)
    policy.require(_actor(), "delete", membership)
    return _end_membership(collab, membership,
                           _("You left %(title)s.", title=collab.title), leaving=True)


# -- invitations ----------------------------------------------------------------------------

def _invitations_page(collab: Collaboration, form=None, status: int = 200,
                      error: str | None = None):
    actor = _actor()
    partners = queries.partners_of(actor, collab)
    if form is None and policy.may(actor, "invite", collab):
        form = forms.InviteForm(partners=partners, formdata=None)
    return render_template("spaces/invitations.html", collaboration=collab,
                           invitations=queries.invitations_of(actor, collab), form=form,
                           action_error=error, current="invitations"), status


@bp.get("/c/<int:collaboration_id>/invitations")
def invitations(collaboration_id: int):
    """Coordinators see who was invited, by whom, and what became of it."""
    return _invitations_page(_collaboration(collaboration_id, "read_invitations"))


@bp.post("/c/<int:collaboration_id>/invitations")
def invite(collaboration_id: int):
    """Invite an email address with a role; partner staff come on behalf of one partner."""
    collab = _collaboration(collaboration_id, "invite")
    form = forms.InviteForm(partners=queries.partners_of(_actor(), collab))
    if not form.validate_on_submit():
        return _invitations_page(collab, form, FORM_INVALID)
    try:
        invitation = accounts.invite(_actor(), collab, form.email.data, form.role.data,
                                     partner_id=form.partner_id.data, message=form.message.data)
    except OperationError as err:
        _rollback()
        _show_error(form, err)
        return _invitations_page(collab, form, err.status)
    flash(_("We emailed an invitation to %(email)s.", email=invitation.email), "success")
    return redirect(url_for(".invitations", collaboration_id=collab.id))


@bp.post("/c/<int:collaboration_id>/invitations/<int:invitation_id>/revoke")
def revoke_invitation(collaboration_id: int, invitation_id: int):
    """Withdraw a pending invitation: its link stops working."""
    collab = _collaboration(collaboration_id, "read_invitations")
    invitation = _in_collaboration(Invitation, invitation_id, collab, "revoke")
    email = invitation.email
    try:
        accounts.revoke_invitation(_actor(), invitation)
    except OperationError as err:
        _rollback()
        return _invitations_page(collab, status=err.status, error=err.message)
    flash(_("The invitation to %(email)s is withdrawn.", email=email), "success")
    return redirect(url_for(".invitations", collaboration_id=collab.id))
