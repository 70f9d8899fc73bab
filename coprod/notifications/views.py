"""The notifications page, the unread badge of the site header and the email preferences.

    /notifications                    the member's notifications, newest first, paginated
    /notifications/<id>/read          POST: mark one read
    /notifications/read               POST: mark all read
    /notifications/settings           POST: the preferences (their form is on the profile page)
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from coprod import pagecache, policy
from coprod.extensions import db
from coprod.forms import attempt
from coprod.inputs import page_number
from coprod.notifications import operations, queries
from coprod.notifications.forms import PreferencesForm

bp = Blueprint("notifications", __name__)

LIST_PAGE = 30


@bp.before_request
@login_required
def _require_login():
    """Notifications are the logged-in member's own."""


@bp.app_context_processor
def _header_helpers():
    return {"unread_notifications": unread_notifications,
            "notification_preferences_form": preferences_form}


def unread_notifications() -> int:
    """The header's badge: no query while the logged-in user's counter says nothing is
    unread, else one (asked once a request, however often a page asks): of the unread ones,
    those whose object the member may still read."""
    if not current_user.is_authenticated or not current_user.unread_notifications:
        return 0
    if "unread_notifications" not in g:
        g.unread_notifications = pagecache.kept_value(
            "unread notifications", lambda: queries.unread_count(policy.current_actor()))
    return g.unread_notifications


def preferences_form(form: PreferencesForm | None = None) -> PreferencesForm:
    """The form of the profile page's section, filled with the member's choice."""
    if form is None:
        form = PreferencesForm(formdata=None, obj=current_user)
    return form


def _actor() -> policy.Actor:
    return policy.current_actor()


def _page() -> int:
    page = page_number()
    if page < 1:
        abort(404)
    return page


@bp.get("/notifications")
def index():
    """Across collaborations, only what the member may still read; unread ones marked."""
    actor, page = _actor(), _page()
    rows = db.session.scalars(queries.visible(actor).limit(LIST_PAGE + 1)
                              .offset((page - 1) * LIST_PAGE)).all()
    return render_template("notifications/index.html",
                           items=queries.describe(actor, rows[:LIST_PAGE]), page=page,
                           more=len(rows) > LIST_PAGE)


def _back():
    page = request.args.get("page", 1, type=int)
    return redirect(url_for("notifications.index", page=page if page > 1 else None))


@bp.post("/notifications/<int:notification_id>/read")
def mark_read(notification_id: int):
    actor = _actor()
    notification = queries.visible_one(actor, notification_id)
    if notification is None:
        abort(404)
    operations.mark_read(actor, notification)
    return _back()


@bp.post("/notifications/read")
def mark_all_read():
    done = operations.mark_all_read(_actor())
    if done:
        flash(_("All notifications are marked as read."), "success")
    return _back()


@bp.route("/notifications/settings", methods=["GET", "POST"])
def settings():
    """How the member hears of notifications by email. The form lives on the profile page,
    with every other email setting; this page shows it again only with its errors."""
    if request.method == "GET":
        return redirect(url_for("accounts.profile") + "#notifications-heading")
    form = PreferencesForm()
    if form.validate_on_submit():
        outcome = attempt(form, operations.update_preferences, _actor(),
                          form.notify_email.data, form.summary_hour.data)
        if outcome.ok:
            flash(_("Your notification settings are saved."), "success")
            return redirect(url_for("accounts.profile") + "#notifications-heading")
        status = outcome.status
    else:
        status = 422
    return render_template("notifications/settings.html", form=form), status
