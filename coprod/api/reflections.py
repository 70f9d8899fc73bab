"""/api/v1/collaborations/{id}/reflections: what works and what must improve, with replies,
"we see this too" reactions and mentions.

Reads go through the policy (coprod.policy, coprod.reflections.queries), writes through
coprod.reflections.operations. A reflection signed "organization" names its author only to
coordinators and to the author: for everyone else `author` is null. A withdrawn reflection
stays as a tombstone: its classification and dates, no text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import NotFound

from coprod import policy
from coprod.accounts.models import User
from coprod.api.actions import ActionSummarySchema
from coprod.api.citizens import AboutCitizenInputSchema, AboutCitizenSchema, about_citizen
from coprod.api.common import ApiBlueprint, collaboration_or_404, object_in
from coprod.api.pagination import PageArgsSchema, page_schema, paginate
from coprod.api.schemas import (
    PartnerSummarySchema,
    Timestamp,
    UserSummarySchema,
    choice,
    text,
)
from coprod.citizens import audit
from coprod.extensions import db
from coprod.markdown import render_markdown
from coprod.pagecache import cached_page
from coprod.policy import Actor
from coprod.reflections import operations, queries
from coprod.reflections.models import (
    BODY_MAX,
    TAG_MAX,
    Attribution,
    Component,
    Kind,
    LearningLevel,
    LearningMode,
    Mention,
    Perspective,
    Reaction,
    Reflection,
    ReflectionRevision,
    Reply,
    Visibility,
)
from coprod.reflections.queries import citizen_loads
from coprod.spaces.models import Partner

blp = ApiBlueprint("feed", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>/reflections",
                   description="Reflections on what works and what must improve, their "
                               "replies and reactions.")

CURSOR_DOC = (
    "**This list pages with a cursor, unlike the page-based lists.** It answers `items` "
    "(newest first) and `next_cursor`; pass `next_cursor` back as `?cursor=` for the next "
    "page, with the same filters. `next_cursor` is null on the last page. Pages never skip "
    "or repeat a reflection while others post. A cursor not made by this list answers 400; "
    f"`limit` (default {queries.PAGE_SIZE}, at most {queries.PAGE_SIZE_MAX}) sets the page "
    "size."
)


# -- what the caller sees -------------------------------------------------------------------

@dataclass
class Reactions:
    """The partner organizations that said "we see this too", and whether the caller's did."""

    partners: list[Partner]
    ours: bool

    @property
    def count(self) -> int:
        return len(self.partners)


@dataclass
class ReflectionView:
    """A reflection as the caller reads it, with what was counted once for the whole page."""

    reflection: Reflection
    author: User | None
    reply_count: int
    reactions: Reactions
    mentions: list[User] = field(default_factory=list)
    unread: bool = False

    def __getattr__(self, name: str):
        return getattr(self.reflection, name)  # the reflection's own columns and relations


@dataclass
class ReplyView:
    reply: Reply
    mentions: list[User] = field(default_factory=list)
    # None when the reply would name the author of an organization-signed reflection
    author: User | None = None

    def __getattr__(self, name: str):
        return getattr(self.reply, name)


@dataclass
class RevisionView:
    revision: ReflectionRevision
    edited_by: User | None

    def __getattr__(self, name: str):
        return getattr(self.revision, name)


def _reactions_by_reflection(reflection_ids: list[int]) -> dict[int, list[Reaction]]:
    """Reactions to reflections the caller was allowed to read, in one query."""
    found: dict[int, list[Reaction]] = {rid: [] for rid in reflection_ids}
    if reflection_ids:
        for reaction in db.session.scalars(
                select(Reaction).where(Reaction.reflection_id.in_(reflection_ids))
                .options(selectinload(Reaction.partner))
                .order_by(Reaction.created_at, Reaction.id)):
            found[reaction.reflection_id].append(reaction)
    return found


def _mentioned(reflection_ids: list[int] = (), reply_ids: list[int] = ()
               ) -> dict[int, list[User]]:
    """Members named in readable reflections (or replies), by reflection (or reply) id."""
    by_reply = bool(reply_ids)
    ids = list(reply_ids if by_reply else reflection_ids)
    found: dict[int, list[User]] = {i: [] for i in ids}
    if not ids:
        return found
    stmt = select(Mention).options(selectinload(Mention.user)).order_by(Mention.id)
    stmt = (stmt.where(Mention.reply_id.in_(ids)) if by_reply else
            stmt.where(Mention.reflection_id.in_(ids), Mention.reply_id.is_(None)))
    for mention in db.session.scalars(stmt):
        found[mention.reply_id if by_reply else mention.reflection_id].append(mention.user)
    return found


