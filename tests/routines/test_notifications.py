"""Notifications: who hears of a reply, a mention, a message and an action; emails by each
member's preference (none, one each, a daily summary at their local hour); the page, its
unread badge and marking read; and a withdrawn consent hiding a notification about a note on
a citizen, on the page and in the summary.

The world is tests/citizens/conftest.py's: the job centre (coordinator, case worker), the
café and the animal shelter, and Citizen A, whose guardian consented to the job centre and
the café knowing his work preferences.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from coprod.accounts.models import EmailPreference
from coprod.citizens import operations as citizens
from coprod.mail.models import OutboxEmail
from coprod.messages import operations as messages
from coprod.notifications import operations as notifications
from coprod.notifications.links import unsubscribe_token
from coprod.notifications.summary import send_daily_summaries
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Visibility
from coprod.routines.models import Notification, NotificationKind
from tests.citizens.conftest import build_world
from tests.conftest import statements_run, text_of
from tests.rawmail import assert_one_click_unsubscribe, raw_of

NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation")
SECRET = "Anna Jensen wants café hours on Tuesdays"
# 08:00 in Copenhagen (the factory users' zone) in winter, when the summary hour is 8.
WINTER_MORNING = datetime(2027, 1, 14, 7, 0, tzinfo=UTC)


@pytest.fixture
def world(db):
    return build_world(db)


def everyone(world):
    return [world.coordinator, world.lone_coordinator, world.case_worker, world.cafe_staff,
            world.shelter_staff, world.guardian, world.citizen_user]


def notified(db, kind=None) -> dict[int, list[str]]:
    """user id -> the keys of their notifications (of one kind)."""
    db.session.expire_all()
    stmt = select(Notification).order_by(Notification.id)
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    found: dict[int, list[str]] = {}
    for n in db.session.scalars(stmt):
        found.setdefault(n.user_id, []).append(n.key)
    return found


def prefer(db, user, preference, hour=8):
    user.notify_email = preference
    user.summary_hour = hour
    db.session.commit()


def post(db, world, author, **kw):
    """A reflection everyone in the collaboration reads (no citizen in it)."""
    note = reflections.post_reflection(actor_for(author), world.collaboration,
                                       body="The shared calendar works", **{**NOTE, **kw})
    db.session.commit()
    return note


def note_about_citizen(db, world, **kw):
    """The case worker's note about Citizen A for the café only."""
    note = reflections.post_reflection(
        actor_for(world.case_worker), world.collaboration, body=SECRET,
        citizen=world.citizen.id, categories=[world.preferences.id],
        visibility=Visibility.PARTNERS, audience=[world.cafe.id], **{**NOTE, **kw})
    db.session.commit()
    return note


def emails(db) -> list[OutboxEmail]:
    db.session.expire_all()
    return db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()


# -- who is notified ------------------------------------------------------------------------

def test_a_reply_notifies_the_reflection_author_and_nobody_else(db, world):
    note = post(db, world, world.case_worker)
    answer = reflections.reply(actor_for(world.cafe_staff), note, "We see it too")
    reflections.reply(actor_for(world.case_worker), note, "Thanks")  # the author: no one
    db.session.commit()
    assert notified(db) == {world.case_worker.id: [f"reply:{answer.id}"]}
    (n,) = db.session.scalars(select(Notification)).all()
    assert n.kind == NotificationKind.REPLY and n.about == f"reply:{answer.id}"
    assert n.collaboration_id == world.collaboration.id and n.read_at is None


def test_a_mention_notifies_each_member_named_but_not_the_author(db, world):
    note = post(db, world, world.case_worker,
                mentions=[world.cafe_staff.id, world.shelter_staff.id, world.case_worker.id])
    key = notified(db)
    assert set(key) == {world.cafe_staff.id, world.shelter_staff.id}
    assert all(k[0].startswith("mention:") for k in key.values())
    (n, _) = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert n.about == f"reflection:{note.id}" and n.kind == NotificationKind.MENTION


