"""Pages of a collaboration's conversations: parse the form, call an operation, commit once.

The collaboration and the conversation named in a URL are loaded through the policy: someone
who is not a participant (or no longer a member) gets 404, as for any other collaboration's
object. Refused messages re-render the page with the reason next to the field, keeping what
was typed.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from coprod import pagecache, policy
from coprod.accounts.sessions import posts_as_reader
from coprod.common import OperationError
from coprod.extensions import db
from coprod.forms import attempt
from coprod.forms import show_refusal as _show_error
from coprod.inputs import page_number
from coprod.markdown import plain_excerpt, render_markdown
from coprod.messages import forms, operations, queries
from coprod.messages.models import Conversation
from coprod.reflections.views import about_choices, posted_about_choices
from coprod.spaces import queries as spaces
from coprod.spaces.models import Collaboration

bp = Blueprint("messages", __name__)

FORM_INVALID = 422
LIST_PAGE = 30
_UNSET = object()


@bp.before_request
@login_required
def _require_login():
    """Every page of a conversation needs a logged-in user."""


@bp.app_context_processor
def _nav_helpers():
    """The sub-navigation's "Messages" tab, with the reader's unread count as a badge."""
    return {"messages_tab_label": messages_tab_label}


@bp.app_template_filter("message_html")
def message_html(body: str) -> Markup:
    """A message's Markdown as sanitized HTML."""
    return render_markdown(body)


@bp.app_template_filter("message_excerpt")
def message_excerpt(body: str) -> str:
    """A message's first words as plain text, for the conversation list."""
    return plain_excerpt(body, 160)


def messages_tab_label(collaboration: Collaboration) -> Markup:
    """ "Messages", plus a badge "3 unread" when there is something new (one query, or none
    while nothing was written since it was counted: pagecache.kept_value)."""
    label = Markup("{}").format(_("Messages"))
    if not current_user.is_authenticated:
        return label
    unread = pagecache.kept_value(
        "unread messages", lambda: queries.unread_total(policy.current_actor(), collaboration),
        collaboration.id)
    if not unread:
        return label
    return label + Markup(' <span class="badge badge-unread">{}<span class="visually-hidden">'
                          ' {}</span></span>').format(unread, _("unread"))


# -- helpers --------------------------------------------------------------------------------

def _actor() -> policy.Actor:
    return policy.current_actor()


def _collaboration(collaboration_id: int) -> Collaboration:
    return policy.get_or_404(_actor(), Collaboration, collaboration_id)


# -- the list and a new conversation --------------------------------------------------------

@bp.get("/c/<int:collaboration_id>/messages")
def index(collaboration_id: int):
    """My conversations here, latest activity first, with what is unread."""
    collab = _collaboration(collaboration_id)
    page = page_number()
    if page < 1:
        abort(404)
    summaries = queries.conversations_of(_actor(), collab, limit=LIST_PAGE + 1,
                                         offset=(page - 1) * LIST_PAGE)
    return render_template("messages/list.html", collaboration=collab, current="messages",
                           summaries=summaries[:LIST_PAGE], page=page,
                           more=len(summaries) > LIST_PAGE, me=_actor().user_id)


def _new_form(collab: Collaboration) -> forms.NewConversationForm:
    """The form with every member and citizen to choose; posted, with what validating needs
    (the operation checks the participants and the citizen): the choices are offered when
    the form is shown again (_offer_choices). Loading them cost every message sent."""
    actor = _actor()
    if request.method == "POST":
        return forms.NewConversationForm(**posted_about_choices(actor, collab))
    return forms.NewConversationForm(members=spaces.members_of(actor, collab),
                                     me=actor.user_id, **about_choices(actor, collab))


def _offer_choices(form: forms.NewConversationForm, collab: Collaboration) -> None:
    """A posted form shown again: every choice, what was chosen kept."""
    actor = _actor()
    form.offer_members(spaces.members_of(actor, collab), actor.user_id)
    form.offer_citizens(**about_choices(actor, collab))


@bp.route("/c/<int:collaboration_id>/messages/new", methods=["GET", "POST"])
@posts_as_reader
def new(collaboration_id: int):
    """Write to one or more members of the collaboration, whichever partner they are with."""
    collab = _collaboration(collaboration_id)
    policy.require(_actor(), "start_conversation", collab)
    form = _new_form(collab)
    if not form.is_submitted():
        wanted = request.args.getlist("to", type=int)
        form.participants.data = [choice.value for choice in form.participants.choices
                                  if choice.value in wanted]
    status = 200
    if form.validate_on_submit():
        # About a citizen, every participant must be allowed to know: a refusal names them.
        outcome = attempt(form, operations.start_conversation,
                          _actor(), collab, form.participants.data, form.subject.data,
                          form.body.data, **form.about_data(),
                          aliases={"audience": "participants"})
        if outcome.ok:
            conversation = outcome.value
            flash(_("Your message is sent."), "success")
            return redirect(url_for(".thread", collaboration_id=collab.id,
                                    conversation_id=conversation.id))
        status = outcome.status
    elif form.is_submitted():
        status = FORM_INVALID
    if form.is_submitted():
        _offer_choices(form, collab)
    return render_template("messages/new.html", collaboration=collab, current="messages",
                           form=form), status


# -- one conversation -----------------------------------------------------------------------

def _conversation(collab: Collaboration, conversation_id: int) -> Conversation:
    return queries.conversation_or_404(_actor(), collab, conversation_id)


