"""Need-to-know and consent, per object and in SQL, for reflections, replies and messages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.citizens import operations as citizens
from coprod.citizens.models import AuditEvent, Consent
from coprod.common import OperationError
from coprod.messages import operations as messages
from coprod.messages.models import Message
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Reflection, Reply, Visibility

NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation")


def readers(db, world, model, obj) -> dict[str, tuple[bool, bool]]:
    """Per user: (per-object answer, SQL answer)."""
    answers = {}
    for name in ("coordinator", "lone_coordinator", "case_worker", "cafe_staff",
                 "shelter_staff"):
        actor = actor_for(getattr(world, name))
        in_sql = db.session.scalar(policy.scoped(actor, model).where(model.id == obj.id))
        answers[name] = (policy.may(actor, "read", obj), in_sql is not None)
    return answers


def post_note(world, **kw):
    return reflections.post_reflection(
        actor_for(world.case_worker), world.collaboration, citizen=world.citizen.id,
        categories=[world.preferences.id], **{**NOTE, "body": "Anna wants café hours", **kw})


def test_a_note_reaches_only_partners_with_need_and_consent(db, world):
    note = post_note(world, visibility=Visibility.PARTNERS, audience=[world.cafe.id])
    db.session.commit()
    seen = readers(db, world, Reflection, note)
    assert seen == {"coordinator": (True, True), "lone_coordinator": (False, False),
                    "case_worker": (True, True), "cafe_staff": (True, True),
                    "shelter_staff": (False, False)}


def test_posting_to_an_audience_without_consent_is_refused_naming_the_partner(db, world):
    with pytest.raises(OperationError) as refused:
        post_note(world, visibility=Visibility.COLLABORATION)
    assert refused.value.field == "audience"
    assert "Animal shelter" in refused.value.message
    assert refused.value.lacking == [world.shelter.id]


def test_withdrawal_acts_on_the_next_read(db, world):
    note = post_note(world, visibility=Visibility.PARTNERS, audience=[world.cafe.id])
    db.session.commit()
    citizens.withdraw_consent(actor_for(world.guardian), world.consent, partner_id=world.cafe.id)
    db.session.commit()
    seen = readers(db, world, Reflection, note)
    assert seen["cafe_staff"] == (False, False)
    assert seen["case_worker"] == (True, True)
    history = db.session.scalars(select(Consent).order_by(Consent.id)).all()
    assert len(history) == 2 and history[1].replaces_id == history[0].id
    assert [p.id for p in history[1].partners] == [world.jobcentre.id]


def test_expired_consent_hides_content(db, world):
    note = post_note(world, visibility=Visibility.ORGANIZATION)
    db.session.commit()
    citizens.give_consent(
        actor_for(world.coordinator), world.citizen, partner_ids=[world.jobcentre.id],
        category_ids=[world.preferences.id], purpose="short",
        starts_on=date.today() - timedelta(days=10), ends_on=date.today() - timedelta(days=3),
        replaces=world.consent, given_by="citizen", method="paper")
    db.session.commit()
    assert readers(db, world, Reflection, note)["case_worker"] == (False, False)


def test_replies_and_messages_follow_their_own_reference(db, world):
    open_note = reflections.post_reflection(
        actor_for(world.shelter_staff), world.collaboration, body="General", **NOTE)
    with pytest.raises(OperationError):  # the shelter reads the reflection, so it would read
        reflections.reply(actor_for(world.case_worker), open_note, "Anna likes it",
                          citizen=world.citizen.id, categories=[world.contact.id])
    conversation = messages.start_conversation(
        actor_for(world.case_worker), world.collaboration, [world.cafe_staff.id], "Anna",
        "Her phone number is ...", citizen=world.citizen.id, categories=[world.contact.id])
    db.session.commit()
    message = conversation_message(db, conversation)
    seen = readers(db, world, Message, message)
    assert seen["cafe_staff"] == (True, True) and seen["case_worker"] == (True, True)
    citizens.withdraw_consent(actor_for(world.citizen_user), world.consent)
    db.session.commit()
    seen = readers(db, world, Message, message)
    assert seen["cafe_staff"] == (False, False) and seen["case_worker"] == (False, False)
    assert db.session.scalar(select(Reply)) is None


def conversation_message(db, conversation):
    return db.session.scalar(select(Message).where(Message.conversation_id == conversation.id))


def test_consents_and_audit_cannot_be_changed(db, world):
    world.consent.purpose = "something else"
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    event = db.session.scalar(select(AuditEvent))
    db.session.delete(event)
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(Consent.__table__.update().values(purpose="x"))
    db.session.rollback()


def test_erasure_deidentifies_and_keeps_consents(db, world):
    note = post_note(world, visibility=Visibility.ORGANIZATION, body="Anna Jensen, Citizen A")
    db.session.commit()
    citizens.erase_citizen(actor_for(world.lone_coordinator), world.citizen)
    db.session.commit()
    db.session.refresh(note)
    assert "Anna" not in note.body and "Citizen A" not in note.body
    assert note.citizen_reference is None
    assert world.citizen.name is None and world.citizen.is_erased
    assert db.session.scalar(select(Consent).where(Consent.id == world.consent.id))


def test_a_category_or_partner_named_by_a_consent_cannot_be_removed(db, world):
    from coprod.servicemap import operations as servicemap
    from coprod.spaces import operations as spaces
    from coprod.spaces.models import Membership

    boss = actor_for(world.coordinator)
    with pytest.raises(OperationError) as refused:
        servicemap.delete_category(boss, world.contact)
    assert refused.value.status == 409 and "consent" in refused.value.message
    db.session.execute(Membership.__table__.delete().where(
        Membership.partner_id == world.cafe.id))
    with pytest.raises(OperationError) as refused:
        spaces.remove_partner(boss, world.cafe)
    assert refused.value.status == 409
    servicemap.delete_category(boss, world.support)  # named by nothing: goes
    db.session.commit()


def test_a_reply_about_the_citizen_cannot_mention_someone_it_does_not_reach(db, world):
    note = reflections.post_reflection(actor_for(world.case_worker), world.collaboration,
                                       body="Open to all", visibility=Visibility.COORDINATORS,
                                       **NOTE)
    with pytest.raises(OperationError) as refused:
        reflections.reply(actor_for(world.coordinator), note, "About Anna",
                          citizen=world.citizen.id, categories=[world.contact.id],
                          mentions=[world.lone_coordinator.id])
    assert refused.value.field == "mentions"


def test_a_consent_change_made_on_a_page_is_audited_with_its_channel(app, db, world, login,
                                                                    client):
    login(world.guardian)
    client.post(f"/my/information/{world.citizen.id}/consents/{world.consent.id}/withdraw")
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action.value == "consent_withdrawn" and event.channel.value == "page"


def test_a_refused_post_is_counted_as_consent_friction(db, world):
    from coprod.citizens.models import ConsentFriction

    with pytest.raises(OperationError):
        post_note(world, visibility=Visibility.COLLABORATION)
    db.session.rollback()
    frictions = db.session.scalars(select(ConsentFriction)).all()
    assert [(f.collaboration_id, f.partner_id) for f in frictions] == [
        (world.collaboration.id, world.shelter.id)]
    assert db.session.scalar(select(Reflection)) is None