def test_the_author_mentioned_in_a_reply_hears_of_it_once(db, world):
    note = post(db, world, world.case_worker)
    answer = reflections.reply(actor_for(world.cafe_staff), note, "Over to you",
                               mentions=[world.case_worker.id])
    db.session.commit()
    (key,) = notified(db)[world.case_worker.id]
    assert key.startswith("mention:") and len(notified(db)) == 1
    assert db.session.scalar(select(Notification.about)) == f"reply:{answer.id}"


def test_a_message_notifies_every_other_participant(db, world):
    conversation = messages.start_conversation(
        actor_for(world.cafe_staff), world.collaboration,
        [world.case_worker.id, world.shelter_staff.id], "Shifts", "Can we talk?")
    db.session.commit()
    first = {world.case_worker.id, world.shelter_staff.id}
    assert set(notified(db, NotificationKind.MESSAGE)) == first
    message = messages.post_message(actor_for(world.case_worker), conversation, "Yes")
    db.session.commit()
    found = notified(db, NotificationKind.MESSAGE)
    assert set(found) == {world.case_worker.id, world.shelter_staff.id, world.cafe_staff.id}
    assert len(found[world.case_worker.id]) == 1  # not for their own message
    assert found[world.cafe_staff.id] == [f"message:{message.id}"]
    assert found[world.shelter_staff.id][-1] == f"message:{message.id}"


def test_an_action_notifies_the_owning_partners_staff_except_its_creator(db, world):
    note = post(db, world, world.shelter_staff)
    action = reflections.create_action(actor_for(world.coordinator), note, title="Fix it",
                                       owner_partner_id=world.cafe.id)
    db.session.commit()
    assert notified(db) == {world.cafe_staff.id: [f"action:{action.id}"]}
    other = post(db, world, world.cafe_staff)
    reflections.create_action(actor_for(world.cafe_staff), other, title="Ours",
                              owner_partner_id=world.cafe.id)
    db.session.commit()
    assert len(notified(db)[world.cafe_staff.id]) == 1  # the creator: no notification


def test_nobody_is_notified_of_what_they_may_not_read(db, world):
    """The shelter may not know of the citizen: a reply to it stays unknown to them too."""
    note = note_about_citizen(db, world)
    reflections.reply(actor_for(world.cafe_staff), note, "We can do Tuesdays")
    db.session.commit()
    assert set(notified(db)) == {world.case_worker.id}
    assert world.shelter_staff.id not in notified(db)


def test_the_same_cause_notifies_once(db, world):
    note = post(db, world, world.case_worker)
    answer = reflections.reply(actor_for(world.cafe_staff), note, "Yes")
    db.session.commit()
    again = notifications.notify(world.case_worker.id, world.collaboration.id, "reply",
                                 f"reply:{answer.id}", f"reply:{answer.id}")
    assert again is None and len(notified(db)[world.case_worker.id]) == 1


# -- emails by preference -------------------------------------------------------------------

def test_preference_off_sends_no_email(db, world, outbox):
    prefer(db, world.case_worker, EmailPreference.OFF)
    note = post(db, world, world.case_worker)
    reflections.reply(actor_for(world.cafe_staff), note, "We see it too")
    db.session.commit()
    assert notified(db)[world.case_worker.id]
    assert emails(db) == []
    assert [m for m in outbox.messages() if m["To"] == world.case_worker.email] == []


def test_preference_immediately_sends_one_email_with_a_link_and_no_content(
        app, db, world, outbox):
    note = note_about_citizen(db, world)
    answer = reflections.reply(actor_for(world.cafe_staff), note, "We can do Tuesdays")
    db.session.commit()
    (message,) = [m for m in outbox.messages() if m["To"] == world.case_worker.email]
    assert message["Subject"] == "Café staff replied to your reflection in Meaningful work"
    body = text_of(message) + message.get_body(("html",)).get_content()
    link = f"http://localhost/c/{world.collaboration.id}/reflections/{note.id}#reply-{answer.id}"
    assert link in body
    for secret in ("Anna", "Jensen", "Citizen A", "café hours", "Tuesdays", "Work preferences"):
        assert secret not in body and secret not in message["Subject"]
    (n,) = db.session.scalars(select(Notification)).all()
    assert n.emailed_at is not None
    (row,) = emails(db)
    assert row.key == f"notification:{n.id}" and row.about == f"reply:{answer.id}"
    unsubscribe = f"http://localhost/notifications/unsubscribe/{unsubscribe_token(n.user_id)}"
    assert unsubscribe in text_of(message) and unsubscribe in body
    assert_one_click_unsubscribe(raw_of(app, message), unsubscribe)


