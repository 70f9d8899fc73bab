"""Other collaborations do not exist for the caller: every route answers 404 for them, also
when an object id of one collaboration is put under another one's URL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from coprod.accounts.models import Invitation, Role
from coprod.citizens.models import Citizen, Consent
from coprod.digests.models import Digest, DigestSettings, DigestStatus
from coprod.messages.models import Conversation, Message
from coprod.reflections.models import (
    ActionStatus,
    ImprovementAction,
    Reaction,
    Reflection,
    Reply,
)
from coprod.routines.models import PromptLeave, Routine
from coprod.servicemap.models import Activity, InformationCategory, InformationFlow
from coprod.spaces.models import Charter, Collaboration, Membership, Partner
from tests.conftest import fresh_world
from tests.factories import (
    UserFactory,
)
from tests.worlds import one_of_everything

CHARTER = {"why": "x", "resources": "x", "assets": "x", "routines": "x", "base_version": 0}
REFLECTION = {"kind": "improve", "perspective": "citizens", "component": "routines",
              "learning_level": "inter", "mode": "exploitation"}

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
    ("POST", "/collaborations/{c}/invitations/bulk",
     {"rows": [{"email": "new@example.org", "role": "observer"}]}),
    ("GET", "/collaborations/{c}/search", None),
    ("GET", "/collaborations/{c}/export", None),
    ("GET", "/collaborations/{c}/reflections", None),
    ("POST", "/collaborations/{c}/reflections", {**REFLECTION, "body": "Intruding"}),
    ("GET", "/collaborations/{c}/reflections/{r}", None),
    ("PATCH", "/collaborations/{c}/reflections/{r}", {"body": "Taken over"}),
    ("POST", "/collaborations/{c}/reflections/{r}/withdraw", None),
    ("GET", "/collaborations/{c}/reflections/{r}/history", None),
    ("GET", "/collaborations/{c}/reflections/{r}/replies", None),
    ("POST", "/collaborations/{c}/reflections/{r}/replies", {"body": "Intruding"}),
    ("GET", "/collaborations/{c}/reflections/{r}/replies/{y}", None),
    ("PATCH", "/collaborations/{c}/reflections/{r}/replies/{y}", {"body": "Taken over"}),
    ("POST", "/collaborations/{c}/reflections/{r}/replies/{y}/withdraw", None),
    ("PUT", "/collaborations/{c}/reflections/{r}/reaction", None),
    ("DELETE", "/collaborations/{c}/reflections/{r}/reaction", None),
    ("POST", "/collaborations/{c}/reflections/{r}/action", {"title": "Taken over",
                                                           "owner_partner_id": 1}),
    ("GET", "/collaborations/{c}/actions", None),
    ("GET", "/collaborations/{c}/actions/{a}", None),
    ("PATCH", "/collaborations/{c}/actions/{a}", {"status": "dropped"}),
    ("GET", "/collaborations/{c}/conversations", None),
    ("POST", "/collaborations/{c}/conversations", {"participant_ids": [1], "body": "Psst"}),
    ("GET", "/collaborations/{c}/conversations/{v}", None),
    ("GET", "/collaborations/{c}/conversations/{v}/messages", None),
    ("POST", "/collaborations/{c}/conversations/{v}/messages", {"body": "Intruding"}),
    ("POST", "/collaborations/{c}/conversations/{v}/participants", {"participant_ids": [1]}),
    ("POST", "/collaborations/{c}/conversations/{v}/leave", None),
    ("POST", "/collaborations/{c}/conversations/{v}/read", None),
    ("GET", "/collaborations/{c}/map", None),
    ("POST", "/collaborations/{c}/map/activities", {"name": "Intruding"}),
    ("PATCH", "/collaborations/{c}/map/activities/{t}", {"name": "Taken over"}),
    ("DELETE", "/collaborations/{c}/map/activities/{t}", None),
    ("POST", "/collaborations/{c}/map/flows", {"activity_id": 1, "from_partner_id": 1,
                                               "to_partner_id": 2, "category_ids": [1]}),
    ("DELETE", "/collaborations/{c}/map/flows/{f}", None),
    ("POST", "/collaborations/{c}/map/categories", {"name": "Intruding"}),
    ("PATCH", "/collaborations/{c}/map/categories/{g}", {"name": "Taken over"}),
    ("DELETE", "/collaborations/{c}/map/categories/{g}", None),
    ("GET", "/collaborations/{c}/citizens", None),
    ("POST", "/collaborations/{c}/citizens", {"pseudonym": "Intruder", "name": "Intruder"}),
    ("GET", "/collaborations/{c}/citizens/{z}", None),
    ("PATCH", "/collaborations/{c}/citizens/{z}", {"name": "Taken over"}),
    ("POST", "/collaborations/{c}/citizens/{z}/erase", None),
    ("GET", "/collaborations/{c}/citizens/{z}/consents", None),
    ("POST", "/collaborations/{c}/citizens/{z}/consents", {"partner_ids": [1],
                                                           "category_ids": [1],
                                                           "purpose": "Intruding"}),
    ("POST", "/collaborations/{c}/citizens/{z}/consents/{k}/withdraw", None),
    ("GET", "/collaborations/{c}/citizens/{z}/audit", None),
    ("GET", "/collaborations/{c}/routines", None),
    ("POST", "/collaborations/{c}/routines", {"name": "Intruding", "cadence": "weekly",
                                              "weekday": "TU", "time": "09:00"}),
    ("GET", "/collaborations/{c}/routines/{o}", None),
    ("PATCH", "/collaborations/{c}/routines/{o}", {"name": "Taken over"}),
    ("DELETE", "/collaborations/{c}/routines/{o}", None),
    ("POST", "/collaborations/{c}/routines/{o}/pause", None),
    ("POST", "/collaborations/{c}/routines/{o}/resume", None),
    ("GET", "/collaborations/{c}/routines/{o}/response-rates", None),
    ("PUT", "/collaborations/{c}/leave", {"until": "2099-12-31"}),
    ("DELETE", "/collaborations/{c}/leave", None),
    ("GET", "/collaborations/{c}/digests", None),
    ("GET", "/collaborations/{c}/digests/{d}", None),
    ("POST", "/collaborations/{c}/digests/{d}/send", {"note": "Taken over"}),
    ("PATCH", "/collaborations/{c}/digest-settings", {"cadence": "weekly"}),
]
PLACEHOLDERS = {"collaboration_id": "c", "partner_id": "p", "membership_id": "m",
                "invitation_id": "i", "reflection_id": "r", "reply_id": "y", "action_id": "a",
                "conversation_id": "v", "activity_id": "t", "flow_id": "f", "category_id": "g",
                "citizen_id": "z", "consent_id": "k", "routine_id": "o",
                "digest_id": "d"}
WITH_OBJECT = [r for r in ROUTES if re.search(r"\{[pmirayvtfgzkod]\}", r[1])]


def _readable(path: str) -> str:
    """The nearest GET route at or above `path` (.../revoke -> the invitation itself)."""
    gets = {p for m, p, _ in ROUTES if m == "GET"}
    while path not in gets:
        path = path.rsplit("/", 1)[0]
    return path


@pytest.fixture
def worlds(db, bearer):
    """The caller coordinates `mine` and `also_mine`; `theirs` is someone else's. Each holds
    one of everything (tests/worlds.py); ids by the short names of ROUTES."""
    caller = UserFactory()
    spaces = {}
    for name in ("mine", "also_mine", "theirs"):
        world = one_of_everything(title=name,
                                  coordinator_user=caller if name != "theirs" else None)
        spaces[name] = {short: world.ids[long] for long, short in PLACEHOLDERS.items()}
    db.session.commit()
    return spaces, bearer(caller)


def _unchanged(db, ids: dict) -> None:
    db.session.expire_all()
    assert db.session.get(Collaboration, ids["c"]).title in {"mine", "also_mine", "theirs"}
    assert db.session.get(Charter, ids["c"]).version == 0
    assert db.session.get(Partner, ids["p"]) is not None
    assert db.session.get(Membership, ids["m"]).role == Role.OBSERVER
    assert db.session.get(Invitation, ids["i"]).status == "pending"
    reflection = db.session.get(Reflection, ids["r"])
    assert reflection.body == "Handovers get lost" and reflection.withdrawn_at is None
    assert db.session.get(Reply, ids["y"]).body == "We see it too"
    assert db.session.get(ImprovementAction, ids["a"]).status == ActionStatus.OPEN
    assert db.session.scalar(select(func.count()).select_from(Reaction)) == 0
    assert db.session.scalar(select(func.count()).select_from(Reflection).where(
        Reflection.collaboration_id == ids["c"])) == 1
    assert db.session.scalar(select(func.count()).select_from(Reply).where(
        Reply.reflection_id == ids["r"])) == 1
    conversation = db.session.get(Conversation, ids["v"])
    assert len(conversation.participants) == 2
    assert all(p.last_read_at is None for p in conversation.participants
               if p.user_id != conversation.created_by_id)
    assert db.session.scalars(select(Message.body).where(
        Message.conversation_id == ids["v"])).all() == ["Shall we talk?"]
    assert db.session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.collaboration_id == ids["c"])) == 1
    assert db.session.get(Activity, ids["t"]).name == "Job training"
    assert db.session.get(InformationCategory, ids["g"]).name == "Contact details"
    assert db.session.get(InformationFlow, ids["f"]) is not None
    assert db.session.scalar(select(func.count()).select_from(Activity).where(
        Activity.collaboration_id == ids["c"])) == 1
    assert db.session.scalar(select(func.count()).select_from(InformationCategory).where(
        InformationCategory.collaboration_id == ids["c"])) == 1
    citizen = db.session.get(Citizen, ids["z"])
    assert citizen.name == "Peter" and citizen.erased_at is None
    assert db.session.scalar(select(func.count()).select_from(Citizen).where(
        Citizen.collaboration_id == ids["c"])) == 1
    assert db.session.scalars(select(Consent.id).where(
        Consent.citizen_id == ids["z"])).all() == [ids["k"]]
    routine = db.session.get(Routine, ids["o"])
    assert routine.name == "Weekly" and routine.paused_at is None
    assert db.session.scalars(select(Routine.id).where(
        Routine.collaboration_id == ids["c"])).all() == [ids["o"]]
    assert db.session.scalar(select(func.count()).select_from(PromptLeave).where(
        PromptLeave.collaboration_id == ids["c"])) == 0
    digest = db.session.get(Digest, ids["d"])
    assert digest.status == DigestStatus.BUILT and digest.note == ""
    assert db.session.get(DigestSettings, ids["c"]) is None


def test_a_collaboration_i_am_not_in_answers_404(client, db, worlds):
    """Every route, in one world: each request runs in a SAVEPOINT rolled back after its
    checks, so that a route that wrongly changed something cannot hide the next one's."""
    spaces, headers = worlds
    failures = []
    for method, path, body in ROUTES:
        with fresh_world(db):
            response = client.open("/api/v1" + path.format(**spaces["theirs"]), method=method,
                                   json=body, headers=headers)
            failures += _problems(f"{method} {path}", lambda r=response: (
                _is_404(r), _unchanged(db, spaces["theirs"])))
    assert not failures, "\n".join(failures)


