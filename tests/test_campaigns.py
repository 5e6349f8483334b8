"""Campaign set-up: pinned rubric, schedule, status changes and who may read history."""

from __future__ import annotations

import pytest

from core.actors import Actor, Role
from core.domain.campaign import CANCELLED, CLOSED, OPEN
from core.errors import NotFound, RuleViolation
from core.permissions import NotOwnStreet
from tests.helpers import World, notification_count, sheet
from tests.test_lifecycle import run_to_decision


@pytest.fixture
def world(app) -> World:
    return World(app)


def test_campaign_pins_rubric_and_takes_the_plugin_schedule(world):
    app = world.app
    campaign = app.campaign(world.owner, world.setup())
    assert campaign.rubric == {"id": "tianjin-meili", "version": "2017", "hash": world.rubric.content_hash}
    assert campaign.levels == ["meili", "jingpin"]
    kinds = [p["kind"] for p in campaign.schedule]
    assert kinds[:2] == ["plan", "application"] and "notice" in kinds and kinds[-1] == "supervision"
    assert campaign.phase("application")["end"] == "2020-03-12"
    # the rubric version is stored in the ledger, readable without asking the plugin
    assert app.rubric_by_hash(campaign.rubric["hash"]) == world.rubric


def test_rescheduling_the_application_phase_moves_the_freeze(world):
    app = world.app
    campaign_id = world.setup()
    app.open_campaign(world.owner, campaign_id)
    with pytest.raises(RuleViolation, match="frozen"):
        world.apply(campaign_id, "c1", on="2020-03-20")
    before = notification_count(app)
    with pytest.raises(RuleViolation, match="cannot reopen"):
        app.reschedule_phase(world.owner, campaign_id, "application", "2020-03-01", "2020-03-31", "延期", on="2020-03-15")
    assert notification_count(app) == before
    app.reschedule_phase(world.owner, campaign_id, "application", "2020-03-01", "2020-03-31", "疫情延期", on="2020-03-05")
    world.apply(campaign_id, "c1", on="2020-03-20")
    history = app.history(world.owner, campaign_id)
    moved = [h for h in history if h["event"] == "Campaign.PhaseRescheduled"]
    assert moved[0]["reason"] == "疫情延期" and moved[0]["data"]["end"] == "2020-03-31"


def test_cancel_and_close(world):
    app = world.app
    campaign_id = world.setup()
    app.open_campaign(world.owner, campaign_id)
    with pytest.raises(RuleViolation, match="no decisions"):
        app.close_campaign(world.owner, campaign_id)
    app.cancel_campaign(world.owner, campaign_id, "计划调整")
    assert app.campaign(world.owner, campaign_id).status == CANCELLED
    before = notification_count(app)
    with pytest.raises(RuleViolation, match="cancelled"):
        world.apply(campaign_id, "c1")
    assert notification_count(app) == before


def test_decided_campaign_closes(world):
    app = world.app
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-20")
    assert app.campaign(world.owner, ids["campaign"]).status == OPEN
    app.close_campaign(world.owner, ids["campaign"], on="2020-12-01")
    assert app.campaign(world.owner, ids["campaign"]).status == CLOSED


def test_history_is_scoped_to_the_tenant(world):
    app = world.app
    campaign_id = world.setup()
    outsider = Actor(id="x", role=Role.AUDITOR, organisation="外市审计", tenant="beijing")
    with pytest.raises(NotFound):
        app.history(outsider, campaign_id)
    everywhere = Actor(id="y", role=Role.AUDITOR, organisation="省审计", tenant="*")
    events = app.history(everywhere, campaign_id)
    assert events[0]["event"] == "Campaign.Created"
    assert events[0]["actor"] == {"id": "owner", "role": "city_owner", "org": "天津市民政局"}
    assert events[0]["rubric"] == world.rubric.content_hash


def test_a_sheet_naming_one_item_twice_is_refused(world):
    app = world.app
    campaign_id = world.setup()
    app.open_campaign(world.owner, campaign_id)
    cid = world.apply(campaign_id, "c1")
    before = notification_count(app)
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="each item id once"):
        app.submit_score_sheet(world.community, cid, "self", {"1": "2", 1: "0.5"})
    assert notification_count(app) == before


