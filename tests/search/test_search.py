"""Search finds what a member may read, and nothing else: on PostgreSQL (full text in each
text's language, GIN index) and on SQLite (FTS5), with the same query syntax on both."""

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
from tests.conftest import embedded_app
from tests.factories import member
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


def test_new_texts_go_straight_into_the_search_indexes(world, db):
    """No pending list (GIN's fast update) for searches to read through: every text the
    world wrote is in each index's tree already, nothing is left to merge."""
    pending = db.session.execute(text(
        "SELECT gin_clean_pending_list('ix_reflections_body_fts'::regclass), "
        "gin_clean_pending_list('ix_replies_body_fts'::regclass), "
        "gin_clean_pending_list('ix_messages_body_fts'::regclass)")).one()
    db.session.rollback()
    assert tuple(pending) == (0, 0, 0)


def test_postgresql_uses_the_gin_indexes(world, db):
    matcher = queries._Matcher("borgerne", ("borgerne",), fulltext=True)
    plans = []
    for model in (Reflection, Reply, Message):
        stmt = select(model.id).where(matcher.matches(model)).params(matcher.params())
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plans.append("\n".join(db.session.execute(text("EXPLAIN " + sql)).scalars()))
    db.session.rollback()
    for plan, index in zip(plans, ("ix_reflections_body_fts", "ix_replies_body_fts",
                                   "ix_messages_body_fts"), strict=True):
        assert index in plan, plan


# -- each text in its own language (PostgreSQL) ---------------------------------------------

def speaker(world, locale: str, name: str):
    """A new member of the world's space whose locale is `locale`, as an actor."""
    from coprod.accounts.models import Role

    seat = member(world.collab, Role.PARTNER_STAFF, world.partners["a"], locale=locale,
                  display_name=name)
    db.session.commit()
    return policy.actor_for(seat.user)


def say(actor, world, body: str) -> Reflection:
    reflection = operations.post_reflection(actor, world.collab, body=body, kind="works",
                                            visibility="collaboration", **COMMON)
    db.session.commit()
    return reflection


def codes(page) -> set[str]:
    return {word for hit in page.hits for word in hit.excerpt.striptags().split()
            if word.startswith("zz")}


def test_each_text_takes_its_authors_language(world, db):
    dane, finn = speaker(world, "da", "Dan Dansk"), speaker(world, "fi", "Fia Suomi")
    danish = say(dane, world, "Borgerne zzdanish")
    answer = operations.reply(finn, danish, "Kiitos zzfinnish")
    db.session.commit()
    assert (danish.language, answer.language) == ("da", "fi")
    assert world.items["zzwhole"].language == "en"  # Ann's locale, the factory's default
    assert world.items["zzmsgannbo"].language == "en"  # a row made without an operation


def test_a_loaded_author_gives_the_language_without_reading_users(world, db):
    """An operation's author is in the session (signed in): the INSERT takes the language as
    a value, not as a subquery of users composed anew for every row."""
    from tests.conftest import statements_run

    dane = speaker(world, "da", "Dan Dansk")
    from coprod.accounts.models import User

    db.session.refresh(db.session.get(User, dane.user_id))  # as a signed-in member's request
    with statements_run(db) as run:
        danish = operations.post_reflection(dane, world.collab, body="Borgerne zzloaded",
                                            kind="works", visibility="collaboration",
                                            **COMMON)
    [insert] = [s for s in run if s.lstrip().upper().startswith("INSERT INTO REFLECTIONS")]
    assert "users" not in insert.lower()
    db.session.commit()
    assert db.session.scalar(select(Reflection.language).where(
        Reflection.id == danish.id)) == "da"


@pytest.mark.parametrize(("locale", "body", "q"), [
    ("en", "Calm mornings help the citizens zzenglish", "morning"),
    ("en", "The citizen was helped zzenglish", "citizens helping"),
    ("da", "Borgerne får hjælp zzdanish", "borger hjælpen"),
    ("da", "Værkstederne lukker zzdanish", "værksted"),
    ("fi", "Yhteistyössä talossa zzfinnish", "yhteistyö talo"),
    ("fi", "Kirjastoissa zzfinnish", "kirjasto"),
])
def test_a_word_finds_its_other_forms_in_the_texts_language(world, locale, body, q):
    author = speaker(world, locale, "Lang Author")
    say(author, world, body)
    assert codes(queries.search(world.actors["ann"], q, world.collab)) == {body.split()[-1]}


