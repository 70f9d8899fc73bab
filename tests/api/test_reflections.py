"""Reflections in the API: the feed (filters, cursor pages, unread, counts), posting, editing,
withdrawing, the history, reactions; who sees what under each visibility and attribution."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role
from coprod.common import utcnow
from coprod.extensions import db as _db
from coprod.reflections import operations
from coprod.reflections.models import BODY_MAX, Reflection
from tests.factories import CollaborationFactory, OrganizationFactory, PartnerFactory, member

COMMON = dict(kind="improve", perspective="citizens", component="routines",
              learning_level="inter", mode="exploitation")


@pytest.fixture(name="world")
def world_fixture(db, bearer):
    """The job centre (a1, a2), the café (b1) and the shelter (c1), a coordinator speaking for
    no partner, an observer; and a collaboration elsewhere with its own staff member (x1)."""
    collab = CollaborationFactory(title="Meaningful work")
    a, b, c = (PartnerFactory(collaboration=collab, organization=OrganizationFactory(name=n))
               for n in ("Job centre", "Café Lotte", "Animal shelter"))
    elsewhere = CollaborationFactory(title="Elsewhere")
    x = PartnerFactory(collaboration=elsewhere)
    w = SimpleNamespace(
        collab=collab, a=a, b=b, c=c, elsewhere=elsewhere, x=x,
        a1=member(collab, Role.PARTNER_STAFF, a, display_name="Anna Jobcentre"),
        a2=member(collab, Role.PARTNER_STAFF, a, display_name="Arne Jobcentre"),
        b1=member(collab, Role.PARTNER_STAFF, b, display_name="Bo Café"),
        c1=member(collab, Role.PARTNER_STAFF, c, display_name="Cleo Shelter"),
        coord=member(collab, Role.COORDINATOR, display_name="Cora Coordinator"),
        obs=member(collab, Role.OBSERVER, display_name="Otto Observer"),
        x1=member(elsewhere, Role.PARTNER_STAFF, x, display_name="Xena Elsewhere"),
    )
    db.session.commit()
    w.h = {name: bearer(getattr(w, name).user)
           for name in ("a1", "a2", "b1", "c1", "coord", "obs", "x1")}
    return w


def post(seat, collab=None, body="Handovers work when we phone first.", **fields):
    """A reflection written through the operation, as `seat`'s user."""
    actor = policy.actor_for(seat.user)
    reflection = operations.post_reflection(actor, collab or seat.collaboration,
                                            body=body, **{**COMMON, **fields})
    _db.session.commit()
    return reflection


def url(w, tail="", collab=None):
    return f"/api/v1/collaborations/{(collab or w.collab).id}/reflections{tail}"


def feed_ids(client, w, who, query="") -> list[int]:
    response = client.get(url(w, query), headers=w.h[who])
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


# -- posting and reading ----------------------------------------------------------------------

def test_post_a_reflection_with_every_field(client, db, world):
    w = world
    response = client.post(url(w), headers=w.h["a1"], json={
        **COMMON, "body": "The **café** tells us when a shift went well.",
        "visibility": "partners", "audience": [w.b.id], "attribution": "person",
        "tags": ["Handover", "#cafe"], "mentions": [w.b1.user_id]})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["kind"] == "improve" and body["perspective"] == "citizens"
    assert body["component"] == "routines" and body["learning_level"] == "inter"
    assert body["mode"] == "exploitation"
    assert body["body"] == "The **café** tells us when a shift went well."
    assert body["body_html"] == (
        "<p>The <strong>café</strong> tells us when a shift went well.</p>\n")
    assert body["visibility"] == "partners" and body["audience"] == [w.b.id]
    assert body["author"] == {"id": w.a1.user_id, "display_name": "Anna Jobcentre"}
    assert body["partner"] == {"id": w.a.id, "name": "Job centre"}
    assert body["tags"] == ["cafe", "handover"]
    assert body["mentions"] == [{"id": w.b1.user_id, "display_name": "Bo Café"}]
    assert body["reply_count"] == 0 and body["action"] is None
    assert body["reactions"] == {"count": 0, "partners": [], "ours": False}
    assert body["created_at"].endswith("+00:00") and body["withdrawn_at"] is None
    stored = db.session.get(Reflection, body["id"])
    assert stored.partner_id == w.a.id and stored.audience_partner_ids == {w.b.id}

    detail = client.get(url(w, f"/{body['id']}"), headers=w.h["b1"]).get_json()
    assert detail == body


