"""Posting a reflection from the web form: the choices explained, who reads it with each
visibility, what the form keeps and says when something is wrong, and who may post at all."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from coprod.extensions import db
from coprod.reflections.models import Attribution, Mention, Reflection, Visibility
from coprod.spaces.models import CollaborationStatus
from tests.reflections.page_fixtures import *  # noqa: F403
from tests.reflections.page_fixtures import reflection_form
from tests.spaces.pages import error_of, page, text_of_page


def _new_url(world):
    return f"/c/{world.collab.id}/reflections/new"


def _only_reflection() -> Reflection:
    return db.session.scalars(select(Reflection)).one()


def test_the_form_explains_every_choice_in_a_line(world, browser_for):
    response = browser_for(world.people.jens).get(_new_url(world))
    assert response.status_code == 200
    text = text_of_page(response)
    for line in ("What works for us locally, in our own part of the service.",
                 "What works for the citizens who use the service.",
                 "What works in the collaboration between the partners.",
                 "Effective governance", "Complementary resources and capabilities",
                 "Relational-specific assets", "Knowledge-sharing routines",
                 "Between organizations", "Inside my own organization",
                 "Co-exploration", "Co-exploitation",
                 "Every member of the collaboration.",
                 "Only the members who speak for my organization.",
                 "Only the coordinators of the collaboration.",
                 "My organization and the partner organizations I tick below.",
                 "coordinators still see who wrote it", "Markdown works here",
                 "Only members who can read it can be mentioned"):
        assert line in text, line
    body = page(response)
    # Every input has a label; the partners to choose are the others, not my own.
    fields = re.findall(r'<(?:input|textarea|select)\b(?![^>]*type="(?:submit|hidden)")[^>]*'
                        r'\sid="([^"]+)"', body)
    assert len(fields) > 20
    for input_id in fields:
        assert f'for="{input_id}"' in body, input_id
    assert "Café Solsikke" in text and "Animal shelter" in text
    assert f'name="audience" value="{world.cafe.id}"' in body
    assert f'name="audience" value="{world.job_centre.id}"' not in body
    # Mentions offer the other members, not myself.
    assert "Carla Cafe · Café Solsikke" in text
    assert "Jens Jobcentre ·" not in text


@pytest.mark.parametrize(("visibility", "readers"), [
    ("collaboration", {"jens", "julie", "carla", "sam", "coordinator", "citizen", "observer"}),
    ("organization", {"jens", "julie"}),
    ("coordinators", {"jens", "coordinator"}),
    ("partners", {"jens", "julie", "carla"}),
])
def test_each_visibility_decides_who_reads_it_in_the_feed_and_on_its_page(
        world, browser_for, visibility, readers):
    audience = [world.cafe.id] if visibility == "partners" else []
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        body="Visibility check: the bus card is missing", visibility=visibility,
        audience=audience))
    assert response.status_code == 302, page(response)
    reflection = _only_reflection()
    assert reflection.visibility == Visibility(visibility)
    detail = f"/c/{world.collab.id}/reflections/{reflection.id}"
    assert response.headers["Location"].endswith(f"{detail}#posted")
    for name in ("jens", "julie", "carla", "sam", "coordinator", "citizen", "observer"):
        browser = browser_for(getattr(world.people, name))
        feed = page(browser.get(f"/c/{world.collab.id}/reflections"))
        shown = browser.get(detail)
        if name in readers:
            assert "the bus card is missing" in feed, name
            assert shown.status_code == 200, name
            assert "the bus card is missing" in page(shown), name
        else:
            assert "the bus card is missing" not in feed, name
            assert shown.status_code == 404, name
    # Nobody from another collaboration reads it, even under their own collaboration's URL.
    outsider = browser_for(world.outsider)
    assert outsider.get(detail).status_code == 404
    assert outsider.get(
        f"/c/{world.elsewhere.id}/reflections/{reflection.id}").status_code == 404


def _confirmation(response) -> str | None:
    """The text of the page's "posted" confirmation (shown at #posted), or None."""
    found = re.search(r'<p id="posted"[^>]*role="status">(.*?)</p>',
                      response.get_data(as_text=True), re.S)
    return found.group(1).strip() if found else None


def test_a_post_is_confirmed_on_its_page_without_writing_the_session(world, browser_for):
    """The post answers with the reflection's page at #posted and no cookie; the page tells
    its author it is posted (in their language), and nobody else."""
    jens = browser_for(world.people.jens)
    response = jens.post(_new_url(world), data=reflection_form(body="The bus card is late"))
    assert response.status_code == 302, page(response)
    detail = f"/c/{world.collab.id}/reflections/{_only_reflection().id}"
    assert response.headers["Location"].endswith(f"{detail}#posted")
    assert "Set-Cookie" not in response.headers
    assert _confirmation(jens.get(detail)) == "Your reflection is posted."
    assert _confirmation(browser_for(world.people.carla).get(detail)) is None
    world.people.jens.locale = "fi"
    db.session.commit()
    assert _confirmation(jens.get(detail)) == "Havaintosi on julkaistu."


