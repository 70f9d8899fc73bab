"""Search ranks the newest matches only (queries.BOUND of them), says when there are more, and
leads to the older ones: every page and every set of older results through the policy, the
same on PostgreSQL and SQLite, whichever plan PostgreSQL is given."""

from __future__ import annotations

import re

import pytest

from coprod.common import OperationError
from coprod.extensions import db as _db
from coprod.reflections import operations
from coprod.search import queries
from tests.conftest import count_statements, statements_run
from tests.search.test_search import KIND_OF, expected, sqlite_world  # noqa: F401 (fixture)
from tests.search.world import COMMON, PEOPLE, build_world, codes_in
from tests.spaces.pages import error_of, text_of_page


@pytest.fixture
def world(db):
    return build_world()


def post(world, name: str, body: str, **fields):
    reflection = operations.post_reflection(world.actors[name], world.collab, body=body,
                                            kind="works", **{**COMMON, **fields})
    _db.session.commit()
    return reflection


def walk_everything(world, name: str, q: str, bound: int, page_size: int) -> list:
    """Every hit `name` reaches with q: each page of each set, then the older set, and so
    on; each set's pages hold exactly its total, and no hit comes twice."""
    actor, after, seen = world.actors[name], None, []
    for _set in range(50):
        first = queries.search(actor, q, world.collab, page_size=page_size, after=after,
                               bound=bound)
        in_set = [hit for page in range(1, first.total_pages + 1) for hit in queries.search(
            actor, q, world.collab, page=page, page_size=page_size, after=after,
            bound=bound).hits]
        assert len(in_set) == first.total <= bound
        seen += in_set
        if not first.more:
            assert first.older is None
            break
        assert first.total == bound and first.older is not None
        after = first.older
    keys = [(hit.kind, hit.id) for hit in seen]
    assert len(keys) == len(set(keys))
    return seen


def codes_of(world, hits) -> set[str]:
    codes = {(KIND_OF[type(obj)], obj.id): code for code, obj in world.items.items()}
    return {codes[(hit.kind, hit.id)] for hit in hits}


# -- the bounded set ------------------------------------------------------------------------

def test_more_than_the_bound_counts_the_newest_and_says_there_are_more(world):
    made = [post(world, "ann", f"Overlevering nummer {i} zzmany{i}") for i in range(7)]
    page = queries.search(world.actors["ann"], "overlevering", world.collab, bound=5)
    assert (page.total, page.more, page.total_pages) == (5, True, 1)
    newest_five = {r.id for r in made[2:]}
    assert {hit.id for hit in page.hits} == newest_five
    assert page.older == queries.Mark(made[2].created_at, "reflection", made[2].id)
    all_of_them = queries.search(world.actors["ann"], "overlevering", world.collab, bound=7)
    assert (all_of_them.total, all_of_them.more, all_of_them.older) == (7, False, None)


def test_the_newest_are_ranked_best_first_and_paged(world):
    for i in range(4):
        post(world, "ann", f"Handover {i} and some other words zzplain{i}")
    best = post(world, "ann", "Handover, handover, handover.")
    post(world, "ann", "Handover newest zznewest")
    pages = [queries.search(world.actors["ann"], "handover", world.collab, page=n,
                            page_size=2, bound=4) for n in (1, 2, 3)]
    assert [p.total for p in pages] == [4, 4, 4] and pages[0].total_pages == 2
    assert pages[0].hits[0].id == best.id  # the best of the four newest, though not newest
    assert len({hit.id for p in pages[:2] for hit in p.hits}) == 4
    assert pages[2].hits == [] and pages[2].total == 4  # past the last page: still counted


def test_older_results_hold_what_the_newest_did_not(world):
    oldest = post(world, "ann", "Handover, handover, handover, oldest and best zzold")
    for i in range(3):
        post(world, "ann", f"Handover {i} zznew{i}")
    newest = queries.search(world.actors["ann"], "handover", world.collab, bound=3)
    assert oldest.id not in {hit.id for hit in newest.hits} and newest.more
    older = queries.search(world.actors["ann"], "handover", world.collab, bound=3,
                           after=newest.older)
    assert [hit.id for hit in older.hits] == [oldest.id]
    assert (older.total, older.more, older.after) == (1, False, newest.older)