def test_defaults_are_the_whole_collaboration_and_the_authors_name(client, db, world):
    w = world
    response = client.post(url(w), headers=w.h["coord"], json={**COMMON, "body": "Hi"})
    assert response.status_code == 201
    assert response.get_json()["visibility"] == "collaboration"
    assert response.get_json()["attribution"] == "person"
    assert response.get_json()["partner"] is None


def test_feed_items_carry_unread_replies_reactions_and_action(client, db, world):
    w = world
    mine = post(w.b1, body="Mine")
    theirs = post(w.a1, body="Theirs")
    operations.reply(policy.actor_for(w.c1.user), theirs, "Same at the shelter")
    operations.react(policy.actor_for(w.c1.user), theirs)
    operations.react(policy.actor_for(w.b1.user), theirs)
    operations.create_action(policy.actor_for(w.coord.user), theirs, title="Phone first",
                             owner_partner_id=w.a.id,
                             due_on=utcnow().date() - timedelta(days=1))
    db.session.commit()

    items = {i["id"]: i for i in client.get(url(w), headers=w.h["b1"]).get_json()["items"]}
    assert items[mine.id]["unread"] is False  # one's own
    assert items[theirs.id]["unread"] is True
    assert items[theirs.id]["reply_count"] == 1
    assert items[theirs.id]["reactions"]["count"] == 2
    assert items[theirs.id]["reactions"]["ours"] is True
    assert {p["name"] for p in items[theirs.id]["reactions"]["partners"]} == {
        "Animal shelter", "Café Lotte"}
    assert items[theirs.id]["action"] == {
        "id": theirs.action.id, "title": "Phone first", "status": "open",
        "due_on": (utcnow().date() - timedelta(days=1)).isoformat(), "overdue": True}

    operations.mark_feed_seen(policy.actor_for(w.b1.user), w.collab)
    db.session.commit()
    items = client.get(url(w), headers=w.h["b1"]).get_json()["items"]
    assert [i["unread"] for i in items] == [False, False]


def test_markdown_is_rendered_and_sanitized(client, db, world):
    w = world
    source = ("<script>alert(1)</script> [click](javascript:alert(1)) "
              "<img src=x onerror=alert(2)> [ok](https://example.org)")
    response = client.post(url(w), headers=w.h["a1"], json={**COMMON, "body": source})
    body = response.get_json()
    assert body["body"] == source  # the Markdown source is kept as written
    tags = _tags_in(body["body_html"])
    assert {name for name, _ in tags} == {"p", "a"}  # the rest is shown as text
    assert [attrs for name, attrs in tags if name == "a"] == [
        {"href": "https://example.org", "rel": "noopener noreferrer nofollow"}]


def _tags_in(html: str) -> list[tuple[str, dict]]:
    """The elements of an HTML fragment with their attributes, as a browser would see them."""
    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collector().feed(html)
    return found


# -- visibility and attribution ---------------------------------------------------------------

READERS = ["a1", "a2", "b1", "c1", "coord", "obs"]
SEES = {  # posted by a1 (job centre); partners = shared with the café
    "collaboration": {"a1", "a2", "b1", "c1", "coord", "obs"},
    "organization": {"a1", "a2"},
    "coordinators": {"a1", "coord"},
    "partners": {"a1", "a2", "b1"},
}


@pytest.mark.parametrize("visibility", list(SEES))
def test_each_visibility_decides_who_lists_and_who_gets_404(client, db, world, visibility):
    w = world
    audience = [w.b.id] if visibility == "partners" else []
    reflection = post(w.a1, visibility=visibility, audience=audience)
    for who in READERS:
        listed = reflection.id in feed_ids(client, w, who)
        detail = client.get(url(w, f"/{reflection.id}"), headers=w.h[who])
        expected = who in SEES[visibility]
        assert listed is expected, who
        assert detail.status_code == (200 if expected else 404), who
        if not expected:
            assert detail.get_json()["code"] == 404
            for tail in ("/history", "/replies"):
                assert client.get(url(w, f"/{reflection.id}{tail}"),
                                  headers=w.h[who]).status_code == 404