def test_the_page_says_who_may_read_a_reflection_for_chosen_partners(world, browser_for):
    browser = browser_for(world.people.jens)
    response = browser.post(_new_url(world), data=reflection_form(
        visibility="partners", audience=[world.cafe.id, world.shelter.id]),
        follow_redirects=True)
    assert "Visible to the members who speak for Job centre, Café Solsikke, Animal shelter" \
        in text_of_page(response)


def test_the_form_keeps_what_was_typed_and_puts_the_error_next_to_the_field(world,
                                                                             browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        body="   ", tags="handover, transport", kind="works", visibility="partners",
        audience=[world.shelter.id], attribution="organization", mentions=[
            world.people.carla.id]))
    assert response.status_code == 422
    assert error_of(response, "body") == "Write something first."
    body = page(response)
    assert 'value="handover, transport"' in body
    assert re.search(r'id="kind-0"[^>]*value="works"|value="works"[^>]*checked', body)
    for name, value in (("kind", "works"), ("visibility", "partners"),
                        ("attribution", "organization"),
                        ("audience", str(world.shelter.id)),
                        ("mentions", str(world.people.carla.id))):
        assert re.search(rf'<input[^>]*name="{name}"[^>]*value="{value}"[^>]*checked', body) \
            or re.search(rf'<input[^>]*checked[^>]*name="{name}"[^>]*value="{value}"', body), \
            name
    assert db.session.scalars(select(Reflection)).first() is None


def test_an_unknown_choice_posted_by_hand_is_a_field_error(world, browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        component="world_domination", visibility="everyone"))
    assert response.status_code == 422
    assert "is not one of the options" in error_of(response, "component")
    assert "is not one of the options" in error_of(response, "visibility")
    assert 'Handovers between us get lost' in page(response)


def test_a_missing_choice_is_asked_for(world, browser_for):
    data = reflection_form()
    del data["perspective"]
    response = browser_for(world.people.jens).post(_new_url(world), data=data)
    assert response.status_code == 422
    assert error_of(response, "perspective") == "Choose one of the options."


def test_an_over_long_body_is_refused_next_to_the_field(world, browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        body="x" * 20_001))
    assert response.status_code == 422
    assert "Keep it under 20000 characters (now 20001)." == error_of(response, "body")


def test_a_partner_of_another_collaboration_cannot_be_an_audience(world, browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        visibility="partners", audience=[world.cafe.id, world.other_partner.id]))
    assert response.status_code == 422
    assert error_of(response, "audience") == \
        "Choose partner organizations of this collaboration."
    assert "Other org" not in page(response)
    assert db.session.scalars(select(Reflection)).first() is None


def test_chosen_partners_need_at_least_one_partner(world, browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        visibility="partners"))
    assert response.status_code == 422
    assert error_of(response, "audience") == "Choose at least one other partner organization."


def test_a_refused_form_offers_the_partners_again_with_the_ticked_one_kept(world, browser_for):
    """A post is validated without the partners to choose (the operation checks the
    audience); the form shown again after a refusal offers them all, the choice kept."""
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        visibility="partners", audience=[world.cafe.id], body=""))
    assert response.status_code == 422
    body = page(response)
    assert re.search(rf'name="audience" value="{world.cafe.id}"[^>]*checked', body)
    assert "Animal shelter" in text_of_page(response)
    assert f'name="audience" value="{world.job_centre.id}"' not in body  # my own
    assert "Carla Cafe · Café Solsikke" in text_of_page(response)  # and the mentions
    assert db.session.scalars(select(Reflection)).first() is None


def test_partners_ticked_under_another_visibility_are_left_behind(world, browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        visibility="organization", audience=[world.cafe.id]))
    assert response.status_code == 302
    reflection = _only_reflection()
    assert reflection.visibility == Visibility.ORGANIZATION
    assert reflection.audience == []


def test_mentioning_a_member_who_cannot_read_it_is_refused_with_their_name(world, browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        visibility="organization", mentions=[world.people.julie.id, world.people.carla.id]))
    assert response.status_code == 422
    assert error_of(response, "mentions") == \
        "Carla Cafe cannot read this with the visibility chosen."
    assert db.session.scalars(select(Reflection)).first() is None


def test_a_mentioned_member_is_named_on_the_page(world, browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        mentions=[world.people.carla.id]), follow_redirects=True)
    assert "Mentioned Carla Cafe" in text_of_page(response)
    assert db.session.scalars(select(Mention.user_id)).all() == [world.people.carla.id]


def test_a_member_of_another_collaboration_cannot_be_mentioned(world, browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        mentions=[world.outsider.id]))
    assert response.status_code == 422
    assert error_of(response, "mentions") == "You can only mention members of this collaboration."


def test_signing_with_the_organization_is_kept(world, browser_for):
    response = browser_for(world.people.jens).post(_new_url(world), data=reflection_form(
        attribution="organization"))
    assert response.status_code == 302
    assert _only_reflection().attribution == Attribution.ORGANIZATION


