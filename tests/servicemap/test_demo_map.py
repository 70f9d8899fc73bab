"""The demo's service map is the worked example: six steps, two co-produced, realistic flows,
and seeding twice adds nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from coprod.servicemap import queries
from coprod.servicemap.models import Activity
from tests.test_demo import seeded


def test_the_demo_maps_the_worked_example(db):
    _result, coordinator, collaboration = seeded(db)
    service = queries.service_map(coordinator, collaboration)
    assert [a.name for a in service.activities] == [
        "First meeting with the case worker", "Mapping wishes and abilities",
        "Finding a workplace", "Preparing and transport", "Working with a mentor", "Follow-up"]
    assert [a.name for a in service.activities if a.co_produced] == [
        "Finding a workplace", "Working with a mentor"]
    assert [c.name for c in service.categories] == [
        "Contact details", "Progress notes", "Support needs", "Work preferences"]
    mentor = service.activities[4]
    assert [p.name for p in mentor.performers] == ["Café Solsikke", "Skovby Animal Shelter"]
    assert {(f.from_partner.name, f.to_partner.name, tuple(c.name for c in f.categories))
            for f in mentor.flows} == {
        ("Café Solsikke", "Skovby Job Centre", ("Progress notes",)),
        ("Skovby Animal Shelter", "Skovby Job Centre", ("Progress notes",))}
    seeded(db)
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 6