def test_organization_attribution_hides_the_author_except_from_coordinators(client, db,
                                                                           world):
    w = world
    signed = post(w.a1, attribution="organization", body="We are short of drivers.")
    operations.edit_reflection(policy.actor_for(w.a1.user), signed, **{
        **COMMON, "body": "We are short of drivers on Fridays.", "visibility": "collaboration",
        "attribution": "organization"})
    db.session.commit()
    for who in READERS:
        item = client.get(url(w), headers=w.h[who]).get_json()["items"][0]
        detail = client.get(url(w, f"/{signed.id}"), headers=w.h[who]).get_json()
        history = client.get(url(w, f"/{signed.id}/history"),
                             headers=w.h[who]).get_json()["items"]
        named = who in {"a1", "coord"}
        expected = {"id": w.a1.user_id, "display_name": "Anna Jobcentre"} if named else None
        assert item["author"] == detail["author"] == expected, who
        assert history[0]["edited_by"] == expected, who
        assert item["attribution"] == "organization"
        assert item["partner"] == {"id": w.a.id, "name": "Job centre"}
        assert ("Anna" in client.get(url(w), headers=w.h[who]).get_data(as_text=True)) is named


# -- the feed: filters, cursor pages, query count ---------------------------------------------

def test_cursor_pages_cover_every_reflection_exactly_once(client, db, world):
    w = world
    made = [post(w.a1 if i % 2 else w.b1, body=f"Reflection {i}") for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        body = client.get(url(w, query), headers=w.h["c1"]).get_json()
        seen += [i["id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [r.id for r in reversed(made)]


def test_filters_narrow_the_feed(client, db, world):
    w = world
    works = post(w.a1, kind="works", tags=["handover"])
    improve = post(w.b1, component="assets", perspective="local")
    old = post(w.b1, body="Last month")
    old.created_at = utcnow() - timedelta(days=40)
    db.session.commit()
    assert feed_ids(client, w, "c1", "?kind=works") == [works.id]
    assert feed_ids(client, w, "c1", "?component=assets") == [improve.id]
    assert feed_ids(client, w, "c1", "?perspective=local") == [improve.id]
    assert feed_ids(client, w, "c1", f"?partner_id={w.a.id}") == [works.id]
    assert feed_ids(client, w, "c1", "?tag=handover") == [works.id]
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    assert set(feed_ids(client, w, "c1", f"?since={since}")) == {works.id, improve.id}
    until = (utcnow() - timedelta(days=30)).date().isoformat()
    assert feed_ids(client, w, "c1", f"?until={until}") == [old.id]


@pytest.mark.parametrize("query,field", [
    ("?kind=maybe", "kind"), ("?component=money", "component"),
    ("?perspective=mine", "perspective"), ("?partner_id=abc", "partner_id"),
    ("?since=yesterday", "since"), ("?since=2024-05-02&until=2024-05-01", "until"),
    ("?limit=0", "limit"), ("?limit=101", "limit"),
])
def test_a_bad_filter_is_422_naming_it(client, db, world, query, field):
    response = client.get(url(world, query), headers=world.h["a1"])
    assert response.status_code == 422
    body = response.get_json()
    assert list(body["errors"]["query"]) == [field]
    assert field in body["message"]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "AAAA", "MjAyNHxhYmM"])
def test_a_bad_cursor_is_400(client, db, world, cursor):
    post(world.a1)
    response = client.get(url(world, f"?cursor={cursor}"), headers=world.h["a1"])
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "This cursor is not valid: send next_cursor back as it came.")


