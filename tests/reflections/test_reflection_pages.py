"""One reflection's page: safe Markdown, who is named, who may read it, history, withdrawal,
threaded replies, reactions, and what observers and archived spaces may not do."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select
from werkzeug.exceptions import Forbidden

from coprod import pagecache, policy
from coprod.extensions import db
from coprod.reflections import operations
from coprod.reflections.models import Reaction, Reflection, Reply
from coprod.spaces.models import CollaborationStatus
from tests.reflections.page_fixtures import *  # noqa: F403
from tests.reflections.page_fixtures import attribute_in_tag, count_queries, post
from tests.spaces.pages import error_of, page, text_of_page

HOSTILE = ("Hello <script>alert('x')</script>\n\n"
           "<img src=x onerror=alert(1)>\n\n"
           "[click me](javascript:alert(2)) and [ok](https://example.org)\n\n"
           "<a href=\"javascript:alert(3)\">raw</a> **bold**")


def _url(world, reflection, tail=""):
    return f"/c/{world.collab.id}/reflections/{reflection.id}{tail}"


def _about_the_reflection(response) -> str:
    """The text of the page without its forms."""
    html = re.sub(r"<form\b.*?</form>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _form_of(response, action_tail: str) -> str:
    """The HTML of the form posting to a URL ending with action_tail."""
    found = re.search(rf'<form[^>]*action="[^"]*{re.escape(action_tail)}".*?</form>',
                      response.get_data(as_text=True), re.S)
    assert found, action_tail
    return found.group(0)


def test_markdown_is_rendered_and_nothing_hostile_survives(world, browser_for):
    browser = browser_for(world.people.jens)
    response = browser.post(f"/c/{world.collab.id}/reflections/new", data={
        "kind": "works", "perspective": "local", "component": "assets",
        "learning_level": "intra", "mode": "exploration", "body": HOSTILE,
        "visibility": "collaboration", "attribution": "person"})
    assert response.status_code == 302
    reflection = db.session.scalars(select(Reflection)).one()
    operations.reply(policy.actor_for(world.people.carla), reflection, HOSTILE)
    db.session.commit()
    for url in (_url(world, reflection), f"/c/{world.collab.id}/reflections",
                f"/c/{world.collab.id}"):
        html = browser_for(world.people.carla).get(url).get_data(as_text=True)
        assert "<script>alert" not in html, url
        assert not attribute_in_tag(html, "onerror"), url
        assert not re.search(r"<[a-zA-Z][^<>]*\shref\s*=\s*[\"']?\s*javascript:", html,
                             re.I), url
    html = browser_for(world.people.carla).get(_url(world, reflection)).get_data(as_text=True)
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html


def test_the_page_shows_the_classification_and_who_may_read_it(world, browser_for):
    reflection = post(world.collab, world.people.jens, body="Shared calendar works",
                      kind="works", perspective="collaboration", component="assets",
                      learning_level="intra", mode="exploration", tags=["calendar"],
                      visibility="partners", audience=[world.shelter.id])
    text = text_of_page(browser_for(world.people.sam).get(_url(world, reflection)))
    for expected in ("Works · In the collaboration", "Relational-specific assets",
                     "Inside my own organization", "Co-exploration", "#calendar",
                     "Visible to the members who speak for Job centre, Animal shelter"):
        assert expected in text, expected
    coordinators_only = post(world.collab, world.people.jens, visibility="coordinators")
    assert "Visible to the coordinators (and the author)" in text_of_page(
        browser_for(world.people.coordinator).get(_url(world, coordinators_only)))


def test_the_organization_signs_for_readers_but_coordinators_see_the_author(world,
                                                                            browser_for):
    reflection = post(world.collab, world.people.jens, body="Signed by the job centre",
                      attribution="organization")
    operations.edit_reflection(policy.actor_for(world.people.jens), reflection,
                               body="Signed by the job centre, edited", visibility="collaboration",
                               attribution="organization", **{
                                   k: getattr(reflection, k).value for k in (
                                       "kind", "perspective", "component", "learning_level",
                                       "mode")})
    db.session.commit()
    for url in (_url(world, reflection), _url(world, reflection, "/history")):
        # What is said about the reflection, not the list of members one may mention.
        reader = _about_the_reflection(browser_for(world.people.carla).get(url))
        assert "Jens" not in reader, url
        assert "Job centre" in reader, url
        coordinator = _about_the_reflection(browser_for(world.people.coordinator).get(url))
        assert "Jens Jobcentre" in coordinator, url


def test_another_collaborations_reflection_answers_404_under_this_one(world, browser_for):
    foreign = post(world.elsewhere, world.outsider, body="Elsewhere")
    # The outsider is also a member here: still 404 through this collaboration's URLs.
    from coprod.accounts.models import Role
    from tests.factories import MembershipFactory

    MembershipFactory(collaboration=world.collab, user=world.outsider, role=Role.COORDINATOR)
    db.session.commit()
    browser = browser_for(world.outsider)
    assert browser.get(f"/c/{world.elsewhere.id}/reflections/{foreign.id}").status_code == 200
    for tail in ("", "/history", "/edit"):
        assert browser.get(f"/c/{world.collab.id}/reflections/{foreign.id}{tail}"
                           ).status_code == 404, tail
    for tail in ("/withdraw", "/reaction", "/replies", "/action"):
        assert browser.post(f"/c/{world.collab.id}/reflections/{foreign.id}{tail}",
                            data={"on": "1"}).status_code == 404, tail
    assert browser_for(world.people.jens).get(
        f"/c/{world.collab.id}/reflections/{foreign.id}").status_code == 404


def test_editing_keeps_the_history(world, browser_for):
    reflection = post(world.collab, world.people.jens, body="First words", tags=["one"])
    browser = browser_for(world.people.jens)
    form = page(browser.get(_url(world, reflection, "/edit")))
    assert "First words</textarea>" in form and 'value="one"' in form
    response = browser.post(_url(world, reflection, "/edit"), data={
        "kind": "improve", "perspective": "local", "component": "governance",
        "learning_level": "inter", "mode": "exploitation", "body": "Second words",
        "tags": "two", "visibility": "collaboration", "attribution": "person"},
        follow_redirects=True)
    text = text_of_page(response)
    assert "Second words" in text and "First words" not in text
    assert "edited" in text and "Edit history" in text
    history = text_of_page(browser_for(world.people.carla).get(_url(world, reflection,
                                                                     "/history")))
    assert "First words" in history
    assert "Edited by Jens Jobcentre." in history
    assert "For the citizens · Knowledge-sharing routines" in history


def test_edit_errors_stay_next_to_the_field(world, browser_for):
    reflection = post(world.collab, world.people.jens, body="First words")
    response = browser_for(world.people.jens).post(_url(world, reflection, "/edit"), data={
        "kind": "improve", "perspective": "local", "component": "governance",
        "learning_level": "inter", "mode": "exploitation", "body": "",
        "tags": "kept tag", "visibility": "collaboration", "attribution": "person"})
    assert response.status_code == 422
    assert error_of(response, "body") == "Write something first."
    assert 'value="kept tag"' in page(response)


def test_only_the_author_edits(world, browser_for):
    reflection = post(world.collab, world.people.jens)
    for user in (world.people.julie, world.people.coordinator, world.people.observer):
        browser = browser_for(user)
        assert "Edit the reflection" not in page(browser.get(_url(world, reflection)))
        assert browser.get(_url(world, reflection, "/edit")).status_code == 403
        assert browser.post(_url(world, reflection, "/edit"), data={}).status_code == 403


def test_the_author_withdraws_and_a_tombstone_stays(world, browser_for):
    reflection = post(world.collab, world.people.jens, body="Take this back")
    operations.edit_reflection(policy.actor_for(world.people.jens), reflection,
                               body="Take this back, edited", visibility="collaboration",
                               attribution="person", **{
                                   k: getattr(reflection, k).value for k in (
                                       "kind", "perspective", "component", "learning_level",
                                       "mode")})
    db.session.commit()
    browser = browser_for(world.people.jens)
    before = text_of_page(browser.get(_url(world, reflection)))
    assert "Withdrawing erases its text and earlier versions for everyone" in before
    response = browser.post(_url(world, reflection, "/withdraw"), follow_redirects=True)
    text = text_of_page(response)
    assert "This reflection was withdrawn by its author on" in text
    assert "Take this back" not in text
    assert "Post the reply" not in text and "We see this too (for" not in text
    history = text_of_page(browser_for(world.people.carla).get(_url(world, reflection,
                                                                     "/history")))
    assert "its text and its earlier versions were erased" in history
    assert "Take this back" not in history


def test_a_coordinator_withdraws_and_others_may_not(world, browser_for):
    reflection = post(world.collab, world.people.jens)
    carla = browser_for(world.people.carla)
    assert "Withdraw the reflection" not in page(carla.get(_url(world, reflection)))
    assert carla.post(_url(world, reflection, "/withdraw")).status_code == 403
    response = browser_for(world.people.coordinator).post(_url(world, reflection, "/withdraw"),
                                                          follow_redirects=True)
    assert "This reflection was withdrawn by a coordinator on" in text_of_page(response)


def test_replies_are_threaded(world, browser_for):
    reflection = post(world.collab, world.people.jens)
    carla, sam = browser_for(world.people.carla), browser_for(world.people.sam)
    response = carla.post(_url(world, reflection, "/replies"),
                          data={"reply-body": "Top level answer"})
    assert response.status_code == 302
    top = db.session.scalars(select(Reply)).one()
    assert response.headers["Location"].endswith(f"#reply-{top.id}")
    parent = top
    for depth in range(1, 5):
        response = sam.post(_url(world, reflection, f"/replies/{parent.id}"),
                            data={f"answer-{parent.id}-body": f"Answer at depth {depth}"})
        assert response.status_code == 302
        parent = db.session.scalars(select(Reply).order_by(Reply.id.desc())).first()
        assert parent.body == f"Answer at depth {depth}"
    html = page(browser_for(world.people.julie).get(_url(world, reflection)))
    assert "5 replies" in html
    # Each answer sits in a list inside its parent's item; past depth 3 it stops indenting.
    nested = re.search(rf'id="reply-{top.id}".*?<ol class="thread">\s*'
                       rf'<li class="reply" id="reply-{top.id + 1}"', html, re.S)
    assert nested
    assert html.count('class="thread thread-flat"') == 1
    assert html.index("Top level answer") < html.index("Answer at depth 1") < \
        html.index("Answer at depth 4")


def test_an_answer_to_a_reply_of_another_reflection_is_404(world, browser_for):
    one = post(world.collab, world.people.jens, body="One")
    other = post(world.collab, world.people.jens, body="Other")
    answer = operations.reply(policy.actor_for(world.people.carla), other, "On the other")
    db.session.commit()
    response = browser_for(world.people.sam).post(
        _url(world, one, f"/replies/{answer.id}"), data={f"answer-{answer.id}-body": "x"})
    assert response.status_code == 404


def test_a_reply_error_keeps_the_text_and_names_who_cannot_read(world, browser_for):
    reflection = post(world.collab, world.people.jens, visibility="organization")
    browser = browser_for(world.people.julie)
    form = _form_of(browser.get(_url(world, reflection)), "/replies")
    # Only members who can read it are offered.
    assert "Jens Jobcentre · Job centre" in form and "Carla Cafe" not in form
    response = browser.post(_url(world, reflection, "/replies"), data={
        "reply-body": "Typed answer", "reply-mentions": [world.people.carla.id]})
    assert response.status_code == 422
    assert error_of(response, "reply-mentions") == \
        "Carla Cafe cannot read this with the visibility chosen."
    assert "Typed answer</textarea>" in page(response)
    response = browser.post(_url(world, reflection, "/replies"), data={"reply-body": " "})
    assert response.status_code == 422
    assert error_of(response, "reply-body") == "Write something first."


def test_a_mention_in_a_reply_is_shown(world, browser_for):
    reflection = post(world.collab, world.people.jens)
    response = browser_for(world.people.carla).post(_url(world, reflection, "/replies"), data={
        "reply-body": "Ask Sam", "reply-mentions": [world.people.sam.id]},
        follow_redirects=True)
    assert "Mentioned: Sam Shelter" in text_of_page(response)


def test_a_withdrawn_reflection_takes_no_replies(world, browser_for):
    reflection = post(world.collab, world.people.jens)
    operations.withdraw_reflection(policy.actor_for(world.people.jens), reflection)
    db.session.commit()
    response = browser_for(world.people.carla).post(_url(world, reflection, "/replies"),
                                                    data={"reply-body": "Too late"})
    assert response.status_code == 409
    assert "This reflection was withdrawn: it takes no more replies" in page(response)
    assert db.session.scalars(select(Reply)).first() is None


def test_the_author_edits_and_withdraws_a_reply(world, browser_for):
    reflection = post(world.collab, world.people.jens)
    answer = operations.reply(policy.actor_for(world.people.carla), reflection, "Fist draft")
    db.session.commit()
    carla = browser_for(world.people.carla)
    edit = _url(world, reflection, f"/replies/{answer.id}/edit")
    assert "Fist draft</textarea>" in page(carla.get(edit))
    assert carla.post(edit, data={"body": ""}).status_code == 422
    response = carla.post(edit, data={"body": "First draft"}, follow_redirects=True)
    assert "First draft" in text_of_page(response)
    # Someone else may neither edit nor withdraw it.
    sam = browser_for(world.people.sam)
    assert sam.get(edit).status_code == 403
    assert sam.post(_url(world, reflection, f"/replies/{answer.id}/withdraw")
                    ).status_code == 403
    response = carla.post(_url(world, reflection, f"/replies/{answer.id}/withdraw"),
                          follow_redirects=True)
    text = text_of_page(response)
    assert "This reply was withdrawn." in text and "First draft" not in text
    assert carla.get(edit).status_code == 409


def test_we_see_this_too_toggles_for_the_organization(world, browser_for):
    reflection = post(world.collab, world.people.jens)
    carla = browser_for(world.people.carla)
    assert "We see this too (for Café Solsikke)" in text_of_page(carla.get(_url(world,
                                                                               reflection)))
    response = carla.post(_url(world, reflection, "/reaction"), data={"on": "1"},
                          follow_redirects=True)
    text = text_of_page(response)
    assert "Take back “we see this too” for Café Solsikke" in text
    assert db.session.scalars(select(Reaction.partner_id)).all() == [world.cafe.id]
    # Others see which organizations said so; a coordinator speaking for none has no button.
    coordinator = text_of_page(browser_for(world.people.coordinator).get(_url(world,
                                                                            reflection)))
    assert "We see this too Café Solsikke" in coordinator
    assert "We see this too (for" not in coordinator and "Take back" not in coordinator
    carla.post(_url(world, reflection, "/reaction"), data={"on": "0"})
    assert db.session.scalars(select(Reaction)).first() is None
    assert carla.post(_url(world, reflection, "/reaction"), data={"on": "yes"}
                      ).status_code == 400


def test_the_author_is_not_offered_we_see_this_too_and_cannot_say_it(world, browser_for):
    reflection = post(world.collab, world.people.jens)
    jens = browser_for(world.people.jens)
    text = text_of_page(jens.get(_url(world, reflection)))
    assert "No partner organization has said so yet." in text
    assert "We see this too (for" not in text
    assert jens.post(_url(world, reflection, "/reaction"), data={"on": "1"}).status_code == 403
    assert db.session.scalars(select(Reaction)).first() is None
    with pytest.raises(Forbidden):
        operations.react(policy.actor_for(world.people.jens), reflection)


def test_an_observer_sees_no_forms_and_gets_403_on_every_change(world, browser_for):
    reflection = post(world.collab, world.people.jens, kind="improve")
    answer = operations.reply(policy.actor_for(world.people.carla), reflection, "Answer")
    db.session.commit()
    browser = browser_for(world.people.observer)
    html = page(browser.get(_url(world, reflection)))
    assert "Handovers between us get lost" in html
    assert "<form method=\"post\"" not in html.split("<main")[1]
    for tail, data in (("/replies", {"reply-body": "x"}),
                       (f"/replies/{answer.id}", {f"answer-{answer.id}-body": "x"}),
                       ("/reaction", {"on": "1"}), ("/withdraw", {}),
                       ("/action", {"title": "x"}), ("/edit", {}),
                       (f"/replies/{answer.id}/edit", {"body": "x"}),
                       (f"/replies/{answer.id}/withdraw", {})):
        assert browser.post(_url(world, reflection, tail), data=data).status_code == 403, tail


def test_an_archived_space_is_read_only(world, browser_for):
    reflection = post(world.collab, world.people.jens)
    answer = operations.reply(policy.actor_for(world.people.carla), reflection, "Answer")
    world.collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    for user in (world.people.jens, world.people.carla, world.people.coordinator):
        browser = browser_for(user)
        response = browser.get(_url(world, reflection))
        assert response.status_code == 200
        main = page(response).split("<main")[1]
        assert "This collaboration is archived." in main
        assert "<form method=\"post\"" not in main
        assert "/edit\"" not in main
        for tail in ("/replies", "/reaction", "/withdraw", "/edit",
                     f"/replies/{answer.id}/edit"):
            response = browser.post(_url(world, reflection, tail),
                                    data={"on": "1", "reply-body": "x", "body": "x"})
            assert response.status_code == 403, (user, tail)
            assert "archived" in page(response)


def test_a_reflection_page_runs_the_same_queries_for_few_and_many_replies(world, browser_for):
    reflection = post(world.collab, world.people.jens, kind="improve",
                      attribution="organization")
    browser = browser_for(world.people.carla)
    repliers = [world.people.carla, world.people.sam, world.people.julie]

    def grow_to(n):
        while len(db.session.scalars(select(Reply.id)).all()) < n:
            count = len(db.session.scalars(select(Reply.id)).all())
            parent = db.session.scalars(select(Reply).order_by(Reply.id.desc())).first()
            operations.reply(policy.actor_for(repliers[count % 3]), reflection,
                             f"Reply {count}", parent_id=parent.id if count % 2 else None,
                             mentions=[world.people.coordinator.id])
            db.session.commit()
        operations.react(policy.actor_for(repliers[n % 3]), reflection)
        db.session.commit()

    def visit(built=True):
        db.session.expire_all()
        if built:
            pagecache.clear()  # the page is built, not answered from the worker's cache
        url = _url(world, reflection)  # the test's own objects, refreshed outside the count
        return count_queries(lambda: browser.get(url))

    grow_to(2)
    few = visit()
    grow_to(12)
    many = visit()
    assert few == many
    # What one page costs (issue 12): it was 29; more means someone added a query per page.
    # One of them reads the cache's key (coprod/pagecache.py).
    assert many <= 19, many
    # The same page again, nothing changed: the log-in, with what the page's key needs
    # (pagecache.with_state), and the page from memory.
    assert visit(built=False) == 1