def test_an_object_under_another_collaborations_url_answers_404(client, db, worlds):
    spaces, headers = worlds
    ids = {**spaces["also_mine"], "c": spaces["mine"]["c"]}  # objects of also_mine, URL of mine
    failures = []
    for method, path, body in WITH_OBJECT:
        with fresh_world(db):
            response = client.open("/api/v1" + path.format(**ids), method=method, json=body,
                                   headers=headers)
            # the same object under its own collaboration's URL is there (not a typo)
            own = "/api/v1" + _readable(path).format(**spaces["also_mine"])
            failures += _problems(f"{method} {path}", lambda r=response, own=own: (
                _is_404(r), _unchanged(db, spaces["also_mine"]),
                _is_200(client.get(own, headers=headers))))
    assert not failures, "\n".join(failures)


def _is_404(response) -> None:
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["code"] == 404


def _is_200(response) -> None:
    assert response.status_code == 200, response.get_json()


def _problems(route: str, checks) -> list[str]:
    """What went wrong on one route, as a line each (all routes are reported at once)."""
    try:
        checks()
    except AssertionError as failure:
        return [f"{route}: {failure}"]
    return []


def test_the_table_covers_every_collaboration_route(app):
    """A new route under a collaboration must be added to ROUTES (and so tested above)."""
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/collaborations/<int:collaboration_id>"):
            path = re.sub(r"<int:(\w+)>", lambda m: "{" + PLACEHOLDERS[m.group(1)] + "}",
                          rule.rule.removeprefix("/api/v1"))
            served |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == {(m, p) for m, p, _ in ROUTES}
