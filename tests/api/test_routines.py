"""Routines through the API: coordinators set them up (presets or a raw RRULE), pause, resume,
change and remove them, and read response rates per period and partner; members read them
and take leave from their prompts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from coprod import policy
from coprod.reflections import operations as reflections
from coprod.routines import operations as routines
from coprod.routines.emails import DEFAULT_QUESTIONS
from coprod.routines.models import Prompt, PromptLeave, Routine
from coprod.routines.sweep import run_due

CPH = "Europe/Copenhagen"
REFLECTION = {"kind": "works", "perspective": "citizens", "component": "routines",
              "learning_level": "inter", "mode": "exploitation"}


def _url(space, tail=""):
    return f"/api/v1/collaborations/{space.collab.id}/routines{tail}"


def _count(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("cadence", "rule"), [
    ("weekly", "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
    ("fortnightly", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
    ("monthly", "FREQ=MONTHLY;BYDAY=1TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
])
def test_a_coordinator_sets_up_a_preset(client, db, space, cadence, rule):
    response = client.post(_url(space), headers=space.as_coordinator, json={
        "name": "Staff reflection", "cadence": cadence, "weekday": "TU", "time": "09:00",
        "timezone": CPH, "roles": ["partner_staff"], "nudge_after_days": 3})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["cadence"], body["weekday"], body["time"], body["rule"]) == (
        cadence, "TU", "09:00", rule)
    assert body["timezone"] == CPH and body["roles"] == ["partner_staff"]
    assert body["partner_ids"] == [] and body["nudge_after_days"] == 3
    assert body["questions"] == list(DEFAULT_QUESTIONS) and body["paused"] is False
    local = datetime.fromisoformat(body["next_prompt_at"]).astimezone(ZoneInfo(CPH))
    assert (local.strftime("%A"), local.hour, local.minute) == ("Tuesday", 9, 0)
    listed = client.get(_url(space), headers=space.as_observer).get_json()
    assert [r["name"] for r in listed["items"]] == ["Staff reflection"]


def test_a_raw_rrule_with_its_own_questions_and_audience(client, db, space):
    response = client.post(_url(space), headers=space.as_coordinator, json={
        "name": "Last Friday", "cadence": "custom",
        "rule": "RRULE:FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=14", "partner_ids": [space.partner.id],
        "questions": ["What surprised you?", "  "], "anchor_on": "2026-01-01"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["cadence"], body["rule"], body["weekday"], body["time"]) == (
        "custom", "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=14", None, None)
    assert body["questions"] == ["What surprised you?"]
    assert body["partner_ids"] == [space.partner.id] and body["anchor_on"] == "2026-01-01"
    assert body["timezone"] == space.collab.timezone


WEEKLY = {"cadence": "weekly", "weekday": "TU", "time": "09:00"}


@pytest.mark.parametrize(("change", "field"), [
    ({"cadence": "custom", "rule": "FREQ=SOMETIMES"}, "rule"),
    ({"cadence": "custom", "rule": "FREQ=MINUTELY"}, "rule"),
    ({"cadence": "custom"}, "rule"),
    ({**WEEKLY, "timezone": "Mars/Olympus"}, "timezone"),
    ({"cadence": "weekly", "weekday": "TU"}, "time"),
    ({"cadence": "weekly", "time": "09:00"}, "weekday"),
    ({**WEEKLY, "partner_ids": [99999]}, "partner_ids"),
    ({**WEEKLY, "questions": [" "]}, "questions"),
])
def test_refused_routines_name_the_field(client, db, space, change, field):
    response = client.post(_url(space), headers=space.as_coordinator,
                           json={"name": "Broken", **change})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["field"] == field
    assert _count(db, Routine) == 0


EVERY_SECOND = ("FREQ=HOURLY;BYMINUTE=" + ",".join(map(str, range(60)))
                + ";BYSECOND=" + ",".join(map(str, range(60))))
TOO_OFTEN = "prompts more than once an hour"
NEVER_COMES = "never comes round within 400 days"


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"cadence": "custom", "rule": EVERY_SECOND}, "rule", TOO_OFTEN),
    ({"cadence": "custom", "rule": "FREQ=DAILY;BYHOUR=9,10;BYMINUTE=0,30"}, "rule", TOO_OFTEN),
    ({"cadence": "custom", "rule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rule",
     NEVER_COMES),
    ({"cadence": "custom", "rule": "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30"}, "rule",
     NEVER_COMES),
    ({**WEEKLY, "anchor_on": "1900-01-01"}, "anchor_on", "or later"),
    ({**WEEKLY, "anchor_on": "2100-01-01"}, "anchor_on", "at the latest"),
])
def test_unbounded_rules_and_anchors_are_refused(client, db, space, change, field, words):
    response = client.post(_url(space), headers=space.as_coordinator,
                           json={"name": "Unbounded", **change})
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["field"] == field and words in body["message"]
    assert _count(db, Routine) == 0


def test_a_change_to_an_unbounded_rule_is_refused(client, db, space):
    created = client.post(_url(space), headers=space.as_coordinator, json={
        "name": "Weekly", **WEEKLY}).get_json()
    response = client.patch(_url(space, f"/{created['id']}"), headers=space.as_coordinator,
                            json={"rule": "FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31"})
    assert response.status_code == 422 and response.get_json()["field"] == "rule"
    assert NEVER_COMES in response.get_json()["message"]
    assert db.session.get(Routine, created["id"]).rule == created["rule"]


def test_members_read_but_only_coordinators_set_up(client, db, space):
    body = {"name": "Mine", "cadence": "weekly", "weekday": "MO", "time": "08:00"}
    assert client.post(_url(space), headers=space.as_staff, json=body).status_code == 403
    assert client.post(_url(space), headers=space.as_observer, json=body).status_code == 403
    assert _count(db, Routine) == 0
    routine_id = client.post(_url(space), headers=space.as_coordinator, json=body).get_json()["id"]
    assert client.get(_url(space, f"/{routine_id}"), headers=space.as_staff).status_code == 200
    for method, tail in [("PATCH", ""), ("DELETE", ""), ("POST", "/pause"),
                         ("POST", "/resume"), ("GET", "/response-rates")]:
        response = client.open(_url(space, f"/{routine_id}{tail}"), method=method,
                               headers=space.as_staff, json={} if method == "PATCH" else None)
        assert response.status_code == 403, (method, tail)
    assert db.session.get(Routine, routine_id).name == "Mine"


def test_change_pause_resume_and_remove(client, db, space):
    created = client.post(_url(space), headers=space.as_coordinator, json={
        "name": "Weekly", "cadence": "weekly", "weekday": "MO", "time": "08:00",
        "timezone": CPH, "roles": ["coordinator"]}).get_json()
    item = _url(space, f"/{created['id']}")
    changed = client.patch(item, headers=space.as_coordinator,
                           json={"rule": "FREQ=DAILY;BYHOUR=7"}).get_json()
    assert (changed["cadence"], changed["rule"]) == ("custom", "FREQ=DAILY;BYHOUR=7")
    assert changed["name"] == "Weekly" and changed["roles"] == ["coordinator"]
    renamed = client.patch(item, headers=space.as_coordinator, json={
        "name": "Every Thursday", "cadence": "weekly", "weekday": "TH", "time": "10:30"})
    assert renamed.get_json()["rule"] == "FREQ=WEEKLY;BYDAY=TH;BYHOUR=10;BYMINUTE=30;BYSECOND=0"

    paused = client.post(item + "/pause", headers=space.as_coordinator).get_json()
    assert paused["paused"] is True and paused["next_prompt_at"] is None
    assert paused["paused_at"] is not None
    resumed = client.post(item + "/resume", headers=space.as_coordinator).get_json()
    assert resumed["paused"] is False and resumed["next_prompt_at"] is not None

    assert client.delete(item, headers=space.as_coordinator).status_code == 204
    assert client.get(item, headers=space.as_coordinator).status_code == 404
    assert _count(db, Routine) == 0


def test_a_member_takes_and_ends_leave(client, db, space):
    leave = f"/api/v1/collaborations/{space.collab.id}/leave"
    today = datetime.now(ZoneInfo(space.collab.timezone)).date()
    past = client.put(leave, headers=space.as_staff,
                      json={"until": (today - timedelta(days=1)).isoformat()})
    assert past.status_code == 422 and past.get_json()["field"] == "until"
    until = (today + timedelta(days=14)).isoformat()
    response = client.put(leave, headers=space.as_staff, json={"until": until})
    assert response.status_code == 200
    assert response.get_json() == {"collaboration_id": space.collab.id, "until": until}
    later = (today + timedelta(days=20)).isoformat()
    assert client.put(leave, headers=space.as_staff, json={"until": later}).status_code == 200
    rows = db.session.scalars(select(PromptLeave)).all()
    assert [(r.user_id, r.until.isoformat()) for r in rows] == [(space.staff.user_id, later)]
    assert client.delete(leave, headers=space.as_staff).status_code == 204
    assert _count(db, PromptLeave) == 0


# -- response rates -------------------------------------------------------------------------

def local(*args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(CPH)).astimezone(UTC)


def two_periods(db, collab, coordinator, staff) -> Routine:
    """A weekly Monday 09:00 routine prompts everyone twice (5 and 12 January 2026); the staff
    member answers in the first week, the coordinator in the second."""
    coordinating = policy.actor_for(coordinator.user)
    routine = routines.create_routine(coordinating, collab, name="Weekly", cadence="weekly",
                                      weekday="MO", time="09:00", timezone=CPH,
                                      anchor_on=date(2026, 1, 1))
    db.session.commit()
    assert run_due(local(2026, 1, 5, 9, 1)).prompts == 3
    with freeze_time(local(2026, 1, 7, 12)):
        reflections.post_reflection(policy.actor_for(staff.user), collab, body="Week one",
                                    **REFLECTION)
        db.session.commit()
    assert run_due(local(2026, 1, 12, 9, 1)).prompts == 3
    with freeze_time(local(2026, 1, 13, 12)):
        reflections.post_reflection(coordinating, collab, body="Week two", **REFLECTION)
        db.session.commit()
    assert _count(db, Prompt) == 6
    return routine


def test_response_rates_per_period_and_partner(client, db, space):
    routine = two_periods(db, space.collab, space.coordinator, space.staff)
    url = _url(space, f"/{routine.id}/response-rates")
    assert client.get(url, headers=space.as_observer).status_code == 403
    response = client.get(url, headers=space.as_coordinator)
    assert response.status_code == 200
    body = response.get_json()
    assert body["routine_id"] == routine.id
    second, first = body["periods"]
    assert (second["period_start"], second["period_end"]) == (
        "2026-01-12T08:00:00+00:00", "2026-01-19T08:00:00+00:00")
    assert first["period_start"] == "2026-01-05T08:00:00+00:00"
    assert (first["prompts"], first["answered"]) == (3, 1)
    assert first["rate"] == pytest.approx(1 / 3)
    assert first["partners"] == [
        {"partner_id": space.partner.id, "partner_name": space.partner.name, "prompts": 1,
         "answered": 1, "rate": 1.0},
        {"partner_id": None, "partner_name": None, "prompts": 2, "answered": 0, "rate": 0.0}]
    assert (second["prompts"], second["answered"]) == (3, 1)
    assert second["partners"] == [
        {"partner_id": space.partner.id, "partner_name": space.partner.name, "prompts": 1,
         "answered": 0, "rate": 0.0},
        {"partner_id": None, "partner_name": None, "prompts": 2, "answered": 1, "rate": 0.5}]


def test_no_prompts_yet_is_an_empty_list(client, db, space):
    routine = routines.create_routine(policy.actor_for(space.coordinator.user), space.collab,
                                      name="New", cadence="weekly", weekday="MO", time="09:00")
    db.session.commit()
    body = client.get(_url(space, f"/{routine.id}/response-rates"),
                      headers=space.as_coordinator).get_json()
    assert body == {"routine_id": routine.id, "periods": []}


def test_routines_are_listed_in_pages_like_every_other_list(client, db, space):
    actor = policy.actor_for(space.coordinator.user)
    for name in ("Cafe", "Alpha", "Bravo"):
        routines.create_routine(actor, space.collab, name=name, cadence="weekly",
                                weekday="MO", time="09:00")
    db.session.commit()
    first = client.get(_url(space) + "?page_size=2", headers=space.as_staff).get_json()
    assert [r["name"] for r in first["items"]] == ["Alpha", "Bravo"]
    assert (first["page"], first["page_size"], first["total"], first["total_pages"]) == (
        1, 2, 3, 2)
    second = client.get(_url(space) + "?page=2&page_size=2", headers=space.as_staff).get_json()
    assert [r["name"] for r in second["items"]] == ["Cafe"]
    too_many = client.get(_url(space) + "?page_size=101", headers=space.as_staff)
    assert too_many.status_code == 422 and "page_size" in too_many.get_json()["errors"]["query"]