def test_a_prompt_link_fills_the_form_and_odd_values_are_ignored(world, browser_for):
    response = browser_for(world.people.jens).get(
        _new_url(world) + "?kind=works&component=assets&perspective=nonsense"
        "&body=What+worked+this+week%3F&tags=weekly")
    assert response.status_code == 200
    body = page(response)
    assert re.search(r'<input[^>]*checked[^>]*value="works"|value="works"[^>]*checked', body)
    assert re.search(r'value="assets"[^>]*checked|checked[^>]*value="assets"', body)
    assert not re.search(r'name="perspective"[^>]*checked', body)
    assert "What worked this week?</textarea>" in body
    assert 'value="weekly"' in body


def test_without_a_partner_only_the_fitting_choices_are_offered(world, browser_for):
    browser = browser_for(world.people.citizen)
    body = page(browser.get(_new_url(world)))
    assert 'value="collaboration"' in body and 'value="coordinators"' in body
    assert 'value="organization"' not in body and 'value="partners"' not in body
    assert 'name="attribution"' not in body
    response = browser.post(_new_url(world), data=reflection_form(visibility="organization"))
    assert response.status_code == 422
    assert error_of(response, "visibility")
    response = browser.post(_new_url(world), data=reflection_form(visibility="coordinators"))
    assert response.status_code == 302
    assert _only_reflection().partner_id is None


def test_an_observer_sees_no_form_and_may_not_post(world, browser_for):
    browser = browser_for(world.people.observer)
    assert "Post a reflection" not in page(browser.get(f"/c/{world.collab.id}/reflections"))
    assert "Post a reflection" not in page(browser.get(f"/c/{world.collab.id}"))
    assert browser.get(_new_url(world)).status_code == 403
    assert browser.post(_new_url(world), data=reflection_form()).status_code == 403
    assert db.session.scalars(select(Reflection)).first() is None


def test_nobody_posts_in_an_archived_collaboration(world, browser_for):
    world.collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    browser = browser_for(world.people.jens)
    assert "Post a reflection" not in page(browser.get(f"/c/{world.collab.id}/reflections"))
    response = browser.get(_new_url(world))
    assert response.status_code == 403
    assert "archived" in page(response)
    assert browser.post(_new_url(world), data=reflection_form()).status_code == 403


def test_a_stranger_gets_404(world, browser_for):
    browser = browser_for(world.outsider)
    assert browser.get(_new_url(world)).status_code == 404
    assert browser.post(_new_url(world), data=reflection_form()).status_code == 404


def test_the_form_needs_its_csrf_token(world, tmp_path):
    from tests.conftest import make_app
    from tests.factories import PASSWORD

    guarded = make_app(tmp_path / "csrf-instance", WTF_CSRF_ENABLED=True)
    client = guarded.test_client()

    def token_of(response):
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                         response.get_data(as_text=True)).group(1)

    login_page = client.get("/login")
    response = client.post("/login", data={"email": world.people.jens.email,
                                           "password": PASSWORD,
                                           "csrf_token": token_of(login_page)})
    assert response.status_code == 302
    url = f"/c/{world.collab.id}/reflections/new"
    refused = client.post(url, data=reflection_form())
    assert refused.status_code == 400
    assert "The form expired" in page(refused)
    form_page = client.get(url)
    accepted = client.post(url, data={**reflection_form(), "csrf_token": token_of(form_page)})
    assert accepted.status_code == 302
    assert _only_reflection().body == "Handovers between us get lost"


def test_a_form_shown_again_carries_the_token_it_was_posted_with(world, tmp_path):
    """A refused post shows the form again with the CSRF token it came with (checked just
    now, and Coprod's tokens do not expire), not one signed anew; it posts the form."""
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from tests.conftest import make_app
    from tests.factories import PASSWORD

    class AnHourAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3600

    guarded = make_app(tmp_path / "csrf-again", WTF_CSRF_ENABLED=True)
    client = guarded.test_client()
    token_of_login = _token_of(client.get("/login"))
    assert client.post("/login", data={"email": world.people.jens.email, "password": PASSWORD,
                                       "csrf_token": token_of_login}).status_code == 302
    url = f"/c/{world.collab.id}/reflections/new"
    client.get(url)  # the session's CSRF secret is made with the first form shown
    cookie = client.get_cookie("session").value
    secret = guarded.session_interface.get_signing_serializer(guarded).loads(cookie)["csrf_token"]
    older = URLSafeTimedSerializer(guarded.secret_key, salt="wtf-csrf-token",
                                   signer=AnHourAgo).dumps(secret)
    refused = client.post(url, data={**reflection_form(body=""), "csrf_token": older})
    assert refused.status_code == 422, page(refused)
    assert _token_of(refused) == older
    accepted = client.post(url, data={**reflection_form(), "csrf_token": _token_of(refused)})
    assert accepted.status_code == 302


def _token_of(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                     response.get_data(as_text=True)).group(1)
