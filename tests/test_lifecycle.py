"""The whole campaign lifecycle through the application layer, on every storage backend."""

from __future__ import annotations

from fractions import Fraction

import pytest

from core.domain.candidacy import APPROVED, NAMED, NOT_NAMED, RETURNED, REVOKED
from tests.helpers import World, evidence, sheet


@pytest.fixture
def world(app) -> World:
    return World(app)


def run_to_decision(world: World) -> dict[str, str]:
    """Apply, review, inspect, score, survey, notice (with one upheld objection) and decide."""
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    c1 = world.apply(campaign, "c1", self_total=92)
    c2 = world.apply(campaign, "c2", self_total=85)
    c3 = world.apply(campaign, "c3", self_total=88)
    c1p = world.apply(campaign, "c1", level="jingpin", self_total=92)
    for cid in (c1, c2, c3, c1p):
        app.review(world.district, cid, "approve", on="2020-03-11")
    app.freeze_candidates(world.district, campaign, on="2020-03-12")

    visit = app.conduct_inspection(world.inspector, c2, "unannounced", "2020-05-20", ["巡查员甲", "巡查员乙"])
    finding = app.record_finding(
        world.inspector, visit, "38", "楼道堆物", "major", "清理楼道杂物", "2020-08-31", evidence()
    )
    app.plan_rectification(world.community_of("c2"), visit, finding, "组织清理", on="2020-06-01")
    app.complete_rectification(world.community_of("c2"), visit, finding, "已清理", evidence("after.jpg"), on="2020-08-20")
    app.verify_rectification(world.inspector, visit, finding, True, "现场复核通过", on="2020-09-01")

    for cid in (c1, c2, c3, c1p):
        app.submit_score_sheet(world.community_for(cid), cid, "self", sheet(world.rubric, 90), on="2020-09-10")
        app.submit_score_sheet(world.district, cid, "mock", sheet(world.rubric, 86), on="2020-09-20")
    world.score_official(c1, [93, 91, 92])  # mean 92 -> meili and premium
    world.score_official(c1p, [93, 91, 92])
    world.score_official(c2, [84, 86, 85])  # 85 -> meili, but an objection will be upheld
    world.score_official(c3, [70, 75, 72.5])  # 72.5 -> below 80
    for cid in (c1, c2, c3, c1p):
        world.survey(cid)
    listed = app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07", on="2020-11-01")
    assert set(listed) == {c1, c2, c1p}
    objection = app.file_objection(world.resident, c2, "公示材料与实际不符", ["38"], on="2020-11-03")
    app.resolve_objection(world.owner, c2, objection, True, "核查属实", on="2020-11-06")
    app.close_public_notice(world.owner, campaign, on="2020-11-08")
    return {"campaign": campaign, "c1": c1, "c2": c2, "c3": c3, "c1p": c1p}


def test_full_lifecycle_names_revokes_and_records_derivations(world):
    app = world.app
    ids = run_to_decision(world)
    results = app.decide(world.owner, ids["campaign"], on="2020-11-20")
    assert results == {ids["c1"]: True, ids["c2"]: False, ids["c3"]: False, ids["c1p"]: True}

    c1 = app.candidacy(world.owner, ids["c1"])
    derivation = c1.decision["derivation"]
    assert c1.status == NAMED
    assert derivation["arithmetic"] == "exact-1"
    assert derivation["style"] == {"name": "threshold", "version": "2"}
    assert derivation["outcome"]["total"] == {"exact": "92", "published": "92.00"}
    assert sum(Fraction(v["exact"]) for v in derivation["outcome"]["subtotals"].values()) == 92
    assert derivation["rubric"]["hash"] == world.rubric.content_hash
    assert derivation["positions"]["candidacy"] == [ids["c1"], c1.version - 1]
    assert derivation["outcome"]["application_gate"] == {
        "min_self_total": "80", "application_total": {"exact": "92", "published": "92.00"}
    }
    assert [ch["rule"] for ch in derivation["outcome"]["checks"]] == [
        "assessment_complete", "no_veto", "min_total", "survey_recorded", "no_upheld_objection"
    ]
    premium = app.candidacy(world.owner, ids["c1p"]).decision["derivation"]
    assert premium["outcome"]["provisional"] is True
    assert any("暂行标准" in r for r in premium["reasons"])

    c2 = app.candidacy(world.owner, ids["c2"])
    assert c2.status == NOT_NAMED
    failed = [ch["rule"] for ch in c2.decision["derivation"]["outcome"]["checks"] if not ch["passed"]]
    assert failed == ["no_upheld_objection"]
    c3 = app.candidacy(world.owner, ids["c3"])
    assert c3.status == NOT_NAMED
    assert c3.decision["derivation"]["reasons"] == [
        "综合得分 72.50 低于 80 分 (official total 72.50 is below 80)",
        "未列入公示名单 (not on the public notice list)",
    ]

    community = app.community(world.owner, world.communities["c1"])
    assert community.held_levels() == ["jingpin", "meili"]

    # supervision: a failed rectification leads to revocation of the basic title
    revisit = app.conduct_inspection(world.inspector, ids["c1"], "unannounced", "2021-03-01", ["巡查员甲"], purpose="supervision")
    finding = app.record_finding(world.inspector, revisit, "41", "私装地锁", "major", "拆除地锁", "2021-04-01")
    app.complete_rectification(world.community, revisit, finding, "已拆除", evidence(), on="2021-03-20")
    app.verify_rectification(world.inspector, revisit, finding, False, "复查仍有地锁", on="2021-04-02")
    app.revoke(world.owner, ids["c1"], "整改不合格，取消美丽社区称号", [f"{revisit}/{finding}"], on="2021-04-10")
    assert app.candidacy(world.owner, ids["c1"]).status == REVOKED
    assert app.community(world.owner, world.communities["c1"]).held_levels() == ["jingpin"]

    history = app.history(world.owner, ids["c1"])
    assert [h["event"] for h in history][:2] == ["Candidacy.Applied", "Candidacy.Reviewed"]
    assert history[-1]["event"] == "Candidacy.Revoked"
    assert history[-1]["reason"] == "整改不合格，取消美丽社区称号"
    assert all(h["actor"]["role"] and h["effective"] for h in history)


