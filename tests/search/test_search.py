"""Search finds what a member may read, and nothing else: on PostgreSQL (full text, GIN index)
and on SQLite (the word-by-word fallback)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from coprod import policy
from coprod.common import OperationError
from coprod.extensions import db
from coprod.messages.models import Message
from coprod.reflections import operations
from coprod.reflections.models import Reflection, Reply
from coprod.search import queries
from tests.conftest import make_app
from tests.search.world import COMMON, FINNISH, PEOPLE, READERS, build_world, leave

KIND_OF = {Reflection: "reflection", Reply: "reply", Message: "message"}


@pytest.fixture
def world(db):
    return build_world()


def found(world, name: str, q: str, everywhere: bool = False) -> set[str]:
    """The code words of the items `name` finds with q (all pages)."""
    codes = {(KIND_OF[type(obj)], obj.id): code for code, obj in world.items.items()}
    page = queries.search(world.actors[name], q, None if everywhere else world.collab,
                          page_size=100)
    assert page.total == len(page.hits)
    return {codes[(hit.kind, hit.id)] for hit in page.hits}


def expected(name: str, finnish: bool = False) -> set[str]:
    return {code for code, readers in READERS.items()
            if name in readers and (code in FINNISH) == finnish and code != "zzelsewhere"}


def test_finds_reflections_replies_and_messages_by_a_word(world):
    page = queries.search(world.actors["bo"], "borgerne", world.collab)
    kinds = {hit.kind for hit in page.hits}
    assert kinds == {"reflection", "reply", "message"}
    hit = next(h for h in page.hits if h.kind == "reply")
    assert hit.reflection_id == world.items["zzwhole"].id
    assert hit.partner == "Café Æblet" and hit.author == "Bo Berg"
    message = next(h for h in page.hits if h.kind == "message")
    assert message.subject == "Praktik"
    assert message.conversation_id == world.items["zzmsgannbo"].conversation_id
    assert message.partner == "Jobcenter" and message.author == "Ann Andersen"


@pytest.mark.parametrize("name", [p for p in PEOPLE if p != "otto"])
def test_each_member_finds_exactly_what_they_may_read(world, name):
    assert found(world, name, "borgerne") == expected(name)
    assert found(world, name, "yhteistyö") == expected(name, finnish=True)


@pytest.mark.parametrize("q", ["borgerne", "BORGERNE", "Borgerne"])
def test_danish_words_are_found_whatever_their_case(world, q):
    assert "zzwhole" in found(world, "bo", q)


@pytest.mark.parametrize("q", ["yhteistyö", "YHTEISTYÖ"])
def test_finnish_words_are_found(world, q):
    assert found(world, "cy", q) == {"zzsignedorg", "zzreplysigned"}
    assert found(world, "cy", "toimii") == {"zzsignedorg"}


def test_phrases_and_excluded_words(world):
    assert found(world, "ann", '"kan starte"') == {"zzpartnersb"}
    assert "zzpartnersb" not in found(world, "ann", "borgerne -caféen")
    only_left_out = found(world, "ann", "-zzorgonly")
    assert "zzorgonly" not in only_left_out and "zzwhole" in only_left_out
    assert found(world, "ann", "zzorgonly or zzcoordonly") == {"zzorgonly", "zzcoordonly"}


def test_another_collaboration_is_never_searched(world):
    assert found(world, "otto", "borgerne") == set()  # Otto searches in a space he is not in
    assert found(world, "otto", "borgerne", everywhere=True) == {"zzelsewhere"}
    assert "zzelsewhere" not in found(world, "ann", "borgerne", everywhere=True)


def test_across_all_my_collaborations(world, db):
    operations.post_reflection(world.actors["otto"], world.other, body="Borgerne zzmine",
                               kind="works", **COMMON)
    from tests.factories import MembershipFactory

    MembershipFactory(collaboration=world.other, user=world.seats["bo"].user)
    db.session.commit()
    bo = policy.actor_for(world.seats["bo"].user)
    page = queries.search(bo, "borgerne", None, page_size=100)
    titles = {hit.collaboration_title for hit in page.hits}
    assert titles == {"Meningsfuldt arbejde", "Another space"}


def test_a_member_who_left_finds_nothing_any_more(world):
    assert found(world, "lea", "borgerne") == expected("lea")
    leave(world, "lea")
    assert found(world, "lea", "borgerne") == set()
    assert found(world, "lea", "borgerne", everywhere=True) == set()


def test_withdrawn_text_is_never_found(world):
    for name in PEOPLE:
        assert not found(world, name, "zzwithdrawnreflection")
        assert not found(world, name, "zzwithdrawnreply")
        assert not found(world, name, "klager")  # a word only the withdrawn reflection said


def test_replies_under_a_withdrawn_reflection_are_not_found(world, db):
    operations.withdraw_reflection(world.actors["ann"], world.items["zzwhole"])
    db.session.commit()
    assert found(world, "bo", "blomstre") == set()


def test_the_author_signed_as_organization_stays_hidden_except_to_coordinators(world):
    def signed(name):
        page = queries.search(world.actors[name], "yhteistyö", world.collab)
        return {(hit.kind, hit.author, hit.partner) for hit in page.hits}

    # her reply under the reflection does not give her away either
    assert signed("bo") == {("reflection", None, "Jobcenter"), ("reply", None, "Jobcenter")}
    assert signed("coco") == {("reflection", "Ann Andersen", "Jobcenter"),
                              ("reply", "Ann Andersen", "Jobcenter")}
    assert signed("ann") == signed("coco")


def test_results_come_in_pages_best_first(world, db):
    ann = world.actors["ann"]
    for i in range(7):
        operations.post_reflection(ann, world.collab, body=f"Handover {i} zzpage{i}",
                                   kind="works", **COMMON)
    best = operations.post_reflection(ann, world.collab, body="Handover, handover, handover.",
                                      kind="works", **COMMON)
    db.session.commit()
    pages = [queries.search(ann, "handover", world.collab, page=n, page_size=3)
             for n in (1, 2, 3)]
    assert [p.total for p in pages] == [8, 8, 8] and pages[0].total_pages == 3
    ids = [hit.id for p in pages for hit in p.hits]
    assert len(ids) == len(set(ids)) == 8
    assert ids[0] == best.id  # ranked by ts_rank: said three times
    assert queries.search(ann, "handover", world.collab, page=4, page_size=3).hits == []


def test_the_query_is_bounded_and_an_empty_one_finds_nothing(world):
    bo = world.actors["bo"]
    assert queries.search(bo, "   ", world.collab).hits == []
    assert queries.search(bo, "!!! ???", world.collab).total == 0
    assert len(queries.search(bo, "borgerne " + " " * 400, world.collab).hits) > 0
    with pytest.raises(OperationError) as refused:
        queries.search(bo, "b" * (queries.QUERY_MAX + 1), world.collab)
    assert refused.value.field == "q"


class Markup_(HTMLParser):
    """The tags and attributes of a piece of HTML."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, list]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def test_excerpts_escape_what_members_wrote_and_mark_the_words(world, db):
    operations.post_reflection(
        world.actors["ann"], world.collab, kind="works", **COMMON,
        body='<script>alert("x")</script> **Borgerne** <img src=x onerror=alert(1)> '
             "[se her](javascript:alert(1)) [ok](https://example.org) & co")
    db.session.commit()
    page = queries.search(world.actors["bo"], "borgerne", world.collab, page_size=100)
    html = next(str(h.excerpt) for h in page.hits if "script" in str(h.excerpt))
    assert Markup_(html).tags == [("mark", [])]  # the only markup: no script, img or link
    assert "&lt;script&gt;" in html and "&amp; co" in html
    assert "<mark>Borgerne</mark>" in html
    assert "**" not in html and "https://example.org" not in html  # shown as read: "ok"