def test_a_level_made_official_loses_its_provisional_note(world):
    app = world.app
    world.setup()
    app.configure_rubric(
        world.owner, "tianjin-meili@2017", "2017-city.1",
        {"levels": {"jingpin": {"provisional": False, "label": "精品美丽社区"}}}, "市级精品标准发布",
    )
    rubric, provider = app.resolve_rubric(world.owner, "tianjin-meili", "2017-city.1")
    level = rubric.level("jingpin")
    assert provider == "tenant tianjin"
    assert (level.provisional, level.note, level.label) == (False, "", "精品美丽社区")
    assert not rubric.is_provisional


def test_odd_input_types_get_domain_errors_and_record_nothing(world):
    from core.errors import InvalidInput

    app = world.app
    campaign_id = world.setup()
    app.open_campaign(world.owner, campaign_id)
    cid = world.apply(campaign_id, "c1")
    app.review(world.district, cid, "approve", on="2020-03-11")
    visit = app.conduct_inspection(world.inspector, cid, "announced", "2020-05-01", ["甲"])
    before = notification_count(app)
    attempts = [
        ("finding_id", lambda: app.plan_rectification(world.community, visit, ["F1"], "计划")),
        ("veto_id", lambda: app.record_veto(world.assessors[0], cid, ["V1"], "理由")),
        ("veto_id", lambda: app.withdraw_veto(world.owner, cid, {"V1": 1}, "理由")),
        ("objection_id", lambda: app.resolve_objection(world.owner, cid, ["x"], True, "理由")),
        ("base", lambda: app.configure_rubric(world.owner, None, "v2", {}, "理由")),
        ("facts.楼栋数", lambda: world.app.apply(world.street_a, campaign_id, world.communities["c2"], "meili",
                                              sheet(world.rubric, 90), facts={"楼栋数": float("nan")}, on="2020-03-10")),
        ("scores[1]", lambda: app.submit_score_sheet(world.assessors[0], cid, "official", {"1": "1e-999999999"})),
    ]
    for field, attempt in attempts:
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert caught.value.field == field
    assert notification_count(app) == before


def test_a_street_officer_rectifies_only_its_own_communities(world):
    from tests.helpers import evidence

    app = world.app
    campaign_id = world.setup()
    app.open_campaign(world.owner, campaign_id)
    cid = world.apply(campaign_id, "c1")  # c1 lies in 张贵庄街道 (street_a)
    visit = app.conduct_inspection(world.inspector, cid, "announced", "2020-05-01", ["甲"])
    finding = app.record_finding(world.inspector, visit, "38", "卫生死角", "minor", "清理", "2020-08-31")
    before = notification_count(app)
    with pytest.raises(NotOwnStreet, match="belongs to street '张贵庄街道'"):
        app.complete_rectification(world.street_b, visit, finding, "已清理", evidence(), on="2020-06-01")
    assert notification_count(app) == before
    app.complete_rectification(world.street_a, visit, finding, "已清理", evidence(), on="2020-06-01")


def test_stored_rubric_text_is_checked_against_its_hash(tmp_path, plugins):
    import sqlite3

    from core.services import CivicLedger

    url = f"sqlite:///{tmp_path}/civic.sqlite3"
    app = CivicLedger(url, plugins=plugins)
    world = World(app)
    campaign = app.campaign(world.owner, world.setup())
    app.close()
    with sqlite3.connect(tmp_path / "civic.sqlite3") as conn:
        (state,) = conn.execute("SELECT state FROM stored_events WHERE topic LIKE '%RubricRecord.Recorded'").fetchone()
        tampered = bytes(state).replace("社区党组织健全".encode(), "社区党组织建立".encode(), 1)
        assert tampered != bytes(state)
        conn.execute("UPDATE stored_events SET state = ? WHERE topic LIKE '%RubricRecord.Recorded'", (tampered,))
    again = CivicLedger(url, plugins=plugins)
    try:
        with pytest.raises(RuleViolation, match="does not match its hash"):
            again.rubric_by_hash(campaign.rubric["hash"])
    finally:
        again.close()