@pytest.mark.parametrize("name", [p for p in PEOPLE if p != "otto"])
def test_every_page_of_every_set_goes_through_the_policy(world, name):
    """Sets of two, pages of one: reflections, replies and messages interleaved in time, and
    what each member reaches is exactly what they may read."""
    hits = walk_everything(world, name, "borgerne", bound=2, page_size=1)
    assert codes_of(world, hits) == expected(name)


def test_sqlite_every_page_of_every_set_goes_through_the_policy(sqlite_world):  # noqa: F811
    for name in [p for p in PEOPLE if p != "otto"]:
        hits = walk_everything(sqlite_world, name, "borgerne", bound=2, page_size=1)
        assert codes_of(sqlite_world, hits) == expected(name), name


@pytest.mark.parametrize("walk", [True, False])
def test_either_plan_finds_the_same(world, monkeypatch, walk):
    """PostgreSQL walks the newest rows for a common word and reads a rare one's matches
    from the GIN index: the results are the same whichever it is given."""
    for i in range(5):
        post(world, "bo", f"Borgerne kommer igen {i}")
    planned = queries._Matcher.common
    every_way = {name: walk_everything(world, name, "borgerne", bound=3, page_size=2)
                 for name in ("ann", "bo", "cy")}
    monkeypatch.setattr(queries._Matcher, "common",
                        lambda self, scope_is_all, bound, params: dict.fromkeys(queries.ARMS,
                                                                               walk))
    for name, hits in every_way.items():
        forced = walk_everything(world, name, "borgerne", bound=3, page_size=2)
        assert [(h.kind, h.id) for h in forced] == [(h.kind, h.id) for h in hits], name
    monkeypatch.setattr(queries._Matcher, "common", planned)


def test_postgresql_walks_for_a_common_word_only(world):
    from coprod.messages.models import Message
    from coprod.reflections.models import Reflection, Reply

    for i in range(queries.SAMPLE_COMMON + 2):
        post(world, "ann", f"Minibussen kommer {i}")
    def common(q, bound):
        m = queries._matcher(q)
        return m.common(False, bound, {**m.params(), "search_collaboration": world.collab.id})

    # None: no text of that kind matches at all (the search leaves its arm out)
    assert common("minibussen", 5) == {Reflection: True, Reply: None, Message: None}
    assert common("minibussen", 100) == {Reflection: False, Reply: None, Message: None}
    assert common("zzorgonly", 0) == {Reflection: False, Reply: None, Message: None}
    assert common("zzreplyorgonly", 5) == {Reflection: None, Reply: False, Message: None}


def test_a_search_is_two_statements_on_postgresql_whatever_it_finds(world, db):
    ann = world.actors["ann"]
    queries.search(ann, "borgerne", world.collab)  # the actor's facts, loaded once
    few = count_statements(db, queries.search, ann, "borgerne", world.collab)
    for i in range(30):
        post(world, "ann", f"Borgerne igen {i}")
    assert world.collab.id  # loaded again after the commit, before counting
    assert count_statements(db, queries.search, ann, "borgerne", world.collab) == few == 2
    with statements_run(db) as run:
        queries.search(ann, "borgerne", world.collab, page=99)  # past the end: counted too
    assert len(run) == 3
    # a word in no text at all: the first count says so, and the search ends there
    assert count_statements(db, queries.search, ann, "zznowhere", world.collab) == 1
    # one in texts Ann may not read: searched, through the policy, and not found
    nothing = queries.search(ann, "zzmsganecy", world.collab)
    assert (nothing.total, nothing.hits) == (0, [])


# -- the mark of older results --------------------------------------------------------------

def test_a_mark_goes_through_a_link_unchanged(world):
    reply = world.items["zzreplywhole"]
    mark = queries.Mark(reply.created_at, "reply", reply.id)
    assert queries.Mark.parse(mark.token()) == mark
    assert queries.Mark.parse(None) is None and queries.Mark.parse("") is None


@pytest.mark.parametrize("token", ["x", "1.reflection", "1.note.2", "-1.reply.2", "1.reply.-2",
                                   "1.reply.2.3", "²³.reply.2", "1" * 17 + ".reply.2",
                                   "1.reply." + "9" * 11, " 1.reply.2"])
