"""Pages of the service map: members read it (drawing and list), coordinators edit it.

Every object named in a URL is loaded through the policy and must belong to the collaboration
in the URL (404 otherwise); edit pages answer 403 to members who may only read. Refused input
re-renders the form with the reason next to the field, keeping what was typed.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from coprod import policy
from coprod.common import OperationError
from coprod.extensions import db
from coprod.forms import attempt
from coprod.servicemap import forms, operations, queries, svg
from coprod.servicemap.models import Activity, InformationCategory, InformationFlow
from coprod.spaces import queries as spaces
from coprod.spaces.models import Collaboration

bp = Blueprint("servicemap", __name__)

FORM_INVALID = 422


@bp.before_request
@login_required
def _require_login():
    """Every page of the service map needs a logged-in user."""


# -- helpers --------------------------------------------------------------------------------

def _actor() -> policy.Actor:
    return policy.current_actor()


def _collaboration(collaboration_id: int, action: str = "read") -> Collaboration:
    return policy.get_or_404(_actor(), Collaboration, collaboration_id, action)


def _in_collaboration(model: type, ident: int, collaboration: Collaboration,
                      action: str):
    """An object of this very collaboration (404 otherwise), checked for `action` (403)."""
    return policy.get_in_collaboration(_actor(), model, ident, collaboration.id, action)


def _to_map(collab: Collaboration, activity_id: int | None = None):
    anchor = f"activity-{activity_id}" if activity_id else None
    return redirect(url_for(".map", collaboration_id=collab.id, _anchor=anchor))


def _refused(err: OperationError) -> None:
    """A refused button press (nothing typed): roll back and say why at the top of the page."""
    db.session.rollback()
    flash(err.message, "error")


# -- the map --------------------------------------------------------------------------------

@bp.get("/c/<int:collaboration_id>/map", endpoint="map")
def map_page(collaboration_id: int):
    """The service map as a drawing and as a list; coordinators get the editing controls."""
    collab = _collaboration(collaboration_id)
    service = queries.service_map(_actor(), collab)
    drawing = svg.render(service.activities, _("Service map of %(title)s", title=collab.title))
    return render_template("servicemap/map.html", collaboration=collab, current="map",
                           service=service, drawing=drawing, flow_text=svg.flow_text,
                           editable=policy.may(_actor(), "edit_service_map", collab))


# -- activities -----------------------------------------------------------------------------

def _activity_page(collab, form, activity=None, flow_form=None, status=200):
    """The add/edit page of one activity (with its flows when it exists)."""
    if activity is not None and flow_form is None:
        flow_form = _flow_form(collab)
    return render_template("servicemap/activity.html", collaboration=collab, current="map",
                           form=form, activity=activity, flow_form=flow_form,
                           flow_text=svg.flow_text), status


def _activity_form(collab, **kwargs) -> forms.ActivityForm:
    return forms.ActivityForm(partners=spaces.partners_of(_actor(), collab), **kwargs)


def _flow_form(collab, **kwargs) -> forms.FlowForm:
    return forms.FlowForm(partners=spaces.partners_of(_actor(), collab),
                          categories=queries.categories_of(_actor(), collab), **kwargs)


def _activity_fields(form: forms.ActivityForm) -> dict:
    return {"name": form.name.data, "description": form.description.data,
            "co_produced": form.co_produced.data, "performer_ids": form.performers.data}


@bp.route("/c/<int:collaboration_id>/map/activities/new", methods=["GET", "POST"])
def new_activity(collaboration_id: int):
    """Coordinators add a step at the end of the service."""
    collab = _collaboration(collaboration_id, "edit_service_map")
    form = _activity_form(collab)
    if not form.is_submitted():
        return _activity_page(collab, form)
    if not form.validate():
        return _activity_page(collab, form, status=FORM_INVALID)
    outcome = attempt(form, operations.create_activity, _actor(), collab,
                      **_activity_fields(form), aliases={"performer_ids": "performers"})
    if not outcome.ok:
        return _activity_page(collab, form, status=outcome.status)
    flash(_("The activity “%(name)s” is added.", name=outcome.value.name), "success")
    return _to_map(collab, outcome.value.id)


@bp.route("/c/<int:collaboration_id>/map/activities/<int:activity_id>/edit",
          methods=["GET", "POST"])
def edit_activity(collaboration_id: int, activity_id: int):
    """Coordinators rename a step, change who performs it, and manage its flows."""
    collab = _collaboration(collaboration_id)
    activity = _in_collaboration(Activity, activity_id, collab, "update")
    if not request.method == "POST":
        form = _activity_form(collab, obj=activity)
        form.performers.data = [p.id for p in activity.performers]
        return _activity_page(collab, form, activity)
    form = _activity_form(collab)
    if not form.validate():
        return _activity_page(collab, form, activity, status=FORM_INVALID)
    outcome = attempt(form, operations.update_activity, _actor(), activity,
                      **_activity_fields(form))
    if not outcome.ok:
        return _activity_page(collab, form, activity, status=outcome.status)
    flash(_("The activity “%(name)s” is saved.", name=activity.name), "success")
    return _to_map(collab, activity.id)


@bp.post("/c/<int:collaboration_id>/map/activities/<int:activity_id>/move")
def move_activity(collaboration_id: int, activity_id: int):
    """Coordinators move a step one place up or down."""
    collab = _collaboration(collaboration_id)
    activity = _in_collaboration(Activity, activity_id, collab, "update")
    try:
        operations.move_activity(_actor(), activity, request.form.get("direction", ""))
    except OperationError as err:
        _refused(err)
    return _to_map(collab, activity.id)


@bp.post("/c/<int:collaboration_id>/map/activities/<int:activity_id>/delete")
def delete_activity(collaboration_id: int, activity_id: int):
    """Coordinators remove a step and its flows."""
    collab = _collaboration(collaboration_id)
    activity = _in_collaboration(Activity, activity_id, collab, "delete")
    name = activity.name
    operations.delete_activity(_actor(), activity)
    flash(_("The activity “%(name)s” is removed.", name=name), "success")
    return _to_map(collab)


# -- flows ----------------------------------------------------------------------------------

@bp.post("/c/<int:collaboration_id>/map/activities/<int:activity_id>/flows")
def new_flow(collaboration_id: int, activity_id: int):
    """Coordinators add an information flow at a step."""
    collab = _collaboration(collaboration_id)
    activity = _in_collaboration(Activity, activity_id, collab, "update")
    flow_form = _flow_form(collab)
    form = _activity_form(collab, formdata=None, obj=activity)
    form.performers.data = [p.id for p in activity.performers]
    if not flow_form.validate():
        return _activity_page(collab, form, activity, flow_form, FORM_INVALID)
    outcome = attempt(flow_form, operations.create_flow, _actor(), activity,
                      from_partner_id=flow_form.from_partner_id.data,
                      to_partner_id=flow_form.to_partner_id.data,
                      category_ids=flow_form.categories.data)
    if not outcome.ok:
        return _activity_page(collab, form, activity, flow_form, outcome.status)
    flash(_("The information flow is added."), "success")
    return redirect(url_for(".edit_activity", collaboration_id=collab.id,
                            activity_id=activity.id, _anchor="flows"))


@bp.post("/c/<int:collaboration_id>/map/flows/<int:flow_id>/delete")
def delete_flow(collaboration_id: int, flow_id: int):
    """Coordinators remove an information flow."""
    collab = _collaboration(collaboration_id)
    flow = _in_collaboration(InformationFlow, flow_id, collab, "delete")
    activity_id = flow.activity_id
    operations.delete_flow(_actor(), flow)
    flash(_("The information flow is removed."), "success")
    return redirect(url_for(".edit_activity", collaboration_id=collab.id,
                            activity_id=activity_id, _anchor="flows"))


# -- categories -----------------------------------------------------------------------------

def _categories_page(collab, form, status=200):
    return render_template("servicemap/categories.html", collaboration=collab, current="map",
                           categories=queries.categories_of(_actor(), collab), form=form), status


@bp.route("/c/<int:collaboration_id>/map/categories", methods=["GET", "POST"])
def categories(collaboration_id: int):
    """Coordinators list, add and remove the collaboration's categories of information."""
    collab = _collaboration(collaboration_id, "edit_service_map")
    form = forms.CategoryForm()
    if not form.is_submitted():
        return _categories_page(collab, form)
    if not form.validate():
        return _categories_page(collab, form, FORM_INVALID)
    outcome = attempt(form, operations.create_category, _actor(), collab,
                      name=form.name.data, description=form.description.data)
    if not outcome.ok:
        return _categories_page(collab, form, outcome.status)
    flash(_("The category “%(name)s” is added.", name=outcome.value.name), "success")
    return redirect(url_for(".categories", collaboration_id=collab.id))