def test_a_long_text_is_cut_around_the_first_match():
    body = "Indledning " * 60 + "Borgerne er glade. " + "Afslutning " * 60
    shown = str(queries.excerpt(body, ["borgerne"]))
    assert shown.startswith("…") and shown.endswith("…")
    assert "<mark>Borgerne</mark>" in shown and len(shown) < queries.EXCERPT_LENGTH + 40


def test_postgresql_uses_the_gin_indexes(world, db):
    matcher = queries._Matcher("borgerne", ("borgerne",), fulltext=True)
    plans = []
    for model in (Reflection, Reply, Message):
        stmt = select(model.id).where(matcher.matches(model.body))
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plans.append("\n".join(db.session.execute(text("EXPLAIN " + sql)).scalars()))
    db.session.rollback()
    for plan, index in zip(plans, ("ix_reflections_body_fts", "ix_replies_body_fts",
                                   "ix_messages_body_fts"), strict=True):
        assert index in plan, plan


# -- the SQLite fallback --------------------------------------------------------------------

@pytest.fixture
def sqlite_world(app, tmp_path):
    """The same world in an app on a fresh SQLite file (the embedded default)."""
    embedded = make_app(tmp_path / "instance", database_url=f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with embedded.app_context():
            upgrade()
            yield build_world()
            db.session.remove()
            db.engine.dispose()
    finally:
        app.extensions["celery"].set_default()


def test_sqlite_finds_what_each_member_may_read(sqlite_world):
    assert db.session.get_bind().dialect.name == "sqlite"
    for name in [p for p in PEOPLE if p != "otto"]:
        assert found(sqlite_world, name, "borgerne") == expected(name), name
        assert found(sqlite_world, name, "YHTEISTYÖ") == expected(name, finnish=True), name
    assert found(sqlite_world, "otto", "borgerne", everywhere=True) == {"zzelsewhere"}


def test_sqlite_folds_danish_and_finnish_letters(sqlite_world):
    ann = sqlite_world.actors["ann"]
    operations.post_reflection(ann, sqlite_world.collab, kind="works", **COMMON,
                               body="ÆBLER OG ØL PÅ ÅEN zzupper")
    db.session.commit()
    assert found_words(sqlite_world, "ann", "æbler øl på åen") == {"zzupper"}


def found_words(world, name: str, q: str) -> set[str]:
    page = queries.search(world.actors[name], q, world.collab, page_size=100)
    return {word for hit in page.hits for word in hit.excerpt.striptags().split()
            if word.startswith("zz")}


def test_sqlite_needs_every_word_and_escapes_like_wildcards(sqlite_world):
    ann = sqlite_world.actors["ann"]
    for body in ("Status 100 procent zzpercent", "Status a_b zzunderscore",
                 "Status axb zzaxb"):
        operations.post_reflection(ann, sqlite_world.collab, kind="works", **COMMON, body=body)
    db.session.commit()
    assert found_words(sqlite_world, "ann", "a_b") == {"zzunderscore"}
    assert found_words(sqlite_world, "ann", "status zzaxb") == {"zzaxb"}
    assert found_words(sqlite_world, "ann", "borgerne zzaxb") == set()
    assert queries.search(ann, "%", sqlite_world.collab).total == 0
    # only a word left out: everything readable, as websearch_to_tsquery reads it
    assert {"zzwhole", "zzorgonly", "zzmsgannbo"} <= found_words(sqlite_world, "ann", "-zzaxb")


def test_sqlite_withdrawn_and_departed(sqlite_world):
    for name in PEOPLE:
        assert not found(sqlite_world, name, "klager")
    leave(sqlite_world, "lea")
    assert found(sqlite_world, "lea", "borgerne") == set()
