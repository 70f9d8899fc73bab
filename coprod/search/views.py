"""Search and export pages of a collaboration: parse the request, ask the queries, answer.

Everything shown or exported was selected by the policy in SQL for the logged-in member; a
collaboration they are not in answers 404. Exports are streamed downloads:

    /c/<id>/export.csv          one line per reflection (replies counted)
    /c/<id>/export-replies.csv  one line per reply, with the id of its reflection
    /c/<id>/export.json         the reflections with their replies nested

Each takes the feed's filters (kind, perspective, component, partner, tag, since, until).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from coprod import inputs, policy
from coprod.common import OperationError
from coprod.reflections import export
from coprod.reflections.forms import FeedFilterForm
from coprod.reflections.queries import FeedFilters
from coprod.search import queries
from coprod.search.forms import SearchForm
from coprod.spaces import queries as spaces
from coprod.spaces.models import Collaboration

bp = Blueprint("search", __name__)

FORM_INVALID = 422


@bp.before_request
@login_required
def _require_login():
    """Searching and exporting need a logged-in member."""


def _collaboration(collaboration_id: int) -> Collaboration:
    return policy.get_or_404(policy.current_actor(), Collaboration, collaboration_id)


# -- links to what was found ----------------------------------------------------------------

def hit_url(hit: queries.Hit) -> str:
    """The page of a found item: a reflection, a reply (an anchor in its reflection's page)
    or a message (an anchor in its conversation)."""
    if hit.kind == "message":
        return url_for("messages.thread", collaboration_id=hit.collaboration_id,
                       conversation_id=hit.conversation_id, _anchor=f"message-{hit.id}")
    return url_for("reflections.show", collaboration_id=hit.collaboration_id,
                   reflection_id=hit.reflection_id,
                   _anchor=f"reply-{hit.id}" if hit.kind == "reply" else None)


@bp.app_template_global()
def export_links(collaboration: Collaboration, filters: dict | None = None) -> list[tuple]:
    """(label, url) of each export of a collaboration, carrying the feed's filters."""
    args = dict(filters or {}, collaboration_id=collaboration.id)
    return [(_("Reflections (CSV)"), url_for("search.export_csv", **args)),
            (_("Replies (CSV)"), url_for("search.export_replies_csv", **args)),
            (_("Reflections with replies (JSON)"), url_for("search.export_json", **args))]


# -- search ---------------------------------------------------------------------------------

@bp.get("/c/<int:collaboration_id>/search")
def search(collaboration_id: int):
    """Full-text search in what the member may read, here or in all their collaborations."""
    collab = _collaboration(collaboration_id)
    form = SearchForm(request.args)
    page_number = max(1, inputs.page_number())
    found = None
    try:
        q = queries.clean_query(form.q.data) if form.validate() else ""
        if q:
            found = queries.search(policy.current_actor(), q,
                                   None if form.everywhere.data else collab, page=page_number,
                                   after=queries.Mark.parse(request.args.get("before")))
    except OperationError as err:
        form.q.errors = [*form.q.errors, err.message]
    status = FORM_INVALID if form.q.errors else 200
    return render_template("search/results.html", collaboration=collab, form=form,
                           found=found, hit_url=hit_url, current="search"), status


# -- export ---------------------------------------------------------------------------------

def _filters(collab: Collaboration) -> FeedFilters:
    """The feed's filters from the query string; a bad one answers 422 saying what is wrong."""
    form = FeedFilterForm(request.args, partners=spaces.partners_of(policy.current_actor(),
                                                                     collab))
    if not form.validate():
        problems = [f"{form[name].label.text}: {' '.join(map(str, errors))}"
                    for name, errors in form.errors.items()]
        abort(FORM_INVALID, description=_("These filters cannot be used: %(problems)s",
                                          problems="; ".join(problems)))
    return form.filters()


def _download(chunks, mimetype: str, name: str) -> Response:
    """A streamed attachment; private data, so no cache keeps it."""
    return Response(stream_with_context(chunks), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    })


@bp.get("/c/<int:collaboration_id>/export.csv")
def export_csv(collaboration_id: int):
    """The reflections the member may read here, one line each, for a spreadsheet."""
    collab = _collaboration(collaboration_id)
    filters = _filters(collab)
    rows = export.delivered_rows(policy.current_actor(), collab, filters, replies=False)
    return _download(export.reflections_csv(rows), "text/csv",
                     export.filename(collab, "reflections", "csv"))


@bp.get("/c/<int:collaboration_id>/export-replies.csv")
def export_replies_csv(collaboration_id: int):
    """The replies under those reflections, one line each, with their reflection's id."""
    collab = _collaboration(collaboration_id)
    filters = _filters(collab)
    rows = export.delivered_rows(policy.current_actor(), collab, filters, reflections=False)
    return _download(export.replies_csv(rows), "text/csv",
                     export.filename(collab, "replies", "csv"))


@bp.get("/c/<int:collaboration_id>/export.json")
def export_json(collaboration_id: int):
    """The reflections with their replies nested, for programs."""
    collab = _collaboration(collaboration_id)
    filters = _filters(collab)
    rows = export.delivered_rows(policy.current_actor(), collab, filters)
    return _download(export.json_document(collab, filters, rows), "application/json",
                     export.filename(collab, "reflections", "json"))
