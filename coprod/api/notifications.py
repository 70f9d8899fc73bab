"""/api/v1/me/notifications and /api/v1/me/notification-settings: the caller's own.

A notification says what happened and where, with a link, never what was said. Only those
whose object the caller may still read are listed or counted: one about a note on a citizen
disappears when the consent behind it is withdrawn.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from werkzeug.exceptions import NotFound

from coprod import policy
from coprod.accounts.models import EmailPreference, User
from coprod.api.common import ApiBlueprint
from coprod.api.pagination import PageArgsSchema, page_schema, paginate
from coprod.api.schemas import Timestamp, choice
from coprod.extensions import db
from coprod.notifications import operations, queries
from coprod.notifications.operations import HOURS
from coprod.routines.models import NotificationKind

blp = ApiBlueprint("me_notifications", __name__, url_prefix="/me",
                   description="The caller's notifications and how they are emailed.")


# -- schemas --------------------------------------------------------------------------------

class NotificationSchema(Schema):
    id = fields.Integer(attribute="notification.id")
    kind = choice(NotificationKind, attribute="notification.kind")
    about = fields.String(attribute="notification.about", metadata={
        "description": "The object: reflection:ID, reply:ID, message:ID or action:ID."})
    collaboration_id = fields.Integer(attribute="collaboration.id")
    collaboration_title = fields.String(attribute="collaboration.title")
    headline = fields.String(metadata={
        "description": "What happened, in the caller's language; never what was written."})
    link = fields.String(attribute="path", metadata={
        "description": "The path of the page to read it on (the page asks the policy too)."})
    created_at = Timestamp(attribute="notification.created_at")
    read_at = Timestamp(attribute="notification.read_at", allow_none=True)


class NotificationPageSchema(page_schema(NotificationSchema)):
    unread_count = fields.Integer(required=True, metadata={
        "description": "Unread notifications in all pages."})


class MarkReadSchema(Schema):
    ids = fields.List(fields.Integer(), validate=validate.Length(min=1, max=500),
                      metadata={"description": "Notifications to mark read."})
    all = fields.Boolean(metadata={"description": "true: mark every notification read."})

    @validates_schema
    def _one_of(self, data, **kwargs):
        if bool(data.get("ids")) == bool(data.get("all")):
            raise ValidationError(_("Send either ids or all: true."), "_schema")


class MarkedSchema(Schema):
    marked = fields.Integer(metadata={"description": "Notifications that were unread."})
    unread_count = fields.Integer()


class NotificationSettingsSchema(Schema):
    notify_email = choice(EmailPreference, metadata={
        "description": "off: no emails; immediately: one per notification; daily: a summary "
                       "at summary_hour."})
    summary_hour = fields.Integer(validate=validate.Range(min=HOURS.start, max=HOURS.stop - 1),
                                  metadata={"description": "Local hour (the user's time zone) "
                                                           "of the daily summary."})
    timezone = fields.String(dump_only=True)


# -- routes ---------------------------------------------------------------------------------

@blp.route("/notifications")
class Notifications(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args):
        """The caller's notifications in all collaborations, newest first, with the unread
        count; those about what the caller may no longer read are left out."""
        actor = policy.current_actor()
        page = paginate(queries.visible(actor), args)
        page["items"] = queries.describe(actor, page["items"])
        page["unread_count"] = queries.unread_count(actor)
        return page


@blp.route("/notifications/read")
class MarkRead(MethodView):
    @blp.arguments(MarkReadSchema)
    @blp.response(200, MarkedSchema)
    @blp.fails_with(404)
    def post(self, data):
        """Mark notifications read: the given ids (404 if one is not the caller's to see), or
        all of them."""
        actor = policy.current_actor()
        ids = None
        if not data.get("all"):
            ids = set(data["ids"])
            for notification_id in ids:
                if queries.visible_one(actor, notification_id) is None:
                    raise NotFound()
        marked = operations.mark_all_read(actor, ids)
        return {"marked": marked, "unread_count": queries.unread_count(actor)}


@blp.route("/notification-settings")
class NotificationSettings(MethodView):
    @blp.response(200, NotificationSettingsSchema)
    def get(self):
        """How the caller hears of notifications by email."""
        return db.session.get(User, policy.current_actor().user_id)

    @blp.arguments(NotificationSettingsSchema)
    @blp.response(200, NotificationSettingsSchema)
    def patch(self, data):
        """Change the email preference and/or the hour of the daily summary."""
        actor = policy.current_actor()
        user = db.session.get(User, actor.user_id)
        user = operations.update_preferences(actor, data.get("notify_email", user.notify_email),
                                             data.get("summary_hour"))
        return user