def _reactions_seen_by(actor: Actor, reflection: Reflection,
                       reactions: list[Reaction]) -> Reactions:
    seat = actor.seat(reflection.collaboration_id)
    ours = seat is not None and any(r.partner_id == seat.partner_id for r in reactions)
    return Reactions([r.partner for r in reactions], ours)


def reflection_views(actor: Actor, reflections: list[Reflection], *,
                     reply_counts: dict[int, int], unread_ids: set[int] = frozenset()
                     ) -> list[ReflectionView]:
    """Views of loaded reflections; reactions and mentions of all of them in fixed queries."""
    ids = [r.id for r in reflections]
    reactions = _reactions_by_reflection(ids)
    mentions = _mentioned(reflection_ids=ids)
    return [
        ReflectionView(
            reflection=r,
            # A per-object check on loaded data (author, audience, seats): no query per item.
            author=r.author if policy.may(actor, "read_author", r) else None,
            reply_count=reply_counts.get(r.id, 0),
            reactions=_reactions_seen_by(actor, r, reactions[r.id]),
            mentions=mentions[r.id],
            unread=r.id in unread_ids,
        )
        for r in reflections
    ]


def reflection_view(actor: Actor, reflection: Reflection) -> ReflectionView:
    return reflection_views(actor, [reflection],
                            reply_counts=queries.reply_counts(actor, [reflection.id]))[0]


def _withdrawn_by(view: ReflectionView) -> str | None:
    """Who withdrew it, as a tombstone says it: the author or a coordinator (never a name)."""
    if view.withdrawn_at is None:
        return None
    return "author" if view.withdrawn_by_id == view.author_id else "coordinator"


def _html(obj) -> str:
    return str(render_markdown(obj.body))


# -- schemas --------------------------------------------------------------------------------

ID_LIST = {"type": "array", "items": {"type": "integer"}}
BODY_DOC = {"description": f"Markdown, at most {BODY_MAX} characters; empty once withdrawn."}
HTML_DOC = {"type": "string", "description": "The body rendered as sanitized HTML."}


class ReactionsSchema(Schema):
    count = fields.Integer()
    partners = fields.List(fields.Nested(PartnerSummarySchema), metadata={
        "description": "Partner organizations that said \"we see this too\"."})
    ours = fields.Boolean(metadata={
        "description": "Whether the caller's organization said it."})


class ReflectionSchema(AboutCitizenSchema):
    id = fields.Integer()
    collaboration_id = fields.Integer()
    kind = choice(Kind)
    perspective = choice(Perspective)
    component = choice(Component)
    learning_level = choice(LearningLevel)
    mode = choice(LearningMode)
    body = fields.String(metadata=BODY_DOC)
    body_html = fields.Function(_html, metadata=HTML_DOC)
    visibility = choice(Visibility)
    audience = fields.Function(lambda v: sorted(v.audience_partner_ids), metadata={
        **ID_LIST, "description": "With visibility partners: the partner organizations "
                                  "chosen to read it."})
    attribution = choice(Attribution)
    author = fields.Nested(UserSummarySchema, allow_none=True, metadata={
        "description": "Null when the author signed for their organization only (except "
                       "for coordinators and the author)."})
    partner = fields.Nested(PartnerSummarySchema, allow_none=True, metadata={
        "description": "The partner organization the author spoke for."})
    tags = fields.Function(lambda v: [t.name for t in v.tags],
                           metadata={"type": "array", "items": {"type": "string"}})
    mentions = fields.List(fields.Nested(UserSummarySchema))
    reply_count = fields.Integer()
    reactions = fields.Nested(ReactionsSchema)
    action = fields.Nested(ActionSummarySchema, allow_none=True, metadata={
        "description": "The improvement action made of it, if any."})
    created_at = Timestamp()
    edited_at = Timestamp(allow_none=True)
    withdrawn_at = Timestamp(allow_none=True)
    withdrawn_by = fields.Function(_withdrawn_by, metadata={
        "type": "string", "enum": ["author", "coordinator"], "nullable": True})


class FeedItemSchema(ReflectionSchema):
    unread = fields.Boolean(metadata={
        "description": "Posted by someone else since the caller last looked at the feed."})


class FeedPageSchema(Schema):
    items = fields.List(fields.Nested(FeedItemSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "Pass back as ?cursor= for the next page; null on the last page."})


