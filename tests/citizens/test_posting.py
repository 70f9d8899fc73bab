"""Writing about a citizen in the web pages: the "About a citizen" fields, the refusal of an
audience that may not know with the offer to narrow it, and the "About" line on what is shown."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from coprod.citizens.models import CitizenReference
from coprod.messages.models import Conversation, Message
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Reflection, Reply, Visibility
from tests.factories import PASSWORD
from tests.spaces.pages import error_of, page, text_of_page

NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation", attribution="person", tags="")
BODY = "Anna would like a few hours a week at the café, mornings only"


@pytest.fixture
def browser(new_client):
    """browser(user) -> a test client logged in as the user through the log-in form."""
    made = {}

    def _browser(user):
        if user.id not in made:
            client = new_client()
            response = client.post("/login", data={"email": user.email, "password": PASSWORD})
            assert response.status_code == 302
            made[user.id] = client
        return made[user.id]

    return _browser


def _note_form(world, **overrides) -> dict:
    """The new-reflection form as the case worker fills it in about Citizen A."""
    return {**NOTE, "body": BODY, "visibility": "collaboration", "citizen": str(world.citizen.id),
            "categories": [str(world.preferences.id)], **overrides}


def _new_url(world) -> str:
    return f"/c/{world.collaboration.id}/reflections/new"


def _textarea(response, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>',
                      page(response), re.S)
    return found.group(1).strip() if found else ""


def _notes():
    from coprod.extensions import db

    return db.session.scalars(select(Reflection)).all()


def test_a_note_for_the_whole_collaboration_is_refused_naming_the_shelter(world, browser):
    response = browser(world.case_worker).post(_new_url(world), data=_note_form(world))
    assert response.status_code == 422
    error = error_of(response, "visibility")
    assert error and "Animal shelter" in error and "Café" not in error
    assert _textarea(response, "body") == BODY  # nothing typed is lost
    assert 'name="narrow"' in page(response)
    assert "Post it for Job centre, Café only" in text_of_page(response)
    assert _notes() == []


def test_narrowing_posts_it_to_the_partners_that_may_know(db, world, browser):
    case_worker = browser(world.case_worker)
    response = case_worker.post(_new_url(world), data={**_note_form(world), "narrow": "1"})
    assert response.status_code == 302, error_of(response, "visibility")
    [note] = _notes()
    assert note.visibility == Visibility.PARTNERS
    assert note.audience_partner_ids == {world.cafe.id}
    assert reflections.reader_partners(world.collaboration.id, note.visibility, note.partner_id,
                                       note.audience_partner_ids) == {world.jobcentre.id,
                                                                      world.cafe.id}
    assert note.citizen_reference.citizen_id == world.citizen.id
    assert "posted for Job centre, Café only" in text_of_page(case_worker.get(
        response.headers["Location"]))

    feed = f"/c/{world.collaboration.id}/reflections"
    cafe_feed = text_of_page(browser(world.cafe_staff).get(feed))
    assert "About Citizen A · Work preferences" in cafe_feed
    assert "Anna would like" in cafe_feed
    shelter_feed = text_of_page(browser(world.shelter_staff).get(feed))
    assert "Anna would like" not in shelter_feed and "Citizen A" not in shelter_feed


def test_narrowing_with_no_partner_left_offers_my_organization_only(db, world, browser):
    case_worker = browser(world.case_worker)
    form = _note_form(world, visibility="partners", audience=[str(world.shelter.id)])
    refused = case_worker.post(_new_url(world), data=form)
    assert refused.status_code == 422
    assert "Post it for my organization only" in page(refused)
    response = case_worker.post(_new_url(world), data={**form, "narrow": "1"})
    assert response.status_code == 302
    [note] = _notes()
    assert note.visibility == Visibility.ORGANIZATION
    assert note.audience_partner_ids == set()


def test_a_narrowing_is_worked_out_again_when_the_visibility_changed(db, world, browser):
    """Narrow pressed after choosing a visibility everyone may know: posted as chosen."""
    response = browser(world.case_worker).post(
        _new_url(world), data={**_note_form(world, visibility="organization"), "narrow": "1"})
    assert response.status_code == 302
    [note] = _notes()
    assert note.visibility == Visibility.ORGANIZATION


def test_the_detail_page_shows_the_about_line(db, world, browser):
    note = reflections.post_reflection(
        actor_for(world.case_worker), world.collaboration, **{**NOTE, "body": BODY},
        visibility=Visibility.PARTNERS, audience=[world.cafe.id], citizen=world.citizen.id,
        categories=[world.preferences.id, world.contact.id])
    db.session.commit()
    url = f"/c/{world.collaboration.id}/reflections/{note.id}"
    response = browser(world.cafe_staff).get(url)
    assert response.status_code == 200
    assert "About Citizen A · Contact details, Work preferences" in text_of_page(response)
    assert browser(world.shelter_staff).get(url).status_code == 404


def test_the_mention_picker_offers_only_members_who_may_read_a_note(db, world, browser):
    note = reflections.post_reflection(
        actor_for(world.case_worker), world.collaboration, **{**NOTE, "body": BODY},
        visibility=Visibility.COORDINATORS, citizen=world.citizen.id,
        categories=[world.preferences.id])
    db.session.commit()
    html = page(browser(world.case_worker).get(
        f"/c/{world.collaboration.id}/reflections/{note.id}"))
    picker = html[html.index('id="reply-mentions"'):]
    picker = picker[:picker.index("</fieldset>")]
    assert "Coordinator · Job centre" in picker
    # The lone coordinator reads coordinators' reflections, but speaks for no partner
    # that may know about the citizen.
    assert "Lone coordinator" not in picker
    assert "Shelter staff" not in picker and "Café staff" not in picker


def test_a_reply_about_the_citizen_under_a_reflection_the_shelter_reads_is_refused(
        db, world, browser):
    post = reflections.post_reflection(actor_for(world.cafe_staff), world.collaboration,
                                       **{**NOTE, "body": "Morning shifts work well"},
                                       visibility=Visibility.COLLABORATION)
    db.session.commit()
    url = f"/c/{world.collaboration.id}/reflections/{post.id}/replies"
    response = browser(world.case_worker).post(url, data={
        "reply-body": "Anna could start on Mondays", "reply-citizen": str(world.citizen.id),
        "reply-categories": [str(world.preferences.id)]})
    assert response.status_code == 422
    error = error_of(response, "reply-citizen")
    assert error and "Animal shelter" in error
    assert _textarea(response, "reply-body") == "Anna could start on Mondays"
    assert db.session.scalars(select(Reply)).all() == []
    # the post loaded only the citizen it named; shown again, the form offers every category
    html = page(response)
    for category in (world.contact, world.preferences, world.support):
        assert re.search(rf'name="reply-categories"[^>]*value="{category.id}"', html), category


def test_a_reply_about_the_citizen_to_readers_who_may_know_is_shown_with_its_line(
        db, world, browser):
    post = reflections.post_reflection(actor_for(world.cafe_staff), world.collaboration,
                                       **{**NOTE, "body": "Morning shifts work well"},
                                       visibility=Visibility.PARTNERS,
                                       audience=[world.jobcentre.id])
    db.session.commit()
    show = f"/c/{world.collaboration.id}/reflections/{post.id}"
    response = browser(world.case_worker).post(f"{show}/replies", data={
        "reply-body": "Anna could start on Mondays", "reply-citizen": str(world.citizen.id),
        "reply-categories": [str(world.preferences.id)]})
    assert response.status_code == 302
    [answer] = db.session.scalars(select(Reply)).all()
    assert answer.citizen_reference.citizen_id == world.citizen.id
    assert "About Citizen A · Work preferences" in text_of_page(
        browser(world.cafe_staff).get(show))


def _message_form(world, to, **overrides) -> dict:
    return {"participants": [str(to.id)], "subject": "Anna", "body": "Mornings suit her",
            "citizen": str(world.citizen.id), "categories": [str(world.preferences.id)],
            **overrides}


def test_a_message_about_the_citizen_reaches_cafe_staff(db, world, browser):
    case_worker = browser(world.case_worker)
    response = case_worker.post(f"/c/{world.collaboration.id}/messages/new",
                                data=_message_form(world, world.cafe_staff))
    assert response.status_code == 302
    [message] = db.session.scalars(select(Message)).all()
    assert message.citizen_reference.citizen_id == world.citizen.id
    thread = text_of_page(browser(world.cafe_staff).get(response.headers["Location"]))
    assert "About Citizen A · Work preferences" in thread
    assert "Mornings suit her" in thread


def test_a_message_about_the_citizen_to_shelter_staff_is_refused(db, world, browser):
    response = browser(world.case_worker).post(f"/c/{world.collaboration.id}/messages/new",
                                               data=_message_form(world, world.shelter_staff))
    assert response.status_code == 422
    assert "Animal shelter" in error_of(response, "participants")
    assert _textarea(response, "body") == "Mornings suit her"
    assert db.session.scalars(select(Conversation)).all() == []


def test_a_message_about_the_citizen_in_a_conversation_with_the_shelter_is_refused(
        db, world, browser):
    case_worker = browser(world.case_worker)
    started = case_worker.post(f"/c/{world.collaboration.id}/messages/new",
                               data=_message_form(world, world.shelter_staff, citizen="",
                                                  categories=[]))
    assert started.status_code == 302
    url = started.headers["Location"]
    response = case_worker.post(url, data={"body": "Anna likes dogs",
                                           "citizen": str(world.citizen.id),
                                           "categories": [str(world.preferences.id)]})
    assert response.status_code == 422
    assert "Animal shelter" in error_of(response, "citizen")
    assert db.session.scalars(select(CitizenReference)).all() == []


@pytest.mark.parametrize("path", ["/reflections/new", "/messages/new"])
def test_shelter_staff_have_no_citizen_to_write_about(db, world, browser, path):
    shelter = page(browser(world.shelter_staff).get(f"/c/{world.collaboration.id}{path}"))
    assert 'name="citizen"' not in shelter and "Citizen A" not in shelter
    case_worker = page(browser(world.case_worker).get(f"/c/{world.collaboration.id}{path}"))
    assert 'name="citizen"' in case_worker and "Citizen A" in case_worker
    assert "Information it contains" in case_worker


def test_a_citizen_posted_by_hand_without_the_fields_is_refused(db, world, browser):
    response = browser(world.shelter_staff).post(_new_url(world), data=_note_form(world))
    assert response.status_code == 422
    assert _notes() == []


def test_a_pseudonym_is_shown_as_text(db, world, browser):
    world.citizen.pseudonym = "<b>Citizen B</b>"
    note = reflections.post_reflection(
        actor_for(world.case_worker), world.collaboration, **{**NOTE, "body": BODY},
        visibility=Visibility.PARTNERS, audience=[world.cafe.id], citizen=world.citizen.id,
        categories=[world.preferences.id])
    db.session.commit()
    html = browser(world.cafe_staff).get(
        f"/c/{world.collaboration.id}/reflections/{note.id}").get_data(as_text=True)
    assert "&lt;b&gt;Citizen B&lt;/b&gt;" in html and "<b>Citizen B" not in html


# -- a post loads what validating it needs; a refused one is shown with every choice --------

def _another_citizen(db, world, pseudonym: str):
    """A citizen the job centre and the café may know of, as Citizen A."""
    from datetime import date, timedelta

    from coprod.citizens import operations as citizens
    from coprod.citizens.models import ConsentGiver, ConsentMethod

    boss = actor_for(world.coordinator)
    made = citizens.create_citizen(boss, world.collaboration, pseudonym=pseudonym,
                                   name=f"Name of {pseudonym}",
                                   activity_ids=[world.workplace.id])
    citizens.give_consent(boss, made, partner_ids=[world.jobcentre.id, world.cafe.id],
                          category_ids=[world.contact.id, world.preferences.id],
                          purpose="Finding meaningful work",
                          starts_on=date.today() - timedelta(days=1),
                          given_by=ConsentGiver.CITIZEN, given_by_name=pseudonym,
                          method=ConsentMethod.PAPER)
    db.session.commit()
    return made


def _choices(response) -> set[tuple[str, str]]:
    """(field, value) of every option and checkbox the form offers."""
    html = page(response)
    select = re.search(r'<select[^>]*name="citizen".*?</select>', html, re.S)
    offered = {("citizen", value) for value in re.findall(r'value="([^"]*)"', select.group(0))}
    for tag in re.findall(r'<input[^>]*type="checkbox"[^>]*name=[^>]*>', html):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        offered.add((name.group(1), value.group(1)))
    return offered


def test_a_refused_post_is_shown_with_every_citizen_category_and_member(db, world, browser):
    """A post loads only the citizen it names; shown again, the form offers what it offered
    before it was posted, and keeps what was chosen."""
    other = _another_citizen(db, world, "Citizen Z")
    case_worker = browser(world.case_worker)
    shown = _choices(case_worker.get(_new_url(world)))
    assert ("citizen", str(other.id)) in shown
    assert {field for field, _value in shown} == {"citizen", "categories", "mentions",
                                                  "audience"}
    response = case_worker.post(_new_url(world), data=_note_form(world))
    assert response.status_code == 422
    assert _choices(response) == shown
    html = page(response)
    assert re.search(rf'<option (selected value="{world.citizen.id}"|value="{world.citizen.id}"'
                     r' selected)', html)
    assert re.search(rf'value="{world.preferences.id}"[^>]*checked|checked[^>]*value='
                     rf'"{world.preferences.id}"', html)  # the tick kept


@pytest.mark.parametrize("citizen", ["999999", "abc", str(2 ** 40), "-1", "Citizen A"])
def test_a_post_naming_a_citizen_not_offered_is_refused_next_to_the_field(
        db, world, browser, citizen):
    response = browser(world.case_worker).post(
        _new_url(world), data=_note_form(world, visibility="organization", citizen=citizen))
    assert response.status_code == 422
    assert error_of(response, "citizen") == "Choose one of the options offered."
    assert "Citizen A" in page(response)  # offered again
    assert _notes() == []


def test_a_post_loads_the_citizen_it_names_not_every_citizen(db, world, browser):
    """Loading every citizen (and category and member) cost a post a third of its time."""
    from sqlalchemy import event

    from coprod.citizens.models import Citizen

    for n in range(5):
        _another_citizen(db, world, f"Citizen {n}")
    case_worker = browser(world.case_worker)
    offered = {v for f, v in _choices(case_worker.get(_new_url(world))) if f == "citizen"}
    assert len(offered) == 7  # none, Citizen A and five more
    loaded = []

    def count(target, context) -> None:
        loaded.append(target.id)

    event.listen(Citizen, "load", count)
    try:
        for about in ("", str(world.citizen.id)):
            loaded.clear()
            response = case_worker.post(_new_url(world), data=_note_form(
                world, visibility="organization", citizen=about,
                categories=[str(world.preferences.id)] if about else []))
            assert response.status_code == 302, error_of(response, "citizen")
            assert len(set(loaded)) <= 1, loaded
    finally:
        event.remove(Citizen, "load", count)
    assert len(_notes()) == 2


def test_a_post_about_nobody_reads_no_citizen_and_not_who_would_read_it(db, world, browser):
    """Most reflections are about no citizen: their post reads neither the citizens (to
    validate a choice that names none) nor the partners who would read it (asked only of a
    reference), nor the partners to choose as its audience (offered when the form is shown
    again; the operation checks a chosen audience)."""
    from tests.conftest import statements_run

    case_worker = browser(world.case_worker)
    url, form = _new_url(world), _note_form(world, citizen="", categories=[])
    with statements_run(db) as run:
        response = case_worker.post(url, data=form)
    assert response.status_code == 302, error_of(response, "citizen")
    assert [s for s in run if re.search(r"\bFROM citizens\b", s)] == []
    assert [s for s in run if re.search(r"\bFROM partners\b", s)] == []
    assert [note.body for note in _notes()] == [BODY]
    assert db.session.scalars(select(CitizenReference)).all() == []


def test_categories_ticked_without_a_citizen_are_refused_next_to_the_citizen(
        db, world, browser):
    response = browser(world.case_worker).post(_new_url(world), data=_note_form(
        world, citizen=""))
    assert response.status_code == 422
    assert error_of(response, "citizen") == "Choose the citizen this is about, or no categories."
    assert "Citizen A" in page(response)  # offered again, with every choice
    assert _notes() == []


# -- the same for every form that can be about a citizen: replies and messages ---------------

def _conversation_with(world, browser, to) -> str:
    """The thread of a conversation the case worker started with `to`, about nobody."""
    started = browser(world.case_worker).post(
        f"/c/{world.collaboration.id}/messages/new",
        data=_message_form(world, to, citizen="", categories=[]))
    assert started.status_code == 302, error_of(started, "participants")
    return started.headers["Location"]


def _reflection_for_all(db, world) -> str:
    note = reflections.post_reflection(actor_for(world.cafe_staff), world.collaboration,
                                       **{**NOTE, "body": "Morning shifts work well"},
                                       visibility=Visibility.COLLABORATION)
    db.session.commit()
    return f"/c/{world.collaboration.id}/reflections/{note.id}"


@pytest.mark.parametrize("form", ["reply", "message", "message reply"])
def test_a_reply_or_message_about_nobody_reads_no_citizen_and_no_member(db, world, browser,
                                                                        form):
    """Loading every citizen, category and member to validate a post that names none cost
    each reply and message; they are offered when a form is shown again."""
    from tests.conftest import statements_run

    if form == "reply":
        url = _reflection_for_all(db, world) + "/replies"
        data = {"reply-body": "Mondays too"}
    elif form == "message":
        url = f"/c/{world.collaboration.id}/messages/new"
        data = _message_form(world, world.cafe_staff, citizen="", categories=[])
    else:
        url = _conversation_with(world, browser, world.cafe_staff)
        data = {"body": "Mondays too"}
    with statements_run(db) as run:
        response = browser(world.case_worker).post(url, data=data)
    assert response.status_code == 302, page(response)
    assert [s for s in run if re.search(r"\bFROM (citizens|categories)\b", s)] == [], run
    assert [s for s in run if re.search(r"\bFROM memberships\b", s)
            and "display_name" in s] == []  # no member loaded to be offered
    assert db.session.scalars(select(CitizenReference)).all() == []


@pytest.mark.parametrize("form", ["message", "message reply"])
def test_a_refused_message_is_shown_with_every_citizen_and_member(db, world, browser, form):
    _another_citizen(db, world, "Citizen Z")
    case_worker = browser(world.case_worker)
    if form == "message":
        url = f"/c/{world.collaboration.id}/messages/new"
        shown = _choices(case_worker.get(url))
        data = _message_form(world, world.cafe_staff, body=" ")
    else:
        url = _conversation_with(world, browser, world.cafe_staff)
        shown = _choices(case_worker.get(url))
        data = {"body": " ", "citizen": str(world.citizen.id),
                "categories": [str(world.preferences.id)]}
    assert {("citizen", str(world.citizen.id)), ("categories", str(world.support.id))} <= shown
    response = case_worker.post(url, data=data)
    assert response.status_code == 422
    assert error_of(response, "body") == "Write a message first."
    assert _choices(response) == shown  # every citizen, category (and member) again
    assert re.search(rf'<option (selected value="{world.citizen.id}"|value="{world.citizen.id}"'
                     r' selected)', page(response))