def test_the_feed_runs_the_same_queries_for_2_and_20_items(client, db, world, count_queries):
    w = world
    for i in range(40):  # every visibility and attribution, with replies, reactions, actions
        seat = (w.a1, w.b1, w.c1)[i % 3]
        author = policy.actor_for(seat.user)
        visibility = ("collaboration", "partners", "coordinators", "organization")[i % 4]
        others = [p.id for p in (w.a, w.b, w.c) if p.id != seat.partner_id]
        r = post(seat, visibility=visibility, mentions=[seat.user_id],
                 audience=others[:1] if visibility == "partners" else [],
                 attribution="organization" if i % 2 else "person", tags=[f"t{i % 5}"])
        if i % 3 == 0:
            operations.reply(author, r, "More on this")
            operations.create_action(author, r, title="Do it", owner_partner_id=seat.partner_id)
        if visibility == "collaboration":
            operations.react(policy.actor_for(w.a2.user), r)
    db.session.commit()
    counts = {}
    for limit in (2, 20):
        page_url = url(w, f"?limit={limit}")
        with count_queries() as counter:
            response = client.get(page_url, headers=w.h["coord"])
        assert len(response.get_json()["items"]) == limit
        counts[limit] = counter.count
    assert counts[2] == counts[20], counts


def test_the_feed_answered_again_runs_the_tokens_statement_alone(client, db, world,
                                                                  count_queries):
    """Answered from the worker's page cache, the list costs one statement: the token's,
    which reads what the page's key needs with it (coprod/pagecache.with_state). A write
    in between is seen: the next answer is built again, with it."""
    w = world
    first = post(w.a1, body="First handover").id
    feed, reader = url(w), w.h["coord"]
    for _ in range(2):  # built and kept (and the token's first use noted); then kept
        assert client.get(feed, headers=reader).status_code == 200
    with count_queries() as counter:
        response = client.get(feed, headers=reader)
    assert [item["id"] for item in response.get_json()["items"]] == [first]
    assert counter.count == 1
    second = client.post(feed, headers=w.h["b1"], json={**COMMON, "body": "Second handover"})
    assert second.status_code == 201, second.get_json()
    answer = client.get(feed, headers=reader).get_json()
    assert [item["id"] for item in answer["items"]] == [second.get_json()["id"], first]


# -- edits, withdrawal, history ---------------------------------------------------------------

