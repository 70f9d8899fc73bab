"""/api/v1/collaborations/{id}/conversations: messages between members, across organizations.

Only participants who are still members of the collaboration see a conversation; for anyone
else it does not exist (404). Conversations list newest activity first; messages list newest
first (page 1 holds the latest), each with its Markdown source and the sanitized HTML.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from coprod import policy
from coprod.api.citizens import AboutCitizenInputSchema, AboutCitizenSchema, about_citizen
from coprod.api.common import ApiBlueprint, collaboration_or_404
from coprod.api.pagination import PageArgsSchema, page_schema, paginate
from coprod.api.schemas import Timestamp, UserSummarySchema, text
from coprod.markdown import render_markdown
from coprod.messages import operations, queries
from coprod.messages.models import MESSAGE_MAX, Conversation
from coprod.messages.operations import SUBJECT_MAX

blp = ApiBlueprint("conversations", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>/conversations",
                   description="Conversations between members of a collaboration.")


# -- schemas --------------------------------------------------------------------------------

class MessageSchema(AboutCitizenSchema):
    id = fields.Integer()
    conversation_id = fields.Integer()
    author = fields.Nested(UserSummarySchema)
    body = fields.String(metadata={"description": "The Markdown as written."})
    body_html = fields.Function(lambda m: str(render_markdown(m.body)), metadata={
        "type": "string", "description": "The Markdown rendered and sanitized."})
    created_at = Timestamp()


class ParticipantSchema(Schema):
    id = fields.Integer(attribute="user_id")
    display_name = fields.String(attribute="user.display_name")
    joined_at = Timestamp()


class ConversationSchema(Schema):
    """A conversation as its reader sees it: who takes part, the last message, what is new."""

    id = fields.Integer(attribute="conversation.id")
    collaboration_id = fields.Integer(attribute="conversation.collaboration_id")
    subject = fields.String(attribute="conversation.subject")
    created_at = Timestamp(attribute="conversation.created_at")
    last_message_at = Timestamp(attribute="conversation.last_message_at")
    participants = fields.List(fields.Nested(ParticipantSchema))
    last_message = fields.Nested(MessageSchema, allow_none=True)
    unread_count = fields.Integer(metadata={
        "description": "Messages by others the caller has not read yet."})


class ConversationCreateSchema(AboutCitizenInputSchema):
    participant_ids = fields.List(
        fields.Integer(), required=True, validate=validate.Length(min=1), metadata={
            "description": "User ids of members of this collaboration to write to (the caller "
                           "takes part anyway)."})
    subject = fields.String(validate=validate.Length(max=SUBJECT_MAX))
    body = text(MESSAGE_MAX, required=True, metadata={"description": "The first message."})


class ParticipantsAddSchema(Schema):
    participant_ids = fields.List(fields.Integer(), required=True,
                                  validate=validate.Length(min=1))


class MessageCreateSchema(AboutCitizenInputSchema):
    body = text(MESSAGE_MAX, required=True, metadata={"description": "Markdown."})


ConversationPageSchema = page_schema(ConversationSchema)
MessagePageSchema = page_schema(MessageSchema)


# -- helpers --------------------------------------------------------------------------------

def _conversation(collaboration_id: int, conversation_id: int) -> Conversation:
    """A conversation of the collaboration in the URL that the caller takes part in."""
    collaboration = collaboration_or_404(collaboration_id)
    return queries.conversation_or_404(policy.current_actor(), collaboration, conversation_id)


def _summary(conversation: Conversation) -> queries.ConversationSummary:
    return queries.summarize(policy.current_actor(), [conversation])[0]


# -- routes ---------------------------------------------------------------------------------

@blp.route("")
class Conversations(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ConversationPageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int):
        """The caller's conversations, latest activity first, with their unread counts."""
        actor = policy.current_actor()
        collaboration = collaboration_or_404(collaboration_id)
        page = paginate(queries.readable_conversations(actor, collaboration), args)
        page["items"] = queries.summarize(actor, page["items"])
        return page

    @blp.arguments(ConversationCreateSchema)
    @blp.response(201, ConversationSchema)
    @blp.fails_with(403, 404)
    def post(self, data, collaboration_id: int):
        """Start a conversation with one or more members; the first message is sent at once."""
        collaboration = collaboration_or_404(collaboration_id)
        conversation = operations.start_conversation(
            policy.current_actor(), collaboration, data["participant_ids"],
            data.get("subject"), data["body"], **about_citizen(data))
        return _summary(conversation)


@blp.route("/<int:conversation_id>")
class ConversationItem(MethodView):
    @blp.response(200, ConversationSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, conversation_id: int):
        """One conversation with its participants and unread count (reading it marks nothing;
        POST .../read does)."""
        return _summary(_conversation(collaboration_id, conversation_id))


@blp.route("/<int:conversation_id>/messages")
class Messages(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, MessagePageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int, conversation_id: int):
        """The messages, newest first: page 1 holds the latest."""
        conversation = _conversation(collaboration_id, conversation_id)
        return paginate(queries.readable_messages(policy.current_actor(), conversation), args)

    @blp.arguments(MessageCreateSchema)
    @blp.response(201, MessageSchema)
    @blp.fails_with(403, 404)
    def post(self, data, collaboration_id: int, conversation_id: int):
        """Write in the conversation (403 once the collaboration is archived)."""
        conversation = _conversation(collaboration_id, conversation_id)
        message = operations.post_message(policy.current_actor(), conversation, data["body"],
                                          **about_citizen(data))
        return message


@blp.route("/<int:conversation_id>/participants")
class Participants(MethodView):
    @blp.arguments(ParticipantsAddSchema)
    @blp.response(200, ConversationSchema)
    @blp.fails_with(403, 404)
    def post(self, data, collaboration_id: int, conversation_id: int):
        """Bring other members in; they read the conversation from its start."""
        conversation = _conversation(collaboration_id, conversation_id)
        operations.add_participants(policy.current_actor(), conversation,
                                    data["participant_ids"])
        return _summary(conversation)


@blp.route("/<int:conversation_id>/leave")
class Leave(MethodView):
    @blp.response(204)
    @blp.fails_with(403, 404)
    def post(self, collaboration_id: int, conversation_id: int):
        """Stop taking part; the others keep the conversation."""
        conversation = _conversation(collaboration_id, conversation_id)
        operations.leave_conversation(policy.current_actor(), conversation)


@blp.route("/<int:conversation_id>/read")
class Read(MethodView):
    @blp.response(200, ConversationSchema)
    @blp.fails_with(404)
    def post(self, collaboration_id: int, conversation_id: int):
        """Mark everything in the conversation read by the caller."""
        conversation = _conversation(collaboration_id, conversation_id)
        operations.mark_read(policy.current_actor(), conversation)
        return _summary(conversation)