def test_overdue_findings_are_reported(world):
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign)
    cid = world.apply(campaign, "c1")
    visit = app.conduct_inspection(world.inspector, cid, "announced", "2020-05-01", ["甲"])
    f1 = app.record_finding(world.inspector, visit, "1", "党组织未延伸到楼栋", "minor", "建立楼栋党小组", "2020-08-31")
    f2 = app.record_finding(world.inspector, visit, "2", "居民代表会议记录缺失", "minor", "补齐会议记录", "2020-08-31")
    app.complete_rectification(world.community, visit, f2, "已补齐", evidence(), on="2020-08-15")
    app.verify_rectification(world.inspector, visit, f2, True, "合格", on="2020-08-20")
    rows = {r["finding_id"]: r for r in app.findings(world.owner, campaign, on="2020-09-01")}
    assert rows[f1]["overdue"] and not rows[f2]["overdue"]
    assert not app.findings(world.owner, campaign, on="2020-08-01")[0]["overdue"]


def test_returned_application_is_resubmitted_and_approved(world):
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign)
    cid = world.apply(campaign, "c1")
    app.review(world.district, cid, "return", "自评材料不全", on="2020-03-11")
    assert app.candidacy(world.owner, cid).status == RETURNED
    app.resubmit(world.street_a, cid, sheet(world.rubric, 88), on="2020-03-11")
    app.review(world.district, cid, "approve", on="2020-03-12")
    assert app.candidacy(world.owner, cid).status == APPROVED


def test_score_correction_changes_the_official_total(world):
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign)
    cid = world.apply(campaign, "c1")
    app.review(world.district, cid, "approve", on="2020-03-11")
    world.score_official(cid, [90, 90, 90])
    before = app.candidacy(world.owner, cid).scores["official"]["assessor-1"]["1"]
    app.correct_score(world.assessors[0], cid, "official", "1", "0.5", "录入错误", on="2020-10-16")
    after = app.candidacy(world.owner, cid)
    assert after.scores["official"]["assessor-1"]["1"] == "0.5" != before
    assert app.evidence(world.rubric, after, app.community(world.owner, after.community_id)).total == Fraction(541, 6)  # (0.5 + 0 + 0) / 3 more on item 1: exactly 90 + 1/6
    events = [h for h in app.history(world.owner, cid) if h["event"] == "Candidacy.ItemScoreCorrected"]
    assert events[0]["reason"] == "录入错误" and events[0]["actor"]["id"] == "assessor-1"


def test_scores_are_fixed_once_the_notice_opens(world):
    from core.errors import RuleViolation
    from tests.helpers import notification_count

    app = world.app
    ids = run_to_decision(world)
    before = notification_count(app)
    with pytest.raises(RuleViolation, match="fixed since the preliminary list went on public notice"):
        app.submit_score_sheet(world.assessors[2], ids["c3"], "official", {"1": "0"}, on="2020-11-02")
    with pytest.raises(RuleViolation, match="fixed since"):
        app.correct_score(world.assessors[0], ids["c2"], "official", "1", "0", "改分", on="2020-11-02")
    assert notification_count(app) == before


def test_a_premium_title_needs_the_basic_title_of_the_same_decision(world):
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign)
    basic = world.apply(campaign, "c1", self_total=92)
    premium = world.apply(campaign, "c1", level="jingpin", self_total=92)
    for cid in (basic, premium):
        app.review(world.district, cid, "approve", on="2020-03-11")
        world.score_official(cid, [93, 92, 94])
        world.survey(cid)
    app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07", on="2020-11-01")
    objection = app.file_objection(world.resident, basic, "小区环境整治未完成", on="2020-11-02")
    app.resolve_objection(world.owner, basic, objection, True, "属实", on="2020-11-05")
    app.close_public_notice(world.owner, campaign, on="2020-11-08")
    assert app.decide(world.owner, campaign, on="2020-11-20") == {basic: False, premium: False}
    premium_checks = app.candidacy(world.owner, premium).decision["derivation"]["outcome"]["checks"]
    failed = [(ch["rule"], ch["actual"]) for ch in premium_checks if not ch["passed"]]
    assert failed == [("requires_level", "refused in this decision")]
    assert app.community(world.owner, world.communities["c1"]).held_levels() == []


def test_nothing_is_recorded_ahead_of_time(world):
    from core.errors import InvalidInput

    app = world.app
    campaign = world.setup()
    with pytest.raises(InvalidInput, match="on or before today"):
        app.open_campaign(world.owner, campaign, on="2999-01-01")


def test_replay_gives_the_same_state(app, plugins, store_url):
    world = World(app)
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-20")
    if store_url.startswith("memory"):
        return
    from core.services import CivicLedger

    again = CivicLedger(store_url, plugins=plugins)
    try:
        for key in ("c1", "c2", "c3"):
            a = app.candidacy(world.owner, ids[key])
            b = again.candidacy(world.owner, ids[key])
            assert (a.status, a.decision, a.scores, a.version) == (b.status, b.decision, b.scores, b.version)
    finally:
        again.close()
