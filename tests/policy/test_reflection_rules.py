"""Role x visibility x organization x action for reflections, replies, actions, conversations.

One collaboration with partners A, B and C. The author speaks for A; a colleague also speaks
for A; staff of B and C; a coordinator who speaks for C (coordinators are not exempt from
visibility); a citizen, a guardian, an observer; an outsider of another collaboration; a
member who left. This world is not tables.base_world: its roles are the ones visibility tells
apart. Every cell is checked three ways by tests/policy/tables.check_table: policy.may,
membership in the SQL-filtered list, and get_or_404's 404 (unreadable) or 403 (read-only).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role
from coprod.extensions import db
from coprod.messages.models import Conversation, Message, Participant
from coprod.reflections import operations
from coprod.reflections.models import Attribution, ImprovementAction, Reflection, Reply
from coprod.spaces.models import CollaborationStatus
from tests.factories import CollaborationFactory, PartnerFactory, member
from tests.policy.tables import NOBODY, check_table

ROLES = ["author", "colleague", "staff_b", "staff_c", "coordinator", "citizen", "guardian",
         "observer", "outsider", "left", "anonymous"]
MEMBERS = {"author", "colleague", "staff_b", "staff_c", "coordinator", "citizen", "guardian",
           "observer"}
SPEAKERS = MEMBERS - {"observer"}
FOR_A_PARTNER = {"author", "colleague", "staff_b", "staff_c", "coordinator"}

# Who may read each reflection, by its visibility.
READERS = {
    "whole": MEMBERS,
    "organization": {"author", "colleague"},
    "coordinators": {"author", "coordinator"},
    "partners_b": {"author", "colleague", "staff_b"},
    # a second audience: being in some audience must not open every "partners" reflection
    "partners_c": {"author", "colleague", "staff_c", "coordinator"},
}


def expected(name: str, status: str) -> dict[str, set[str]]:
    """The table: reflection -> action -> roles allowed, derived in plain words."""
    readers = READERS[name]
    if status == "archived":
        return {"read": readers, "update": NOBODY, "withdraw": NOBODY, "reply": NOBODY,
                "react": NOBODY, "create_action": NOBODY,
                "read_author": readers & {"author", "coordinator"} if name == "whole"
                else readers}
    return {
        "read": readers,
        "update": {"author"},
        "withdraw": readers & {"author", "coordinator"},
        "reply": readers & SPEAKERS,
        # "we see this too" answers someone else's reflection: not its author
        "react": (readers & FOR_A_PARTNER) - {"author"},
        # "whole" is an action already; the others may become one
        "create_action": NOBODY if name == "whole"
        else readers & {"coordinator", "author", "colleague"},
        # "whole" is signed with the organization only: the author stays known to coordinators
        "read_author": readers & {"author", "coordinator"} if name == "whole" else readers,
    }


def build(status: CollaborationStatus):
    collab = CollaborationFactory()
    a, b, c = (PartnerFactory(collaboration=collab) for _ in range(3))
    seats = {
        "author": member(collab, Role.PARTNER_STAFF, a),
        "colleague": member(collab, Role.PARTNER_STAFF, a),
        "staff_b": member(collab, Role.PARTNER_STAFF, b),
        "staff_c": member(collab, Role.PARTNER_STAFF, c),
        "coordinator": member(collab, Role.COORDINATOR, c),
        "citizen": member(collab, Role.CITIZEN),
        "guardian": member(collab, Role.GUARDIAN),
        "observer": member(collab, Role.OBSERVER),
        "left": member(collab, Role.PARTNER_STAFF, b),
    }
    seats["outsider"] = member(CollaborationFactory(), Role.COORDINATOR)
    db.session.commit()
    author = policy.actor_for(seats["author"].user)
    common = dict(kind="improve", perspective="citizens", component="routines",
                  learning_level="inter", mode="exploitation", body="The handover is slow.")
    reflections = {
        "whole": operations.post_reflection(author, collab, visibility="collaboration",
                                            attribution=Attribution.ORGANIZATION, **common),
        "organization": operations.post_reflection(author, collab, visibility="organization",
                                                   **common),
        "coordinators": operations.post_reflection(author, collab, visibility="coordinators",
                                                   **common),
        "partners_b": operations.post_reflection(author, collab, visibility="partners",
                                                 audience=[b.id], **common),
        "partners_c": operations.post_reflection(author, collab, visibility="partners",
                                                 audience=[c.id], **common),
    }
    replies = {name: operations.reply(author, r, "We are on it.")
               for name, r in reflections.items()}
    conversation = Conversation(collaboration_id=collab.id, subject="Handover",
                                created_by_id=seats["author"].user_id)
    conversation.participants = [Participant(user_id=seats[r].user_id)
                                 for r in ("author", "staff_b", "left")]
    db.session.add(conversation)
    db.session.flush()
    message = Message(conversation_id=conversation.id, author_id=seats["author"].user_id,
                      body="Can we meet on Thursday?")
    db.session.add(message)
    actions = {}
    coordinator = policy.actor_for(seats["coordinator"].user)
    actions["whole"] = operations.create_action(
        coordinator, reflections["whole"], title="Faster handover", owner_partner_id=b.id,
        due_on=date(2030, 1, 1))
    db.session.delete(seats["left"])  # leaving ends access at once
    collab.status = status
    db.session.commit()
    actors = {name: policy.actor_for(m.user) for name, m in seats.items()}
    actors["anonymous"] = policy.Actor(user_id=None)
    return reflections, replies, actions, conversation, message, actors


def table(status: str) -> dict[str, dict[str, set[str]]]:
    """Every object of build(): each reflection by expected(), its reply (read by the
    reflection's readers), the action on "whole", the conversation and its message."""
    active = status == "active"
    rows = {}
    for name in READERS:
        rows[name] = expected(name, status)
        readers = rows[name]["read"]
        rows[f"reply/{name}"] = {
            "read": readers,
            "update": {"author"} if active else NOBODY,
            "withdraw": readers & {"author", "coordinator"} if active else NOBODY,
        }
    # owned by B: B's staff and coordinators move it along
    rows["action"] = {"read": MEMBERS, "update": {"staff_b", "coordinator"} if active else NOBODY}
    rows["conversation"] = {"read": {"author", "staff_b"},
                            "post": {"author", "staff_b"} if active else NOBODY}
    rows["message"] = {"read": {"author", "staff_b"}}
    return rows


@pytest.mark.parametrize("status", ["active", "archived"])
def test_reflection_table(db, status):
    reflections, replies, actions, conversation, message, actors = build(
        CollaborationStatus(status))
    objects = {**reflections, **{f"reply/{name}": reply for name, reply in replies.items()},
               "action": actions["whole"], "conversation": conversation, "message": message}
    failures = check_table(table(status), objects, actors, ROLES, label=status)
    assert not failures, "\n".join(failures)


def test_withdrawn_reflection_takes_no_replies_reactions_or_actions(db):
    reflections, _, _, _, _, actors = build(CollaborationStatus.ACTIVE)
    target = reflections["whole"]
    operations.withdraw_reflection(actors["author"], target)
    db.session.commit()
    for action in ("reply", "react", "update", "withdraw"):
        assert not any(policy.may(actors[r], action, target) for r in ROLES), action
    assert policy.may(actors["citizen"], "read", target)  # the tombstone stays readable
    assert target.body == ""
    assert db.session.scalar(select(Reply.body).where(Reply.reflection_id == target.id)) \
        == "We are on it."
    assert db.session.scalar(select(ImprovementAction).where(
        ImprovementAction.reflection_id == target.id)) is not None
    assert isinstance(target, Reflection)


def test_the_author_of_an_organization_signed_reflection_stays_unnamed_in_its_thread(db):
    reflections, _, _, _, _, actors = build(CollaborationStatus.ACTIVE)
    signed_by_org = reflections["whole"]  # attribution: organization
    own_reply = operations.reply(actors["author"], signed_by_org, "Thanks, all.")
    other_reply = operations.reply(actors["staff_b"], signed_by_org, "Same for us.")
    db.session.commit()
    for role in ("colleague", "staff_b", "citizen", "observer"):
        assert not policy.may(actors[role], "read_author", own_reply), role
        assert policy.may(actors[role], "read_author", other_reply), role
    for role in ("author", "coordinator"):
        assert policy.may(actors[role], "read_author", own_reply), role
    named = set(db.session.scalars(select(Reply.id).where(
        policy.where(actors["citizen"], Reply, "read_author"))))
    assert other_reply.id in named and own_reply.id not in named


def test_an_action_owner_must_be_able_to_read_the_reflection(db):
    from coprod.common import OperationError

    reflections, _, _, _, _, actors = build(CollaborationStatus.ACTIVE)
    org_only = reflections["organization"]
    seat_b = actors["staff_b"].seat(org_only.collaboration_id)
    with pytest.raises(OperationError) as refused:
        operations.create_action(actors["author"], org_only, title="Fix it",
                                 owner_partner_id=seat_b.partner_id)
    assert refused.value.field == "owner_partner_id"
    made = operations.create_action(actors["author"], org_only, title="Fix it",
                                    owner_partner_id=org_only.partner_id)
    assert made.owner_partner_id == org_only.partner_id
