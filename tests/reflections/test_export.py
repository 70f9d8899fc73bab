"""CSV and JSON exports: what the member may read, safe for a spreadsheet, filtered like the
feed, in a number of queries that does not grow with the reflections."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from coprod import policy
from coprod.accounts.models import Role
from coprod.common import utcnow
from coprod.extensions import db
from coprod.reflections import export, operations
from tests.api.conftest import bearer  # noqa: F401  (a fixture, used by name)
from tests.conftest import count_statements
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.search.world import COMMON, PEOPLE, build_world, codes_in, leave, readable_codes


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def browser(new_client):
    """browser(user) -> a client logged in as the user."""

    def _browser(user):
        client = new_client()
        client.post("/login", data={"email": user.email, "password": PASSWORD})
        return client

    return _browser


def download(client, world, name: str, **filters):
    return client.get(f"/c/{world.collab.id}/{name}", query_string=filters)


def csv_rows(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # a BOM, so Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(text[1:])))


def reflections_of(name: str) -> set[str]:
    """What `name` may read that is a reflection here (not a reply, message or elsewhere)."""
    return readable_codes(name) - {"zzreplywhole", "zzreplyorgonly", "zzreplysigned",
                                   "zzmsgannbo", "zzmsganecy", "zzelsewhere"}


def replies_of(name: str) -> set[str]:
    return readable_codes(name) & {"zzreplywhole", "zzreplyorgonly", "zzreplysigned"}


# -- what is in the files -------------------------------------------------------------------

@pytest.mark.parametrize("name", [p for p in PEOPLE if p != "otto"])
def test_each_export_holds_exactly_what_the_member_may_read(browser, world, name):
    client = browser(world.seats[name].user)
    reflections = download(client, world, "export.csv")
    assert reflections.status_code == 200
    assert codes_in(reflections.get_data(as_text=True)) == reflections_of(name)
    replies = download(client, world, "export-replies.csv")
    assert codes_in(replies.get_data(as_text=True)) == replies_of(name)
    document = download(client, world, "export.json")
    assert codes_in(document.get_data(as_text=True)) == reflections_of(name) | replies_of(name)


def test_the_csv_has_one_line_per_reflection_with_its_classification(browser, world):
    rows = csv_rows(download(browser(world.seats["bo"].user), world, "export.csv"))
    assert list(rows[0]) == list(export.REFLECTION_COLUMNS)
    whole = next(r for r in rows if "zzwhole" in r["body"])
    assert whole == {
        "id": str(world.items["zzwhole"].id),
        "created_at": world.items["zzwhole"].created_at.isoformat(),
        "kind": "works", "perspective": "citizens", "component": "routines",
        "learning_level": "inter", "mode": "exploitation", "partner": "Jobcenter",
        "author": "Ann Andersen", "visibility": "collaboration", "tags": "handover",
        "body": "Borgerne får meningsfuldt arbejde i caféen. zzwhole",
        "reply_count": "1",  # the withdrawn reply is not counted
        "action_status": "",
    }
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), key=int)  # oldest first


def test_the_replies_csv_names_their_reflection(browser, world):
    rows = csv_rows(download(browser(world.seats["bo"].user), world, "export-replies.csv"))
    assert list(rows[0]) == list(export.REPLY_COLUMNS)
    row = next(r for r in rows if r["id"] == str(world.items["zzreplywhole"].id))
    assert row["reflection_id"] == str(world.items["zzwhole"].id)
    assert row["id"] == str(world.items["zzreplywhole"].id)
    assert row["author"] == "Bo Berg" and row["partner"] == "Café Æblet"
    assert {r["reflection_id"] for r in rows} == {
        str(world.items["zzwhole"].id), str(world.items["zzsignedorg"].id)}


def test_the_json_nests_the_replies(browser, world):
    response = download(browser(world.seats["ane"].user), world, "export.json")
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["collaboration"] == {"id": world.collab.id, "title": "Meningsfuldt arbejde"}
    by_body = {r["body"].split()[-1]: r for r in document["reflections"]}
    assert [reply["body"] for reply in by_body["zzorgonly"]["replies"]] == [
        "Borgerne skal have svar. zzreplyorgonly"]
    assert by_body["zzorgonly"]["reply_count"] == 1
    assert by_body["zzpartnersb"]["kind"] == "improve" and by_body["zzwhole"]["tags"] == [
        "handover"]


def test_files_are_attachments_with_a_sensible_name(browser, world):
    client = browser(world.seats["bo"].user)
    today = utcnow().date().isoformat()
    for name, mimetype, filename in [
            ("export.csv", "text/csv", f"coprod-{world.collab.id}-reflections-{today}.csv"),
            ("export-replies.csv", "text/csv", f"coprod-{world.collab.id}-replies-{today}.csv"),
            ("export.json", "application/json",
             f"coprod-{world.collab.id}-reflections-{today}.json")]:
        response = download(client, world, name)
        assert response.mimetype == mimetype
        assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
        assert response.headers["Cache-Control"] == "no-store"
        response.close()  # a streamed answer not read to its end must still be closed


# -- attribution ----------------------------------------------------------------------------

def authors_of_signed(client, world) -> tuple:
    """The author shown for the organization-signed reflection and for its author's reply,
    in each file."""
    rows = csv_rows(download(client, world, "export.csv"))
    in_csv = next(r["author"] for r in rows if "zzsignedorg" in r["body"])
    replies = csv_rows(download(client, world, "export-replies.csv"))
    reply_in_csv = next(r["author"] for r in replies if "zzreplysigned" in r["body"])
    document = download(client, world, "export.json").get_json()
    signed = next(r for r in document["reflections"] if "zzsignedorg" in r["body"])
    (reply,) = signed["replies"]
    return in_csv, reply_in_csv, signed["author"], reply["author"]


def test_the_author_signed_as_organization_is_left_out_except_for_coordinators(browser, world):
    hidden = ("", "", None, None)
    named = ("Ann Andersen",) * 4
    assert authors_of_signed(browser(world.seats["bo"].user), world) == hidden
    assert authors_of_signed(browser(world.seats["ane"].user), world) == hidden
    assert authors_of_signed(browser(world.seats["coco"].user), world) == named
    assert authors_of_signed(browser(world.seats["ann"].user), world) == named


# -- spreadsheet safety ---------------------------------------------------------------------

def test_formulas_are_escaped_in_every_cell(browser, world, db):
    sneaky = UserFactory(display_name="@SUM(1+1)*cmd|' /C calc'!A0")
    MembershipFactory(collaboration=world.collab, user=sneaky, role=Role.PARTNER_STAFF,
                      partner=world.partners["b"])
    db.session.commit()
    actor = policy.actor_for(sneaky)
    bodies = ['=HYPERLINK("http://evil.example","Klik")', "+1+2", "-2+3", "@SUM(A1)",
              "Safe = fine"]
    posted = [operations.post_reflection(actor, world.collab, kind="works", body=b, **COMMON)
              for b in bodies]
    operations.reply(actor, posted[0], "=1+1 svar")
    db.session.commit()
    client = browser(world.seats["bo"].user)
    rows = {r["id"]: r for r in csv_rows(download(client, world, "export.csv"))}
    got = [rows[str(p.id)]["body"] for p in posted]
    assert got == ["'" + b if b[0] in "=+-@\t\r" else b for b in bodies]
    assert got[0] == '\'=HYPERLINK("http://evil.example","Klik")'
    assert rows[str(posted[0].id)]["author"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    reply = csv_rows(download(client, world, "export-replies.csv"))
    assert "'=1+1 svar" in {r["body"] for r in reply}
    # JSON is for programs: the text stays as written
    document = download(client, world, "export.json").get_json()
    assert bodies[0] in {r["body"] for r in document["reflections"]}


def test_safe_cell():
    assert export.safe_cell("=cmd") == "'=cmd"
    assert export.safe_cell(None) == "" and export.safe_cell(3) == "3"
    assert export.safe_cell(["a", "b"]) == "a, b"
    assert export.safe_cell("Ærø") == "Ærø"


# -- filters --------------------------------------------------------------------------------

def bodies_with(client, world, **filters) -> set[str]:
    return codes_in(download(client, world, "export.csv", **filters).get_data(as_text=True))


def test_the_feed_filters_apply(browser, world, db):
    client = browser(world.seats["ann"].user)
    assert bodies_with(client, world, kind="improve") == {"zzpartnersb"}
    assert bodies_with(client, world, component="governance") == {"zzsignedorg"}
    assert bodies_with(client, world, tag="handover") == {"zzwhole"}
    assert bodies_with(client, world, partner=str(world.partners["c"].id)) == {"zzpartnersa"}
    today = utcnow().date()
    assert bodies_with(client, world, since=(today + timedelta(days=1)).isoformat()) == set()
    assert bodies_with(client, world, until=(today - timedelta(days=1)).isoformat()) == set()
    assert bodies_with(client, world, since=today.isoformat(), until=today.isoformat()) \
        == reflections_of("ann")
    replies = download(client, world, "export-replies.csv", kind="improve")
    assert codes_in(replies.get_data(as_text=True)) == set()
    document = download(client, world, "export.json", tag="handover").get_json()
    assert document["filters"] == {"tag": "handover"}
    assert codes_in(json.dumps(document)) == {"zzwhole", "zzreplywhole"}


@pytest.mark.parametrize("filters", [{"kind": "bad"}, {"since": "yesterday"},
                                     {"partner": "999999"},
                                     {"since": "2030-01-02", "until": "2030-01-01"}])
def test_a_bad_filter_answers_422_saying_which(browser, world, filters):
    response = download(browser(world.seats["ann"].user), world, "export.csv", **filters)
    assert response.status_code == 422
    assert "These filters cannot be used" in response.get_data(as_text=True)


# -- who may export -------------------------------------------------------------------------

def test_another_collaboration_and_a_member_who_left_answer_404(browser, world):
    otto = browser(world.seats["otto"].user)
    lea = browser(world.seats["lea"].user)
    for name in ("export.csv", "export-replies.csv", "export.json"):
        assert download(otto, world, name).status_code == 404
        assert download(lea, world, name).status_code == 200
    leave(world, "lea")
    for name in ("export.csv", "export-replies.csv", "export.json"):
        assert download(lea, world, name).status_code == 404


# -- the API --------------------------------------------------------------------------------

def api_export(client, world, headers, **filters):
    return client.get(f"/api/v1/collaborations/{world.collab.id}/export", headers=headers,
                      query_string=filters)


@pytest.mark.parametrize("name", ["ann", "bo", "cy", "coco"])
def test_the_api_export_is_the_web_json_export(browser, client, bearer, world, name):  # noqa: F811
    web = download(browser(world.seats[name].user), world, "export.json").get_json()
    api = api_export(client, world, bearer(world.seats[name].user)).get_json()
    assert api["reflections"] == web["reflections"]
    assert codes_in(json.dumps(api)) == reflections_of(name) | replies_of(name)


def test_the_api_export_filters_and_refuses_bad_ones(client, bearer, world):  # noqa: F811
    headers = bearer(world.seats["ann"].user)
    document = api_export(client, world, headers, kind="improve").get_json()
    assert [r["body"].split()[-1] for r in document["reflections"]] == ["zzpartnersb"]
    assert document["filters"] == {"kind": "improve"}
    refused = api_export(client, world, headers, kind="bad")
    assert refused.status_code == 422 and refused.get_json()["errors"]["query"]["kind"]
    refused = api_export(client, world, headers, since="2030-01-02", until="2030-01-01")
    assert refused.status_code == 422
    assert api_export(client, world, bearer(world.seats["otto"].user)).status_code == 404


# -- bounded cost ---------------------------------------------------------------------------

def count_queries(fn) -> int:
    return count_statements(db, fn)


def test_queries_do_not_grow_with_the_reflections(world, db):
    ann, bo = world.actors["ann"], world.actors["bo"]

    def add(n):
        for i in range(n):
            r = operations.post_reflection(ann, world.collab, kind="improve", body=f"R {i}",
                                           tags=["a", "b"], **COMMON)
            operations.reply(bo, r, "Enig")
        db.session.commit()

    def run():
        reader = policy.actor_for(world.seats["coco"].user)
        return count_queries(lambda: list(export.export_rows(reader, world.collab)))

    before = run()
    add(15)
    assert run() == before


def test_large_exports_are_read_in_chunks_without_gaps_or_repeats(world, db):
    ann = world.actors["ann"]
    for i in range(9):
        operations.post_reflection(ann, world.collab, kind="works", body=f"R {i}", **COMMON)
    db.session.commit()
    whole = [r["id"] for r in export.export_rows(ann, world.collab)]
    chunked = [r["id"] for r in export.export_rows(ann, world.collab, chunk=2)]
    assert chunked == whole and len(whole) == len(set(whole)) == len(reflections_of("ann")) + 9
    assert count_queries(lambda: list(export.export_rows(ann, world.collab, chunk=2))) > \
        count_queries(lambda: list(export.export_rows(ann, world.collab)))  # chunks, not rows


def test_the_feed_links_to_the_exports_with_its_filters(browser, world):
    client = browser(world.seats["bo"].user)
    html = client.get(f"/c/{world.collab.id}/reflections",
                      query_string={"kind": "improve"}).get_data(as_text=True)
    c = world.collab.id
    for name in ("export.csv", "export-replies.csv", "export.json"):
        assert f'href="/c/{c}/{name}?kind=improve"' in html
