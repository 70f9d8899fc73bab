"""The admin area, /admin: accounts (search, deactivate, reactivate, their log-ins) and the
installation's settings. Administrators only: to everyone else, logged in or not, every page
here answers 404, as if it did not exist. Its forms make their answer and leave the commit
to coprod.web.commits_once."""

from __future__ import annotations

import math

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext

from coprod import policy
from coprod.accounts.sessions import sessions_of
from coprod.admin import forms, operations, queries
from coprod.admin.models import CollaborationCreators
from coprod.common import OperationError
from coprod.extensions import db
from coprod.policy.installation import (
    installation_settings,
    is_administrator,
    may_create_collaboration,
    require_administrator,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")
SEARCH_MAX = 200


@bp.app_context_processor
def _installation_helpers() -> dict:
    """The header's admin link and the dashboard's "New collaboration" button."""
    return {
        "is_administrator": lambda: is_administrator(policy.current_actor()),
        "may_create_collaboration": lambda: may_create_collaboration(policy.current_actor()),
    }


@bp.before_request
def _administrators_only():
    require_administrator(policy.current_actor())


def _account(user_id: int):
    user = queries.account(policy.current_actor(), user_id)
    if user is None:
        abort(404)
    return user


def _no_store(page: str):
    """Account pages are not kept in caches (shared computers, proxies)."""
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
def index():
    return redirect(url_for(".accounts"))


@bp.get("/accounts")
def accounts():
    """Every account, searchable by email or name, with its live log-ins and tokens."""
    search = request.args.get("q", "")[:SEARCH_MAX]
    page = request.args.get("page", 1, type=int) or 1
    rows, total = queries.accounts(policy.current_actor(), search, page)
    pages = max(1, math.ceil(total / queries.PAGE_SIZE))
    return _no_store(render_template("admin/accounts.html", rows=rows, total=total,
                                     search=search, page=min(max(page, 1), pages),
                                     pages=pages, current="accounts"))


@bp.get("/accounts/<int:user_id>")
def account(user_id: int):
    """One account: its state, its log-ins (each can be ended) and its active tokens."""
    actor = policy.current_actor()
    user = _account(user_id)
    return _no_store(render_template(
        "admin/account.html", user=user, sessions=sessions_of(user),
        tokens=queries.active_tokens(actor, user), is_me=user.id == actor.user_id,
        current="accounts"))


def _back_to(user) -> str:
    return url_for(".account", user_id=user.id)


@bp.post("/accounts/<int:user_id>/deactivate")
def deactivate(user_id: int):
    user = _account(user_id)
    back = _back_to(user)
    try:
        operations.deactivate(policy.current_actor(), user)
    except OperationError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(back)
    flash(_("%(email)s is deactivated: logged out everywhere, API tokens revoked.",
            email=user.email), "success")
    return redirect(back)


@bp.post("/accounts/<int:user_id>/reactivate")
def reactivate(user_id: int):
    user = _account(user_id)
    operations.reactivate(policy.current_actor(), user)
    flash(_("%(email)s may log in again.", email=user.email), "success")
    return redirect(_back_to(user))


@bp.post("/accounts/<int:user_id>/sessions/<int:session_id>/end")
def end_session(user_id: int, session_id: int):
    user = _account(user_id)
    if not operations.end_session_of(policy.current_actor(), user, session_id):
        abort(404)
    flash(_("That session of %(email)s is logged out.", email=user.email), "success")
    return redirect(_back_to(user))


@bp.post("/accounts/<int:user_id>/sessions/end")
def end_sessions(user_id: int):
    user = _account(user_id)
    ended = operations.end_sessions_of(policy.current_actor(), user)
    flash(ngettext("%(num)d session is logged out.", "%(num)d sessions are logged out.",
                   ended), "success")
    return redirect(_back_to(user))


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Who may start a collaboration."""
    actor = policy.current_actor()
    organizations = queries.organizations(actor)
    form = forms.CollaborationCreatorsForm()
    form.fill_choices(organizations)
    status = 200
    if request.method == "GET":
        row = installation_settings()
        form.mode.data = (row.collaboration_creators if row else CollaborationCreators.STAFF).value
        form.organizations.data = [o.id for o in row.creator_organizations] if row else []
    elif form.validate_on_submit():
        try:
            operations.update_collaboration_creators(actor, form.mode.data,
                                                     form.organizations.data)
        except OperationError as err:
            db.session.rollback()
            from coprod.forms import show_refusal

            show_refusal(form, err)
            status = err.status
        else:
            flash(_("The settings are saved."), "success")
            return redirect(url_for(".settings"))
    else:
        status = 422
    return render_template("admin/settings.html", form=form, current="settings"), status
