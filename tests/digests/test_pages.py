"""The digest pages: the history, one digest as its reader may read it (charts with titles and
table alternatives, themes with their sources, actions), the review, settings and opt-in."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.digests.models import Digest, DigestPreference, DigestSettings, DigestStatus
from coprod.mail.models import OutboxEmail
from coprod.policy import actor_for
from coprod.reflections.models import Reflection
from tests.digests.reading_world import (
    CITIZEN_NOTE,
    SECRET_WORDS,
    build_digest,
    build_reading_world,
    expected_total,
)


@pytest.fixture
def world(db):
    return build_reading_world(db)


def _page(client, login, user, w, digest):
    login(user)
    response = client.get(f"/c/{w.collaboration.id}/digests/{digest.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _headline(html: str, name: str) -> int:
    match = re.search(rf"<dt>{name}</dt><dd>(?:<a [^>]*>)?(\d+)", html)
    assert match, name
    return int(match.group(1))


def _linked_reflections(html: str, w) -> set[int]:
    return {int(i) for i in re.findall(
        rf"/c/{w.collaboration.id}/reflections/(\d+)\"", html)}


def test_the_shelter_sees_only_what_it_may_read(db, client, login, world):
    w = world
    digest = build_digest(db, w)
    html = _page(client, login, w.shelter_staff, w, digest)
    assert _headline(html, "Reflections") == expected_total(db, w, w.shelter_staff)
    lowered = html.lower()
    for word in SECRET_WORDS:
        assert word not in lowered, word
    assert "Anna" not in html and "greenhouse" not in html
    assert "Buy the espresso grinder" not in html
    assert "Print the new timetables" in html
    shelter = actor_for(w.shelter_staff)
    for rid in _linked_reflections(html, w):
        assert policy.may(shelter, "read", db.session.get(Reflection, rid)), rid
    # the minibus theme, labelled from texts the shelter may read, links to its reflections
    assert "minibus" in lowered
    # the shelter wrote last week and not this week
    assert "Gone quiet" in html and "Animal shelter" in html


def test_the_cafe_sees_its_own_theme_and_the_coordinator_more(db, client, login, new_client,
                                                              world):
    w = world
    digest = build_digest(db, w)
    cafe = _page(client, login, w.cafe_staff, w, digest)
    assert _headline(cafe, "Reflections") == expected_total(db, w, w.cafe_staff)
    assert "espresso" in cafe.lower() or "grinder" in cafe.lower()
    assert "Buy the espresso grinder" in cafe
    assert "overspend" not in cafe.lower()
    other = new_client()
    from tests.factories import PASSWORD

    other.post("/login", data={"email": w.coordinator.email, "password": PASSWORD})
    boss = other.get(f"/c/{w.collaboration.id}/digests/{digest.id}").get_data(as_text=True)
    assert _headline(boss, "Reflections") == expected_total(db, w, w.coordinator)
    assert "overspend" in boss.lower()
    # the coordinator's job centre may not read the café's own reflections
    assert "espresso" not in boss.lower()


def test_the_page_has_accessible_charts_with_tables(db, client, login, world):
    w = world
    digest = build_digest(db, w)
    html = _page(client, login, w.case_worker, w, digest)
    charts = re.findall(r'<svg class="digest-chart" role="img" aria-labelledby="([\w-]+)-title '
                        r'[\w-]+-desc"', html)
    assert len(charts) == 3
    for ident in charts:
        assert f'<title id="{ident}-title">' in html and f'<desc id="{ident}-desc">' in html
    for svg in re.findall(r"<svg .*?</svg>", html, re.S):
        ElementTree.fromstring(svg)  # noqa: S314  (our own page) well-formed
    assert html.count('<table class="chart-table">') == 3
    assert "Reflections per period (the figures of the chart)" in html
    # the figures link to the feed filtered to the period
    assert f"/c/{w.collaboration.id}/reflections?since=" in html
    assert "digests.css" in html


def test_the_history_lists_digests_with_the_readers_figures(db, client, login, world):
    w = world
    digest = build_digest(db, w)
    login(w.shelter_staff)
    html = client.get(f"/c/{w.collaboration.id}/digests").get_data(as_text=True)
    assert f"/c/{w.collaboration.id}/digests/{digest.id}" in html
    assert "Sent" in html
    row = html[html.index(f'id="digest-{digest.id}"'):]
    assert re.search(rf'class="number">{expected_total(db, w, w.shelter_staff)}<', row)
    assert "Save the digest settings" not in html  # staff have no settings form


def _digest_emails(db) -> list[str]:
    return db.session.scalars(select(OutboxEmail.key).where(
        OutboxEmail.key.startswith("digest:"))).all()


def test_review_adds_a_note_and_sends(db, client, login, world):
    w = world
    digest = build_digest(db, w, sent=False)
    url = f"/c/{w.collaboration.id}/digests/{digest.id}"
    login(w.case_worker)  # waiting for review: not theirs to read yet
    assert client.get(url).status_code == 404
    assert client.post(url + "/review", data={"note": "x", "send": "1"}).status_code == 404
    client.post("/logout")
    login(w.coordinator)
    page = client.get(url).get_data(as_text=True)
    assert "Send the digest" in page
    response = client.post(url + "/review", data={"note": "We **did** well", "save": "1"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Digest, digest.id).status == DigestStatus.BUILT
    assert not _digest_emails(db)
    response = client.post(url + "/review", data={"note": "We **did** well", "send": "1"})
    assert response.status_code == 302
    db.session.expire_all()
    sent = db.session.get(Digest, digest.id)
    assert sent.status == DigestStatus.SENT and sent.note_by_id == w.coordinator.id
    assert _digest_emails(db)
    page = client.get(url).get_data(as_text=True)
    assert "We <strong>did</strong> well" in page
    assert "Send the digest" not in page
    again = client.post(url + "/review", data={"note": "Changed", "send": "1"})
    assert again.status_code == 409


def test_settings_are_for_coordinators(db, client, login, world):
    w = world
    url = f"/c/{w.collaboration.id}/digests/settings"
    data = {"cadence": "monthly", "anchor_on": "2026-01-01", "delivery": "automatic"}
    login(w.case_worker)
    assert client.post(url, data=data).status_code == 403
    client.post("/logout")
    login(w.coordinator)
    assert "Save the digest settings" in client.get(
        f"/c/{w.collaboration.id}/digests").get_data(as_text=True)
    assert client.post(url, data=data).status_code == 302
    db.session.expire_all()
    stored = db.session.get(DigestSettings, w.collaboration.id)
    assert (str(stored.cadence), stored.anchor_on.isoformat(), stored.send_automatically) == (
        "monthly", "2026-01-01", True)
    bad = client.post(url, data={**data, "cadence": "daily"})
    assert bad.status_code == 422


@pytest.mark.parametrize(("anchor_on", "words"), [("1900-01-01", "or later"),
                                               ("2100-01-01", "at the latest")])
def test_the_digest_anchor_is_bounded(db, client, login, world, anchor_on, words):
    """Every period since the anchor gets a digest: an anchor in 1900 would mean 1500."""
    login(world.coordinator)
    url = f"/c/{world.collaboration.id}/digests/settings"
    response = client.post(url, data={"cadence": "monthly", "anchor_on": anchor_on,
                                      "delivery": "automatic"})
    assert response.status_code == 422 and words in response.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(DigestSettings, world.collaboration.id)
    assert stored is None or stored.anchor_on.isoformat() != anchor_on


def test_a_member_opts_in_and_out(db, client, login, world):
    w = world
    login(w.cafe_staff)
    url = f"/c/{w.collaboration.id}/digests"
    assert "You do not get the digests by email." in client.get(url).get_data(as_text=True)
    client.post(url + "/email", data={"email": "on"})
    assert "You get the digests by email." in client.get(url).get_data(as_text=True)
    assert db.session.get(DigestPreference, (w.collaboration.id, w.cafe_staff.id)).email
    client.post(url + "/email", data={"email": "off"})
    db.session.expire_all()
    assert not db.session.get(DigestPreference, (w.collaboration.id, w.cafe_staff.id)).email


def test_other_collaborations_digests_answer_404(db, client, login, world):
    from tests.factories import CollaborationFactory, member

    w = world
    digest = build_digest(db, w)
    stranger = member(CollaborationFactory(), display_name="Stranger").user
    db.session.commit()
    login(stranger)
    assert client.get(f"/c/{w.collaboration.id}/digests").status_code == 404
    assert client.get(f"/c/{w.collaboration.id}/digests/{digest.id}").status_code == 404


def test_the_citizen_note_is_never_in_a_theme(db, client, login, world):
    """Themes leave out reflections about a citizen, even for the café that may read it."""
    w = world
    digest = build_digest(db, w)
    html = _page(client, login, w.cafe_staff, w, digest)
    themes = html[html.index('id="themes"'):html.index('id="actions"')]
    assert "greenhouse" not in themes and CITIZEN_NOTE not in html


def test_reading_an_action_about_a_citizen_in_a_digest_is_audited(db, client, login, world):
    from coprod.citizens.models import AuditEvent
    from coprod.reflections import operations as reflections
    from coprod.reflections.models import Visibility
    from tests.citizens.test_need_to_know import NOTE as FIELDS

    w = world
    note = reflections.post_reflection(
        actor_for(w.case_worker), w.collaboration, body="Anna needs mornings",
        visibility=Visibility.PARTNERS, audience=[w.cafe.id], citizen=w.citizen.id,
        categories=[w.preferences.id], **FIELDS)
    reflections.create_action(actor_for(w.case_worker), note, title="Find morning shifts",
                              owner_partner_id=w.cafe.id)
    db.session.commit()
    digest = build_digest(db, w)
    login(w.cafe_staff)
    page = client.get(f"/c/{w.collaboration.id}/digests/{digest.id}").get_data(as_text=True)
    assert "Find morning shifts" in page
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_id == note.id, AuditEvent.channel == "digest")).all()
    assert [(e.user_id, e.partner_id) for e in events] == [(w.cafe_staff.id, w.cafe.id)]
    assert db.session.get(Reflection, note.id) is not None


def test_each_theme_quotes_a_sentence_of_a_reflection_its_reader_may_read(db, new_client,
                                                                         world):
    from tests.factories import PASSWORD

    w = world
    digest = build_digest(db, w)
    for user in (w.shelter_staff, w.cafe_staff, w.coordinator):
        browser = new_client()
        browser.post("/login", data={"email": user.email, "password": PASSWORD})
        html = browser.get(f"/c/{w.collaboration.id}/digests/{digest.id}").get_data(as_text=True)
        quotes = re.findall(r'<blockquote class="digest-theme-example"><p>“([^”]*)” <a href="'
                            rf'/c/{w.collaboration.id}/reflections/(\d+)"', html)
        assert quotes, user.email
        actor = actor_for(user)
        for sentence, rid in quotes:
            reflection = db.session.get(Reflection, int(rid))
            assert policy.may(actor, "read", reflection), (user.email, rid)
            assert sentence.replace("&#39;", "'") in reflection.body


def test_reflections_that_fit_no_theme_are_counted_for_their_reader(db, client, login, world):
    from coprod.digests import readers
    from tests.digests.reading_world import _post

    w = world
    for author, body in [
            (w.coordinator, "Parking at the town hall is impossible on market days."),
            (w.cafe_staff, "Our new apprentice baker passed her exam with distinction!"),
            (w.case_worker, "The heating in the old school building failed during the frost."),
            (w.coordinator, "Someone keeps taking the stapler from the front desk.")]:
        _post(w, author, body)
    db.session.commit()
    digest = build_digest(db, w)
    assert digest.data["ungrouped"], "the world has reflections that fit no theme"
    reader = readers.class_of(actor_for(w.coordinator), w.collaboration.id)
    n = readers.view(digest, reader).ungrouped
    assert n >= 1
    html = _page(client, login, w.coordinator, w, digest)
    expected = (f"{n} reflection fits no theme." if n == 1 else f"{n} reflections fit no theme.")
    assert expected in html