def test_an_action_email_names_the_organization_not_the_title(db, world, outbox):
    note = post(db, world, world.shelter_staff)
    reflections.create_action(actor_for(world.coordinator), note, title="Secret plan",
                              owner_partner_id=world.cafe.id)
    db.session.commit()
    (message,) = [m for m in outbox.messages() if m["To"] == world.cafe_staff.email]
    assert message["Subject"] == "An improvement action for Café in Meaningful work"
    assert "Secret plan" not in text_of(message)
    assert f"/reflections/{note.id}#action" in text_of(message)


# -- the unsubscribe link of the emails -------------------------------------------------------

def _unsubscribe_url(user) -> str:
    return f"/notifications/unsubscribe/{unsubscribe_token(user.id)}"


def test_opening_the_unsubscribe_link_asks_and_its_button_stops_the_emails(
        db, world, new_client, outbox):
    browser = new_client()  # no session: the link is opened from the email
    page = browser.get(_unsubscribe_url(world.case_worker))
    assert page.status_code == 200
    assert "Stop notification emails" in page.get_data(as_text=True)
    db.session.expire_all()
    assert world.case_worker.notify_email == EmailPreference.IMMEDIATELY  # a GET changes nothing

    done = browser.post(_unsubscribe_url(world.case_worker))
    assert done.status_code == 200
    assert "You no longer get notification emails." in done.get_data(as_text=True)
    db.session.expire_all()
    assert world.case_worker.notify_email == EmailPreference.OFF
    assert world.cafe_staff.notify_email == EmailPreference.IMMEDIATELY

    note = post(db, world, world.case_worker)
    reflections.reply(actor_for(world.cafe_staff), note, "We see it too")
    db.session.commit()
    assert notified(db)[world.case_worker.id]  # still on the site
    assert [m for m in outbox.messages() if m["To"] == world.case_worker.email] == []