class FeedArgsSchema(Schema):
    kind = choice(Kind)
    perspective = choice(Perspective)
    component = choice(Component)
    partner_id = fields.Integer(metadata={
        "description": "Only reflections posted on behalf of this partner organization."})
    tag = fields.String(validate=validate.Length(min=1, max=TAG_MAX))
    since = fields.Date(metadata={
        "description": "Posted on or after this day (a day of the collaboration's time "
                       "zone); not after until (422)."})
    until = fields.Date(metadata={
        "description": "Posted on or before this day (a day of the collaboration's time "
                       "zone); not before since (422)."})
    cursor = fields.String(metadata={"description": "next_cursor of the previous page."})
    limit = fields.Integer(load_default=queries.PAGE_SIZE,
                           validate=validate.Range(min=1, max=queries.PAGE_SIZE_MAX),
                           metadata={"description": "Reflections per page."})

    @validates_schema
    def _dates_in_order(self, data, **kwargs) -> None:
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError(_("The end comes before the start."), "until")


class ReflectionCreateSchema(AboutCitizenInputSchema):
    kind = choice(Kind, required=True)
    perspective = choice(Perspective, required=True)
    component = choice(Component, required=True)
    learning_level = choice(LearningLevel, required=True)
    mode = choice(LearningMode, required=True)
    body = text(BODY_MAX, required=True, metadata=BODY_DOC)
    visibility = choice(Visibility, metadata={
        "description": "Who reads it; collaboration if left out. partners needs audience."})
    attribution = choice(Attribution, metadata={
        "description": "person (default) or organization: the author stays known to "
                       "coordinators."})
    tags = fields.List(fields.String(), metadata={"description": "At most 10 short tags."})
    audience = fields.List(fields.Integer(), metadata={
        "description": "With visibility partners: ids of other partners of this "
                       "collaboration."})
    mentions = fields.List(fields.Integer(), metadata={
        "description": "User ids of members who can read it, to notify."})
    prompt_id = fields.Integer(allow_none=True, metadata={
        "description": "The id of the caller's own prompt of a routine in this "
                       "collaboration, while its period lasts: the reflection answers it. "
                       "Refused (422, field prompt) otherwise."})


class ReflectionUpdateSchema(Schema):
    kind = choice(Kind)
    perspective = choice(Perspective)
    component = choice(Component)
    learning_level = choice(LearningLevel)
    mode = choice(LearningMode)
    body = text(BODY_MAX, metadata=BODY_DOC)
    visibility = choice(Visibility, metadata={
        "description": "Changing it away from partners clears the audience."})
    attribution = choice(Attribution)
    tags = fields.List(fields.String(), metadata={"description": "Replaces the tags."})
    audience = fields.List(fields.Integer(), metadata={"description": "Replaces the audience."})


class RevisionSchema(Schema):
    id = fields.Integer()
    body = fields.String(metadata=BODY_DOC)
    body_html = fields.Function(_html, metadata=HTML_DOC)
    kind = choice(Kind)
    perspective = choice(Perspective)
    component = choice(Component)
    edited_at = Timestamp()
    edited_by = fields.Nested(UserSummarySchema, allow_none=True, metadata={
        "description": "Null when the author signed for their organization only."})


class ReplySchema(AboutCitizenSchema):
    id = fields.Integer()
    reflection_id = fields.Integer()
    parent_id = fields.Integer(allow_none=True, metadata={
        "description": "The reply this one answers; null for an answer to the reflection."})
    author = fields.Nested(UserSummarySchema, allow_none=True, metadata={
        "description": "Null when the reply's author wrote the reflection and signed it with "
                       "their organization only."})
    partner = fields.Nested(PartnerSummarySchema, allow_none=True)
    body = fields.String(metadata=BODY_DOC)
    body_html = fields.Function(_html, metadata=HTML_DOC)
    mentions = fields.List(fields.Nested(UserSummarySchema))
    created_at = Timestamp()
    edited_at = Timestamp(allow_none=True)
    withdrawn_at = Timestamp(allow_none=True)


class ReplyCreateSchema(AboutCitizenInputSchema):
    body = text(BODY_MAX, required=True, metadata=BODY_DOC)
    parent_id = fields.Integer(allow_none=True, metadata={
        "description": "Answer this reply (under the same reflection) instead."})
    mentions = fields.List(fields.Integer(), metadata={
        "description": "User ids of members who can read the reflection, to notify."})


class ReplyUpdateSchema(Schema):
    body = text(BODY_MAX, required=True, metadata=BODY_DOC)


