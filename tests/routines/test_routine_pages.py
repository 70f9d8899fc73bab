"""The routine pages: coordinators set up routines with a preset or a raw RRULE, see refusals
next to the field with everything kept, pause, resume and remove them, and read response
rates; members see the routines and pause their own prompts; others get 403 or 404."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from coprod import policy
from coprod.accounts.models import Role
from coprod.routines import operations as routines
from coprod.routines import schedule
from coprod.routines.models import Prompt, PromptLeave, Routine
from coprod.routines.sweep import run_due
from tests.api.test_routines import local, two_periods
from tests.factories import CollaborationFactory, PartnerFactory, member
from tests.routines.due import due_routine
from tests.routines.test_schedule import EVERY_SECOND, NEVER, _scan_bounded

CPH = "Europe/Copenhagen"


@pytest.fixture
def space(db):
    """A collaboration in Copenhagen with two partners, a member of each kind, and one
    elsewhere."""
    collab = CollaborationFactory(title="Meaningful work", timezone=CPH)
    job_centre = PartnerFactory(collaboration=collab, organization__name="Job centre")
    cafe = PartnerFactory(collaboration=collab, organization__name="Café Solsikke")
    s = SimpleNamespace(
        collab=collab, job_centre=job_centre, cafe=cafe,
        coordinator=member(collab, Role.COORDINATOR, display_name="Cora Coordinator"),
        staff=member(collab, Role.PARTNER_STAFF, job_centre, display_name="Jens Jobcentre"),
        observer=member(collab, Role.OBSERVER, display_name="Olga Observer"),
    )
    elsewhere = CollaborationFactory(title="Somewhere else")
    s.elsewhere = elsewhere
    s.outsider = member(elsewhere, Role.COORDINATOR)
    s.their_routine = routines.create_routine(policy.actor_for(s.outsider.user), elsewhere,
                                              name="Theirs", cadence="weekly", weekday="MO",
                                              time="09:00")
    db.session.commit()
    return s


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def _url(space, rest=""):
    return f"/c/{space.collab.id}/routines{rest}"


def _form(**changes) -> dict:
    data = {"name": "Staff reflection", "cadence": "fortnightly", "weekday": "TU",
            "time": "09:00", "rule": "", "timezone": CPH,
            **{f"questions-{i}": q for i, q in enumerate(
                ["What works for us?", "What works for the citizens?", "What must improve?",
                 "", ""])}}
    data.update(changes)
    return data


def test_the_new_form_starts_with_the_defaults(client, sign_in, space):
    sign_in(space.coordinator.user)
    response = client.get(_url(space, "/new"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'value="What works for us locally in the collaboration?"' in page
    assert 'value="What needs to be improved?"' in page
    assert page.count('name="questions-') == 5
    assert f'name="timezone" type="text" value="{CPH}"' in page
    assert '<option selected value="fortnightly">' in page
    assert 'name="rule"' in page and "Custom (an iCalendar RRULE)" in page
    assert 'value="partner_staff"' in page and "Job centre" in page and "Café Solsikke" in page
    assert 'aria-current="page">Routines' in page


@pytest.mark.parametrize(("cadence", "words", "rule"), [
    ("weekly", "Every Tuesday at 09:00", "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
    ("fortnightly", "Every other Tuesday at 09:00",
     "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
    ("monthly", "The first Tuesday of each month at 09:00",
     "FREQ=MONTHLY;BYDAY=1TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
])
def test_a_coordinator_sets_up_each_preset(client, db, sign_in, space, cadence, words, rule):
    sign_in(space.coordinator.user)
    response = client.post(_url(space, "/new"), data=_form(
        cadence=cadence, roles=["partner_staff"], partners=[str(space.cafe.id)],
        nudge_after_days="3"), follow_redirects=True)
    assert response.status_code == 200
    page = _text(response)
    assert "The routine “Staff reflection” is set up." in page
    assert words in page and f"Time zone: {CPH}" in page
    assert "Roles: Partner staff; Partner organizations: Café Solsikke" in page
    assert "A reminder after 3 days" in page
    routine = db.session.scalar(select(Routine).where(Routine.collaboration_id == space.collab.id))
    assert routine.rule == rule and routine.timezone == CPH
    assert routine.questions == ["What works for us?", "What works for the citizens?",
                                 "What must improve?"]
    assert routine.anchor_on == datetime.now(ZoneInfo(CPH)).date()
    # the next prompt, shown in the routine's own time zone, is a Tuesday at 09:00
    assert re.search(r"Next prompt.*?(\w{3} \d+, \d{4}, 9:00\s?AM) \(Europe/Copenhagen\)",
                     page)


def test_a_raw_rrule(client, db, sign_in, space):
    sign_in(space.coordinator.user)
    response = client.post(_url(space, "/new"), data=_form(
        cadence="custom", time="", rule="RRULE:FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=14"),
        follow_redirects=True)
    assert "Custom rule: FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=14" in _text(response)
    assert "Every member" in _text(response)
    assert db.session.scalar(select(Routine.rule).where(
        Routine.collaboration_id == space.collab.id)) == "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=14"


def test_a_bad_rrule_is_shown_next_to_the_field_with_everything_kept(client, db, sign_in,
                                                                      space):
    sign_in(space.coordinator.user)
    response = client.post(_url(space, "/new"), data=_form(
        name="Keep me", cadence="custom", rule="FREQ=SOMETIMES;BYHOUR=9",
        roles=["observer"], partners=[str(space.job_centre.id)], nudge_after_days="4",
        **{"questions-3": "A fourth question"}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(r'<p class="error" id="rule-error">([^<]*)</p>', page)
    assert error and "not a recurrence rule" in error.group(1)
    assert 'aria-describedby="rule-help rule-error"' in page and 'aria-invalid="true"' in page
    assert 'value="Keep me"' in page and 'value="FREQ=SOMETIMES;BYHOUR=9"' in page
    assert 'value="A fourth question"' in page and 'value="4"' in page
    assert re.search(r'value="observer"\s+checked', page)
    assert re.search(rf'value="{space.job_centre.id}"\s+checked', page)
    assert '<option selected value="custom">' in page
    assert db.session.scalar(select(func.count()).select_from(Routine)) == 1  # theirs only


@pytest.mark.parametrize(("rule", "words"), [
    (EVERY_SECOND, "prompts more than once an hour"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never comes round within 400 days"),
])
def test_an_unbounded_rrule_is_refused_next_to_the_field(client, db, sign_in, space, rule,
                                                        words):
    sign_in(space.coordinator.user)
    response = client.post(_url(space, "/new"), data=_form(cadence="custom", rule=rule))
    assert response.status_code == 422
    error = re.search(r'<p class="error" id="rule-error">([^<]*)</p>',
                      response.get_data(as_text=True))
    assert error and words in error.group(1)
    assert db.session.scalar(select(func.count()).select_from(Routine)) == 1  # theirs only


def test_stored_unbounded_rules_neither_slow_nor_break_the_page_and_the_sweep(
        client, db, sign_in, space, dateutil_spy):
    """Rows saved before rules were checked: the page shows no next prompt for them, the
    sweep reports the one it cannot schedule and prompts the others; every evaluation is
    bounded (dateutil starts within one calendar cycle of the year 9999 and walks at most
    MAX_STEPS occurrences)."""
    stored = [Routine(collaboration_id=space.collab.id, name=name, rule=rule,
                      anchor_on=date(1900, 1, 1), timezone=CPH, questions=[])
              for name, rule in [("Every second", EVERY_SECOND), *[
                  (f"Never {n}", rule) for n, rule in enumerate(NEVER)]]]
    db.session.add_all(stored)
    due = due_routine(space.collab, name="Daily")
    db.session.commit()
    sign_in(space.coordinator.user)
    page = client.get(_url(space))
    assert page.status_code == 200
    text = _text(page)
    assert "Every second" in text and text.count("No more prompts") == len(stored)
    result = run_due()
    assert [e.split(":")[0] for e in result.errors] == [f"routine {stored[0].id}"]
    assert db.session.scalar(select(func.count()).select_from(Prompt).where(
        Prompt.routine_id == due.id)) == 3  # the three members of the collaboration
    assert db.session.scalar(select(func.count()).select_from(Prompt).where(
        Prompt.routine_id.in_([r.id for r in stored]))) == 0
    _scan_bounded(dateutil_spy)
    assert dateutil_spy["steps"] <= 3 * (schedule.MAX_STEPS + 1)


def test_a_bad_time_zone_is_shown_next_to_its_field(client, db, sign_in, space):
    sign_in(space.coordinator.user)
    response = client.post(_url(space, "/new"), data=_form(timezone="Mars/Olympus"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'<p class="error" id="timezone-error">Use a time zone name', page)
    assert 'value="Mars/Olympus"' in page


def test_staff_get_403_and_other_collaborations_404(client, db, sign_in, space):
    sign_in(space.staff.user)
    assert client.get(_url(space, "/new")).status_code == 403
    assert client.post(_url(space, "/new"), data=_form()).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Routine)) == 1
    theirs = space.their_routine.id
    assert client.get(f"/c/{space.elsewhere.id}/routines").status_code == 404
    client.post("/logout")
    sign_in(space.coordinator.user)
    # a routine of another collaboration, under this collaboration's URL
    for rest in (f"/{theirs}/edit", f"/{theirs}/responses"):
        assert client.get(_url(space, rest)).status_code == 404
    for rest in (f"/{theirs}/pause", f"/{theirs}/delete", f"/{theirs}/unsubscribe"):
        assert client.post(_url(space, rest)).status_code == 404
    db.session.expire_all()
    assert db.session.get(Routine, theirs).paused_at is None


def test_members_see_routines_without_the_controls(client, db, sign_in, space):
    routine = routines.create_routine(policy.actor_for(space.coordinator.user), space.collab,
                                      name="Weekly", cadence="weekly", weekday="MO",
                                      time="08:30")
    db.session.commit()
    sign_in(space.staff.user)
    response = client.get(_url(space))
    page = _text(response)
    assert "Weekly" in page and "Every Monday at 08:30" in page and "Every member" in page
    assert "Set up a routine" not in page and "Pause “Weekly”" not in page
    assert "Response rates" not in page and "Remove “Weekly”" not in page
    assert client.post(_url(space, f"/{routine.id}/pause")).status_code == 403
    assert client.get(_url(space, f"/{routine.id}/edit")).status_code == 403
    assert client.get(_url(space, f"/{routine.id}/responses")).status_code == 403
    # their own emails: stop them and get them again
    page = _text(client.post(_url(space, f"/{routine.id}/unsubscribe"), follow_redirects=True))
    assert "You no longer get the prompts of “Weekly”." in page and "You unsubscribed" in page
    page = _text(client.post(_url(space, f"/{routine.id}/resubscribe"), follow_redirects=True))
    assert "You get the prompts of “Weekly” again." in page


def test_pause_resume_edit_and_remove(client, db, sign_in, space):
    routine = routines.create_routine(policy.actor_for(space.coordinator.user), space.collab,
                                      name="Weekly", cadence="weekly", weekday="MO",
                                      time="08:30", questions=["Only this?"])
    db.session.commit()
    sign_in(space.coordinator.user)
    page = _text(client.post(_url(space, f"/{routine.id}/pause"), follow_redirects=True))
    assert "is paused" in page and "Paused" in page and "None while paused" in page
    db.session.expire_all()
    assert db.session.get(Routine, routine.id).paused_at is not None
    page = _text(client.post(_url(space, f"/{routine.id}/resume"), follow_redirects=True))
    assert "The routine “Weekly” prompts again." in page
    edit = client.get(_url(space, f"/{routine.id}/edit")).get_data(as_text=True)
    assert 'value="Only this?"' in edit and '<option selected value="weekly">' in edit
    assert '<option selected value="MO">' in edit and 'value="08:30"' in edit
    response = client.post(_url(space, f"/{routine.id}/edit"), data=_form(
        name="Renamed", cadence="monthly", weekday="WE", time="14:00"), follow_redirects=True)
    assert "The first Wednesday of each month at 14:00" in _text(response)
    db.session.expire_all()
    assert db.session.get(Routine, routine.id).name == "Renamed"
    page = _text(client.post(_url(space, f"/{routine.id}/delete"), follow_redirects=True))
    assert "The routine “Renamed” is removed." in page
    assert db.session.get(Routine, routine.id) is None


def test_a_member_pauses_their_own_prompts(client, db, sign_in, space):
    routines.create_routine(policy.actor_for(space.coordinator.user), space.collab,
                            name="Weekly", cadence="weekly", weekday="MO", time="09:00",
                            anchor_on=date(2026, 1, 1))
    db.session.commit()
    sign_in(space.staff.user)
    page = client.get(_url(space, "/leave")).get_data(as_text=True)
    assert '<label for="until">' in page and "End my leave now" not in page
    today = datetime.now(ZoneInfo(CPH)).date()
    refused = client.post(_url(space, "/leave"),
                          data={"until": (today - timedelta(days=1)).isoformat()})
    assert refused.status_code == 422
    assert re.search(r'id="until-error">The leave must end today or later', refused.get_data(
        as_text=True))
    until = today + timedelta(days=400)
    page = _text(client.post(_url(space, "/leave"), data={"until": until.isoformat()},
                             follow_redirects=True))
    assert "Your prompts are paused until" in page and "End my leave now" in page
    assert db.session.scalar(select(PromptLeave.until)) == until
    # on leave, the sweep prompts the others only
    run_due(local(2026, 1, 5, 9, 1))
    assert set(db.session.scalars(select(Prompt.user_id))) == {
        space.coordinator.user_id, space.observer.user_id}
    page = _text(client.post(_url(space, "/leave/end"), follow_redirects=True))
    assert "Your prompts come again." in page
    assert db.session.scalar(select(func.count()).select_from(PromptLeave)) == 0


def test_response_rates_page(client, db, sign_in, space):
    routine = two_periods(db, space.collab, space.coordinator, space.staff)
    sign_in(space.coordinator.user)
    response = client.get(_url(space, f"/{routine.id}/responses"))
    assert response.status_code == 200
    page = _text(response)
    periods = page[page.index("Per period"):page.index("Per partner organization")]
    assert periods.index("Jan 12, 2026") < periods.index("Jan 5, 2026")
    assert "Jan 12, 2026 3 1 33%" in periods and "Jan 5, 2026 3 1 33%" in periods
    by_partner = page[page.index("Per partner organization"):]
    assert "Jan 12, 2026: 1 of 3 (33%)" in by_partner
    first_week = by_partner[by_partner.index("Jan 5, 2026: 1 of 3 (33%)"):]
    assert "Job centre 1 1 100%" in first_week
    assert "No partner organization 2 0 0%" in first_week
    html = response.get_data(as_text=True)
    assert '<th scope="col">Response rate</th>' in html and '<caption id="per-period">' in html
