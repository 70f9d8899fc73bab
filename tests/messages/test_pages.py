"""The conversation pages as members use them: the list with unread counts, a new conversation,
a thread, replies; 404 for whoever is not in it; errors next to the field; safe Markdown."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from coprod.messages.models import MESSAGE_MAX, Conversation, Message
from coprod.spaces.models import CollaborationStatus
from tests.conftest import statements_run
from tests.factories import PASSWORD, MembershipFactory
from tests.spaces.pages import error_of, page, text_of_page


def _messages(db) -> list[str]:
    return list(db.session.scalars(select(Message.body).order_by(Message.id)))


def _thread_url(space, conversation) -> str:
    return f"/c/{space.collab.id}/messages/{conversation.id}"


# -- starting a conversation ----------------------------------------------------------------

def test_the_new_conversation_form_labels_members_with_role_and_organization(
        client, db, space, sign_in):
    sign_in(space.people.jens)
    response = client.get(f"/c/{space.collab.id}/messages/new")
    assert response.status_code == 200
    text = text_of_page(response)
    assert "Carla Cafe · Partner staff · Café Solsikke" in text
    assert "Cora Coordinator · Coordinator" in text
    assert "Olga Observer · Observer" in text
    assert "Jens Jobcentre ·" not in text  # not oneself
    assert "Otto Outsider" not in text  # not another collaboration's member
    # every checkbox has its label
    for box in re.findall(r'<input[^>]*type="checkbox"[^>]*>', page(response)):
        box_id = re.search(r'id="([^"]+)"', box).group(1)
        assert re.search(rf'<label for="{box_id}"[ >]', page(response)), box_id


def test_start_a_group_conversation_across_organizations(client, db, space, sign_in):
    p = space.people
    sign_in(p.jens)
    response = client.post(f"/c/{space.collab.id}/messages/new", data={
        "participants": [p.carla.user_id, p.coordinator.user_id],
        "subject": "Mikkel's first week", "body": "Can he start **Monday**?"})
    assert response.status_code == 302
    conversation = db.session.scalar(select(Conversation))
    assert response.headers["Location"].endswith(_thread_url(space, conversation))
    thread = client.get(response.headers["Location"])
    text = text_of_page(thread)
    assert "Your message is sent." in text
    assert "Mikkel's first week" in text
    assert "Carla Cafe · Partner staff · Café Solsikke" in text
    assert "Cora Coordinator · Coordinator" in text
    assert "<strong>Monday</strong>" in page(thread)


def test_empty_body_is_shown_next_to_the_field_keeping_what_was_typed(client, db, space,
                                                                      sign_in):
    sign_in(space.people.jens)
    response = client.post(f"/c/{space.collab.id}/messages/new", data={
        "participants": [space.people.carla.user_id], "subject": "Kept subject", "body": " "})
    assert response.status_code == 422
    assert error_of(response, "body") == "Write a message first."
    assert 'value="Kept subject"' in page(response)
    assert db.session.scalar(select(func.count(Conversation.id))) == 0


def test_overlong_body_is_shown_next_to_the_field(client, db, space, sign_in):
    sign_in(space.people.jens)
    response = client.post(f"/c/{space.collab.id}/messages/new", data={
        "participants": [space.people.carla.user_id], "body": "x" * (MESSAGE_MAX + 5)})
    assert response.status_code == 422
    assert error_of(response, "body").startswith(f"Keep the message under {MESSAGE_MAX}")


@pytest.mark.parametrize("who", ["outsider", "nobody"])
def test_a_participant_from_elsewhere_is_an_error_next_to_the_field(client, db, space,
                                                                    sign_in, who):
    sign_in(space.people.jens)
    chosen = {"outsider": [space.outsider.user_id], "nobody": []}[who]
    response = client.post(f"/c/{space.collab.id}/messages/new", data={
        "participants": chosen, "body": "Psst"})
    assert response.status_code == 422
    expected = {"outsider": "Choose members of this collaboration.",
                "nobody": "Choose at least one other member."}[who]
    assert error_of(response, "participants") == expected
    assert "Psst" in page(response)  # the message typed is kept
    assert db.session.scalar(select(func.count(Conversation.id))) == 0


def test_the_form_refuses_a_post_without_its_csrf_token(app, client, db, space, sign_in,
                                                        monkeypatch):
    sign_in(space.people.jens)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(f"/c/{space.collab.id}/messages/new", data={
        "participants": [space.people.carla.user_id], "body": "Hi"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(Conversation.id))) == 0
    form = client.get(f"/c/{space.collab.id}/messages/new")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      page(form)).group(1)
    response = client.post(f"/c/{space.collab.id}/messages/new", data={
        "csrf_token": token, "participants": [space.people.carla.user_id], "body": "Hi"})
    assert response.status_code == 302


# -- reading, unread counts -----------------------------------------------------------------

def test_list_shows_unread_counts_that_go_down_on_reading(client, db, space, sign_in,
                                                          converse, write):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "First", subject="Schedules")
    write(p.jens, conversation, "Second, with the *details*")
    sign_in(p.carla)

    listing = client.get(f"/c/{space.collab.id}/messages")
    text = text_of_page(listing)
    assert "Schedules" in text and "2 unread" in text
    assert "With Jens Jobcentre" in text
    assert "Jens Jobcentre: Second, with the details" in text
    assert "Messages 2 unread" in text  # the tab of the sub-navigation
    overview = client.get(f"/c/{space.collab.id}")
    assert "Messages 2 unread" in text_of_page(overview)

    thread = client.get(_thread_url(space, conversation))
    assert thread.status_code == 200
    assert text_of_page(thread).count(" new ") == 2  # flagged on the visit that reads them

    listing = client.get(f"/c/{space.collab.id}/messages")
    assert "unread" not in text_of_page(listing)
    assert " new " not in text_of_page(client.get(_thread_url(space, conversation)))


def test_own_messages_are_never_unread(client, db, space, sign_in, converse):
    p = space.people
    converse(space.collab, p.jens, [p.carla], "Mine")
    sign_in(p.jens)
    assert "unread" not in text_of_page(client.get(f"/c/{space.collab.id}/messages"))


def test_reply_and_errors_next_to_the_field(client, db, space, sign_in, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello")
    sign_in(p.carla)
    url = _thread_url(space, conversation)
    response = client.post(url, data={"body": ""})
    assert response.status_code == 422
    assert error_of(response, "body") == "Write a message first."
    response = client.post(url, data={"body": "y" * (MESSAGE_MAX + 1)})
    assert response.status_code == 422
    assert error_of(response, "body").startswith("Keep the message under")
    assert "y" * 100 in page(response)  # what was typed stays in the box
    response = client.post(url, data={"body": "Monday works"})
    assert response.status_code == 302
    assert _messages(db) == ["Hello", "Monday works"]
    assert "Monday works" in text_of_page(client.get(url))


# -- who may read ---------------------------------------------------------------------------

@pytest.mark.parametrize("reader", ["coordinator", "observer", "outsider"])
def test_only_participants_read_a_conversation(client, db, space, sign_in, converse, reader):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Between the two of us")
    seat = space.outsider if reader == "outsider" else getattr(p, reader)
    sign_in(seat)
    url = _thread_url(space, conversation)
    assert client.get(url).status_code == 404
    assert client.post(url, data={"body": "Let me in"}).status_code == 404
    assert client.post(url + "/participants",
                       data={"participants": [seat.user_id]}).status_code == 404
    assert client.post(url + "/leave").status_code == 404
    listing = client.get(f"/c/{space.collab.id}/messages")
    assert listing.status_code == (404 if reader == "outsider" else 200)
    assert "Between the two of us" not in page(listing)
    assert _messages(db) == ["Between the two of us"]


def test_a_conversation_under_another_collaborations_url_is_404(client, db, space, sign_in,
                                                                converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello")
    MembershipFactory(collaboration=space.elsewhere, user=p.jens.user)  # Jens is there too
    db.session.commit()
    sign_in(p.jens)
    assert client.get(f"/c/{space.elsewhere.id}/messages/{conversation.id}").status_code == 404
    assert client.get(_thread_url(space, conversation)).status_code == 200


def test_leaving_the_collaboration_removes_access_at_once(client, db, space, sign_in,
                                                          converse, write):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Private plans")
    write(p.jens, conversation, "More plans")
    sign_in(p.carla)
    url = _thread_url(space, conversation)
    assert client.get(url).status_code == 200
    write(p.jens, conversation, "Even more")
    assert "1 unread" in text_of_page(client.get(f"/c/{space.collab.id}/messages"))

    response = client.post(f"/c/{space.collab.id}/leave")
    assert response.status_code == 302
    assert client.get(url).status_code == 404
    assert client.post(url, data={"body": "Still here?"}).status_code == 404
    assert client.get(f"/c/{space.collab.id}/messages").status_code == 404
    assert "Even more" not in page(client.get("/"))
    assert _messages(db) == ["Private plans", "More plans", "Even more"]


def test_a_participant_removed_by_a_coordinator_loses_access_on_the_next_request(
        new_client, db, space, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello")
    carla = new_client()
    carla.post("/login", data={"email": p.carla.user.email, "password": PASSWORD})
    cora = new_client()
    cora.post("/login", data={"email": p.coordinator.user.email, "password": PASSWORD})
    url = _thread_url(space, conversation)
    assert carla.get(url).status_code == 200
    response = cora.post(f"/c/{space.collab.id}/members/{p.carla.id}/remove")
    assert response.status_code == 302
    assert carla.get(url).status_code == 404


# -- archived spaces, observers -------------------------------------------------------------

def test_observer_reads_but_nobody_writes_in_an_archived_space(client, db, space, sign_in,
                                                               converse):
    p = space.people
    conversation = converse(space.collab, p.coordinator, [p.observer], "For the record")
    space.collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    sign_in(p.observer)
    url = _thread_url(space, conversation)
    thread = client.get(url)
    assert thread.status_code == 200
    assert "For the record" in text_of_page(thread)
    assert 'name="body"' not in page(thread)
    response = client.post(url, data={"body": "Too late"})
    assert response.status_code == 403
    assert "This collaboration is archived: its conversations can be read, not continued." in (
        text_of_page(response))
    assert _messages(db) == ["For the record"]
    assert client.get(f"/c/{space.collab.id}/messages/new").status_code == 403


def test_an_observer_in_an_active_space_writes_in_their_conversation(client, db, space,
                                                                     sign_in, converse):
    p = space.people
    conversation = converse(space.collab, p.coordinator, [p.observer], "Welcome")
    sign_in(p.observer)
    assert client.post(_thread_url(space, conversation),
                       data={"body": "Thanks"}).status_code == 302
    assert _messages(db) == ["Welcome", "Thanks"]


# -- adding people, leaving -----------------------------------------------------------------

def test_add_a_member_then_leave(client, db, space, sign_in, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello")
    sign_in(p.jens)
    url = _thread_url(space, conversation)
    response = client.post(url + "/participants", data={"participants": [p.citizen.user_id]},
                           follow_redirects=True)
    assert "Cit Izen can now read and write in this conversation." in text_of_page(response)
    response = client.post(url + "/participants",
                           data={"participants": [space.outsider.user_id]})
    assert response.status_code == 422
    assert error_of(response, "participants") == "Choose members of this collaboration."

    response = client.post(url + "/leave", follow_redirects=True)
    assert "You left the conversation." in text_of_page(response)
    assert client.get(url).status_code == 404


# -- Markdown, query counts -----------------------------------------------------------------

def test_markdown_is_sanitized(client, db, space, sign_in, converse):
    p = space.people
    body = ("<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
            "[click](javascript:alert(3)) and [ok](https://example.org)")
    conversation = converse(space.collab, p.jens, [p.carla], body)
    sign_in(p.carla)
    raw = client.get(_thread_url(space, conversation)).get_data(as_text=True)
    listing = client.get(f"/c/{space.collab.id}/messages").get_data(as_text=True)
    for html in (raw, listing):
        assert "<script>alert" not in html  # shown as text, never as a script
        assert not re.search(r"<[^>]+\sonerror", html)  # no element carries an event handler
        assert not re.search(r"<img", html)
        assert not re.search(r"href=[\"']?\s*javascript:", html, re.I)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in raw


def _count(db, browser, url) -> tuple[str, int]:
    db.session.expunge_all()  # from an empty identity map, whatever garbage collection kept
    with statements_run(db) as run:
        response = browser.get(url)
    assert response.status_code == 200
    return text_of_page(response), len(run)


def test_the_list_and_a_thread_run_as_many_queries_for_10_as_for_2(new_client, db, space,
                                                                   crowd):
    collab_id, carla = space.collab.id, space.people.carla
    ids, email = [carla.user_id, space.people.jens.user_id], carla.user.email
    counts = {}
    for n in (2, 10):
        last_id = crowd(collab_id, ids, n)
        browser = new_client()
        browser.post("/login", data={"email": email, "password": PASSWORD})
        db.session.expunge_all()
        text, counts[("list", n)] = _count(db, browser, f"/c/{collab_id}/messages")
        assert text.count(f"{n + 1} unread") == n
        # read twice: the first visit also marks read (a write and a commit)
        url = f"/c/{collab_id}/messages/{last_id}"
        text, counts[("thread", n)] = _count(db, browser, url)
        assert text.count(" new ") == n + 1
        text, counts[("thread again", n)] = _count(db, browser, url)
        assert len(re.findall(r"Reply \d+ in", text)) == n and " new " not in text
    assert counts[("list", 2)] == counts[("list", 10)]
    assert counts[("thread", 2)] == counts[("thread", 10)]
    assert counts[("thread again", 2)] == counts[("thread again", 10)]
