"""Exact decisions at the line, complete evidence before the notice, rule kinds as rubric
data (docs/rules.md), on every backend; and decisions recorded before exact arithmetic
still verify."""

from __future__ import annotations

import gzip
import shutil
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from core.actors import Actor, Role
from core.bundle import export_bundle, verify_bundle
from core.errors import InvalidInput, RuleViolation
from core.exact import Publication
from core.plugins.types import CandidateEvidence, DecisionContext
from core.rubric import canonical_points, sheet_for_total
from core.rubric_files import read_rubric_file
from core.services import CivicLedger
from core.styles import ThresholdStyle
from tests.helpers import World, actor, notification_count

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "yuanqu-hexie.yaml"
LEGACY_STORE = ROOT / "tests" / "fixtures" / "decisions-v1.sqlite3.gz"
AUDITOR = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")


@pytest.fixture
def world(app) -> World:
    return World(app)


def raised_sheets(rubric, raised_items: int) -> list[dict[str, str]]:
    """Three sheets of 79 where the third assessor gives one point more on ``raised_items``
    items the others left short: those items' means are x + 1/3, the exact total
    79 + raised_items / 3 (3 items: 79/79/82, exactly 80)."""
    base = sheet_for_total(rubric, 79)
    raised = dict(base)
    for item in [i.id for i in rubric.items() if Decimal(base[i.id]) + 1 <= i.max_points][:raised_items]:
        raised[item] = canonical_points(Decimal(base[item]) + 1)
    return [base, base, raised]


def scored_candidacy(world: World, sheets: list[dict[str, str]]) -> tuple[str, str]:
    """A campaign with one approved candidacy of c1, scored by the world's assessors with
    ``sheets`` and surveyed; returns (campaign, candidacy)."""
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    cid = world.apply(campaign, "c1")
    app.review(world.district, cid, "approve", on="2020-03-11")
    for assessor, sheet in zip(world.assessors, sheets):
        app.submit_score_sheet(assessor, cid, "official", sheet, on="2020-10-15")
    world.survey(cid)
    return campaign, cid


def through_notice(world: World, campaign: str, cids: list[str]) -> list[str]:
    app = world.app
    listed = app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07", on="2020-11-01")
    app.close_public_notice(world.owner, campaign, on="2020-11-07")
    return listed


# -- 79 / 79 / 82 is exactly 80 ------------------------------------------------------------


def test_79_79_82_is_exactly_80_and_named(world):
    app = world.app
    campaign, cid = scored_candidacy(world, raised_sheets(world.rubric, 3))
    assert through_notice(world, campaign, [cid]) == [cid]
    assert app.decide(world.owner, campaign, on="2020-11-20") == {cid: True}
    derivation = app.candidacy(world.owner, cid).decision["derivation"]
    assert derivation["arithmetic"] == "exact-1"
    assert derivation["outcome"]["total"] == {"exact": "80", "published": "80.00"}
    check = next(c for c in derivation["outcome"]["checks"] if c["rule"] == "min_total")
    assert check == {"rule": "min_total", "required": "80", "actual": {"exact": "80", "published": "80.00"},
                     "passed": True, "reason": None, "compared": "exact"}
    # the 4-decimal arithmetic of decisions recorded before made it 79.9999 (three means of x.3333)
    candidacy = app.candidacy(world.owner, cid)
    legacy = app.evidence(world.rubric, candidacy, app.community(world.owner, candidacy.community_id), "decimal-4")
    assert str(legacy.total) == "79.9999"
    assert [v.status for v in app.verify_decisions(AUDITOR, campaign)] == ["confirmed"]


def test_two_thirds_of_a_point_short_is_refused_and_the_reason_says_so(world):
    app = world.app
    campaign, cid = scored_candidacy(world, raised_sheets(world.rubric, 2))  # exactly 79 + 2/3
    assert through_notice(world, campaign, [cid]) == []
    reason = "综合得分 79.67 低于 80 分 (official total 79.67 is below 80)"
    assert [row["reasons"] for row in app.notice_left_off(world.owner, campaign)] == [[reason]]
    app.decide(world.owner, campaign, on="2020-11-20")
    decision = app.candidacy(world.owner, cid).decision
    assert decision["named"] is False
    assert decision["derivation"]["reasons"] == [reason, "未列入公示名单 (not on the public notice list)"]
    assert decision["derivation"]["outcome"]["total"] == {"exact": "239/3", "published": "79.67"}


def evidence_of(total: Fraction, **extra) -> CandidateEvidence:
    return CandidateEvidence(
        candidacy_id="x", community_id="c", community_name="某社区", level="meili", item_points={},
        subtotals={}, total=total, assessors=["a"], self_total=None, mock_total=None, application_total=None,
        vetoes=[], survey={"satisfaction_rate": Fraction(19, 20), "participation_rate": None}, objections={"upheld": 0},
        titles_held=[], **extra,
    )