def test_accents_do_not_matter(world):
    dane = speaker(world, "da", "Dan Dansk")
    say(dane, world, "Mødet på Café Æblet zzaccents")
    ann = world.actors["ann"]
    assert codes(queries.search(ann, "cafe", world.collab)) == {"zzaccents"}
    assert codes(queries.search(ann, "CAFÉ", world.collab)) == {"zzaccents"}


def test_excerpts_mark_a_word_found_without_its_accents():
    shown = str(queries.excerpt("Mødet på Café Æblet, kahvila Kööpenhamina",
                                ["cafe", "koopenhamina"]))
    assert "<mark>Café</mark>" in shown and "<mark>Kööpenhamina</mark>" in shown
    assert str(queries.excerpt("Cafeen", ["café"])) == "<mark>Cafe</mark>en"


def test_a_text_is_stemmed_in_its_own_language_only(world):
    """Danish "borgere" finds the Danish author's "Borgerne" (one stem in Danish), not the
    English authors' (English stemming leaves them two words)."""
    dane = speaker(world, "da", "Dan Dansk")
    say(dane, world, "Borgerne zzdanish")
    found_ = codes(queries.search(world.actors["ann"], "borgere", world.collab))
    assert found_ == {"zzdanish"}


def test_query_syntax_works_in_every_language(world):
    dane, finn = speaker(world, "da", "Dan Dansk"), speaker(world, "fi", "Fia Suomi")
    say(dane, world, "Borgerne venter på svar zzdanish")
    say(finn, world, "Borgerne odottavat vastausta zzfinnish")
    ann = world.actors["ann"]
    assert codes(queries.search(ann, "borgerne -svar", world.collab)) >= {"zzfinnish"}
    assert "zzdanish" not in codes(queries.search(ann, "borgerne -svar", world.collab))
    assert codes(queries.search(ann, "zzdanish OR zzfinnish", world.collab)) == {
        "zzdanish", "zzfinnish"}
    assert codes(queries.search(ann, '"venter på svar"', world.collab)) == {"zzdanish"}


def test_postgresql_ranks_a_better_match_first_in_any_language(world):
    finn = speaker(world, "fi", "Fia Suomi")
    say(finn, world, "Talo zzonce")
    say(finn, world, "Talossa, talossa, talo zzthrice")
    page = queries.search(world.actors["ann"], "talo", world.collab)
    assert [hit.excerpt.striptags().split()[-1] for hit in page.hits] == ["zzthrice", "zzonce"]


# -- SQLite: FTS5 --------------------------------------------------------------------

@pytest.fixture
def sqlite_world(app, tmp_path):
    """The same world in an app on a fresh SQLite file (the embedded default)."""
    with embedded_app(app, tmp_path):
        yield build_world()


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


def test_sqlite_phrases_excluded_words_and_or(sqlite_world):
    assert found(sqlite_world, "ann", '"kan starte"') == {"zzpartnersb"}
    assert found(sqlite_world, "ann", '"starte kan"') == set()
    assert "zzpartnersb" not in found(sqlite_world, "ann", "borgerne -starte")
    assert "zzwhole" in found(sqlite_world, "ann", "borgerne -starte")
    only_left_out = found(sqlite_world, "ann", "-zzorgonly")
    assert "zzorgonly" not in only_left_out and "zzwhole" in only_left_out
    assert found(sqlite_world, "ann", "zzorgonly OR zzcoordonly") == {"zzorgonly",
                                                                       "zzcoordonly"}
    assert found(sqlite_world, "ann", "zzorgonly or zzcoordonly") == {"zzorgonly",
                                                                       "zzcoordonly"}
    assert found(sqlite_world, "ann", "borgerne -caféen OR zzcoordonly -borgerne") == (
        expected("ann") - {"zzwhole", "zzpartnersb"})
    assert found(sqlite_world, "ann", "zzorgonly OR -borgerne") == {"zzorgonly"} | FINNISH


def test_sqlite_ranks_with_bm25(sqlite_world):
    ann = sqlite_world.actors["ann"]
    for i in range(4):
        operations.post_reflection(ann, sqlite_world.collab, body=f"Handover {i} and more "
                                   f"words around it zzpage{i}", kind="works", **COMMON)
    best = operations.post_reflection(ann, sqlite_world.collab, kind="works", **COMMON,
                                      body="Handover, handover, handover.")
    db.session.commit()
    page = queries.search(ann, "handover", sqlite_world.collab)
    assert page.total == 5 and page.hits[0].id == best.id
    newest_first = queries.search(ann, "zzpage1 OR zzpage2", sqlite_world.collab)
    assert [hit.excerpt.striptags().split()[-1] for hit in newest_first.hits] == [
        "zzpage2", "zzpage1"]  # equally good: the newer first