def test_patch_changes_only_what_is_sent_and_keeps_the_history(client, db, world):
    w = world
    r = post(w.a1, visibility="partners", audience=[w.b.id], tags=["handover"],
             body="First words")
    response = client.patch(url(w, f"/{r.id}"), headers=w.h["a1"],
                            json={"body": "Better words", "component": "assets"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["body"] == "Better words" and body["component"] == "assets"
    assert body["visibility"] == "partners" and body["audience"] == [w.b.id]
    assert body["tags"] == ["handover"] and body["kind"] == "improve"
    assert body["edited_at"] is not None

    # leaving "partners" without naming an audience clears it
    body = client.patch(url(w, f"/{r.id}"), headers=w.h["a1"],
                        json={"visibility": "collaboration"}).get_json()
    assert body["visibility"] == "collaboration" and body["audience"] == []
    history = client.get(url(w, f"/{r.id}/history"), headers=w.h["c1"]).get_json()
    assert history["total"] == 2
    assert [v["body"] for v in history["items"]] == ["Better words", "First words"]
    assert history["items"][1]["component"] == "routines"
    assert history["items"][1]["body_html"] == "<p>First words</p>\n"


def test_only_the_author_edits(client, db, world):
    w = world
    r = post(w.a1, body="Mine")
    for who in ("a2", "coord"):
        response = client.patch(url(w, f"/{r.id}"), headers=w.h[who], json={"body": "Taken"})
        assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Reflection, r.id).body == "Mine"


@pytest.mark.parametrize("who,by", [("a1", "author"), ("coord", "coordinator")])
def test_withdrawal_leaves_a_tombstone(client, db, world, who, by):
    w = world
    r = post(w.a1, body="Something I regret", tags=["oops"])
    client.patch(url(w, f"/{r.id}"), headers=w.h["a1"], json={"body": "Regret, edited"})
    response = client.post(url(w, f"/{r.id}/withdraw"), headers=w.h[who])
    assert response.status_code == 200
    body = response.get_json()
    assert body["body"] == "" and body["body_html"] == "" and body["tags"] == []
    assert body["withdrawn_at"] is not None and body["withdrawn_by"] == by
    [item] = client.get(url(w), headers=w.h["b1"]).get_json()["items"]
    assert item["id"] == r.id and item["body"] == "" and item["withdrawn_by"] == by
    history = client.get(url(w, f"/{r.id}/history"), headers=w.h["b1"]).get_json()["items"]
    assert [v["body"] for v in history] == [""]
    text = client.get(url(w), headers=w.h["b1"]).get_data(as_text=True)
    assert "regret" not in text.lower()
    # nothing more can happen to a tombstone
    assert client.post(url(w, f"/{r.id}/withdraw"), headers=w.h[who]).status_code == 403
    assert client.patch(url(w, f"/{r.id}"), headers=w.h["a1"],
                        json={"body": "Back"}).status_code == 403


def test_others_cannot_withdraw(client, db, world):
    w = world
    r = post(w.a1)
    for who in ("a2", "b1", "obs"):
        assert client.post(url(w, f"/{r.id}/withdraw"), headers=w.h[who]).status_code == 403
    db.session.expire_all()
    assert db.session.get(Reflection, r.id).withdrawn_at is None


# -- reactions --------------------------------------------------------------------------------

def test_we_see_this_too_is_said_and_taken_back_per_organization(client, db, world):
    w = world
    r = post(w.a1)
    said = client.put(url(w, f"/{r.id}/reaction"), headers=w.h["b1"])
    assert said.status_code == 200
    assert said.get_json() == {"count": 1, "ours": True,
                               "partners": [{"id": w.b.id, "name": "Café Lotte"}]}
    assert client.put(url(w, f"/{r.id}/reaction"), headers=w.h["b1"]).get_json()["count"] == 1
    seen_by_author = client.get(url(w, f"/{r.id}"), headers=w.h["a1"]).get_json()
    assert seen_by_author["reactions"]["count"] == 1
    assert seen_by_author["reactions"]["ours"] is False
    taken = client.delete(url(w, f"/{r.id}/reaction"), headers=w.h["b1"])
    assert taken.status_code == 200
    assert taken.get_json() == {"count": 0, "ours": False, "partners": []}


@pytest.mark.parametrize("who", ["obs", "coord"])  # the coordinator speaks for no partner
def test_only_members_speaking_for_a_partner_react(client, db, world, who):
    w = world
    r = post(w.a1)
    response = client.put(url(w, f"/{r.id}/reaction"), headers=w.h[who])
    assert response.status_code == 403
    assert client.get(url(w, f"/{r.id}"), headers=w.h["a1"]).get_json()["reactions"][
        "count"] == 0


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("change,field", [
    ({"colour": "red"}, "colour"),
    ({"kind": "maybe"}, "kind"),
    ({"perspective": "mine"}, "perspective"),
    ({"component": "money"}, "component"),
    ({"learning_level": "deep"}, "learning_level"),
    ({"mode": "solo"}, "mode"),
    ({"visibility": "everyone"}, "visibility"),
    ({"attribution": "anonymous"}, "attribution"),
    ({"body": 42}, "body"),
    ({"body": "   "}, "body"),
    ({"body": "x" * (BODY_MAX + 1)}, "body"),
    ({"tags": "handover"}, "tags"),
    ({"audience": ["café"]}, "audience"),
    ({"mentions": "everyone"}, "mentions"),
])
def test_invalid_reflections_are_422_naming_the_field(client, db, world, change, field):
    w = world
    response = client.post(url(w), headers=w.h["a1"],
                           json={**COMMON, "body": "Fine", **change})
    assert response.status_code == 422
    body = response.get_json()
    assert field in body["errors"]["json"], body
    assert field in body["message"]
    assert db.session.scalar(select(Reflection)) is None


def test_required_fields_are_named(client, db, world):
    response = client.post(url(world), headers=world.h["a1"], json={"body": "Only a body"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {
        "kind", "perspective", "component", "learning_level", "mode"}


def test_an_audience_outside_the_collaboration_is_422_on_audience(client, db, world):
    w = world
    response = client.post(url(w), headers=w.h["a1"], json={
        **COMMON, "body": "For the café and a stranger", "visibility": "partners",
        "audience": [w.b.id, w.x.id]})
    assert response.status_code == 422
    assert response.get_json()["field"] == "audience"
    assert response.get_json()["message"] == (
        "Choose partner organizations of this collaboration.")
    assert db.session.scalar(select(Reflection)) is None


def test_mentioning_someone_who_cannot_read_it_is_422_on_mentions(client, db, world):
    w = world
    response = client.post(url(w), headers=w.h["a1"], json={
        **COMMON, "body": "Internal", "visibility": "organization",
        "mentions": [w.b1.user_id]})
    assert response.status_code == 422
    assert response.get_json()["field"] == "mentions"
    assert "Bo Café" in response.get_json()["message"]


def test_an_observer_cannot_post(client, db, world):
    response = client.post(url(world), headers=world.h["obs"],
                           json={**COMMON, "body": "Watching"})
    assert response.status_code == 403
    assert response.get_json()["code"] == 403
    assert db.session.scalar(select(Reflection)) is None


def test_another_collaborations_reflections_are_404(client, db, world):
    w = world
    theirs = post(w.x1, collab=w.elsewhere, body="Elsewhere's secret")
    mine = post(w.a1)
    # their id under my collaboration's URL, and their collaboration's URL
    for path in (url(w, f"/{theirs.id}"), url(w, f"/{theirs.id}/history"),
                 url(w, f"/{theirs.id}/replies"), url(w, collab=w.elsewhere),
                 url(w, f"/{mine.id}", collab=w.elsewhere)):
        response = client.get(path, headers=w.h["a1"])
        assert response.status_code == 404, path
    for method, tail in (("PATCH", ""), ("POST", "/withdraw"), ("PUT", "/reaction"),
                         ("DELETE", "/reaction")):
        response = client.open(url(w, f"/{theirs.id}{tail}"), method=method,
                               json={"body": "x"} if method == "PATCH" else None,
                               headers=w.h["a1"])
        assert response.status_code == 404, (method, tail)
    db.session.expire_all()
    assert db.session.get(Reflection, theirs.id).body == "Elsewhere's secret"


def test_the_openapi_document_has_every_reflection_route_and_the_cursor(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    base = "/api/v1/collaborations/{collaboration_id}"
    expected = {
        ("get", "/reflections"), ("post", "/reflections"),
        ("get", "/reflections/{reflection_id}"), ("patch", "/reflections/{reflection_id}"),
        ("post", "/reflections/{reflection_id}/withdraw"),
        ("get", "/reflections/{reflection_id}/history"),
        ("get", "/reflections/{reflection_id}/replies"),
        ("post", "/reflections/{reflection_id}/replies"),
        ("get", "/reflections/{reflection_id}/replies/{reply_id}"),
        ("patch", "/reflections/{reflection_id}/replies/{reply_id}"),
        ("post", "/reflections/{reflection_id}/replies/{reply_id}/withdraw"),
        ("put", "/reflections/{reflection_id}/reaction"),
        ("delete", "/reflections/{reflection_id}/reaction"),
        ("post", "/reflections/{reflection_id}/action"),
        ("get", "/actions"), ("get", "/actions/{action_id}"), ("patch", "/actions/{action_id}"),
    }
    documented = {(m, p.removeprefix(base)) for p, item in spec["paths"].items()
                  if p.startswith(base + "/reflections") or p.startswith(base + "/actions")
                  for m in item if m != "parameters"}
    assert documented == expected
    listing = spec["paths"][base + "/reflections"]["get"]
    assert "pages with a cursor, unlike the page-based lists" in listing["description"]
    assert {p["name"] for p in listing["parameters"]} >= {
        "cursor", "limit", "kind", "perspective", "component", "partner_id", "tag", "since",
        "until"}
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(spec["components"]["schemas"][page.rsplit("/", 1)[-1]]["properties"]) == {
        "items", "next_cursor"}