@pytest.mark.parametrize(("compare", "named"), [("exact", False), ("published", True)])
def test_a_publication_rule_decides_whether_the_line_compares_the_published_figure(plugins, compare, named):
    """79 2/3 published with no decimals is 80: compared exactly it stays below 80, and the
    reason shows the exact value beside the published figure; compared as published it passes."""
    rubric = plugins.rubric("tianjin-meili").rubric.model_copy(
        update={"publication": Publication(places=0, rounding="half_up", compare=compare)}
    )
    (outcome,) = ThresholdStyle().decide(DecisionContext(rubric=rubric, levels=["meili"]), [evidence_of(Fraction(239, 3))])
    check = next(c for c in outcome.derivation["checks"] if c["rule"] == "min_total")
    assert (outcome.named, check["actual"], check["compared"]) == (named, {"exact": "239/3", "published": "80"}, compare)
    if not named:
        assert outcome.reasons[0] == "综合得分 80（精确值 239/3）低于 80 分 (official total 80, exactly 239/3, is below 80)"


# -- complete evidence --------------------------------------------------------------------


def test_an_incomplete_official_sheet_is_refused_and_records_nothing(world):
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    cid = world.apply(campaign, "c1")
    app.review(world.district, cid, "approve", on="2020-03-11")
    ten = dict(list(sheet_for_total(world.rubric, 90).items())[:10])
    before = notification_count(app)
    for kind in ("official", "mock"):
        who = world.assessors[0] if kind == "official" else world.district
        with pytest.raises(InvalidInput) as err:
            app.submit_score_sheet(who, cid, kind, ten, on="2020-10-15")
        assert err.value.field == "scores" and "11-60" in err.value.allowed
    assert notification_count(app) == before


def test_the_notice_names_each_candidate_left_off_and_the_rule(world):
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    c1, c2, c3 = (world.apply(campaign, code) for code in ("c1", "c2", "c3"))
    for cid in (c1, c2, c3):
        app.review(world.district, cid, "approve", on="2020-03-11")
    world.score_official(c1, [90, 90, 90])
    world.score_official(c2, [90, 90, 90])
    world.score_official(c3, [79.5, 79.5, 79.5])
    world.survey(c1)
    world.survey(c3)
    assert through_notice(world, campaign, [c1, c2, c3]) == [c1]
    left = {row["candidacy_id"]: row["reasons"] for row in app.notice_left_off(world.owner, campaign)}
    assert left == {
        c2: ["未进行满意度测评 (no satisfaction survey recorded)"],
        c3: ["综合得分 79.50 低于 80 分 (official total 79.50 is below 80)"],
    }
    with pytest.raises(RuleViolation):  # the survey is fixed with the notice
        world.survey(c2)
    assert app.decide(world.owner, campaign, on="2020-11-20") == {c1: True, c2: False, c3: False}
    outcome = {row["candidacy_id"]: row for row in app.outcome_table(world.owner, campaign)}
    assert outcome[c3]["reasons"] == [
        "综合得分 79.50 低于 80 分 (official total 79.50 is below 80)", "未列入公示名单 (not on the public notice list)"
    ]
    assert outcome[c3]["total"] == "79.50" and outcome[c1]["total"] == "90.00"
    assert [(v.status, v.differences) for v in app.verify_decisions(AUDITOR, campaign)] == [("confirmed", [])] * 3


# -- a campaign type as a rubric file only --------------------------------------------------


def points(p1, p2, p3, p4, p5, p6) -> dict[str, str]:
    return {str(n): canonical_points(Decimal(str(v))) for n, v in enumerate((p1, p2, p3, p4, p5, p6), 1)}


