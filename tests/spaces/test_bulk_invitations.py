"""Invite many at once: a coordinator uploads a CSV, sees each row's problem, sends the valid
rows with one POST (once, however often it is submitted), and each invited person gets their
email, through a real SMTP server."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from coprod.accounts.bulk import InvitationBatch
from coprod.accounts.models import Invitation, Role
from tests.factories import PASSWORD, CollaborationFactory, PartnerFactory, member
from tests.smtp import smtp_server  # noqa: F401  (fixture)


@pytest.fixture
def space(db):
    collab = CollaborationFactory(title="Meaningful work")
    cafe = PartnerFactory(collaboration=collab, organization__name="Café Solsikke")
    shelter = PartnerFactory(collaboration=collab, organization__name="Skovby Animal Shelter")
    coordinator = member(collab, Role.COORDINATOR)
    db.session.commit()
    return collab, cafe, shelter, coordinator


def _upload(client, collab, text: str, name="people.csv"):
    return client.post(f"/c/{collab.id}/invitations/bulk",
                       data={"file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data")


def _problems(page: str) -> dict[int, list[str]]:
    """line -> the problem codes the preview shows for it."""
    found = {}
    for line, cells in re.findall(r'<tr id="line-(\d+)"[^>]*>(.*?)</tr>', page, re.S):
        found[int(line)] = re.findall(r'data-problem="([a-z_]+)"', cells)
    return found


def fifty_rows_three_bad() -> tuple[str, dict[int, str], list[str]]:
    """A header and 50 people; lines 11, 21 and 31 are wrong (bad email, unknown partner,
    unknown role). Returns the CSV, the bad lines and the 47 good addresses."""
    lines = ["email,name,partner,role"]
    bad = {11: "bad_email", 21: "unknown_partner", 31: "unknown_role"}
    good = []
    for n in range(1, 51):
        line = n + 1
        email, partner, role = f"person{n}@example.org", "Café Solsikke", "partner staff"
        if n % 2:
            partner, role = "skovby animal shelter", "Partner staff"
        if n % 7 == 0:
            partner, role = "", "observer"
        if bad.get(line) == "bad_email":
            email = "person-at-example.org"
        elif bad.get(line) == "unknown_partner":
            partner, role = "Skovby Bakery", "partner_staff"
        elif bad.get(line) == "unknown_role":
            role = "mayor"
        else:
            good.append(email)
        lines.append(f"{email},Person {n},{partner},{role}")
    return "\n".join(lines) + "\n", bad, good


def test_fifty_rows_three_bad_forty_seven_emails(app, db, client, sign_in, space, outbox,
                                                 smtp_server, monkeypatch):  # noqa: F811
    collab, cafe, shelter, coordinator = space
    monkeypatch.setitem(app.config, "SMTP_HOST", smtp_server.host)
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    sign_in(coordinator)
    text, bad, good = fifty_rows_three_bad()

    # The invitations page offers the upload.
    assert f'action="/c/{collab.id}/invitations/bulk"' in client.get(
        f"/c/{collab.id}/invitations").text
    response = _upload(client, collab, text)
    assert response.status_code == 302
    preview_url = response.location
    preview = client.get(preview_url).text
    assert "47 people can be invited." in preview
    assert "3 rows have a problem" in preview
    problems = _problems(preview)
    assert len(problems) == 50
    assert {line: codes for line, codes in problems.items() if codes} == {
        line: [code] for line, code in bad.items()}
    assert "No partner of this collaboration is called “Skovby Bakery”." in preview
    assert "Unknown role “mayor”." in preview
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0  # not yet

    send_url = re.search(r'action="([^"]+/send)"', preview).group(1)
    response = client.post(send_url, follow_redirects=True)
    assert "We emailed 47 invitations. 3 rows were left out." in response.text
    # A second submit (a double click, a reload of the POST) sends nothing more.
    again = client.post(send_url, follow_redirects=True)
    assert "These invitations were already sent." in again.text

    invitations = db.session.scalars(select(Invitation).order_by(Invitation.id)).all()
    assert sorted(i.email for i in invitations) == sorted(good)
    by_email = {i.email: i for i in invitations}
    assert by_email["person2@example.org"].partner_id == cafe.id
    assert by_email["person2@example.org"].role == Role.PARTNER_STAFF
    assert by_email["person1@example.org"].partner_id == shelter.id
    assert by_email["person14@example.org"].role == Role.OBSERVER
    assert by_email["person14@example.org"].partner_id is None
    assert by_email["person2@example.org"].name == "Person 2"

    assert outbox.deliver() == 47
    received = smtp_server.wait_for(47)
    assert sorted(m["To"] for m in received) == sorted(good)
    assert all("Meaningful work" in m["Subject"] for m in received)

    # The report stays: each row, invited or with its problem.
    report = client.get(preview_url).text
    assert "47 invitations were sent" in report and "3 rows were left out." in report
    assert report.count("Invited</span>") == 47
    assert {line: codes for line, codes in _problems(report).items() if codes} == {
        line: [code] for line, code in bad.items()}


def test_duplicates_members_and_missing_partners_are_reported(db, client, sign_in, space):
    collab, _cafe, _shelter, coordinator = space
    existing = member(collab, Role.OBSERVER, email="already@example.org")
    db.session.commit()
    sign_in(coordinator)
    text = ("E-mail;Navn;Rolle;Partner\n"  # Danish headers, semicolons, another order
            "new@example.org;New Person;observer;\n"
            "NEW@example.org;Again;observer;\n"
            f"{existing.user.email};Already;observer;\n"
            "staff@example.org;No Partner;partner staff;\n"
            "\n"
            "fine@example.org;Fine;;café solsikke\n")
    preview = client.get(_upload(client, collab, text).location).text
    assert _problems(preview) == {2: [], 3: ["duplicate"], 4: ["already_member"],
                                  5: ["partner_required"], 7: []}
    assert "The same address as line 2." in preview
    assert "2 people can be invited." in preview


def test_too_many_rows_are_reported(app, db, client, sign_in, space, monkeypatch):
    collab, _cafe, _shelter, coordinator = space
    monkeypatch.setitem(app.config, "BULK_INVITATION_MAX_ROWS", 3)
    sign_in(coordinator)
    text = "".join(f"p{n}@example.org,P {n},,observer\n" for n in range(1, 6))  # no header
    preview = client.get(_upload(client, collab, text).location).text
    assert _problems(preview) == {1: [], 2: [], 3: [], 4: ["too_many_rows"],
                                  5: ["too_many_rows"]}
    assert "Beyond the first 3 rows" in preview


@pytest.mark.parametrize("content, message", [
    (b"", "Choose a CSV file."),
    (b"email,name,partner,role\n\n\n", "The file holds no rows."),
    (b"\x00\x01PK\x03\x04binary", "This is not a CSV text file."),
])
def test_a_file_that_cannot_be_read_is_said_next_to_the_field(db, client, sign_in, space,
                                                              content, message):
    collab, _cafe, _shelter, coordinator = space
    sign_in(coordinator)
    data = {"file": (io.BytesIO(content), "people.csv")} if content else {}
    response = client.post(f"/c/{collab.id}/invitations/bulk", data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert re.search(r'id="file-error">[^<]*' + re.escape(message), response.text)
    assert db.session.scalar(select(func.count()).select_from(InvitationBatch)) == 0


def test_a_file_over_the_size_limit_is_refused(app, db, client, sign_in, space, monkeypatch):
    collab, _cafe, _shelter, coordinator = space
    monkeypatch.setitem(app.config, "BULK_INVITATION_MAX_BYTES", 1024)
    sign_in(coordinator)
    response = _upload(client, collab, "x@example.org,X,,observer\n" * 100)
    assert response.status_code == 413
    assert "The file is larger than 1 KiB." in response.text


def test_a_spreadsheets_windows_1252_file_is_read(db, client, sign_in, space):
    collab, _cafe, _shelter, coordinator = space
    sign_in(coordinator)
    data = "email;name;partner;role\nsoren@example.org;Søren Ærø;Café Solsikke;partner staff\n"
    response = client.post(f"/c/{collab.id}/invitations/bulk",
                           data={"file": (io.BytesIO(data.encode("cp1252")), "people.csv")},
                           content_type="multipart/form-data")
    preview = client.get(response.location).text
    assert "Søren Ærø" in preview and _problems(preview) == {2: []}


def test_only_coordinators_upload_and_send(db, client, sign_in, space, new_client):
    collab, cafe, _shelter, coordinator = space
    staff = member(collab, Role.PARTNER_STAFF, cafe)
    outsider = member(CollaborationFactory(), Role.COORDINATOR)
    db.session.commit()
    coordinators_browser = new_client()
    coordinators_browser.post("/login", data={"email": coordinator.user.email,
                                              "password": PASSWORD})
    preview_url = _upload(coordinators_browser, collab, "a@example.org,A,,observer\n").location
    send_url = preview_url + "/send"

    sign_in(staff)
    assert _upload(client, collab, "b@example.org,B,,observer\n").status_code == 403
    assert client.get(preview_url).status_code == 403
    assert client.post(send_url).status_code == 403
    other = new_client()
    other.post("/login", data={"email": outsider.user.email, "password": PASSWORD})
    assert _upload(other, collab, "b@example.org,B,,observer\n").status_code == 404
    assert other.get(preview_url).status_code == 404
    assert other.post(send_url).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_a_batch_of_another_collaboration_is_404(db, client, sign_in, space):
    collab, _cafe, _shelter, coordinator = space
    sign_in(coordinator)
    preview_url = _upload(client, collab, "a@example.org,A,,observer\n").location
    batch_id = preview_url.rsplit("/", 1)[1]
    elsewhere = CollaborationFactory()
    from coprod.spaces.models import Membership

    db.session.add(Membership(collaboration_id=elsewhere.id, user_id=coordinator.user_id,
                              role=Role.COORDINATOR))
    db.session.commit()
    url = f"/c/{elsewhere.id}/invitations/bulk/{batch_id}"
    assert client.get(url).status_code == 404
    assert client.post(url + "/send").status_code == 404


def test_sending_needs_a_csrf_token(app, db, client, sign_in, space, monkeypatch):
    collab, _cafe, _shelter, coordinator = space
    sign_in(coordinator)
    preview_url = _upload(client, collab, "a@example.org,A,,observer\n").location
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert client.post(preview_url + "/send").status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get(preview_url).text).group(1)
    response = client.post(preview_url + "/send", data={"csrf_token": token})
    assert response.status_code == 302
    assert db.session.scalar(select(Invitation.email)) == "a@example.org"


def test_the_invited_persons_sign_up_starts_with_their_name(db, client, sign_in, space,
                                                             new_client, outbox):
    collab, _cafe, _shelter, coordinator = space
    sign_in(coordinator)
    preview_url = _upload(client, collab, "ny@example.org,Nina Yde,,observer\n").location
    client.post(preview_url + "/send")
    link = re.search(r"http://localhost(/invitations/\S+)",
                     outbox.last_to("ny@example.org").get_body(("plain",)).get_content())
    page = new_client().get(link.group(1)).text
    assert re.search(r'id="display_name"[^>]*value="Nina Yde"', page) or \
        re.search(r'value="Nina Yde"[^>]*id="display_name"', page)
