"""POST /api/v1/collaborations/{id}/invitations/bulk: CSV or JSON rows, a dry run answering the
preview, each row's problems, bounded size, and an Idempotency-Key that makes a retry safe."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from coprod.accounts.models import Invitation, Role
from tests.factories import CollaborationFactory, PartnerFactory, member
from tests.smtp import smtp_server  # noqa: F401  (fixture)
from tests.spaces.test_bulk_invitations import fifty_rows_three_bad


@pytest.fixture
def space(db):
    collab = CollaborationFactory(title="Meaningful work")
    PartnerFactory(collaboration=collab, organization__name="Café Solsikke")
    PartnerFactory(collaboration=collab, organization__name="Skovby Animal Shelter")
    coordinator = member(collab, Role.COORDINATOR)
    db.session.commit()
    return collab, coordinator


def _count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Invitation))


def _csv(client, collab, headers, text: str, query: str = "", **extra):
    return client.post(f"/api/v1/collaborations/{collab.id}/invitations/bulk{query}",
                       data=text.encode(), headers={**headers, "Content-Type": "text/csv",
                                                    **extra})


def test_a_csv_dry_run_then_the_send(app, db, client, bearer, space, outbox,
                                     smtp_server, monkeypatch):  # noqa: F811
    collab, coordinator = space
    monkeypatch.setitem(app.config, "SMTP_HOST", smtp_server.host)
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    headers = bearer(coordinator.user)
    text, bad, good = fifty_rows_three_bad()

    preview = _csv(client, collab, headers, text, "?dry_run=true")
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    assert (body["dry_run"], body["valid"], body["invalid"], body["sent"]) == (True, 47, 3, 0)
    assert {r["line"]: [p["code"] for p in r["problems"]] for r in body["rows"]
            if r["problems"]} == {line: [code] for line, code in bad.items()}
    assert _count(db) == 0

    sent = _csv(client, collab, headers, text)
    assert sent.status_code == 201, sent.get_json()
    body = sent.get_json()
    assert (body["dry_run"], body["valid"], body["invalid"], body["sent"]) == (False, 47, 3, 47)
    ids = [r["invitation_id"] for r in body["rows"] if r["invitation_id"]]
    assert len(ids) == 47
    assert _count(db) == 47
    assert outbox.deliver() == 47
    assert sorted(m["To"] for m in smtp_server.wait_for(47)) == sorted(good)


def test_json_rows(db, client, bearer, space):
    collab, coordinator = space
    response = client.post(f"/api/v1/collaborations/{collab.id}/invitations/bulk",
                           headers=bearer(coordinator.user), json={"rows": [
                               {"email": "a@example.org", "name": "A", "role": "observer"},
                               {"email": "b@example.org", "partner": "café solsikke"},
                               {"email": "not an address", "role": "observer"},
                               {"email": "A@example.org", "role": "citizen"},
                           ]})
    assert response.status_code == 201, response.get_json()
    rows = response.get_json()["rows"]
    assert [[p["code"] for p in r["problems"]] for r in rows] == [
        [], [], ["bad_email"], ["duplicate"]]
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    invitation = db.session.get(Invitation, rows[1]["invitation_id"])
    assert invitation.role == Role.PARTNER_STAFF and invitation.partner.name == "Café Solsikke"


@pytest.mark.parametrize("body, status", [
    ({"rows": [{"name": "no email"}]}, 422),
    ({"rows": "a@example.org"}, 422),
    ({"people": []}, 422),
    ({"rows": [{"email": "a@example.org", "colour": "blue"}]}, 422),
])
def test_json_that_does_not_validate(db, client, bearer, space, body, status):
    collab, coordinator = space
    response = client.post(f"/api/v1/collaborations/{collab.id}/invitations/bulk",
                           headers=bearer(coordinator.user), json=body)
    assert response.status_code == status
    assert response.get_json()["code"] == status
    assert _count(db) == 0


def test_unstorable_text_is_a_rows_problem_not_a_500(db, client, bearer, space):
    collab, coordinator = space
    response = client.post(f"/api/v1/collaborations/{collab.id}/invitations/bulk",
                           headers=bearer(coordinator.user), json={"rows": [
                               {"email": "a@example.org", "name": "A\u0000B",
                                "role": "observer"}]})
    assert response.status_code == 201
    assert response.get_json()["rows"][0]["problems"][0]["code"] == "unreadable"
    assert _count(db) == 0


def test_bodies_that_cannot_be_read(app, db, client, bearer, space, monkeypatch):
    collab, coordinator = space
    headers = bearer(coordinator.user)
    url = f"/api/v1/collaborations/{collab.id}/invitations/bulk"
    assert client.post(url, headers=headers, data="a@example.org",
                       content_type="text/plain").status_code == 415
    assert client.post(url, headers=headers, data="{not json",
                       content_type="application/json").status_code == 400
    empty = _csv(client, collab, headers, "email,name,partner,role\n")
    assert empty.status_code == 422 and "no rows" in empty.get_json()["message"]
    monkeypatch.setitem(app.config, "BULK_INVITATION_MAX_BYTES", 1024)
    big = _csv(client, collab, headers, "x@example.org,X,,observer\n" * 100)
    assert big.status_code == 413 and "1 KiB" in big.get_json()["message"]
    assert _count(db) == 0


def test_rows_beyond_the_limit(app, db, client, bearer, space, monkeypatch):
    collab, coordinator = space
    monkeypatch.setitem(app.config, "BULK_INVITATION_MAX_ROWS", 2)
    text = "".join(f"p{n}@example.org,P,,observer\n" for n in range(4))
    body = _csv(client, collab, bearer(coordinator.user), text).get_json()
    assert [[p["code"] for p in r["problems"]] for r in body["rows"]] == [
        [], [], ["too_many_rows"], ["too_many_rows"]]
    assert body["sent"] == 2


def test_an_idempotency_key_sends_once_and_a_dry_run_is_another_request(db, client, bearer,
                                                                        space):
    collab, coordinator = space
    headers = bearer(coordinator.user)
    text = "a@example.org,A,,observer\nb@example.org,B,,observer\n"
    dry = _csv(client, collab, headers, text, "?dry_run=true", **{"Idempotency-Key": "k1"})
    assert dry.status_code == 200
    reused = _csv(client, collab, headers, text, **{"Idempotency-Key": "k1"})
    assert reused.status_code == 422  # the key of the dry run, for the real send
    first = _csv(client, collab, headers, text, **{"Idempotency-Key": "k2"})
    again = _csv(client, collab, headers, text, **{"Idempotency-Key": "k2"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _count(db) == 2


def test_only_coordinators(db, client, bearer, space):
    collab, _coordinator = space
    staff = member(collab, Role.OBSERVER)
    outsider = member(CollaborationFactory(), Role.COORDINATOR)
    db.session.commit()
    text = "a@example.org,A,,observer\n"
    assert _csv(client, collab, bearer(staff.user), text).status_code == 403
    assert _csv(client, collab, bearer(outsider.user), text).status_code == 404
    assert _csv(client, collab, bearer(staff.user), text, "?dry_run=true").status_code == 403
    assert _count(db) == 0


def test_the_openapi_document_describes_it(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/collaborations/{collaboration_id}/invitations/bulk"][
        "post"]
    assert set(operation["requestBody"]["content"]) == {"text/csv", "application/json"}
    assert {"200", "201", "413", "422"} <= set(operation["responses"])
    assert any(p["name"] == "dry_run" for p in operation["parameters"])
