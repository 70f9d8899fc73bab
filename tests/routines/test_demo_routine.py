"""Issue 5's "done when", on the demo: when the coordinator's fortnightly Tuesday 09:00 routine
for staff comes round, one sweep sends each staff member one prompt email; its link opens the
pre-filled form, the reflection posted from it counts as the answer, and the nudge skips those
who answered."""

from __future__ import annotations

import re
from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import select

from coprod import demo
from coprod.accounts.models import Role, User
from coprod.common import utcnow
from coprod.mail.models import OutboxEmail
from coprod.reflections.models import Reflection
from coprod.routines import schedule, sweep
from coprod.routines.models import Prompt, Routine

PASSWORD = "demo password for tests"


def test_the_demo_routine_prompts_each_staff_member_once_and_nudges_only_the_silent(
        db, new_client):
    demo.seed(PASSWORD)
    db.session.commit()
    routine = db.session.scalar(select(Routine).where(Routine.name == demo.ROUTINE["name"]))
    due = schedule.next_occurrence(routine.rule, routine.anchor_on, routine.timezone, utcnow())
    local = due.astimezone(schedule.zone(routine.timezone))
    assert (local.strftime("%a"), local.hour, local.minute) == ("Tue", 9, 0)

    with freeze_time(due + timedelta(minutes=5)):
        answer_the_prompt(db, new_client, routine, due)
    later = due + timedelta(days=routine.nudge_after_days, hours=1)
    with freeze_time(later):
        nudged = sweep.run_due(later)
        db.session.commit()
    staff = {p.email for p in demo.PEOPLE if p.role == Role.PARTNER_STAFF}
    assert nudged.nudges == len(staff) - 1
    nudges = db.session.scalars(select(OutboxEmail.to_address).where(
        OutboxEmail.key.like("nudge:%"))).all()
    assert "cafe@demo.example.org" not in nudges and len(nudges) == len(staff) - 1


def answer_the_prompt(db, new_client, routine, due):
    """The sweep at 09:00 prompts each staff member once; the café answers from its link."""
    first = sweep.run_due(due)
    db.session.commit()
    assert sweep.run_due(due + timedelta(minutes=1)).prompts == 0  # once, however often
    staff = {p.email for p in demo.PEOPLE if p.role == Role.PARTNER_STAFF}
    prompts = db.session.scalars(select(Prompt).where(Prompt.period_start == due)).all()
    assert first.prompts == len(prompts) == len(staff)
    emails = db.session.scalars(select(OutboxEmail).where(
        OutboxEmail.key.in_([f"prompt:{p.id}" for p in prompts]))).all()
    assert sorted(e.to_address for e in emails) == sorted(staff)

    cafe = next(e for e in emails if e.to_address == "cafe@demo.example.org")
    link = re.search(r"http://localhost(/r/\S+)", cafe.body_text).group(1)
    client = new_client()
    client.post("/login", data={"email": "cafe@demo.example.org", "password": PASSWORD})
    form = client.get(link, follow_redirects=True)
    assert form.status_code == 200 and "What works for the citizens?" in form.get_data(
        as_text=True)
    token = re.search(r'name="prompt"[^>]*value="([^"]+)"', form.get_data(as_text=True))
    collaboration_id = routine.collaboration_id
    posted = client.post(f"/c/{collaboration_id}/reflections/new", data={
        "prompt": token.group(1), "kind": "works", "perspective": "citizens",
        "component": "routines", "learning_level": "inter", "mode": "exploitation",
        "body": "The shift plan on Fridays works.", "visibility": "collaboration",
        "attribution": "person"})
    assert posted.status_code == 302
    cafe_user = db.session.scalar(select(User).where(User.email == "cafe@demo.example.org"))
    answer = db.session.scalar(select(Reflection).where(
        Reflection.body == "The shift plan on Fridays works."))
    cafe_prompt = next(p for p in prompts if p.user_id == cafe_user.id)
    assert answer.prompt_id == cafe_prompt.id