def _thread_page(collab: Collaboration, conversation_id: int, *, reply_form=None,
                 add_form=None, status: int = 200, error: str | None = None,
                 read_until=_UNSET):
    """The thread: its newest messages (or those before ?before=), the forms that apply.

    Messages by others newer than `read_until` (by default the reader's mark) are flagged new.
    """
    actor = _actor()
    conversation = _conversation(collab, conversation_id)  # (re)loaded after any commit
    if read_until is _UNSET:
        read_until = _mine(conversation).last_read_at
    try:
        page = queries.messages_of(actor, conversation, cursor=request.args.get("before"))
    except queries.BadCursor:
        abort(400)
    new_ids = {m.id for m in page.items if m.author_id != actor.user_id
               and (read_until is None or m.created_at > read_until)}
    can_post = policy.may(actor, "post", conversation)
    if can_post and reply_form is None:
        reply_form = forms.ReplyForm(formdata=None, **about_choices(actor, collab))
    elif can_post:  # a posted form loaded the citizen it names at most
        reply_form.offer_citizens(**about_choices(actor, collab))
    if can_post and add_form is None:
        add_form = forms.AddParticipantsForm(
            formdata=None, members=spaces.members_of(actor, collab),
            present={p.user_id for p in conversation.participants})
    return render_template(
        "messages/thread.html", collaboration=collab, current="messages",
        conversation=conversation, page=page, new_ids=new_ids, me=actor.user_id,
        seats=queries.participant_seats(actor, conversation),
        reply_form=reply_form if can_post else None,
        add_form=add_form if can_post and add_form.participants.choices else None,
        action_error=error), status


def _mine(conversation: Conversation):
    """The reader's own participant row (the policy let only participants this far)."""
    return next(p for p in conversation.participants if p.user_id == _actor().user_id)


@bp.get("/c/<int:collaboration_id>/messages/<int:conversation_id>")
def thread(collaboration_id: int, conversation_id: int):
    """Read a conversation; showing its newest messages marks them read.

    Keeping the reader's mark is a write on GET on purpose: it only records that the page
    was seen, like a read receipt, and changes nothing anyone else sees.
    """
    collab = _collaboration(collaboration_id)
    conversation = _conversation(collab, conversation_id)
    read_until = _mine(conversation).last_read_at
    newer = read_until is None or conversation.last_message_at > read_until
    marks = newer and not request.args.get("before")
    if marks:
        operations.mark_read(_actor(), conversation)
    page = _thread_page(collab, conversation_id, read_until=read_until)
    if marks:
        db.session.commit()  # after the page is made: nothing is read after a commit
    return page


def _refused(collab: Collaboration, conversation_id: int, **forms_kept):
    """Why a participant cannot change the conversation (an archived space), with 403."""
    if collab.is_archived:
        message = _("This collaboration is archived: its conversations can be read, "
                    "not continued.")
    else:
        message = _("You cannot write in this conversation.")
    return _thread_page(collab, conversation_id, status=403, error=message, **forms_kept)


@bp.post("/c/<int:collaboration_id>/messages/<int:conversation_id>")
@posts_as_reader
def reply(collaboration_id: int, conversation_id: int):
    """Write in a conversation one takes part in."""
    collab = _collaboration(collaboration_id)
    conversation = _conversation(collab, conversation_id)
    form = forms.ReplyForm(**posted_about_choices(_actor(), collab))
    if not policy.may(_actor(), "post", conversation):
        return _refused(collab, conversation_id, reply_form=form)
    if not form.validate_on_submit():
        return _thread_page(collab, conversation_id, reply_form=form, status=FORM_INVALID)
    try:
        message = operations.post_message(_actor(), conversation, form.body.data,
                                          **form.about_data())
    except OperationError as err:
        db.session.rollback()
        # The reply form has no audience: a refusal for it is shown by the citizen chosen.
        _show_error(form, err, {"audience": "citizen"})
        return _thread_page(collab, conversation_id, reply_form=form, status=err.status)
    return redirect(url_for(".thread", collaboration_id=collaboration_id,
                            conversation_id=conversation_id, _anchor=f"message-{message.id}"))


@bp.post("/c/<int:collaboration_id>/messages/<int:conversation_id>/participants")
def add_participants(collaboration_id: int, conversation_id: int):
    """Bring more members into the conversation; they read it from the start."""
    collab = _collaboration(collaboration_id)
    conversation = _conversation(collab, conversation_id)
    members = spaces.members_of(_actor(), collab)
    form = forms.AddParticipantsForm(members=members,
                                     present={p.user_id for p in conversation.participants})
    if not policy.may(_actor(), "post", conversation):
        return _refused(collab, conversation_id, add_form=form)
    if not form.validate_on_submit():
        return _thread_page(collab, conversation_id, add_form=form, status=FORM_INVALID)
    try:
        added = {p.user_id for p in operations.add_participants(
            _actor(), conversation, form.participants.data)}
    except OperationError as err:
        db.session.rollback()
        _show_error(form, err)
        return _thread_page(collab, conversation_id, add_form=form, status=err.status)
    names = ", ".join(m.user.display_name for m in members if m.user_id in added)
    flash(_("%(names)s can now read and write in this conversation.", names=names), "success")
    return redirect(url_for(".thread", collaboration_id=collaboration_id,
                            conversation_id=conversation_id))


@bp.post("/c/<int:collaboration_id>/messages/<int:conversation_id>/leave")
def leave(collaboration_id: int, conversation_id: int):
    """Stop taking part: the conversation leaves my list; the others keep it."""
    collab = _collaboration(collaboration_id)
    conversation = _conversation(collab, conversation_id)
    if not policy.may(_actor(), "post", conversation):
        return _refused(collab, conversation_id)
    operations.leave_conversation(_actor(), conversation)
    flash(_("You left the conversation."), "success")
    return redirect(url_for(".index", collaboration_id=collaboration_id))
