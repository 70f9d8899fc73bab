"""A search's statements are built once per shape and kept per process (search/queries._kept):
the query, the collaboration, the mark and the page are bound when they run. A kept
statement must find what the words of this search find, for this member only, and judge
consent periods at the moment it runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from freezegun import freeze_time

from coprod.citizens import operations as citizens
from coprod.reflections import operations as reflections
from coprod.search import queries
from tests.citizens.conftest import build_world

NOTE = dict(kind="works", perspective="citizens", component="routines",
            learning_level="inter", mode="exploitation")


@pytest.fixture
def world(db):
    return build_world(db)


def _post(db, world, author, body, **kw):
    note = reflections.post_reflection(world.actor(author), world.collaboration, body=body,
                                       **{**NOTE, **kw})
    db.session.commit()
    return note


def _found(world, user, q: str) -> set[int]:
    return {hit.id for hit in queries.search(world.actor(user), q, world.collaboration).hits}


def test_one_kept_statement_serves_every_word(db, world):
    minibus = _post(db, world, world.case_worker, "The minibus came late")
    handover = _post(db, world, world.case_worker, "The handover worked well")
    assert _found(world, world.cafe_staff, "minibus") == {minibus.id}
    kept = dict(queries.STATEMENTS.store)
    assert _found(world, world.cafe_staff, "handover") == {handover.id}
    assert _found(world, world.cafe_staff, "minibus OR handover") == {minibus.id, handover.id}
    assert _found(world, world.cafe_staff, "nothingmatcheszz") == set()
    assert dict(queries.STATEMENTS.store) == kept  # the same statements, not built again


def test_a_kept_statement_is_never_another_members(db, world):
    """Members of different partners have different policy facts: each search goes through
    a statement of their own, and finds only what they may read."""
    own = _post(db, world, world.cafe_staff, "Our rota for the minibus",
                visibility="organization")
    shared = _post(db, world, world.case_worker, "The minibus is shared")
    for _round in range(2):  # the second round is served from kept statements
        assert _found(world, world.cafe_staff, "minibus") == {own.id, shared.id}
        assert _found(world, world.shelter_staff, "minibus") == {shared.id}
        assert _found(world, world.case_worker, "minibus") == {shared.id}


def test_a_kept_statement_judges_consent_when_it_runs(db, world):
    """The café may read a note about the citizen while the consent is in force; the same
    kept statement stops finding it once the consent's period has ended, with nothing
    written in between."""
    boss = world.actor(world.coordinator)
    citizens.give_consent(
        boss, world.citizen, partner_ids=[world.jobcentre.id, world.cafe.id],
        category_ids=[world.contact.id, world.preferences.id], purpose="Finding work",
        starts_on=date.today() - timedelta(days=1), ends_on=date.today() + timedelta(days=2),
        replaces=world.consent)
    db.session.commit()
    note = _post(db, world, world.case_worker, "Anna liked the minibus route",
                 visibility="partners", audience=[world.cafe.id], citizen=world.citizen.id,
                 categories=[world.preferences.id])
    assert _found(world, world.cafe_staff, "minibus") == {note.id}
    kept = dict(queries.STATEMENTS.store)
    with freeze_time(datetime.now(UTC) + timedelta(days=5)):
        assert _found(world, world.cafe_staff, "minibus") == set()
    assert dict(queries.STATEMENTS.store) == kept
    assert _found(world, world.case_worker, "minibus") == {note.id}  # the author's partner


def test_a_member_who_changes_partner_searches_through_a_statement_of_their_new_facts(
        db, world):
    """The same user, moved from the café (which may know the citizen's work preferences) to
    the shelter (which may not): the statement kept for them as café staff holds the café
    among its values (what the consents are checked against), so it is not theirs any more."""
    from sqlalchemy import update

    from coprod.spaces.models import Membership

    note = _post(db, world, world.case_worker, "Anna liked the minibus route",
                 visibility="partners", audience=[world.cafe.id], citizen=world.citizen.id,
                 categories=[world.preferences.id])
    shared = _post(db, world, world.case_worker, "The minibus is shared")
    assert _found(world, world.cafe_staff, "minibus") == {note.id, shared.id}
    as_cafe = {key for key in queries.STATEMENTS.store if key[0] == "page"}
    db.session.execute(update(Membership).where(Membership.user_id == world.cafe_staff.id)
                       .values(partner_id=world.shelter.id))
    db.session.commit()
    assert _found(world, world.cafe_staff, "minibus") == {shared.id}
    as_shelter = {key for key in queries.STATEMENTS.store if key[0] == "page"} - as_cafe
    assert len(as_shelter) == 1
