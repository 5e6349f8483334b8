"""Sealed unannounced visits: committed before the visit, hidden from the inspected side,
revealed after, and provably fixed in advance."""

from __future__ import annotations

import pytest

from core.actors import Actor, Role
from core.errors import InvalidInput, NotFound, RuleViolation
from core.services.visits import visit_commitment
from tests.helpers import World, notification_count

NONCE = "0f9e8d7c6b5a4938"
AUDITOR = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")


@pytest.fixture
def world(app) -> World:
    return World(app)


def candidacy(world: World) -> tuple[str, str]:
    campaign = world.setup()
    world.app.open_campaign(world.owner, campaign)
    return campaign, world.apply(campaign, "c1")


def test_a_sealed_plan_is_revealed_after_the_visit_and_proved_fixed_in_advance(world):
    app = world.app
    campaign, cid = candidacy(world)
    commitment = visit_commitment(cid, "2020-06-01", "随机数-7f3a-9c01-44be-a2d0")
    plan = app.seal_visit_plan(world.inspector, campaign, commitment, on="2020-05-20")
    # the inspected side cannot see it; the inspector and auditors can, but only the hash
    for inspected in (world.community, world.street_a):
        with pytest.raises(NotFound):
            app.visit_plan(inspected, plan)
        with pytest.raises(NotFound):
            app.history(inspected, plan)
        with pytest.raises(NotFound):
            app.stream_at(inspected, plan, version=1)
    sealed = app.visit_plan(AUDITOR, plan)
    assert sealed.commitment == commitment and sealed.revealed is None
    assert cid not in str(app.history(AUDITOR, plan))
    assert app.audit_visit_plan(AUDITOR, plan)["fixed_in_advance"] is None

    visit = app.conduct_inspection(world.inspector, cid, "unannounced", "2020-06-01", ["甲"])
    app.reveal_visit_plan(world.inspector, plan, cid, "2020-06-01", "随机数-7f3a-9c01-44be-a2d0", visit, on="2020-06-02")
    assert app.visit_plan(world.community, plan).revealed["inspection_id"] == visit
    proof = app.audit_visit_plan(AUDITOR, plan)
    assert proof["commitment_matches"] and proof["fixed_in_advance"]
    assert proof["sealed_at"] < proof["inspection_recorded_at"]


def test_a_plan_sealed_after_the_visit_was_recorded_is_not_proof(world):
    app = world.app
    campaign, cid = candidacy(world)
    visit = app.conduct_inspection(world.inspector, cid, "unannounced", "2020-06-01", ["甲"])
    plan = app.seal_visit_plan(world.inspector, campaign, visit_commitment(cid, "2020-06-01", NONCE))
    app.reveal_visit_plan(world.inspector, plan, cid, "2020-06-01", NONCE, visit)
    proof = app.audit_visit_plan(AUDITOR, plan)
    assert proof["commitment_matches"] and proof["fixed_in_advance"] is False


def test_reveals_that_do_not_match_are_refused_and_record_nothing(world):
    app = world.app
    campaign, cid = candidacy(world)
    plan = app.seal_visit_plan(world.inspector, campaign, visit_commitment(cid, "2020-06-01", NONCE))
    announced = app.conduct_inspection(world.inspector, cid, "announced", "2020-06-01", ["甲"])
    before = notification_count(app)
    with pytest.raises(RuleViolation, match="do not match the sealed commitment"):
        app.reveal_visit_plan(world.inspector, plan, cid, "2020-06-02", NONCE, announced)
    with pytest.raises(RuleViolation, match="the plan names an unannounced visit"):
        app.reveal_visit_plan(world.inspector, plan, cid, "2020-06-01", NONCE, announced)
    with pytest.raises(InvalidInput, match="16 to 200 characters"):
        app.reveal_visit_plan(world.inspector, plan, cid, "2020-06-01", "short", announced)
    with pytest.raises(RuleViolation, match="do not match"):  # the nonce is used exactly as sealed
        app.reveal_visit_plan(world.inspector, plan, cid, "2020-06-01", " " + NONCE, announced)
    with pytest.raises(InvalidInput) as bad:
        app.seal_visit_plan(world.inspector, campaign, "not-a-hash")
    assert bad.value.field == "commitment"
    assert notification_count(app) == before
