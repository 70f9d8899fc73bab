"""The links of a prompt email: the email itself, answering the prompt (log in, the
pre-filled form, the reflection linked to its prompt, no nudge after), and unsubscribing
(with the page's button or a mail provider's one-click POST)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role, User
from coprod.common import OperationError
from coprod.extensions import db
from coprod.mail.models import OutboxEmail
from coprod.reflections import operations
from coprod.reflections.models import Reflection, Visibility
from coprod.routines import sweep
from coprod.routines.emails import DEFAULT_QUESTIONS, respond_token, unsubscribe_token
from coprod.routines.models import Prompt, RoutineOptOut
from tests.citizens.conftest import build_world
from tests.conftest import text_of
from tests.factories import PASSWORD
from tests.rawmail import assert_one_click_unsubscribe, raw_of
from tests.routines.prompt_world import *  # noqa: F403  (the prompt_world fixture)
from tests.routines.prompt_world import (
    CLASSIFIED,
    local,
    make_routine,
    prompted,
    prompts_of,
)
from tests.spaces.pages import text_of_page

FIRST = local(2027, 3, 2)          # Tuesday 2 March 2027, 09:00 in Copenhagen
DURING = local(2027, 3, 3, 14)     # the next day, inside the first period
NEXT = local(2027, 3, 16)          # the next period begins
SECRET = "Anna hides her medication in the café's cupboard"


def _prompt_of(world, user) -> Prompt:
    (prompt,) = prompts_of(world.routine, user)
    return prompt


def _log_in(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response


def _path(response) -> str:
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _form_fields(html: str) -> dict:
    return dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))


# -- the email -------------------------------------------------------------------------------

def test_the_prompt_email_asks_the_questions_and_says_nothing_about_citizens(app, db, outbox):
    world = build_world(db)
    with freeze_time(local(2027, 3, 1, 12)):
        case_worker = policy.actor_for(world.case_worker)
        operations.post_reflection(
            case_worker, world.collaboration, body=SECRET, **CLASSIFIED,
            visibility=Visibility.PARTNERS.value, audience=[world.cafe.id],
            citizen=world.citizen.id, categories=[world.preferences.id])
        db.session.commit()
    routine = make_routine(world.collaboration, name="Staff learning")
    with freeze_time(FIRST):
        result = sweep.run_due(FIRST)
    staff = {world.case_worker.id, world.cafe_staff.id, world.shelter_staff.id}
    assert result.prompts == 3 and prompted(routine) == staff

    messages = outbox.messages()
    assert sorted(m["To"] for m in messages) == sorted(
        u.email for u in (world.case_worker, world.cafe_staff, world.shelter_staff))
    rows = {r.to_address: r for r in db.session.scalars(select(OutboxEmail))}
    for message in messages:
        row = rows[message["To"]]
        prompt = db.session.get(Prompt, int(row.key.removeprefix("prompt:")))
        assert prompt.routine_id == routine.id
        assert db.session.get(User, prompt.user_id).email == message["To"]
        assert message["Message-ID"] == row.message_id
        text = text_of(message)
        html = message.get_body(("html",)).get_content()
        for question in DEFAULT_QUESTIONS:
            assert question in text
            assert question in html
        respond = f"http://localhost/r/{respond_token(prompt)}"
        unsubscribe = ("http://localhost/routines/unsubscribe/"
                       f"{unsubscribe_token(routine.id, prompt.user_id)}")
        assert respond in text and respond in html
        assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert_one_click_unsubscribe(raw_of(app, message), unsubscribe)
        assert "Staff learning" in message["Subject"]
        raw = message.as_string()
        for said in (SECRET, "Anna", "Citizen A", "Jensen", "Likes animals",
                     "Work preferences"):
            assert said not in raw and said not in text and said not in html

    # The Message-ID is the row's on every attempt: a second rendering names it again.
    from coprod.mail.sending import build_message

    row = next(iter(rows.values()))
    assert build_message(row)["Message-ID"] == row.message_id


# -- answering -------------------------------------------------------------------------------

def test_the_link_asks_to_log_in_then_opens_the_prefilled_form(prompt_world, new_client):
    world = prompt_world
    sweep.run_due(FIRST)
    prompt = _prompt_of(world, world.jens)
    token = respond_token(prompt)
    browser = new_client()
    with freeze_time(DURING):
        response = browser.get(f"/r/{token}")
        assert response.status_code == 302
        login_url = urlsplit(response.headers["Location"])
        assert login_url.path == "/login"
        assert parse_qs(login_url.query)["next"] == [f"/r/{token}"]

        response = browser.post(_path(response), data={"email": world.jens.email,
                                                        "password": PASSWORD})
        assert _path(response) == f"/r/{token}"
        response = browser.get(f"/r/{token}")
        new_url = f"/c/{world.collab.id}/reflections/new?prompt={token}"
        assert _path(response) == new_url

        page = browser.get(new_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = text_of_page(page)
    assert "Answering “Fortnightly learning”" in text
    for question in DEFAULT_QUESTIONS:
        assert question in text
        assert f"## {question}" in html  # the text starts with the questions as headings
    assert _form_fields(html)["prompt"] == token
    # What kind of reflection it is stays the writer's choice.
    assert not re.search(r'name="perspective"[^>]*checked', html)
    assert not re.search(r'name="kind"[^>]*checked', html)


def test_a_reflection_posted_from_the_prompt_is_linked_and_skips_the_nudge(
        app, prompt_world, new_client, outbox):
    world = prompt_world
    sweep.run_due(FIRST)
    token = respond_token(_prompt_of(world, world.jens))
    browser = new_client()
    with freeze_time(DURING):
        _log_in(browser, world.jens)
        new_url = f"/c/{world.collab.id}/reflections/new"
        form = _form_fields(browser.get(f"{new_url}?prompt={token}").get_data(as_text=True))
        response = browser.post(new_url, data={
            **CLASSIFIED, "visibility": "collaboration", "attribution": "person",
            "prompt": form["prompt"],
            "body": "## What works for the citizens?\n\nThe Tuesday walk-in hour."})
    assert response.status_code == 302, response.get_data(as_text=True)
    reflection = db.session.scalars(select(Reflection)).one()
    assert reflection.prompt_id == _prompt_of(world, world.jens).id
    assert reflection.author_id == world.jens.id

    result = sweep.run_due(local(2027, 3, 5))
    nudged = {p.user_id for p in prompts_of(world.routine) if p.nudged_at is not None}
    assert result.nudges == 2 and nudged == {world.julie.id, world.carla.id}
    reminders = [m for m in outbox.messages() if m["Subject"].startswith("A reminder")]
    assert sorted(m["To"] for m in reminders) == sorted([world.julie.email, world.carla.email])
    carla = _prompt_of(world, world.carla)
    assert f"http://localhost/r/{respond_token(carla)}" in text_of(
        next(m for m in reminders if m["To"] == world.carla.email))
    for reminder in reminders:
        user = world.carla if reminder["To"] == world.carla.email else world.julie
        assert_one_click_unsubscribe(raw_of(app, reminder), (
            "http://localhost/routines/unsubscribe/"
            f"{unsubscribe_token(world.routine.id, user.id)}"))


def test_the_link_is_its_members_own(prompt_world, new_client):
    world = prompt_world
    sweep.run_due(FIRST)
    token = respond_token(_prompt_of(world, world.jens))
    browser = new_client()
    with freeze_time(DURING):
        _log_in(browser, world.julie)
        assert browser.get(f"/r/{token}").status_code == 404
        assert browser.get(
            f"/c/{world.collab.id}/reflections/new?prompt={token}").status_code == 404
        response = browser.post(f"/c/{world.collab.id}/reflections/new", data={
            **CLASSIFIED, "visibility": "collaboration", "attribution": "person",
            "prompt": token, "body": "Not my prompt"})
        assert response.status_code == 404
        assert browser.get("/r/not-a-token").status_code == 404
        assert browser.get(f"/r/{token[:-2]}xx").status_code == 404
    assert db.session.scalars(select(Reflection)).first() is None


def test_a_prompt_of_another_collaboration_is_not_answered_here(prompt_world, new_client):
    world = prompt_world
    sweep.run_due(FIRST)
    token = respond_token(_prompt_of(world, world.jens))
    from tests.factories import CollaborationFactory, MembershipFactory

    elsewhere = CollaborationFactory(title="Elsewhere")
    MembershipFactory(collaboration=elsewhere, user=world.jens, role=Role.COORDINATOR)
    db.session.commit()
    browser = new_client()
    with freeze_time(DURING):
        _log_in(browser, world.jens)
        assert browser.get(
            f"/c/{elsewhere.id}/reflections/new?prompt={token}").status_code == 404
        with pytest.raises(OperationError) as refused:
            operations.post_reflection(policy.actor_for(world.jens), elsewhere, body="x",
                                       **CLASSIFIED, prompt=_prompt_of(world, world.jens))
    assert refused.value.field == "prompt"


def test_after_the_period_the_link_says_so_and_offers_the_form(prompt_world, new_client):
    world = prompt_world
    sweep.run_due(FIRST)
    token = respond_token(_prompt_of(world, world.jens))
    browser = new_client()
    with freeze_time(NEXT + timedelta(minutes=1)):
        response = browser.get(f"/r/{token}")  # before logging in, too
        assert response.status_code == 200
        assert "This prompt's period is over" in text_of_page(response)
        assert f'href="/c/{world.collab.id}/reflections/new"' in response.get_data(as_text=True)
        _log_in(browser, world.jens)
        response = browser.get(f"/c/{world.collab.id}/reflections/new?prompt={token}")
        assert _path(response) == f"/r/{token}"


def test_a_form_kept_open_past_the_period_posts_without_the_prompt(prompt_world, new_client):
    world = prompt_world
    sweep.run_due(FIRST)
    token = respond_token(_prompt_of(world, world.jens))
    browser = new_client()
    new_url = f"/c/{world.collab.id}/reflections/new"
    data = {**CLASSIFIED, "visibility": "collaboration", "attribution": "person",
            "prompt": token, "body": "Written slowly"}
    with freeze_time(DURING):
        _log_in(browser, world.jens)
        assert browser.get(f"{new_url}?prompt={token}").status_code == 200
    with freeze_time(NEXT + timedelta(minutes=1)):
        response = browser.post(new_url, data=data)
        assert response.status_code == 422
        assert "The period of this prompt is over" in text_of_page(response)
        html = response.get_data(as_text=True)
        assert "Written slowly" in html and token not in html
        assert db.session.scalars(select(Reflection)).first() is None
        response = browser.post(new_url, data={**data, "prompt": ""})
    assert response.status_code == 302
    assert db.session.scalars(select(Reflection)).one().prompt_id is None


def test_the_api_links_a_reflection_to_the_callers_own_prompt(prompt_world, client):
    from coprod.accounts.operations import create_token

    world = prompt_world
    sweep.run_due(FIRST)
    mine, theirs = _prompt_of(world, world.jens), _prompt_of(world, world.julie)
    _token, secret = create_token(world.jens, "tests")
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"/api/v1/collaborations/{world.collab.id}/reflections"
    body = {**CLASSIFIED, "body": "From the API"}
    with freeze_time(NEXT + timedelta(minutes=1)):
        late = client.post(url, json={**body, "prompt_id": mine.id}, headers=headers)
        assert late.status_code == 422 and late.get_json()["field"] == "prompt"
    with freeze_time(DURING):
        refused = client.post(url, json={**body, "prompt_id": theirs.id}, headers=headers)
        assert refused.status_code == 422 and refused.get_json()["field"] == "prompt"
        response = client.post(url, json={**body, "prompt_id": mine.id}, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert db.session.get(Reflection, response.get_json()["id"]).prompt_id == mine.id


# -- unsubscribing ---------------------------------------------------------------------------

def _opted_out(world, user) -> bool:
    db.session.expire_all()
    return db.session.get(RoutineOptOut, (world.routine.id, user.id)) is not None


def test_opening_the_unsubscribe_link_changes_nothing(prompt_world, new_client):
    world = prompt_world
    url = f"/routines/unsubscribe/{unsubscribe_token(world.routine.id, world.carla.id)}"
    response = new_client().get(url)
    assert response.status_code == 200
    text = text_of_page(response)
    assert "Fortnightly learning" in text and "Meaningful work" in text
    assert "Stop these emails" in text
    assert 'method="post"' in response.get_data(as_text=True)
    assert not _opted_out(world, world.carla)


def test_the_button_unsubscribes_once_and_resubscribes(prompt_world, new_client):
    world = prompt_world
    url = f"/routines/unsubscribe/{unsubscribe_token(world.routine.id, world.carla.id)}"
    browser = new_client()
    response = browser.post(url, data={"action": "unsubscribe"})
    assert response.status_code == 200
    assert "You no longer get the emails of this routine." in text_of_page(response)
    assert "Resubscribe" in text_of_page(response)
    assert browser.post(url, data={"action": "unsubscribe"}).status_code == 200
    assert db.session.scalars(select(RoutineOptOut)).all() == [
        db.session.get(RoutineOptOut, (world.routine.id, world.carla.id))]

    response = browser.post(url, data={"action": "resubscribe"})
    assert "You get the emails of this routine again." in text_of_page(response)
    assert not _opted_out(world, world.carla)


def test_a_one_click_post_without_session_or_csrf_unsubscribes(
        app, prompt_world, new_client, monkeypatch):
    world = prompt_world
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    provider = new_client()  # a mail provider: no cookies, no CSRF token
    assert provider.post("/logout").status_code == 400  # other forms do need the token
    sweep.run_due(FIRST)
    assert world.carla.id in prompted(world.routine, FIRST)

    url = f"/routines/unsubscribe/{unsubscribe_token(world.routine.id, world.carla.id)}"
    # The page's own form is a form like any other: without its token it is refused.
    assert provider.post(url, data={"action": "unsubscribe"}).status_code == 400
    assert not _opted_out(world, world.carla)
    response = provider.post(url, data="List-Unsubscribe=One-Click",
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert _opted_out(world, world.carla)

    sweep.run_due(NEXT)
    assert prompted(world.routine, NEXT) == {world.jens.id, world.julie.id}
    assert world.carla.id not in prompted(world.routine, NEXT)


def test_a_damaged_unsubscribe_link_is_not_found(prompt_world, new_client):
    world = prompt_world
    token = unsubscribe_token(world.routine.id, world.carla.id)
    browser = new_client()
    assert browser.get(f"/routines/unsubscribe/{token[:-2]}xx").status_code == 404
    assert browser.post(f"/routines/unsubscribe/{token[:-2]}xx").status_code == 404
    gone = unsubscribe_token(world.routine.id + 100, world.carla.id)
    assert browser.post(f"/routines/unsubscribe/{gone}").status_code == 404
    assert db.session.scalars(select(RoutineOptOut)).first() is None

