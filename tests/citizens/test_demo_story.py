"""Issue 4's "done when", on the demo: the guardian withdraws the café's consent on their page
and on the next request the café sees nothing of the note about the citizen, anywhere; the
citizen's access log shows who read it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coprod import demo
from coprod.accounts.models import User
from coprod.accounts.operations import create_token
from coprod.citizens.models import Citizen, Consent
from coprod.extensions import db as _db
from coprod.reflections.models import Reflection

PASSWORD = "demo password for tests"
NOTE = "two mornings a week in the café kitchen"
REPLY = "preparing the bread dough"


@pytest.fixture
def story(db):
    demo.seed(PASSWORD)
    db.session.commit()
    note = db.session.scalar(select(Reflection).where(Reflection.body.contains(NOTE)))
    citizen = db.session.scalar(select(Citizen))
    return note, citizen


def user(email):
    return _db.session.scalar(select(User).where(User.email == email))


def logged_in(new_client, email):
    client = new_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def bearer(email):
    _token, secret = create_token(user(email), "story")
    _db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def everything_the_cafe_can_fetch(cafe, headers, note) -> str:
    """The text of every channel through which the café could read the note or its reply."""
    c = note.collaboration_id
    pages = [f"/c/{c}/reflections", f"/c/{c}/reflections/{note.id}",
             f"/c/{c}/search?q=kitchen", f"/c/{c}/search?q=dough", f"/c/{c}/export.csv",
             f"/c/{c}/export-replies.csv", f"/c/{c}/export.json"]
    seen = [cafe.get(url).get_data(as_text=True) for url in pages]
    base = f"/api/v1/collaborations/{c}"
    api = [f"{base}/reflections", f"{base}/reflections/{note.id}",
           f"{base}/reflections/{note.id}/replies", f"{base}/search?q=kitchen",
           f"{base}/search?q=dough"]
    seen += [cafe.get(url, headers=headers).get_data(as_text=True) for url in api]
    return "\n".join(seen)


def test_withdrawal_on_the_guardians_page_hides_the_note_from_the_cafe_everywhere(
        story, new_client):
    note, citizen = story
    cafe = logged_in(new_client, "cafe@demo.example.org")
    headers = bearer("cafe@demo.example.org")
    before = everything_the_cafe_can_fetch(cafe, headers, note)
    assert NOTE in before and REPLY in before
    shelter = logged_in(new_client, "shelter@demo.example.org")
    assert NOTE not in shelter.get(f"/c/{note.collaboration_id}/reflections").get_data(
        as_text=True)

    guardian = logged_in(new_client, "guardian@demo.example.org")
    page = guardian.get(f"/my/information/{citizen.id}").get_data(as_text=True)
    assert "Café Solsikke" in page
    consent = _db.session.scalar(select(Consent))
    cafe_id = next(p.id for p in consent.partners if p.name == "Café Solsikke")
    response = guardian.post(f"/my/information/{citizen.id}/consents/{consent.id}/withdraw",
                             data={"partner_id": cafe_id})
    assert response.status_code == 302

    after = everything_the_cafe_can_fetch(cafe, headers, note)
    assert NOTE not in after and REPLY not in after
    assert cafe.get(f"/c/{note.collaboration_id}/reflections/{note.id}").status_code == 404
    case_worker = logged_in(new_client, "jobcentre@demo.example.org")
    assert NOTE in case_worker.get(f"/c/{note.collaboration_id}/reflections").get_data(
        as_text=True)

    log = guardian.get(f"/my/information/{citizen.id}").get_data(as_text=True)
    access_log = log[log.index('id="access-log"'):log.index('id="download"')]
    assert "Café Solsikke" in access_log and "Skovby Job Centre" in access_log