RevisionPageSchema = page_schema(RevisionSchema)
ReplyPageSchema = page_schema(ReplySchema)


# -- routes ---------------------------------------------------------------------------------

def reflection_in(collaboration_id: int, reflection_id: int) -> Reflection:
    """The reflection in the URL; 404 unless the caller reads it in that collaboration."""
    collaboration_or_404(collaboration_id)
    return object_in(Reflection, collaboration_id, reflection_id)


def reply_in(collaboration_id: int, reflection_id: int, reply_id: int) -> Reply:
    """A reply in the URL, under the reflection and collaboration named there, or 404."""
    reflection = reflection_in(collaboration_id, reflection_id)
    audit.forget_reads("reflection", [reflection.id])  # checked, not answered
    answer = policy.get_or_404(policy.current_actor(), Reply, reply_id)
    if answer.reflection_id != reflection.id:
        raise NotFound()
    return answer


def _current_values(reflection: Reflection) -> dict:
    """The editable fields as they are, so a PATCH may send only what changes."""
    return {
        "kind": reflection.kind, "perspective": reflection.perspective,
        "component": reflection.component, "learning_level": reflection.learning_level,
        "mode": reflection.mode, "body": reflection.body, "visibility": reflection.visibility,
        "attribution": reflection.attribution, "tags": [t.name for t in reflection.tags],
        "audience": sorted(reflection.audience_partner_ids),
    }


def _reply_views(replies: list[Reply]) -> list[ReplyView]:
    mentions = _mentioned(reply_ids=[r.id for r in replies])
    actor = policy.current_actor()
    return [ReplyView(r, mentions[r.id],
                      author=r.author if policy.may(actor, "read_author", r) else None)
            for r in replies]


@blp.route("")
class Reflections(MethodView):
    @cached_page
    @blp.arguments(FeedArgsSchema, location="query")
    @blp.response(200, FeedPageSchema)
    @blp.fails_with(400, 404)
    @blp.doc(description=CURSOR_DOC)
    def get(self, args, collaboration_id: int):
        """The feed: the reflections the caller may read, newest first, filtered."""
        actor = policy.current_actor()
        collaboration = collaboration_or_404(collaboration_id)
        cursor, limit = args.pop("cursor", None), args.pop("limit")
        try:
            page = queries.feed(actor, collaboration, queries.FeedFilters(**args),
                                cursor=cursor, limit=limit)
        except queries.BadCursor:
            abort(400, message=_("This cursor is not valid: send next_cursor back as it came."))
        items = reflection_views(actor, page.items, reply_counts=page.reply_counts,
                                 unread_ids=page.unread_ids)
        return {"items": items, "next_cursor": page.next_cursor}

    @blp.arguments(ReflectionCreateSchema)
    @blp.response(201, ReflectionSchema)
    @blp.fails_with(403, 404)
    def post(self, data, collaboration_id: int):
        """Post a reflection on behalf of the caller's partner organization."""
        actor = policy.current_actor()
        collaboration = collaboration_or_404(collaboration_id)
        about = about_citizen(data)
        prompt = data.pop("prompt_id", None)
        reflection = operations.post_reflection(actor, collaboration, **data, **about,
                                                prompt=prompt)
        return reflection_view(actor, reflection)


@blp.route("/<int:reflection_id>")
class ReflectionItem(MethodView):
    @blp.response(200, ReflectionSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, reflection_id: int):
        """One reflection (a tombstone if withdrawn), with its counts and action."""
        return reflection_view(policy.current_actor(),
                               reflection_in(collaboration_id, reflection_id))

    @blp.arguments(ReflectionUpdateSchema)
    @blp.response(200, ReflectionSchema)
    @blp.fails_with(403, 404)
    def patch(self, data, collaboration_id: int, reflection_id: int):
        """Edit one's reflection (fields left out stay); the earlier text joins the history."""
        actor = policy.current_actor()
        reflection = reflection_in(collaboration_id, reflection_id)
        changes = {**_current_values(reflection), **data}
        if "audience" not in data and changes["visibility"] != Visibility.PARTNERS:
            changes["audience"] = []
        operations.edit_reflection(actor, reflection, **changes)
        return reflection_view(actor, reflection)


@blp.route("/<int:reflection_id>/withdraw")
class ReflectionWithdraw(MethodView):
    @blp.response(200, ReflectionSchema)
    @blp.fails_with(403, 404)
    def post(self, collaboration_id: int, reflection_id: int):
        """Withdraw a reflection (its author or a coordinator): its text is erased."""
        actor = policy.current_actor()
        reflection = reflection_in(collaboration_id, reflection_id)
        operations.withdraw_reflection(actor, reflection)
        return reflection_view(actor, reflection)