def test_a_mark_that_is_none_is_refused(token):
    with pytest.raises(OperationError) as refused:
        queries.Mark.parse(token)
    assert refused.value.field == "q"


# -- the page -------------------------------------------------------------------------------

def search_page(client, world, **args):
    return client.get(f"/c/{world.collab.id}/search", query_string=args)


def test_the_page_says_more_than_the_bound_and_links_to_older_results(
        client, login, world, monkeypatch):
    monkeypatch.setattr(queries, "BOUND", 3)
    made = [post(world, "ann", f"Overlevering {i} zzover{i}") for i in range(5)]
    login(world.seats["ann"].user)
    first = search_page(client, world, q="overlevering")
    text = text_of_page(first)
    assert ("More than 3 results for “overlevering”: the newest 3, best match first. "
            "Add a word to find fewer, or see the older results.") in text
    assert {f"zzover{i}" for i in (2, 3, 4)} <= set(text.split())
    assert not {"zzover0", "zzover1"} & set(text.split())
    token = queries.Mark(made[2].created_at, "reflection", made[2].id).token()
    html = first.get_data(as_text=True)
    assert f"before={token}" in html and "Older results" in text

    older = search_page(client, world, q="overlevering", before=token)
    text = text_of_page(older)
    assert "2 older results for “overlevering”, written before" in text
    assert {"zzover0", "zzover1"} <= set(text.split()) and "zzover4" not in text
    assert "Newest results" in text and "Older results" not in text


def test_older_results_still_go_through_the_policy_on_the_page(client, login, world,
                                                                monkeypatch):
    monkeypatch.setattr(queries, "BOUND", 2)
    login(world.seats["bo"].user)
    shown, before = set(), None
    for _set in range(20):
        response = search_page(client, world, q="borgerne", **(
            {"before": before} if before else {}))
        assert response.status_code == 200
        shown |= codes_in(text_of_page(response))
        found = re.findall(r"before=([0-9]+\.[a-z]+\.[0-9]+)", response.get_data(as_text=True))
        older = [token for token in found if token != before]
        if not older:
            break
        before = older[-1]
    assert shown == expected("bo")


def test_a_broken_link_to_older_results_is_refused_next_to_the_box(client, login, world):
    login(world.seats["bo"].user)
    response = search_page(client, world, q="borgerne", before="12.nothing.3")
    assert response.status_code == 422
    assert error_of(response, "q") == "This link to older results is not valid; search again."


# -- the API --------------------------------------------------------------------------------

def api_search(client, world, headers, **args):
    return client.get(f"/api/v1/collaborations/{world.collab.id}/search", headers=headers,
                      query_string=args)


def test_the_api_says_more_and_leads_to_the_older(client, bearer, world, monkeypatch):
    monkeypatch.setattr(queries, "BOUND", 3)
    for i in range(5):
        post(world, "ann", f"Overlevering {i} zzover{i}")
    headers = bearer(world.seats["ann"].user)
    first = api_search(client, world, headers, q="overlevering").get_json()
    assert (first["total"], first["more"], len(first["items"])) == (3, True, 3)
    older = api_search(client, world, headers, q="overlevering",
                       before=first["older"]).get_json()
    assert (older["total"], older["more"], older["older"]) == (2, False, None)
    ids = {item["id"] for item in first["items"]} | {item["id"] for item in older["items"]}
    assert len(ids) == 5
    refused = api_search(client, world, headers, q="overlevering", before="nonsense")
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["query"]["before"]


def test_the_search_page_runs_as_many_statements_for_many_results(client, login, world, db):
    login(world.seats["bo"].user)
    search_page(client, world, q="borgerne")  # warms the session's caches up
    # Both counts follow a write, so that neither finds the space's badges kept.
    post(world, "ann", "Borgerne en gang til", visibility="collaboration")
    with statements_run(db) as run:
        assert search_page(client, world, q="borgerne").status_code == 200
    few = len(run)
    for i in range(24):
        post(world, "ann", f"Borgerne igen {i}", visibility="collaboration")
    with statements_run(db) as run:
        page = search_page(client, world, q="borgerne")
    # no more (one fewer here: the page shows reflections only, so no reply's audit look-up)
    assert len(run) <= few, run
    assert text_of_page(page).count("Borgerne igen") == 20