class Yuanqu:
    """Five assessors, five communities, the example rubric file of docs/rules.md."""

    def __init__(self, app: CivicLedger) -> None:
        self.app = app
        self.owner = actor(Role.CITY_OWNER, "owner", "园区民政局", tenant="yuanqu")
        self.district = actor(Role.DISTRICT_OFFICER, "district", "园区社会事业局", tenant="yuanqu")
        self.street = actor(Role.STREET_OFFICER, "street", "湖东街道", tenant="yuanqu")
        self.assessors = [actor(Role.ASSESSOR, f"a{n}", "评估组", tenant="yuanqu") for n in range(1, 6)]
        app.register_tenant(self.owner, "yuanqu", "园区")
        loaded = read_rubric_file(EXAMPLE)
        assert not loaded.problems, loaded.problems
        self.rubric = loaded.rubric
        app.import_rubric(self.owner, loaded.rubric, reason="区民政局发布")
        self.campaign = app.create_campaign(self.owner, "hexie-2026", "2026年和谐社区评定", 2026, "yuanqu-hexie", on="2026-03-01")
        app.open_campaign(self.owner, self.campaign, on="2026-03-01")
        self.communities: dict[str, str] = {}

    def candidacy(self, code: str, level: str, sheets: list[dict[str, str]], satisfied: int = 95) -> str:
        if code not in self.communities:
            self.communities[code] = self.app.register_community(
                self.district, code, f"{code}社区", "园区", "湖东街道", households=500, population=1500, on="2026-03-01"
            )
        cid = self.app.apply(self.street, self.campaign, self.communities[code], level, sheets[0], on="2026-03-10")
        self.app.review(self.district, cid, "approve", on="2026-03-11")
        for assessor, sheet in zip(self.assessors, sheets):
            self.app.submit_score_sheet(assessor, cid, "official", sheet, on="2026-10-15")
        self.app.record_survey(self.assessors[0], cid, respondents=100, households=100, satisfied=satisfied,
                               basically_satisfied=0, dissatisfied=100 - satisfied, on="2026-10-20")
        return cid

    def decide(self) -> dict[str, bool]:
        self.app.open_public_notice(self.owner, self.campaign, "2026-11-01", "2026-11-07", on="2026-11-01")
        self.app.close_public_notice(self.owner, self.campaign, on="2026-11-07")
        return self.app.decide(self.owner, self.campaign, on="2026-11-20")


def test_a_rubric_file_campaign_with_a_trimmed_mean_floor_veto_and_a_ladder(app, tmp_path):
    y = Yuanqu(app)
    same = lambda s: [s] * 5  # noqa: E731
    # trimmed mean at the line: 50 and 95 dropped on every item, the three others give 80
    at_line = y.candidacy("b", "hexie", [points(10, 10, 10, 10, 5, 5), *same(points(16, 16, 16, 16, 8, 8))[:3],
                                         points(19, 19, 19, 19, 9.5, 9.5)])
    # 人居环境 exactly at its floor of 12 (60% of 20): named
    at_floor = y.candidacy("d", "hexie", same(points(18, 18, 18, 18, 6, 6)))
    # 人居环境 11.5, below the floor, whatever the total (85.5)
    below_floor = y.candidacy("c", "hexie", same(points(19, 19, 18, 18, 6, 5.5)))
    # both levels; qualifies for both: the ladder awards 和谐示范社区 alone
    top_basic = y.candidacy("a", "hexie", same(points(19, 19, 18, 18, 8, 8)))
    top = y.candidacy("a", "shifan", same(points(19, 19, 18, 18, 8, 8)))
    vetoed = y.candidacy("e", "hexie", same(points(20, 20, 20, 20, 10, 10)))
    app.record_veto(y.assessors[0], vetoed, "V1", "安全事故通报", on="2026-10-25")
    results = y.decide()
    assert results == {at_line: True, at_floor: True, below_floor: False, top_basic: False, top: True, vetoed: False}

    def derivation(cid: str) -> dict:
        return app.candidacy(y.owner, cid).decision["derivation"]

    assert derivation(at_line)["outcome"]["total"] == {"exact": "80", "published": "80.00"}
    floor = next(c for c in derivation(at_floor)["outcome"]["checks"] if c["rule"] == "category_floor:huanjing")
    assert (floor["required"], floor["actual"], floor["passed"], floor["share"]) == ("12", {"exact": "12", "published": "12.00"}, True, "0.6")
    assert derivation(below_floor)["reasons"][0] == "“人居环境”得分 11.50 低于 12 分 (category huanjing subtotal 11.50 is below 12)"
    assert derivation(top_basic)["reasons"][0].startswith("同时获评同组更高级别和谐示范社区")
    assert "一票否决项 V1" in derivation(vetoed)["reasons"][0]
    titles = app.community(y.owner, y.communities["a"]).held_levels()
    assert titles == ["shifan"]
    assert {v.status for v in app.verify_decisions(AUDITOR, y.campaign)} == {"confirmed"}

    # offline, no plugin installed: every decision recomputed from the bundle alone
    bundle = tmp_path / "hexie.bundle"
    export_bundle(app, AUDITOR, bundle, campaign_id=y.campaign)
    report = verify_bundle(bundle, workers=1)
    assert report.intact and report.verified, (report.problems, report.verdicts)
    assert [v["status"] for v in report.verdicts] == ["confirmed"] * 6


# -- decisions recorded before exact arithmetic ---------------------------------------------


