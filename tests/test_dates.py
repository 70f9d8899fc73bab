"""Dates and times: one locale-aware format (Babel's medium date and short time) in the
reader's time zone on every page and in every email; feed date filters and digest period links
in the collaboration's time zone. Readers in Copenhagen and Helsinki around midnight."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role
from coprod.accounts.operations import invite
from coprod.digests import reading
from coprod.digests.views import feed_link
from coprod.messages import operations as messages
from coprod.messages.models import Message
from coprod.reflections import operations as reflections
from coprod.routines.models import Notification
from tests.conftest import text_of
from tests.factories import CollaborationFactory, PartnerFactory, member
from tests.spaces.pages import text_of_page

FIELDS = dict(kind="works", perspective="collaboration", component="routines",
              learning_level="inter", mode="exploitation")
# 22:30 UTC on 2 December: 23:30 that day in Copenhagen, 00:30 on 3 December in Helsinki.
LATE = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
# 21:30 UTC: still 2 December in both.
EARLIER = datetime(2026, 12, 2, 21, 30, tzinfo=UTC)


@pytest.fixture
def world(db):
    collab = CollaborationFactory(timezone="Europe/Helsinki")
    partner = PartnerFactory(collaboration=collab)
    w = {
        "collab": collab,
        "mette": member(collab, Role.COORDINATOR, locale="da", timezone="Europe/Copenhagen",
                        display_name="Mette"),
        "lars": member(collab, Role.PARTNER_STAFF, partner, locale="en",
                       timezone="Europe/Copenhagen", display_name="Lars"),
        "aino": member(collab, Role.PARTNER_STAFF, partner, locale="fi",
                       timezone="Europe/Helsinki", display_name="Aino"),
    }
    late = reflections.post_reflection(policy.actor_for(w["mette"].user), collab,
                                       body="Written just before midnight in Copenhagen.",
                                       **FIELDS)
    late.created_at = LATE
    earlier = reflections.post_reflection(policy.actor_for(w["mette"].user), collab,
                                          body="Written an hour earlier.", **FIELDS)
    earlier.created_at = EARLIER
    db.session.commit()
    w["late"], w["earlier"] = late, earlier
    return w


def _feed(client, world, **query) -> str:
    response = client.get(f"/c/{world['collab'].id}/reflections", query_string=query)
    assert response.status_code == 200
    return text_of_page(response)


@pytest.mark.parametrize(("who", "shown"), [
    ("lars", "Dec 2, 2026, 11:30 PM"),      # English, Copenhagen
    ("mette", "2. dec. 2026 23.30"),         # Danish, Copenhagen
    ("aino", "3.12.2026 0.30"),              # Finnish, Helsinki: already the next day
])
def test_a_reflection_shows_when_it_was_written_in_the_readers_zone_and_language(
        client, sign_in, world, who, shown):
    sign_in(world[who].user)
    assert shown in _feed(client, world)
    page = client.get(f"/c/{world['collab'].id}/reflections/{world['late'].id}")
    assert shown in text_of_page(page)


def test_no_page_uses_a_short_ambiguous_date(client, sign_in, world, db):
    """Notifications and messages show the same format as reflections (once "12/3/26")."""
    aino, lars = world["aino"].user, world["lars"].user
    conversation = messages.start_conversation(policy.actor_for(lars), world["collab"],
                                               [aino.id], "Midnight", "Are you still up?")
    conversation.last_message_at = LATE
    for message in db.session.scalars(select(Message).where(
            Message.conversation_id == conversation.id)):
        message.created_at = LATE
    reflections.reply(policy.actor_for(aino), world["late"], "Replying late.")
    db.session.flush()
    for notification in db.session.scalars(select(Notification)):
        notification.created_at = LATE
    db.session.commit()

    sign_in(aino)
    for url in (f"/c/{world['collab'].id}/messages",
                f"/c/{world['collab'].id}/messages/{conversation.id}"):
        text = text_of_page(client.get(url))
        assert "3.12.2026 0.30" in text, url
        assert not re.search(r"\b\d{1,2}/\d{1,2}/\d{2}\b", text)
    client.post("/logout")
    sign_in(world["mette"].user)
    text = text_of_page(client.get("/notifications"))
    assert "2. dec. 2026 23.30" in text
    assert not re.search(r"\b\d{1,2}/\d{1,2}/\d{2}\b", text)


def test_feed_date_filters_take_the_collaborations_days(client, sign_in, world):
    """The collaboration works in Helsinki: 22:30 UTC on 2 December is its 3 December, for
    a reader in Copenhagen too (for whom it is still the 2nd), as for every member."""
    sign_in(world["lars"].user)
    third = _feed(client, world, since="2026-12-03", until="2026-12-03")
    assert "Written just before midnight" in third
    assert "Written an hour earlier" not in third
    second = _feed(client, world, since="2026-12-02", until="2026-12-02")
    assert "Written an hour earlier" in second
    assert "Written just before midnight" not in second


def test_a_digest_period_links_to_its_reflections_in_the_collaborations_days(
        app, client, sign_in, world):
    """A period starting at midnight in Helsinki (22:00 UTC the day before) links to the feed
    of its local days, and the feed shows exactly the period's reflections."""
    start = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)
    days = reading.local_days(world["collab"], start, start + timedelta(days=7))
    assert (days.first.isoformat(), days.last.isoformat()) == ("2026-12-03", "2026-12-09")
    with app.test_request_context():
        link = feed_link(world["collab"], days)
    assert "since=2026-12-03" in link and "until=2026-12-09" in link
    sign_in(world["aino"].user)
    text = text_of_page(client.get(link))
    assert "Written just before midnight" in text
    assert "Written an hour earlier" not in text


def test_an_email_shows_moments_in_its_recipients_zone(db, world, outbox):
    """The invitee has no account yet: the collaboration's zone (and the default language)."""
    with freeze_time("2026-12-02 22:30:00"):
        invite(policy.actor_for(world["mette"].user), world["collab"], "new@example.org",
               Role.OBSERVER)
        db.session.commit()
    body = text_of(outbox.last_to("new@example.org"))
    # Fourteen days later, 00:30 in Helsinki.
    assert "The link works once and expires on Dec 17, 2026, 12:30\u202fAM." in body


def test_every_template_shows_moments_with_the_one_format():
    """A template that formats a moment itself (datetimeformat, strftime) would bring back a
    second format, or one outside the reader's time zone."""
    root = Path(__file__).resolve().parent.parent / "coprod" / "templates"
    offenders = [str(path.relative_to(root)) for path in root.rglob("*")
                 if path.suffix in (".html", ".txt")
                 and re.search(r"datetimeformat|strftime|timeformat", path.read_text())]
    assert offenders == []