@bp.route("/c/<int:collaboration_id>/map/categories/<int:category_id>/edit",
          methods=["GET", "POST"])
def edit_category(collaboration_id: int, category_id: int):
    """Coordinators rename or describe a category."""
    collab = _collaboration(collaboration_id)
    category = _in_collaboration(InformationCategory, category_id, collab, "update")
    form = forms.CategoryForm(**({} if request.method == "POST" else {"obj": category}))
    status = 200
    if form.is_submitted():
        status = FORM_INVALID
        if form.validate():
            outcome = attempt(form, operations.update_category, _actor(), category,
                              name=form.name.data, description=form.description.data)
            if outcome.ok:
                flash(_("The category “%(name)s” is saved.", name=category.name), "success")
                return redirect(url_for(".categories", collaboration_id=collab.id))
            status = outcome.status
    return render_template("servicemap/category_edit.html", collaboration=collab,
                           current="map", category=category, form=form), status


@bp.post("/c/<int:collaboration_id>/map/categories/<int:category_id>/delete")
def delete_category(collaboration_id: int, category_id: int):
    """Coordinators remove a category no flow carries."""
    collab = _collaboration(collaboration_id)
    category = _in_collaboration(InformationCategory, category_id, collab, "delete")
    name = category.name
    try:
        operations.delete_category(_actor(), category)
    except OperationError as err:
        _refused(err)
    else:
        flash(_("The category “%(name)s” is removed.", name=name), "success")
    return redirect(url_for(".categories", collaboration_id=collab.id))