def test_a_one_click_post_needs_no_csrf_token_but_the_pages_form_does(
        app, db, world, new_client, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    provider = new_client()  # a mail provider: no cookies, no CSRF token
    url = _unsubscribe_url(world.case_worker)
    assert provider.post(url, data={"action": "unsubscribe"}).status_code == 400
    db.session.expire_all()
    assert world.case_worker.notify_email == EmailPreference.IMMEDIATELY

    response = provider.post(url, data="List-Unsubscribe=One-Click",
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    db.session.expire_all()
    assert world.case_worker.notify_email == EmailPreference.OFF


def test_a_damaged_notification_unsubscribe_link_is_not_found(db, world, new_client):
    browser = new_client()
    url = _unsubscribe_url(world.case_worker)
    assert browser.get(url[:-2] + "xx").status_code == 404
    assert browser.post(url[:-2] + "xx").status_code == 404
    assert browser.post("/notifications/unsubscribe/" + unsubscribe_token(10**6)).status_code \
        == 404
    db.session.expire_all()
    assert world.case_worker.notify_email == EmailPreference.IMMEDIATELY


def _daily_world(db, world):
    prefer(db, world.case_worker, EmailPreference.DAILY, hour=8)
    note = post(db, world, world.case_worker)
    reflections.reply(actor_for(world.cafe_staff), note, "One")
    reflections.reply(actor_for(world.shelter_staff), note, "Two")
    db.session.commit()
    return note


def test_daily_sends_nothing_at_once_and_one_summary_at_the_local_hour(
        app, db, world, outbox):
    note = _daily_world(db, world)
    assert emails(db) == []
    assert send_daily_summaries(WINTER_MORNING - timedelta(hours=1)) == 0  # 07:00 there
    assert send_daily_summaries(WINTER_MORNING) == 1
    db.session.commit()
    assert send_daily_summaries(WINTER_MORNING + timedelta(minutes=30)) == 0  # not twice
    db.session.commit()
    (message,) = [m for m in outbox.messages() if m["To"] == world.case_worker.email]
    assert message["Subject"] == "Coprod: 2 new notifications"
    body = text_of(message)
    assert "2 replies to your reflections" in body
    assert len(re.findall(rf"/reflections/{note.id}#reply-\d+", body)) == 2
    assert "One" not in body.replace("one", "") and "Two" not in body
    (row,) = emails(db)
    assert row.key == f"summary:{world.case_worker.id}:2027-01-14"
    unsubscribe = ("http://localhost/notifications/unsubscribe/"
                   f"{unsubscribe_token(world.case_worker.id)}")
    assert unsubscribe in body
    assert_one_click_unsubscribe(raw_of(app, message), unsubscribe)
    assert all(n.emailed_at is not None for n in db.session.scalars(select(Notification)))


def test_what_arrives_after_the_summary_waits_for_the_next_day(db, world, outbox):
    note = _daily_world(db, world)
    send_daily_summaries(WINTER_MORNING)
    db.session.commit()
    reflections.reply(actor_for(world.cafe_staff), note, "Three")
    db.session.commit()
    assert send_daily_summaries(WINTER_MORNING + timedelta(minutes=50)) == 0
    db.session.commit()
    assert send_daily_summaries(WINTER_MORNING + timedelta(days=1)) == 1
    db.session.commit()
    mine = [m for m in outbox.messages() if m["To"] == world.case_worker.email]
    assert [m["Subject"] for m in mine] == ["Coprod: 2 new notifications",
                                            "Coprod: 1 new notification"]


def test_the_summary_hour_is_the_members_local_hour(db, world):
    _daily_world(db, world)
    world.case_worker.timezone = "America/New_York"  # 08:00 there is 13:00 UTC in winter
    db.session.commit()
    assert send_daily_summaries(WINTER_MORNING) == 0
    assert send_daily_summaries(WINTER_MORNING.replace(hour=13)) == 1


def test_read_notifications_are_not_summarized(db, world):
    _daily_world(db, world)
    notifications.mark_all_read(actor_for(world.case_worker))
    db.session.commit()
    assert send_daily_summaries(WINTER_MORNING) == 0


# -- the page, the badge, marking read ------------------------------------------------------

def test_the_page_lists_notifications_with_an_unread_badge_and_marks_them_read(
        db, world, client, login):
    note = post(db, world, world.case_worker)
    first = reflections.reply(actor_for(world.cafe_staff), note, "One")
    reflections.reply(actor_for(world.shelter_staff), note, "Two")
    db.session.commit()
    login(world.case_worker)
    page = client.get("/notifications").get_data(as_text=True)
    assert "Notifications <span class=\"badge badge-unread\">2" in page
    assert "Café staff replied to your reflection" in page
    assert "Shelter staff replied to your reflection" in page
    assert page.index("Shelter staff") < page.index("Café staff replied")  # newest first
    assert f'href="/c/{world.collaboration.id}/reflections/{note.id}#reply-{first.id}"' in page
    assert "One" not in page.replace("one", "")

    n = db.session.scalar(select(Notification).where(Notification.key == f"reply:{first.id}"))
    response = client.post(f"/notifications/{n.id}/read")
    assert response.status_code == 302
    page = client.get("/notifications").get_data(as_text=True)
    assert "Notifications <span class=\"badge badge-unread\">1" in page
    client.post("/notifications/read")
    page = client.get("/notifications").get_data(as_text=True)
    assert "badge-unread" not in page
    assert "Café staff replied to your reflection" in page  # read, still listed


def test_reading_a_conversation_reads_its_message_notifications(db, world, client, login):
    conversation = messages.start_conversation(
        actor_for(world.cafe_staff), world.collaboration, [world.case_worker.id], "Shifts",
        "Can we talk?")
    db.session.commit()
    login(world.case_worker)
    assert 'badge badge-unread">1' in client.get("/notifications").get_data(as_text=True)
    client.get(f"/c/{world.collaboration.id}/messages/{conversation.id}")
    page = client.get("/notifications").get_data(as_text=True)
    assert "Café staff wrote you a message" in page and "badge-unread" not in page


def test_a_member_cannot_mark_someone_elses_notification(db, world, client, login):
    note = post(db, world, world.case_worker)
    reflections.reply(actor_for(world.cafe_staff), note, "One")
    db.session.commit()
    n = db.session.scalar(select(Notification))
    login(world.cafe_staff)
    assert client.post(f"/notifications/{n.id}/read").status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, n.id).read_at is None


def test_the_badge_costs_one_query_a_page(db, world, client, login):
    note = post(db, world, world.case_worker)
    reflections.reply(actor_for(world.cafe_staff), note, "One")
    db.session.commit()
    login(world.case_worker)
    with statements_run(db) as run:
        page = client.get(f"/c/{world.collaboration.id}/reflections/{note.id}")
    assert page.status_code == 200
    assert 'badge badge-unread">1' in page.get_data(as_text=True)
    assert len([s for s in run if "notifications" in s and "count(" in s.lower()]) == 1


def test_email_preferences_on_the_profile_page(db, world, client, login):
    login(world.case_worker)
    page = client.get("/profile").get_data(as_text=True)
    assert "Notifications by email" in page
    assert re.search(r'<input checked [^>]*value="immediately"', page)
    response = client.post("/notifications/settings",
                           data={"notify_email": "daily", "summary_hour": "17"})
    assert response.status_code == 302
    db.session.expire_all()
    assert world.case_worker.notify_email == EmailPreference.DAILY
    assert world.case_worker.summary_hour == 17
    refused = client.post("/notifications/settings",
                          data={"notify_email": "hourly", "summary_hour": "17"})
    assert refused.status_code == 422
    assert "Not a valid choice" in refused.get_data(as_text=True)


# -- a withdrawn consent --------------------------------------------------------------------

def test_a_withdrawn_consent_hides_the_notification_and_its_summary(db, world, client, login):
    prefer(db, world.cafe_staff, EmailPreference.DAILY, hour=8)
    note = note_about_citizen(db, world, mentions=[world.cafe_staff.id])
    (n,) = db.session.scalars(select(Notification)).all()
    assert n.user_id == world.cafe_staff.id
    login(world.cafe_staff)
    page = client.get("/notifications").get_data(as_text=True)
    assert "Case worker mentioned you in a reflection" in page
    assert f"/reflections/{note.id}" in page and "badge-unread\">1" in page

    citizens.withdraw_consent(actor_for(world.guardian), world.consent,
                              partner_id=world.cafe.id)
    db.session.commit()
    page = client.get("/notifications").get_data(as_text=True)
    assert "mentioned you" not in page and f"/reflections/{note.id}" not in page
    assert "badge-unread" not in page
    assert client.post(f"/notifications/{n.id}/read").status_code == 404
    assert send_daily_summaries(WINTER_MORNING) == 0
    assert emails(db) == []
    db.session.expire_all()
    assert db.session.get(Notification, n.id).emailed_at is None


def test_a_withdrawn_consent_cancels_the_immediate_email(db, world, outbox):
    note = note_about_citizen(db, world, mentions=[world.cafe_staff.id])
    citizens.withdraw_consent(actor_for(world.guardian), world.consent,
                              partner_id=world.cafe.id)
    db.session.commit()
    assert [m for m in outbox.messages() if m["To"] == world.cafe_staff.email] == []
    (row,) = emails(db)
    assert row.about == f"reflection:{note.id}" and row.status == "cancelled"


def test_the_beat_task_queues_and_commits_the_summaries(db, world, app):
    from freezegun import freeze_time

    from coprod.routines.tasks import send_daily_summaries as task

    assert app.extensions["celery"].tasks[task.name] is not None
    assert task.name == "coprod.routines.tasks.send_daily_summaries"
    entry = app.extensions["celery"].conf.beat_schedule["send-daily-summaries"]
    assert entry["task"] == task.name and entry["schedule"] <= 3600  # every local hour
    _daily_world(db, world)
    with freeze_time(WINTER_MORNING):
        assert task.run() == 1
        assert task.run() == 0
    db.session.rollback()  # the task committed: the row stays
    assert [row.key for row in emails(db)] == [f"summary:{world.case_worker.id}:2027-01-14"]
