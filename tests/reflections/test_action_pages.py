"""Improvement actions on the web: turning an improvement into an action, moving it along,
the "you said, we did" note for every reader, overdue flags, and the actions page."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from coprod import policy
from coprod.extensions import db
from coprod.reflections import operations
from coprod.reflections.models import ActionStatus, ImprovementAction
from coprod.spaces.models import CollaborationStatus
from tests.reflections.page_fixtures import *  # noqa: F403
from tests.reflections.page_fixtures import post
from tests.spaces.pages import error_of, page, text_of_page


def _url(world, reflection, tail=""):
    return f"/c/{world.collab.id}/reflections/{reflection.id}{tail}"


def _action(world, reflection, due_on=None, owner=None):
    action = operations.create_action(
        policy.actor_for(world.people.jens), reflection, title="Shared handover note",
        owner_partner_id=world.job_centre.id, owner_user_id=owner.id if owner else None,
        due_on=due_on)
    db.session.commit()
    return action


def test_who_is_offered_to_turn_an_improvement_into_an_action(world, browser_for):
    improve = post(world.collab, world.people.jens, kind="improve")
    works = post(world.collab, world.people.jens, kind="works")
    for user, offered in ((world.people.jens, True), (world.people.julie, True),
                          (world.people.coordinator, True), (world.people.carla, False),
                          (world.people.observer, False)):
        text = text_of_page(browser_for(user).get(_url(world, improve)))
        assert ("Turn into an action" in text) is offered, user.display_name
        assert "Turn into an action" not in text_of_page(browser_for(user).get(
            _url(world, works)))
    response = browser_for(world.people.carla).post(_url(world, improve, "/action"), data={
        "title": "Mine now", "owner_partner_id": world.cafe.id})
    assert response.status_code == 403
    response = browser_for(world.people.jens).post(_url(world, works, "/action"), data={
        "title": "Not an improvement", "owner_partner_id": world.job_centre.id})
    assert response.status_code == 403
    assert db.session.scalars(select(ImprovementAction)).first() is None


def test_an_action_is_created_and_shown_with_its_owner_and_due_date(world, browser_for):
    reflection = post(world.collab, world.people.jens, kind="improve")
    due = date.today() + timedelta(days=30)
    response = browser_for(world.people.coordinator).post(_url(world, reflection, "/action"),
                                                          data={
        "title": "Shared handover note", "owner_partner_id": world.job_centre.id,
        "owner_user_id": world.people.julie.id, "due_on": due.isoformat()})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#action")
    text = text_of_page(browser_for(world.people.carla).get(_url(world, reflection)))
    for expected in ("Improvement action", "Shared handover note", "Action: Open",
                     "Owned by Job centre", "Owner Julie Jobcentre", "Status Open"):
        assert expected in text, expected
    assert "Overdue" not in text
    assert "Turn into an action" not in text
    # Carla does not speak for the owning organization: no update form, 403 on the URL.
    assert "Update the action" not in text
    assert browser_for(world.people.carla).post(_url(world, reflection, "/action/update"),
                                                data={"status": "done"}).status_code == 403


def test_the_action_form_keeps_values_and_shows_errors(world, browser_for):
    reflection = post(world.collab, world.people.jens, kind="improve")
    browser = browser_for(world.people.jens)
    response = browser.post(_url(world, reflection, "/action"), data={
        "title": "", "owner_partner_id": world.job_centre.id, "due_on": "next week"})
    assert response.status_code == 422
    assert error_of(response, "due_on")
    response = browser.post(_url(world, reflection, "/action"), data={
        "title": "Kept title", "owner_partner_id": world.job_centre.id,
        "owner_user_id": world.people.carla.id})
    assert response.status_code == 422
    assert error_of(response, "owner_user_id") == \
        "The owner must be a member speaking for Job centre."
    assert 'value="Kept title"' in page(response)
    response = browser.post(_url(world, reflection, "/action"), data={
        "title": "Elsewhere", "owner_partner_id": world.other_partner.id})
    assert response.status_code == 422
    assert error_of(response, "owner_partner_id") == "Choose one of the options offered."
    response = browser.post(_url(world, reflection, "/action"), data={
        "title": "  ", "owner_partner_id": world.job_centre.id})
    assert response.status_code == 422
    assert error_of(response, "title") == "Say in a line what will be done."
    assert db.session.scalars(select(ImprovementAction)).first() is None


def test_an_improvement_becomes_an_action_once(world, browser_for):
    reflection = post(world.collab, world.people.jens, kind="improve")
    _action(world, reflection)
    response = browser_for(world.people.jens).post(_url(world, reflection, "/action"), data={
        "title": "Again", "owner_partner_id": world.job_centre.id})
    assert response.status_code == 409
    assert "already an improvement action" in page(response)


def test_done_needs_a_note_and_every_reader_then_reads_it(world, browser_for):
    reflection = post(world.collab, world.people.carla, kind="improve",
                      body="Citizens wait outside in the rain")
    operations.create_action(policy.actor_for(world.people.carla), reflection,
                             title="A waiting room", owner_partner_id=world.job_centre.id)
    db.session.commit()
    julie = browser_for(world.people.julie)  # staff of the owning organization
    assert "Update the action" in text_of_page(julie.get(_url(world, reflection)))
    response = julie.post(_url(world, reflection, "/action/update"),
                          data={"status": "done", "done_note": "  "})
    assert response.status_code == 422
    assert error_of(response, "done_note") == \
        "Say what was done: the people who raised it will read it."
    assert db.session.scalars(select(ImprovementAction)).one().status == ActionStatus.OPEN
    response = julie.post(_url(world, reflection, "/action/update"), data={
        "status": "done", "owner_user_id": world.people.julie.id,
        "done_note": "We opened the **library room** from 8 o'clock."},
        follow_redirects=True)
    assert response.status_code == 200
    for user in (world.people.carla, world.people.sam, world.people.citizen,
                 world.people.observer):
        html = page(browser_for(user).get(_url(world, reflection)))
        section = re.search(r'<section class="you-said-we-did".*?</section>', html, re.S)
        assert section, user.display_name
        assert "You said, we did" in section.group(0)
        assert "<strong>library room</strong>" in section.group(0)
        assert "Action: Done" in text_of_page(browser_for(user).get(_url(world, reflection)))
        feed = text_of_page(browser_for(user).get(f"/c/{world.collab.id}/reflections"))
        assert "You said, we did: We opened the library room from 8 o'clock." in feed


def test_a_status_posted_by_hand_is_a_field_error(world, browser_for):
    reflection = post(world.collab, world.people.jens, kind="improve")
    _action(world, reflection)
    response = browser_for(world.people.jens).post(_url(world, reflection, "/action/update"),
                                                   data={"status": "finished"})
    assert response.status_code == 422
    assert error_of(response, "status") == "Choose one of the options offered."


def test_overdue_actions_are_flagged(world, browser_for):
    late = post(world.collab, world.people.jens, kind="improve", body="Late one")
    _action(world, late, due_on=date.today() - timedelta(days=2))
    on_time = post(world.collab, world.people.jens, kind="improve", body="On time")
    operations.create_action(policy.actor_for(world.people.jens), on_time, title="Not yet due",
                             owner_partner_id=world.job_centre.id,
                             due_on=date.today() + timedelta(days=2))
    db.session.commit()
    browser = browser_for(world.people.sam)
    assert "Overdue" in text_of_page(browser.get(_url(world, late)))
    assert "Overdue" not in text_of_page(browser.get(_url(world, on_time)))
    actions = page(browser.get(f"/c/{world.collab.id}/actions"))
    assert re.findall(r'<li class="action-item[^"]*" id="action-(\d+)"', actions) == \
        [str(late.action.id), str(on_time.action.id)]
    overdue = re.findall(r'class="action-item is-overdue" id="action-(\d+)"', actions)
    assert overdue == [str(late.action.id)]


def test_the_actions_page_groups_by_status(world, browser_for):
    titles = {}
    for status in ("open", "in_progress", "done", "dropped"):
        reflection = post(world.collab, world.people.jens, kind="improve")
        action = _action(world, reflection)
        action.title = f"Action that is {status}"
        if status != "open":
            operations.update_action(policy.actor_for(world.people.jens), action,
                                     status=status, done_note="Done it" if status == "done"
                                     else None)
        titles[status] = action.title
        db.session.commit()
    hidden = post(world.collab, world.people.jens, kind="improve", visibility="organization")
    hidden_action = _action(world, hidden)
    hidden_action.title = "Only for the job centre"
    db.session.commit()
    text = text_of_page(browser_for(world.people.carla).get(f"/c/{world.collab.id}/actions"))
    assert "Only for the job centre" not in text
    positions = [text.index(heading) for heading in (
        "Open 1", "In progress 1", "Done 1", "Dropped 1")]
    assert positions == sorted(positions)
    for status, heading in (("open", "Open 1"), ("in_progress", "In progress 1"),
                            ("done", "Done 1"), ("dropped", "Dropped 1")):
        assert text.index(heading) < text.index(titles[status])
    assert "You said, we did: Done it" in text
    assert "Only for the job centre" in text_of_page(browser_for(world.people.julie).get(
        f"/c/{world.collab.id}/actions"))


def test_archived_actions_cannot_change(world, browser_for):
    reflection = post(world.collab, world.people.jens, kind="improve")
    _action(world, reflection)
    other = post(world.collab, world.people.jens, kind="improve")
    world.collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    browser = browser_for(world.people.coordinator)
    text = text_of_page(browser.get(_url(world, reflection)))
    assert "Shared handover note" in text and "Update the action" not in text
    assert "Turn into an action" not in text_of_page(browser.get(_url(world, other)))
    assert browser.post(_url(world, reflection, "/action/update"),
                        data={"status": "dropped"}).status_code == 403
    assert browser.post(_url(world, other, "/action"), data={
        "title": "x", "owner_partner_id": world.job_centre.id}).status_code == 403
    assert browser.get(f"/c/{world.collab.id}/actions").status_code == 200


def test_a_stranger_gets_404_on_the_actions_page(world, browser_for):
    assert browser_for(world.outsider).get(f"/c/{world.collab.id}/actions").status_code == 404
