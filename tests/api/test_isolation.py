"""Other collaborations do not exist for the caller: every route answers 404 for them, also
when an object id of one collaboration is put under another one's URL."""

from __future__ import annotations

import re

import pytest

from coprod.accounts.models import Invitation, Role
from coprod.spaces.models import Charter, Collaboration, Membership, Partner
from tests.factories import (
    CollaborationFactory,
    InvitationFactory,
    MembershipFactory,
    PartnerFactory,
    UserFactory,
    member,
)

CHARTER = {"why": "x", "resources": "x", "assets": "x", "routines": "x", "base_version": 0}

# Every route under a collaboration, with a body that would be accepted for a coordinator.
ROUTES = [
    ("GET", "/collaborations/{c}", None),
    ("PATCH", "/collaborations/{c}", {"title": "Taken over"}),
    ("GET", "/collaborations/{c}/charter", None),
    ("PUT", "/collaborations/{c}/charter", CHARTER),
    ("GET", "/collaborations/{c}/charter/history", None),
    ("GET", "/collaborations/{c}/partners", None),
    ("POST", "/collaborations/{c}/partners", {"name": "Intruder Ltd", "sector": "private"}),
    ("GET", "/collaborations/{c}/partners/{p}", None),
    ("PATCH", "/collaborations/{c}/partners/{p}", {"resources": []}),
    ("DELETE", "/collaborations/{c}/partners/{p}", None),
    ("GET", "/collaborations/{c}/members", None),
    ("GET", "/collaborations/{c}/members/{m}", None),
    ("PATCH", "/collaborations/{c}/members/{m}", {"role": "observer"}),
    ("DELETE", "/collaborations/{c}/members/{m}", None),
    ("GET", "/collaborations/{c}/invitations", None),
    ("POST", "/collaborations/{c}/invitations", {"email": "new@example.org", "role": "observer"}),
    ("GET", "/collaborations/{c}/invitations/{i}", None),
    ("POST", "/collaborations/{c}/invitations/{i}/revoke", None),
]
PLACEHOLDERS = {"collaboration_id": "c", "partner_id": "p", "membership_id": "m",
                "invitation_id": "i"}
WITH_OBJECT = [r for r in ROUTES if re.search(r"\{[pmi]\}", r[1])]


@pytest.fixture
def worlds(db, bearer):
    """The caller coordinates `mine` and `also_mine`; `theirs` is someone else's."""
    caller = UserFactory()
    spaces = {}
    for name in ("mine", "also_mine", "theirs"):
        collab = CollaborationFactory(title=name)
        partner = PartnerFactory(collaboration=collab)
        other = member(collab, Role.OBSERVER)
        if name != "theirs":
            MembershipFactory(collaboration=collab, user=caller, role=Role.COORDINATOR)
        else:
            member(collab, Role.COORDINATOR)
        invitation = InvitationFactory(collaboration=collab)
        spaces[name] = {"c": collab.id, "p": partner.id, "m": other.id, "i": invitation.id}
    db.session.commit()
    return spaces, bearer(caller)


def _unchanged(db, ids: dict) -> None:
    db.session.expire_all()
    assert db.session.get(Collaboration, ids["c"]).title in {"mine", "also_mine", "theirs"}
    assert db.session.get(Charter, ids["c"]).version == 0
    assert db.session.get(Partner, ids["p"]) is not None
    assert db.session.get(Membership, ids["m"]).role == Role.OBSERVER
    assert db.session.get(Invitation, ids["i"]).status == "pending"


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_a_collaboration_i_am_not_in_answers_404(client, db, worlds, method, path, body):
    spaces, headers = worlds
    url = "/api/v1" + path.format(**spaces["theirs"])
    response = client.open(url, method=method, json=body, headers=headers)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["code"] == 404
    _unchanged(db, spaces["theirs"])


@pytest.mark.parametrize("method,path,body", WITH_OBJECT,
                         ids=[f"{m} {p}" for m, p, _ in WITH_OBJECT])
def test_an_object_under_another_collaborations_url_answers_404(client, db, worlds, method,
                                                                path, body):
    spaces, headers = worlds
    ids = {**spaces["also_mine"], "c": spaces["mine"]["c"]}  # objects of also_mine, URL of mine
    response = client.open("/api/v1" + path.format(**ids), method=method, json=body,
                           headers=headers)
    assert response.status_code == 404, response.get_json()
    _unchanged(db, spaces["also_mine"])
    # the same object under its own collaboration's URL is there (the 404 is not a typo)
    own = "/api/v1" + path.removesuffix("/revoke").format(**spaces["also_mine"])
    assert client.get(own, headers=headers).status_code == 200


def test_the_table_covers_every_collaboration_route(app):
    """A new route under a collaboration must be added to ROUTES (and so tested above)."""
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/collaborations/<int:collaboration_id>"):
            path = re.sub(r"<int:(\w+)>", lambda m: "{" + PLACEHOLDERS[m.group(1)] + "}",
                          rule.rule.removeprefix("/api/v1"))
            served |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == {(m, p) for m, p, _ in ROUTES}