@pytest.fixture
def legacy_store(tmp_path) -> str:
    target = tmp_path / "v1.sqlite3"
    with gzip.open(LEGACY_STORE) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out)
    return f"sqlite:///{target}"


def test_decisions_recorded_under_the_4_decimal_arithmetic_still_verify(legacy_store, plugins, tmp_path):
    app = CivicLedger(legacy_store, plugins=plugins)
    try:
        verdicts = {}
        for tenant in ("demo-tianjin", "demo-bazhong", "demo-brand", "legacy-edge"):
            for row in app.campaigns_of(AUDITOR, tenant):
                verdicts[tenant] = [v.status for v in app.verify_decisions(AUDITOR, row["id"])]
        assert {t: set(v) for t, v in verdicts.items()} == {t: {"confirmed"} for t in verdicts}
        assert sum(len(v) for v in verdicts.values()) == 78
        # the edge campaign: 79/79/82 recorded as 79.9999 and not named, as it was decided then
        (edge,) = app.campaigns_of(AUDITOR, "legacy-edge")
        rows = {r["community"]: r for r in app.outcome_table(AUDITOR, edge["id"])}
        assert (rows["边界社区"]["status"], rows["边界社区"]["total"]) == ("not_named", "79.9999")
        bundle = tmp_path / "edge.bundle"
        export_bundle(app, AUDITOR, bundle, tenant="legacy-edge")
    finally:
        app.close()
    report = verify_bundle(bundle, workers=1)
    assert report.verified and [v["status"] for v in report.verdicts] == ["confirmed", "confirmed"]


# -- a plugin's aggregation: needs its code offline, recomputed with it when asked ---------------


MAX_PLUGIN = '''
from core.plugins import hookimpl
from core.plugins.types import Aggregation


@hookimpl
def civic_aggregations():
    return [Aggregation("strictest", lambda points: min(points), "the strictest assessor")]
'''


def test_a_plugin_aggregation_is_reported_per_decision_and_recomputed_with_the_plugin_when_asked(tmp_path, monkeypatch):
    import importlib.metadata
    import sys

    import core.plugins.manager as manager
    from core.plugins import PluginHost
    from core.plugins.manager import ENTRY_POINT_GROUP

    (tmp_path / "civic_strictest_plugin.py").write_text(MAX_PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "civic_strictest_plugin", raising=False)
    real = importlib.metadata.entry_points

    def entry_points(**params):
        found = list(real(**params))
        if params.get("group") == ENTRY_POINT_GROUP:
            found.append(importlib.metadata.EntryPoint("strictest", "civic_strictest_plugin", ENTRY_POINT_GROUP))
        return found

    monkeypatch.setattr(manager.importlib.metadata, "entry_points", entry_points)
    app = CivicLedger("memory://", plugins=PluginHost.discover())
    try:
        world = World(app)
        world.setup()
        strict = world.rubric.model_copy(update={"id": "tianjin-strict", "version": "1", "aggregation": "strictest"})
        app.import_rubric(world.owner, strict, reason="最严格评分")
        campaign = app.create_campaign(world.owner, "strict-2020", "2020年严格评分", 2020, "tianjin-strict", on="2020-03-09")
        app.open_campaign(world.owner, campaign, on="2020-03-09")
        cids = []
        for code, totals in (("c1", [85, 90, 95]), ("c2", [70, 90, 95])):
            cid = app.apply(world.street_of(code), campaign, world.communities[code], "meili", sheet_for_total(strict, 90), on="2020-03-10")
            app.review(world.district, cid, "approve", on="2020-03-11")
            world.score_official(cid, totals)
            world.survey(cid)
            cids.append(cid)
        through_notice(world, campaign, cids)
        assert app.decide(world.owner, campaign, on="2020-11-20") == {cids[0]: True, cids[1]: False}
        bundle = tmp_path / "strict.bundle"
        export_bundle(app, AUDITOR, bundle, campaign_id=campaign)
    finally:
        app.close()

    offline = verify_bundle(bundle, workers=1)
    assert offline.intact and not offline.verified
    assert [(v["candidacy_id"], v["community"], v["level"], v["status"]) for v in offline.verdicts] == [
        (cids[0], "詹滨里社区", "meili", "needs_plugin"), (cids[1], "新立花园社区", "meili", "needs_plugin"),
    ]
    assert "aggregation strictest" in offline.verdicts[0]["differences"][0]

    with_code = verify_bundle(bundle, workers=1, with_plugins=True)
    assert with_code.verified and with_code.with_plugins
    assert [v["status"] for v in with_code.verdicts] == ["confirmed", "confirmed"]
    assert all(v["recomputed_with"] == ["aggregation strictest of plugin strictest"] for v in with_code.verdicts)