@blp.route("/<int:reflection_id>/history")
class ReflectionHistory(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, RevisionPageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int, reflection_id: int):
        """Earlier versions, newest first (emptied when the reflection is withdrawn)."""
        actor = policy.current_actor()
        reflection = reflection_in(collaboration_id, reflection_id)
        stmt = (select(ReflectionRevision)
                .where(ReflectionRevision.reflection_id == reflection.id)
                .options(selectinload(ReflectionRevision.edited_by))
                .order_by(ReflectionRevision.id.desc()))
        page = paginate(stmt, args)
        named = policy.may(actor, "read_author", reflection)
        page["items"] = [RevisionView(r, r.edited_by if named else None) for r in page["items"]]
        return page


@blp.route("/<int:reflection_id>/replies")
class Replies(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ReplyPageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int, reflection_id: int):
        """The replies, oldest first; parent_id threads them."""
        reflection = reflection_in(collaboration_id, reflection_id)
        audit.forget_reads("reflection", [reflection.id])  # checked, not answered
        stmt = (policy.scoped(policy.current_actor(), Reply)
                .where(Reply.reflection_id == reflection.id)
                .options(selectinload(Reply.author), selectinload(Reply.partner),
                         *citizen_loads(selectinload(Reply.citizen_reference)))
                .order_by(Reply.created_at, Reply.id))
        page = paginate(stmt, args)
        page["items"] = _reply_views(page["items"])
        return page

    @blp.arguments(ReplyCreateSchema)
    @blp.response(201, ReplySchema)
    @blp.fails_with(403, 404, 409)
    def post(self, data, collaboration_id: int, reflection_id: int):
        """Answer the reflection, or one of its replies (parent_id)."""
        reflection = reflection_in(collaboration_id, reflection_id)
        answer = operations.reply(policy.current_actor(), reflection, data["body"],
                                  parent_id=data.get("parent_id"),
                                  mentions=data.get("mentions", ()), **about_citizen(data))
        return _reply_views([answer])[0]


@blp.route("/<int:reflection_id>/replies/<int:reply_id>")
class ReplyItem(MethodView):
    @blp.response(200, ReplySchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, reflection_id: int, reply_id: int):
        """One reply."""
        return _reply_views([reply_in(collaboration_id, reflection_id, reply_id)])[0]

    @blp.arguments(ReplyUpdateSchema)
    @blp.response(200, ReplySchema)
    @blp.fails_with(403, 404, 409)
    def patch(self, data, collaboration_id: int, reflection_id: int, reply_id: int):
        """Edit one's reply."""
        answer = reply_in(collaboration_id, reflection_id, reply_id)
        operations.edit_reply(policy.current_actor(), answer, data["body"])
        return _reply_views([answer])[0]


@blp.route("/<int:reflection_id>/replies/<int:reply_id>/withdraw")
class ReplyWithdraw(MethodView):
    @blp.response(200, ReplySchema)
    @blp.fails_with(403, 404)
    def post(self, collaboration_id: int, reflection_id: int, reply_id: int):
        """Withdraw a reply (its author or a coordinator): its text is erased."""
        answer = reply_in(collaboration_id, reflection_id, reply_id)
        operations.withdraw_reply(policy.current_actor(), answer)
        return _reply_views([answer])[0]


@blp.route("/<int:reflection_id>/reaction")
class OurReaction(MethodView):
    def _react(self, collaboration_id: int, reflection_id: int, on: bool) -> Reactions:
        """Say or take back "we see this too" for the caller's organization; the new state."""
        actor = policy.current_actor()
        reflection = reflection_in(collaboration_id, reflection_id)
        operations.react(actor, reflection, on)
        return _reactions_seen_by(actor, reflection,
                                  _reactions_by_reflection([reflection.id])[reflection.id])

    @blp.response(200, ReactionsSchema)
    @blp.fails_with(403, 404)
    def put(self, collaboration_id: int, reflection_id: int):
        """Our organization sees this too (saying it twice changes nothing)."""
        return self._react(collaboration_id, reflection_id, True)

    @blp.response(200, ReactionsSchema)
    @blp.fails_with(403, 404)
    def delete(self, collaboration_id: int, reflection_id: int):
        """Take back our organization's "we see this too"."""
        return self._react(collaboration_id, reflection_id, False)
