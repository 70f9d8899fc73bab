"""Conversations through the operations and queries: who takes part, what they read, what is
unread, what is refused, and how many queries the lists cost."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden, NotFound

from coprod import policy
from coprod.common import OperationError
from coprod.messages import operations, queries
from coprod.messages.models import MESSAGE_MAX, Conversation, Message, Participant
from coprod.spaces import operations as spaces
from coprod.spaces.models import Collaboration, CollaborationStatus
from tests.messages.conftest import actor


def _rows(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _names(summary) -> set[str]:
    return {p.user.display_name for p in summary.participants}


# -- starting a conversation ----------------------------------------------------------------

def test_one_to_one_across_organizations(db, space, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Can Mikkel start Monday?",
                            subject="Mikkel's first week")

    for seat in (p.jens, p.carla):
        [summary] = queries.conversations_of(actor(seat), space.collab)
        assert summary.conversation.id == conversation.id
        assert summary.conversation.subject == "Mikkel's first week"
        assert _names(summary) == {"Jens Jobcentre", "Carla Cafe"}
        assert summary.last_message.body == "Can Mikkel start Monday?"
        assert summary.last_message.author.display_name == "Jens Jobcentre"
    assert queries.conversations_of(actor(p.jens), space.collab)[0].unread_count == 0
    assert queries.conversations_of(actor(p.carla), space.collab)[0].unread_count == 1


def test_group_conversation_and_the_starter_always_takes_part(db, space, converse):
    p = space.people
    conversation = operations.start_conversation(
        actor(p.coordinator), space.collab, [p.jens.user_id, p.carla.user_id,
                                             p.citizen.user_id], "", "Planning meeting?")
    db.session.commit()
    assert {x.user_id for x in conversation.participants} == {
        p.coordinator.user_id, p.jens.user_id, p.carla.user_id, p.citizen.user_id}
    for seat in (p.jens, p.carla, p.citizen):
        assert queries.unread_total(actor(seat), space.collab) == 1
    # the observer is not in it
    assert queries.conversations_of(actor(p.observer), space.collab) == []
    assert queries.unread_total(actor(p.observer), space.collab) == 0


def test_naming_oneself_only_is_refused(db, space):
    p = space.people
    with pytest.raises(OperationError) as refused:
        operations.start_conversation(actor(p.jens), space.collab, [p.jens.user_id], "", "Hi")
    assert refused.value.field == "participants"
    assert "at least one other member" in refused.value.message
    db.session.rollback()
    assert _rows(db, Conversation) == 0


@pytest.mark.parametrize("who", ["outsider", "unknown id", "not a number"])
def test_a_participant_outside_the_collaboration_is_refused(db, space, who):
    p = space.people
    wanted = {"outsider": space.outsider.user_id, "unknown id": 999_999,
              "not a number": "abc"}[who]
    with pytest.raises(OperationError) as refused:
        operations.start_conversation(actor(p.jens), space.collab, [p.carla.user_id, wanted],
                                      "", "Hi")
    assert refused.value.field == "participants"
    assert refused.value.message == "Choose members of this collaboration."
    db.session.rollback()
    assert _rows(db, Conversation) == 0 and _rows(db, Message) == 0


def test_an_outsider_cannot_start_a_conversation_here(db, space):
    with pytest.raises(NotFound):
        operations.start_conversation(actor(space.outsider), space.collab,
                                      [space.people.jens.user_id], "", "Hi")


@pytest.mark.parametrize("body,message", [
    ("", "Write a message first."),
    ("   \n ", "Write a message first."),
    ("x" * (MESSAGE_MAX + 1), f"Keep the message under {MESSAGE_MAX} characters"),
])
def test_empty_or_overlong_first_message_is_refused(db, space, body, message):
    p = space.people
    with pytest.raises(OperationError) as refused:
        operations.start_conversation(actor(p.jens), space.collab, [p.carla.user_id], "", body)
    assert refused.value.field == "body" and refused.value.message.startswith(message)
    db.session.rollback()
    assert _rows(db, Conversation) == 0


def test_overlong_subject_is_refused(db, space):
    p = space.people
    with pytest.raises(OperationError) as refused:
        operations.start_conversation(actor(p.jens), space.collab, [p.carla.user_id],
                                      "s" * 201, "Hi")
    assert refused.value.field == "subject"


def test_nothing_starts_in_an_archived_space(db, space):
    space.collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    with pytest.raises(Forbidden):
        operations.start_conversation(actor(space.people.jens), space.collab,
                                      [space.people.carla.user_id], "", "Hi")


# -- posting and reading --------------------------------------------------------------------

def test_unread_goes_up_with_others_messages_and_down_on_reading(db, space, converse, write):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "One")
    write(p.jens, conversation, "Two")
    write(p.jens, conversation, "Three")
    assert queries.unread_total(actor(p.carla), space.collab) == 3
    # own messages never count as unread
    assert queries.unread_total(actor(p.jens), space.collab) == 0

    operations.mark_read(actor(p.carla), conversation)
    db.session.commit()
    assert queries.unread_total(actor(p.carla), space.collab) == 0

    write(p.carla, conversation, "Four")
    assert queries.unread_total(actor(p.carla), space.collab) == 0
    assert queries.unread_total(actor(p.jens), space.collab) == 1
    [summary] = queries.conversations_of(actor(p.jens), space.collab)
    assert summary.unread_count == 1 and summary.last_message.body == "Four"


def test_posting_moves_the_conversation_to_the_top(db, space, converse, write):
    p = space.people
    first = converse(space.collab, p.jens, [p.carla], "Old news")
    second = converse(space.collab, p.jens, [p.coordinator], "Newer")
    listed = [s.conversation.id for s in queries.conversations_of(actor(p.jens), space.collab)]
    assert listed == [second.id, first.id]
    write(p.carla, first, "Back to this one")
    listed = [s.conversation.id for s in queries.conversations_of(actor(p.jens), space.collab)]
    assert listed == [first.id, second.id]


def test_a_non_participant_member_and_an_outsider_read_nothing(db, space, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Between us")
    for reader in (actor(p.coordinator), actor(space.outsider)):
        with pytest.raises(NotFound):
            policy.get_or_404(reader, Conversation, conversation.id)
        with pytest.raises(NotFound):
            queries.conversation_or_404(reader, space.collab, conversation.id)
        with pytest.raises(NotFound):
            operations.post_message(reader, conversation, "Let me in")
        assert db.session.scalars(policy.scoped(reader, Message)).all() == []
    with pytest.raises(NotFound):  # a conversation under another collaboration's id
        queries.conversation_or_404(actor(p.jens), space.elsewhere, conversation.id)


@pytest.mark.parametrize("body", ["", "x" * (MESSAGE_MAX + 1)])
def test_empty_or_overlong_reply_is_refused(db, space, converse, body):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello")
    with pytest.raises(OperationError) as refused:
        operations.post_message(actor(p.carla), conversation, body)
    assert refused.value.field == "body"
    db.session.rollback()
    assert _rows(db, Message) == 1


def test_an_observer_reads_and_writes_in_a_conversation_they_are_in(db, space, converse,
                                                                    write):
    p = space.people
    conversation = converse(space.collab, p.coordinator, [p.observer], "For your records")
    assert queries.unread_total(actor(p.observer), space.collab) == 1
    write(p.observer, conversation, "Thank you")
    assert queries.unread_total(actor(p.coordinator), space.collab) == 1


def test_archived_space_keeps_conversations_readable_but_closed(db, space, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.observer], "Before archiving")
    space.collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    reader = actor(p.observer)
    assert queries.conversation_or_404(reader, space.collab, conversation.id) == conversation
    assert [m.body for m in queries.messages_of(reader, conversation).items] == [
        "Before archiving"]
    operations.mark_read(reader, conversation)  # one's own reading mark still moves
    with pytest.raises(Forbidden):
        operations.post_message(reader, conversation, "After")


# -- leaving --------------------------------------------------------------------------------

def test_leaving_the_collaboration_ends_access_at_once(db, space, converse, write):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello Carla")
    write(p.jens, conversation, "Still there?")
    carla = actor(p.carla)
    assert queries.unread_total(carla, space.collab) == 2

    spaces.remove_member(carla, p.carla)  # she leaves the collaboration
    db.session.commit()

    carla = actor(p.carla.user)
    assert queries.conversations_of(carla, space.collab) == []
    assert queries.unread_total(carla, space.collab) == 0
    with pytest.raises(NotFound):
        queries.conversation_or_404(carla, space.collab, conversation.id)
    with pytest.raises(NotFound):
        operations.post_message(carla, conversation, "Let me back in")
    assert db.session.scalars(policy.scoped(carla, Message)).all() == []
    # Jens keeps the conversation, and sees Carla there as someone who took part
    [summary] = queries.conversations_of(actor(p.jens), space.collab)
    assert "Carla Cafe" in _names(summary)
    assert p.carla.user_id not in queries.participant_seats(actor(p.jens), conversation)


def test_leaving_a_conversation_and_the_last_one_out(db, space, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello")
    conversation_id = conversation.id
    operations.leave_conversation(actor(p.carla), conversation)
    db.session.commit()
    assert queries.conversations_of(actor(p.carla), space.collab) == []
    assert len(queries.conversations_of(actor(p.jens), space.collab)) == 1

    operations.leave_conversation(actor(p.jens), conversation)
    db.session.commit()
    assert db.session.get(Conversation, conversation_id) is None
    assert _rows(db, Message) == 0


def test_participants_add_other_members_who_then_read_everything(db, space, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Earlier message")
    operations.add_participants(actor(p.carla), conversation, [p.coordinator.user_id])
    db.session.commit()
    cora = actor(p.coordinator)
    assert queries.unread_total(cora, space.collab) == 1
    assert [m.body for m in queries.messages_of(cora, conversation).items] == [
        "Earlier message"]

    with pytest.raises(OperationError) as refused:
        operations.add_participants(actor(p.carla), conversation, [space.outsider.user_id])
    assert refused.value.field == "participants"
    db.session.rollback()
    with pytest.raises(OperationError) as refused:  # already in
        operations.add_participants(actor(p.carla), conversation, [p.jens.user_id])
    assert refused.value.field == "participants"
    db.session.rollback()
    assert _rows(db, Participant) == 3


# -- messages, pages and query counts -------------------------------------------------------

def test_message_pages_newest_first_each_oldest_to_newest(db, space, converse, write):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "m0")
    for i in range(1, 7):
        write(p.jens if i % 2 else p.carla, conversation, f"m{i}")
    reader = actor(p.carla)
    seen, cursor = [], None
    while True:
        page = queries.messages_of(reader, conversation, cursor=cursor, limit=3)
        bodies = [m.body for m in page.items]
        assert bodies == sorted(bodies)  # within a page: oldest to newest
        seen = bodies + seen
        cursor = page.earlier_cursor
        if cursor is None:
            break
    assert seen == [f"m{i}" for i in range(7)]


def test_a_bad_cursor_is_refused(db, space, converse):
    conversation = converse(space.collab, space.people.jens, [space.people.carla], "Hi")
    with pytest.raises(queries.BadCursor):
        queries.messages_of(actor(space.people.jens), conversation, cursor="nonsense!")


def _list_as_shown(reader, collab):
    """What the list page shows of each conversation."""
    return [(s.last_message.author.display_name, _names(s), s.unread_count)
            for s in queries.conversations_of(reader, collab)]


def _thread_as_shown(reader, collab, conversation_id):
    """What the thread page shows of each message."""
    conversation = queries.conversation_or_404(reader, collab, conversation_id)
    return [(m.author.display_name, m.body) for m in queries.messages_of(
        reader, conversation).items]


def test_the_conversation_list_and_a_thread_cost_the_same_for_2_and_10(db, space, crowd,
                                                                       count_queries):
    collab_id, jens_id = space.collab.id, space.people.jens.user_id
    counts = {}
    for n, listed_then in ((2, 2), (10, 12)):
        last_id = crowd(collab_id, [jens_id], n)
        collab = db.session.get(Collaboration, collab_id)
        reader = policy.Actor(user_id=jens_id)
        listed, counts[("list", n)] = count_queries(_list_as_shown, reader, collab)
        assert len(listed) == listed_then
        assert [unread for _, _, unread in listed[:n]] == [n + 1] * n
        thread, counts[("thread", n)] = count_queries(_thread_as_shown, reader, collab,
                                                      last_id)
        assert len(thread) == n + 1
    assert counts[("list", 2)] == counts[("list", 10)]
    assert counts[("thread", 2)] == counts[("thread", 10)]
