from coprod import policy
from coprod.accounts.models import Role
from coprod.spaces import operations, queries
from tests.factories import CollaborationFactory, UserFactory, member


def test_coordinator_creates_collaboration_and_outsider_sees_nothing(db):
    user = UserFactory()
    actor = policy.actor_for(user)
    collab = operations.create_collaboration(
        actor, title="Meaningful work", purpose="new_service", remit_kind="social_group",
        remit="People on disability pension")
    db.session.commit()
    assert [c.id for c in queries.my_collaborations(actor)] == [collab.id]
    outsider = policy.actor_for(UserFactory())
    assert queries.my_collaborations(outsider) == []
    assert policy.may(actor, "update", collab.charter)
    assert not policy.may(outsider, "read", collab.charter)


def test_observer_reads_but_cannot_edit(db):
    collab = CollaborationFactory()
    m = member(collab, Role.OBSERVER)
    actor = policy.actor_for(m.user)
    assert policy.may(actor, "read", collab.charter)
    assert not policy.may(actor, "update", collab.charter)
