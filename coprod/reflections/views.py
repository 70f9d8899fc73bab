"""Pages of reflections, replies, reactions and improvement actions: parse, call, commit, render.

Every collaboration and object named in a URL is loaded through the policy: what the user may
not read answers 404 (also an object of another collaboration under this one's URL), a change
the user may not make answers 403 with the reason. A refused change re-renders the page with
the message next to the field at fault and the refusal's status, keeping what was typed.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.exceptions import Forbidden

from coprod import pagecache, policy
from coprod.accounts.sessions import posts_as_reader
from coprod.citizens.models import Citizen
from coprod.common import OperationError
from coprod.extensions import db
from coprod.forms import attempt, show_refusal
from coprod.inputs import database_id
from coprod.markdown import plain_excerpt, render_markdown
from coprod.pagecache import cached_page
from coprod.reflections import forms, operations, queries
from coprod.reflections.models import ActionStatus, Reflection, Reply, Visibility
from coprod.routines import answers
from coprod.routines.emails import prompt_from_token
from coprod.routines.models import Prompt
from coprod.servicemap import queries as servicemap_queries
from coprod.spaces import queries as spaces_queries
from coprod.spaces.models import Collaboration

bp = Blueprint("reflections", __name__)

FORM_INVALID = 422
# Replies deeper than this are shown at this depth (still answering the right reply).
MAX_VISUAL_DEPTH = 3


@bp.before_request
@login_required
def _require_login():
    """Every page of a space needs a logged-in user."""


@bp.app_context_processor
def _template_helpers():
    """What the space layout and the reflection templates call."""
    return {"unread_reflections": _unread_reflections, "render_markdown": render_markdown,
            "plain_excerpt": plain_excerpt, "citizen_href": citizen_href,
            "glossary": forms.glossary}


# The staff page of a citizen (coprod/citizens); content links to it once it exists.
CITIZEN_PAGES = ("citizens.show", "citizens.detail")


def citizen_href(reference) -> str | None:
    """The staff page of the citizen some content is about (it checks the policy itself)."""
    endpoint = next((e for e in CITIZEN_PAGES if e in current_app.view_functions), None)
    if endpoint is None:
        return None
    return url_for(endpoint, collaboration_id=reference.citizen.collaboration_id,
                   citizen_id=reference.citizen_id)


def _unread_reflections(collaboration: Collaboration) -> str:
    """The count beside the Reflections tab of a space ("" for none, "99+" past 99)."""
    count = pagecache.kept_value(
        "unread reflections", lambda: queries.unread_count(policy.current_actor(), collaboration),
        collaboration.id)
    return f"{queries.UNREAD_COUNTED - 1}+" if count >= queries.UNREAD_COUNTED else (
        str(count) if count else "")


# -- helpers --------------------------------------------------------------------------------

def _actor() -> policy.Actor:
    return policy.current_actor()


def _denied(collaboration: Collaboration) -> str:
    if collaboration.is_archived:
        return _("This collaboration is archived: nothing in it changes until it is reopened.")
    return _("Your role in this collaboration does not allow this.")


def _collaboration(collaboration_id: int, action: str = "read") -> Collaboration:
    collab = policy.get_or_404(_actor(), Collaboration, collaboration_id)
    _require(collab, action, collab)
    return collab


def _require(collab: Collaboration, action: str, obj) -> None:
    """403 with the reason when the policy refuses (404 when the object is not readable)."""
    try:
        policy.require(_actor(), action, obj)
    except Forbidden:
        abort(403, description=_denied(collab))


def _reflection(collab: Collaboration, reflection_id: int) -> Reflection:
    """A reflection of this very collaboration that the user may read; 404 otherwise."""
    reflection = policy.get_or_404(_actor(), Reflection, reflection_id)
    if reflection.collaboration_id != collab.id:
        abort(404)
    return reflection


def _reply_under(reflection: Reflection, reply_id: int) -> Reply:
    answer = policy.get_or_404(_actor(), Reply, reply_id)
    if answer.reflection_id != reflection.id:
        abort(404)
    return answer


# The reflection page's anchor after a post: the page shows its author "Your reflection is
# posted." while the address ends in #posted (CSS :target). A flashed message did the same at
# the cost of writing the session cookie twice, on the post and on the page that showed it;
# the page stays one the page cache keeps. A post narrowed to fewer readers still flashes the
# names of those left, which the page does not tell apart from the chosen.
POSTED = "posted"


def _to_reflection(collab: Collaboration, reflection_id: int, anchor: str | None = None):
    return redirect(url_for(".show", collaboration_id=collab.id, reflection_id=reflection_id,
                            _anchor=anchor))


def about_choices(actor: policy.Actor, collab: Collaboration, chosen: str | None = None
                  ) -> dict:
    """What the "About a citizen" fields offer, as a form's `citizens=` and `categories=`: the
    citizens the actor may read and reference here, and the collaboration's categories.
    Nothing for a member who may reference no citizen, so the fields stay hidden.

    `chosen`, the citizen a posted form names ("" for none): only what validating it needs,
    one citizen (that one if the actor may reference it, else any one they may, so that the
    fields are offered as on the page and the choice is refused as there) and no categories
    (their ticks are checked by the operation). Loading every citizen and category cost a
    post a third of its time; a form shown again after a refusal gets them all."""
    citizens = (policy.scoped(actor, Citizen)
                .where(Citizen.collaboration_id == collab.id,
                       policy.where(actor, Citizen, "reference")))
    if chosen is not None:
        wanted = _citizen_id(chosen)
        citizens = citizens.order_by((Citizen.id == wanted).desc() if wanted else Citizen.id
                                     ).limit(1)
    else:
        citizens = citizens.order_by(Citizen.pseudonym)
    citizens = list(db.session.scalars(citizens))
    if not citizens:
        return {}
    return {"citizens": citizens, "categories": [] if chosen is not None
            else servicemap_queries.categories_of(actor, collab)}


def _citizen_id(value: str) -> int | None:
    try:
        return database_id(value)
    except ValueError:
        return None


# -- the feed -------------------------------------------------------------------------------

@bp.get("/c/<int:collaboration_id>/reflections")
@cached_page
def feed(collaboration_id: int):
    """What the user may read, newest first, filtered, a page at a time, new ones marked."""
    actor = _actor()
    collab = _collaboration(collaboration_id)
    partners = spaces_queries.partners_of(actor, collab)
    form = forms.FeedFilterForm(request.args, partners=partners)
    cursor = request.args.get("cursor") or None
    if not form.validate():
        return _feed_page(collab, form, None), 400
    try:
        page = queries.feed(actor, collab, form.filters(), cursor=cursor)
    except queries.BadCursor:
        abort(400, description=_("This link to older reflections is damaged. "
                                 "Start again from the newest ones."))
    html = _feed_page(collab, form, page, first=cursor is None)
    if cursor is None and not form.is_filtered():
        # Seen once the newest page was shown whole; a filtered view hides some of it.
        operations.mark_feed_seen(actor, collab)
        db.session.commit()
    return html


def _feed_page(collab: Collaboration, form, page, first: bool = True) -> str:
    older = None
    if page is not None and page.next_cursor:
        older = url_for(".feed", collaboration_id=collab.id, cursor=page.next_cursor,
                        **form.args())
    return render_template(
        "reflections/feed.html", collaboration=collab, form=form, page=page, first=first,
        older=older, filtered=form.is_filtered() if page is not None else True,
        today=queries.collaboration_today(collab), current="reflections")


# -- posting and editing a reflection -------------------------------------------------------

def _reflection_form(form_cls, collab: Collaboration, offered: bool = True, **kwargs):
    """The form with its choices; `offered=False` leaves the partners and members to choose
    out (a posted form: the operation checks the audience and who may be mentioned, and
    _offer_choices() fills them when the form is shown again). Loading them cost a post an
    eighth of its time."""
    actor = _actor()
    seat = actor.seat(collab.id)
    offers_mentions = offered and getattr(form_cls, "mentions", None) is not None
    members = spaces_queries.members_of(actor, collab) if offers_mentions else []
    partners = spaces_queries.partners_of(actor, collab) if offered else []
    return form_cls(partners=partners, members=members,
                    speaks_for=seat.partner_id if seat else None, me=actor.user_id, **kwargs)


def _offer_choices(form, actor: policy.Actor, collab: Collaboration) -> None:
    """A posted reflection form shown again: every choice, what was chosen kept."""
    form.offer_partners(spaces_queries.partners_of(actor, collab))
    form.offer_citizens(**about_choices(actor, collab))
    form.offer_mentions(spaces_queries.members_of(actor, collab), actor.user_id)


@bp.route("/c/<int:collaboration_id>/reflections/new", methods=["GET", "POST"])
@posts_as_reader
def new(collaboration_id: int):
    """Write down what works or what must improve, for the readers one chooses."""
    actor = _actor()
    collab = _collaboration(collaboration_id, "post_reflection")
    posted = request.method == "POST"  # then only what validating needs, until shown again
    form = _reflection_form(forms.ReflectionForm, collab, offered=not posted,
                            **posted_about_choices(actor, collab) if posted
                            else about_choices(actor, collab))
    token = form.prompt.data if form.is_submitted() else request.args.get("prompt")
    prompt = _prompt(collab, token) if token else None
    if prompt is not None and not form.is_submitted() and not answers.is_open(prompt):
        return redirect(url_for("routines.respond", token=token))  # "the period is over"
    status = 200
    if not form.is_submitted():
        form.prefill(request.args)
        if prompt is not None:
            form.answer_prompt(token, answers.scaffold(answers.questions_of(prompt.routine)))
    elif form.validate():
        reflection_id, status = _post_reflection(actor, collab, form, prompt)
        if reflection_id is not None:
            if not form.narrowing:  # the page confirms it (POSTED), no session to rewrite
                return _to_reflection(collab, reflection_id, anchor=POSTED)
            flash(_("Your reflection is posted for %(names)s only.",
                    names=form.narrowing["names"]), "success")
            return _to_reflection(collab, reflection_id)
    else:
        status = FORM_INVALID
    if posted:
        _offer_choices(form, actor, collab)
    answering = prompt if prompt is not None and form.prompt.data else None
    return render_template(
        "reflections/new.html", collaboration=collab, form=form, current="reflections",
        prompt=answering,
        questions=answers.questions_of(answering.routine) if answering else []), status


def posted_about_choices(actor: policy.Actor, collab: Collaboration, prefix: str = "") -> dict:
    """about_choices() for a posted form (a reflection, a reply, a message; `prefix`: the
    form's): nothing when it names no citizen and ticks no category (most posts: the
    operation then has nothing to check, and the form posts it about nobody whether the
    fields were offered or not). A form shown again offers every choice (offer_citizens)."""
    field = f"{prefix}-" if prefix else ""
    chosen = request.form.get(f"{field}citizen", "")
    if not chosen and not request.form.getlist(f"{field}categories"):
        return {}
    return about_choices(actor, collab, chosen)


def _prompt(collab: Collaboration, token: str) -> Prompt:
    """The routine's prompt a reflection answers (from its link): the user's own, of this
    collaboration, that they may answer; 404 for any other token."""
    prompt = prompt_from_token(token)
    if prompt is None or not policy.may(_actor(), "read", prompt) \
            or prompt.routine.collaboration_id != collab.id:
        abort(404)
    _require(collab, "respond", prompt)
    return prompt


def _post_reflection(actor: policy.Actor, collab: Collaboration, form, prompt=None
                     ) -> tuple[int | None, int]:
    """Post what the form says (the new reflection's id), or show the refusal and return its
    status.

    A note about a citizen that some of its readers may not know is refused for the audience:
    the message goes next to the visibility with an offer to narrow, and the narrow button
    posts the same form again for the readers that may know (worked out anew, on POST).
    """
    data = {**form.reflection_data(), **form.about_data(), "mentions": form.mentions.data or [],
            "prompt": prompt}
    reflection_id, refused = _run(operations.post_reflection_row, actor, collab, **data)
    lacking = getattr(refused, "lacking", None)
    if lacking:  # the offer to narrow names the partners
        form.offer_partners(spaces_queries.partners_of(actor, collab))
    if lacking and form.narrow.data:
        data.update(_narrowed(collab, form.speaks_for, data, lacking))
        form.offer_narrowing(data["visibility"], data["audience"])  # names the readers
        form.visibility.data, form.audience.data = data["visibility"], data["audience"]
        reflection_id, refused = _run(operations.post_reflection_row, actor, collab, **data)
        lacking = getattr(refused, "lacking", None)
    if refused is None:
        return reflection_id, 200
    if refused.field == "prompt":
        form.prompt.data = ""  # posting again shares it without answering the prompt
    form.narrowing = None
    show_refusal(form, refused, {"audience": "visibility"} if lacking else None)
    if lacking:
        form.offer_narrowing(**_narrowed(collab, form.speaks_for, data, lacking))
    return None, refused.status


def _run(operation, *args, **kwargs) -> tuple[object, OperationError | None]:
    """attempt() keeping the refusal itself: (value, None) done, or (None, refusal)."""
    try:
        value = operation(*args, **kwargs)
    except OperationError as err:
        db.session.rollback()
        return None, err
    return value, None


def _narrowed(collab: Collaboration, author_partner_id, data: dict, lacking) -> dict:
    """The visibility and audience without the partners that may not know: the other readers
    as chosen partners, or the author's organization alone when none is left."""
    readers = operations.reader_partners(collab.id, Visibility(data["visibility"]),
                                         author_partner_id, data["audience"])
    others = sorted(readers - set(lacking) - {author_partner_id})
    if others:
        return {"visibility": Visibility.PARTNERS.value, "audience": others}
    return {"visibility": Visibility.ORGANIZATION.value, "audience": []}


@bp.route("/c/<int:collaboration_id>/reflections/<int:reflection_id>/edit",
          methods=["GET", "POST"])
def edit(collaboration_id: int, reflection_id: int):
    """The author changes a reflection; what it said before stays in its history."""
    actor = _actor()
    collab = _collaboration(collaboration_id)
    reflection = _reflection(collab, reflection_id)
    _require(collab, "update", reflection)
    form = _reflection_form(forms.EditReflectionForm, collab)
    status = 200
    if not form.is_submitted():
        form.fill_from(reflection)
    elif form.validate():
        outcome = attempt(form, operations.edit_reflection,
                          actor, reflection, **form.reflection_data())
        if outcome.ok:
            flash(_("Your changes are saved; the earlier text is in the history."), "success")
            return _to_reflection(collab, reflection_id)
        status = outcome.status
    else:
        status = FORM_INVALID
    return render_template("reflections/edit.html", collaboration=collab, form=form,
                           reflection=reflection, current="reflections"), status


@bp.post("/c/<int:collaboration_id>/reflections/<int:reflection_id>/withdraw")
def withdraw(collaboration_id: int, reflection_id: int):
    """The author or a coordinator takes a reflection back; a tombstone stays."""
    collab = _collaboration(collaboration_id)
    reflection = _reflection(collab, reflection_id)
    _require(collab, "withdraw", reflection)
    operations.withdraw_reflection(_actor(), reflection)
    flash(_("The reflection is withdrawn. Its text and earlier versions are erased."),
          "success")
    return _to_reflection(collab, reflection_id)


@bp.get("/c/<int:collaboration_id>/reflections/<int:reflection_id>/history")
def history(collaboration_id: int, reflection_id: int):
    """Earlier versions of a reflection, with who changed it and when."""
    collab = _collaboration(collaboration_id)
    reflection = _reflection(collab, reflection_id)
    return render_template("reflections/history.html", collaboration=collab,
                           reflection=reflection, revisions=queries.revisions_of(reflection),
                           current="reflections")


# -- one reflection with its thread --------------------------------------------------------

def _thread(replies: list[Reply]) -> list[dict]:
    """Replies as a tree (each node: reply, children), in the order they were written."""
    nodes = {r.id: {"reply": r, "children": []} for r in replies}
    roots = []
    for r in replies:
        parent = nodes.get(r.parent_id) if r.parent_id else None
        (parent["children"] if parent else roots).append(nodes[r.id])
    return roots


def _show_page(collab: Collaboration, reflection_id: int, *, reply_form=None,
               action_form=None, update_form=None, status: int = 200,
               error: str | None = None):
    """The reflection page; a refused form comes back in its place with its errors."""
    actor = _actor()
    reflection, replies, reactions = queries.reflection_with_thread(actor, reflection_id)
    if reflection.collaboration_id != collab.id:
        abort(404)
    members = spaces_queries.members_of(actor, collab)
    readers = queries.members_who_read(reflection, members)
    partners = spaces_queries.partners_of(actor, collab)
    seat = actor.seat(collab.id)
    may_reply = policy.may(actor, "reply", reflection)
    forms_by_parent = {}
    if may_reply:
        about = about_choices(actor, collab)
        forms_by_parent[None] = forms.ReplyForm(prefix="reply", readers=readers,
                                                me=actor.user_id, formdata=None, **about)
        for r in replies:
            if r.withdrawn_at is None:
                forms_by_parent[r.id] = forms.ReplyForm(prefix=f"answer-{r.id}", readers=(),
                                                        formdata=None, **about)
    if reply_form is not None:
        if may_reply:  # a posted form loaded the citizen it names at most (about_choices)
            reply_form[1].offer_citizens(**about)
        forms_by_parent[reply_form[0]] = reply_form[1]
    action = reflection.action
    if action_form is None and policy.may(actor, "create_action", reflection):
        action_form = forms.ActionForm(partners=partners, members=members, formdata=None)
        action_form.owner_partner_id.data = str(seat.partner_id or "") if seat else ""
    if update_form is None and action is not None and policy.may(actor, "update", action):
        update_form = forms.ActionUpdateForm(members=members, formdata=None,
                                             owner_partner_id=action.owner_partner_id)
        update_form.fill_from(action)
    return render_template(
        "reflections/show.html", collaboration=collab, reflection=reflection,
        thread=_thread(replies), reply_count=sum(r.withdrawn_at is None for r in replies),
        reactions=reactions, my_partner_id=seat.partner_id if seat else None,
        reacted=bool(seat and any(x.partner_id == seat.partner_id for x in reactions)),
        mentions=queries.mentions_in(reflection),
        partner_names={p.id: p.name for p in partners}, reply_forms=forms_by_parent,
        open_form=reply_form[0] if reply_form else False, max_depth=MAX_VISUAL_DEPTH,
        action=action, action_form=action_form, update_form=update_form,
        today=queries.collaboration_today(collab), action_error=error,
        posted_anchor=POSTED if reflection.author_id == actor.user_id else None,
        current="reflections"), status


@bp.get("/c/<int:collaboration_id>/reflections/<int:reflection_id>")
@cached_page
def show(collaboration_id: int, reflection_id: int):
    """A reflection, how it is classified, who may read it, its reactions and replies."""
    return _show_page(_collaboration(collaboration_id), reflection_id)


# -- replies and reactions ------------------------------------------------------------------

def _refuse_if_withdrawn(collab: Collaboration, reflection: Reflection):
    if reflection.is_withdrawn:
        return _show_page(collab, reflection.id, status=409, error=_(
            "This reflection was withdrawn: it takes no more replies, reactions or actions."))
    return None


@bp.post("/c/<int:collaboration_id>/reflections/<int:reflection_id>/replies",
         defaults={"parent_id": None})
@bp.post("/c/<int:collaboration_id>/reflections/<int:reflection_id>/replies/<int:parent_id>")
@posts_as_reader
def reply(collaboration_id: int, reflection_id: int, parent_id: int | None):
    """Answer a reflection, or one reply under it; the answer has the reflection's readers."""
    actor = _actor()
    collab = _collaboration(collaboration_id)
    reflection = _reflection(collab, reflection_id)
    refused = _refuse_if_withdrawn(collab, reflection)
    if refused:
        return refused
    _require(collab, "reply", reflection)
    if parent_id is not None:
        _reply_under(reflection, parent_id)
    prefix = "reply" if parent_id is None else f"answer-{parent_id}"
    form = forms.ReplyForm(prefix=prefix, **posted_about_choices(actor, collab, prefix))
    status = FORM_INVALID
    if form.validate():
        # The reply form has no audience: a refusal for it is shown by the citizen chosen.
        outcome = attempt(form, operations.reply,
                          actor, reflection, form.body.data, parent_id=parent_id,
                          mentions=form.mentions.data or [], **form.about_data(),
                          aliases={"audience": "citizen"})
        if outcome.ok:
            answer = outcome.value
            flash(_("Your reply is posted."), "success")
            return _to_reflection(collab, reflection_id, f"reply-{answer.id}")
        status = outcome.status
    if parent_id is None:
        # The top-level form offers mentions: keep the choices (and the ticks) on a refusal.
        readers = queries.members_who_read(reflection,
                                           spaces_queries.members_of(actor, collab))
        ticked = form.mentions.data
        form.mentions.choices = forms.ReplyForm(readers=readers, me=actor.user_id,
                                                formdata=None).mentions.choices
        form.mentions.data = ticked
    return _show_page(collab, reflection_id, reply_form=(parent_id, form), status=status)


@bp.route("/c/<int:collaboration_id>/reflections/<int:reflection_id>/replies/"
          "<int:reply_id>/edit", methods=["GET", "POST"])
def edit_reply(collaboration_id: int, reflection_id: int, reply_id: int):
    """The author of a reply corrects it."""
    collab = _collaboration(collaboration_id)
    reflection = _reflection(collab, reflection_id)
    answer = _reply_under(reflection, reply_id)
    _require(collab, "update", answer)
    if answer.withdrawn_at is not None:
        abort(409, description=_("This reply was withdrawn; it cannot be edited."))
    form = forms.EditReplyForm()
    status = 200
    if not form.is_submitted():
        form.body.data = answer.body
    elif form.validate():
        outcome = attempt(form, operations.edit_reply, _actor(), answer, form.body.data)
        if outcome.ok:
            flash(_("Your reply is saved."), "success")
            return _to_reflection(collab, reflection_id, f"reply-{reply_id}")
        status = outcome.status
    else:
        status = FORM_INVALID
    return render_template("reflections/reply_edit.html", collaboration=collab,
                           reflection=reflection, reply=answer, form=form,
                           current="reflections"), status


@bp.post("/c/<int:collaboration_id>/reflections/<int:reflection_id>/replies/"
         "<int:reply_id>/withdraw")
def withdraw_reply(collaboration_id: int, reflection_id: int, reply_id: int):
    """The author of a reply or a coordinator takes it back."""
    collab = _collaboration(collaboration_id)
    reflection = _reflection(collab, reflection_id)
    answer = _reply_under(reflection, reply_id)
    _require(collab, "withdraw", answer)
    if answer.withdrawn_at is None:
        operations.withdraw_reply(_actor(), answer)
    flash(_("The reply is withdrawn."), "success")
    return _to_reflection(collab, reflection_id, f"reply-{reply_id}")


@bp.post("/c/<int:collaboration_id>/reflections/<int:reflection_id>/reaction")
@posts_as_reader
def react(collaboration_id: int, reflection_id: int):
    """Say (or take back) "we see this too" for one's partner organization."""
    collab = _collaboration(collaboration_id)
    reflection = _reflection(collab, reflection_id)
    refused = _refuse_if_withdrawn(collab, reflection)
    if refused:
        return refused
    _require(collab, "react", reflection)
    on = request.form.get("on")
    if on not in ("1", "0"):
        abort(400, description=_("Say whether you see this too."))
    operations.react(_actor(), reflection, on=on == "1")
    return _to_reflection(collab, reflection_id, "reactions")


# -- improvement actions --------------------------------------------------------------------

@bp.post("/c/<int:collaboration_id>/reflections/<int:reflection_id>/action")
def create_action(collaboration_id: int, reflection_id: int):
    """Turn an 'improve' reflection into an action one partner organization owns."""
    actor = _actor()
    collab = _collaboration(collaboration_id)
    reflection = _reflection(collab, reflection_id)
    refused = _refuse_if_withdrawn(collab, reflection)
    if refused:
        return refused
    if reflection.action is not None:
        return _show_page(collab, reflection_id, status=409, error=_(
            "This reflection is already an improvement action."))
    _require(collab, "create_action", reflection)
    form = forms.ActionForm(partners=spaces_queries.partners_of(actor, collab),
                            members=spaces_queries.members_of(actor, collab))
    status = FORM_INVALID
    if form.validate():
        outcome = attempt(form, operations.create_action, actor, reflection, **form.action_data())
        if outcome.ok:
            flash(_("The improvement is now an action."), "success")
            return _to_reflection(collab, reflection_id, "action")
        status = outcome.status
    return _show_page(collab, reflection_id, action_form=form, status=status)


@bp.post("/c/<int:collaboration_id>/reflections/<int:reflection_id>/action/update")
def update_action(collaboration_id: int, reflection_id: int):
    """The owning partner's staff or a coordinator move the action along."""
    actor = _actor()
    collab = _collaboration(collaboration_id)
    reflection = _reflection(collab, reflection_id)
    action = reflection.action
    if action is None:
        abort(404)
    _require(collab, "update", action)
    form = forms.ActionUpdateForm(members=spaces_queries.members_of(actor, collab),
                                  owner_partner_id=action.owner_partner_id)
    status = FORM_INVALID
    if form.validate():
        outcome = attempt(form, operations.update_action, actor, action, **form.action_data())
        if outcome.ok:
            flash(_("The action is saved."), "success")
            return _to_reflection(collab, reflection_id, "action")
        status = outcome.status
    return _show_page(collab, reflection_id, update_form=form, status=status)


@bp.get("/c/<int:collaboration_id>/actions")
def actions(collaboration_id: int):
    """The improvement actions the user may read, by status, overdue ones flagged."""
    collab = _collaboration(collaboration_id)
    found = queries.actions_of(_actor(), collab)
    groups = [(status, [a for a in found if a.status == status])
              for status in ActionStatus]
    return render_template("reflections/actions.html", collaboration=collab, groups=groups,
                           today=queries.collaboration_today(collab), current="actions")