def test_sqlite_finds_a_word_in_its_longer_forms(sqlite_world):
    ann = sqlite_world.actors["ann"]
    operations.post_reflection(ann, sqlite_world.collab, kind="works", **COMMON,
                               body="Calm mornings; kirjastoissa; crème brûlée; ÆBLET zzforms")
    db.session.commit()
    for q in ("morning", "kirjasto", "creme", "BRULEE", "æblet"):
        assert found_words(sqlite_world, "ann", q) == {"zzforms"}, q
    assert found_words(sqlite_world, "ann", '"morning"') == set()  # a phrase is exact


def test_sqlite_search_follows_edits_and_deletions(sqlite_world):
    ann, bo = sqlite_world.actors["ann"], sqlite_world.actors["bo"]
    reflection = sqlite_world.items["zzwhole"]
    fields = {**COMMON, "kind": "works", "visibility": "collaboration",
              "attribution": "person"}
    operations.edit_reflection(ann, reflection, body="Nyt handler det om haven zzedited",
                               **fields)
    operations.edit_reply(bo, sqlite_world.items["zzreplywhole"], "Haven blomstrer zzreplyed")
    db.session.delete(sqlite_world.items["zzmsganecy"])
    db.session.commit()
    assert found_words(sqlite_world, "ann", "haven") == {"zzedited", "zzreplyed"}
    assert "zzwhole" not in found(sqlite_world, "ann", "caféen")
    assert "zzmsganecy" not in found(sqlite_world, "ane", "hundene")
    for table in ("reflections_fts", "replies_fts", "messages_fts"):
        db.session.execute(text(f"INSERT INTO {table}({table}) VALUES ('integrity-check')"))


HOSTILE = ['"unbalanced', 'borgerne "', '"', '""', '" "', "NEAR(borgerne", "NEAR(a b)",
           "*", "borg*", "^borgerne", "^", "body:borgerne", "reflections_fts:x", "(borgerne",
           "borgerne)", "AND", "NOT borgerne", "borgerne NOT", "OR", "OR OR borgerne",
           "borgerne OR", "-", "--borgerne", '-"borgerne"', "'", "borgerne'", "\\", "a:b:c",
           "{borgerne}", "_", "borgerne _", "borgerne + zzwhole", "x" * 200, "ø" * 10,
           "🙂 borgerne"]


@pytest.mark.parametrize("q", HOSTILE)
def test_sqlite_a_hostile_query_finds_something_or_nothing(sqlite_world, q):
    page = queries.search(sqlite_world.actors["ann"], q, sqlite_world.collab)
    assert page.total >= 0


def test_sqlite_reads_what_is_no_word_as_postgresql_does(sqlite_world):
    assert found(sqlite_world, "ann", "borgerne _") == expected("ann")
    assert found(sqlite_world, "ann", "(borgerne") == expected("ann")
    assert found(sqlite_world, "ann", "NEAR(borgerne") == set()  # no "near" anywhere
    assert found(sqlite_world, "ann", '"kan starte') == {"zzpartnersb"}  # open quote: to the end


@pytest.mark.parametrize("q", HOSTILE)
def test_postgresql_a_hostile_query_finds_something_or_nothing(world, q):
    page = queries.search(world.actors["ann"], q, world.collab)
    assert page.total >= 0


def test_sqlite_migration_backfills_languages_and_the_index(sqlite_world):
    """Down to 0008 (no language, no FTS5 table) and up again: what was there is found."""
    from flask_migrate import downgrade

    dane = member(sqlite_world.collab, locale="da_DK")
    db.session.commit()
    danish = operations.post_reflection(policy.actor_for(dane.user), sqlite_world.collab,
                                        body="Borgerne zzbackfilled", kind="works",
                                        visibility="collaboration", **COMMON)
    db.session.commit()
    danish_id = danish.id
    downgrade(revision="0008")
    upgrade()
    assert db.session.scalar(select(Reflection.language).where(
        Reflection.id == danish_id)) == "da"
    assert {"zzbackfilled", "zzwhole", "zzmsgannbo", "zzreplywhole"} <= found_words(
        sqlite_world, "ann", "borgerne")
