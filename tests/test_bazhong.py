"""Bazhong 城乡社区示范: the checklist rubric against the published plan, the
checklist-by-type style, a campaign on every backend, putting named candidacies forward to
a province-level selection, and the demo on the real 2020 list."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from core.actors import Role
from core.domain.candidacy import NAMED, NOT_NAMED
from core.errors import InvalidInput, PermissionDenied, RuleViolation
from core.plugins.types import CandidateEvidence, DecisionContext
from core.styles import ChecklistByTypeStyle
from plugins.bazhong_demo import default_schedule
from plugins.bazhong_demo.demo import COMMUNITIES, DEMO, PROVINCE, TENANT
from plugins.bazhong_demo.rubric import RUBRIC_ID, checklist_sheet, demonstration_2020
from tests.helpers import actor, notification_count

REPO = Path(__file__).resolve().parent.parent
SEED_NAME = "003_2026ace016320ea8.txt"
SEED = next((p for p in (Path("/work/shared/seeds") / SEED_NAME, REPO.parent / "shared" / "seeds" / SEED_NAME) if p.exists()), None)

TYPES = ["便民服务型", "智慧科技型", "社会组织参与型", "社会企业带动型", "社区服务项目化", "其他特色"]
SOCIAL_ORGS = {
    "professional_social_workers": 1,
    "registered_community_social_organisations": 2,
    "organisations_undertaking_purchased_services": 2,
}
ALL_FACTS = {**SOCIAL_ORGS, "social_enterprises": 1, "community_funds": 0}
RUBRIC = demonstration_2020()
STYLE = ChecklistByTypeStyle()


def normalise(text: str) -> str:
    """Punctuation as the seed's text extraction spells it, without whitespace. The
    extraction also lost 工委 from 街道党（工）委 ("街道党()")."""
    for wide, narrow in {"，": ",", "（": "(", "）": ")", "：": ":", "；": ";", "、": "、"}.items():
        text = text.replace(wide, narrow)
    return re.sub(r"\s+", "", text).replace("街道党(工)委", "街道党()")


# -- the rubric ---------------------------------------------------------------------


def test_the_six_types_are_the_levels():
    assert [lv.label for lv in RUBRIC.levels] == [f"市级示范社区（{t}）" for t in TYPES]
    assert RUBRIC.step == 1 and all(i.max_points == 1 for i in RUBRIC.items())
    assert RUBRIC.style == "checklist-by-type"
    STYLE.validate_rules(RUBRIC)
    for level in RUBRIC.levels:
        assert STYLE.required_items(RUBRIC, level.id)[:3] == ["G1", "G2", "G3"]  # three-level party structure


@pytest.mark.skipif(SEED is None, reason="seed 003 not available")
def test_every_item_and_type_is_in_the_published_plan():
    seed = normalise(SEED.read_text(encoding="utf-8"))
    for t in TYPES:
        assert t in seed
    for item in RUBRIC.items():
        assert normalise(item.text) in seed, item.id
    for level in RUBRIC.levels:
        for requirement in STYLE.rules(RUBRIC, level.id).facts:
            assert normalise(requirement.text) in seed
    for _, name, county, street in COMMUNITIES:
        assert f"{street}{name}" in seed and county in seed


def test_schedule_follows_the_plan():
    phases = {p.id: p for p in default_schedule(2020)}
    assert (phases["publicity"].start, phases["publicity"].end) == ("2020-05-01", "2020-05-31")
    assert (phases["implementation"].start, phases["implementation"].end) == ("2020-06-01", "2020-10-31")
    assert phases["acceptance"].start == "2020-11-01" and phases["decision"].end == "2020-12-31"


def test_the_schedule_hook_answers_for_this_rubric_only(plugins):
    assert [p.id for p in plugins.default_schedule(RUBRIC, 2021)][:2] == ["publicity", "application"]


# -- the style ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "level, facts, problems",
    [
        ("convenience", {}, []),
        ("social-organisations", SOCIAL_ORGS, []),
        ("social-organisations", {**SOCIAL_ORGS, "professional_social_workers": 0}, ["社区配备专业社会工作者"]),
        ("social-organisations", {**SOCIAL_ORGS, "registered_community_social_organisations": 1}, ["培育2个以上"]),
        ("social-organisations", {"professional_social_workers": 1}, ["培育2个以上", "吸纳2个以上"]),
        ("social-enterprise", {"social_enterprises": 0, "community_funds": 1}, []),
        ("social-enterprise", {"social_enterprises": 1}, []),
        ("social-enterprise", {"social_enterprises": 0, "community_funds": 0}, ["至少1家社会企业或1支社区基金"]),
        ("social-enterprise", {"social_enterprises": "一家"}, ["不是非负整数"]),
    ],
)
def test_application_gate_checks_the_quantitative_requirements(level, facts, problems):
    refused = STYLE.check_application(RUBRIC, level, Decimal(0), facts)
    assert len(refused) == len(problems)
    for reason, fragment in zip(refused, problems):
        assert fragment in reason


def test_missing_facts_are_named():
    [reason] = STYLE.check_application(RUBRIC, "social-organisations", Decimal(0), {k: 2 for k in list(SOCIAL_ORGS)[:2]})
    assert "organisations_undertaking_purchased_services is missing" in reason


def evidence(level: str, points: dict[str, str], facts=None, upheld: int = 0, vetoes=()) -> CandidateEvidence:
    return CandidateEvidence(
        candidacy_id=f"c-{level}", community_id="k", community_name="样例社区", level=level,
        item_points={k: Decimal(v) for k, v in points.items()}, subtotals={}, total=Decimal(0), assessors=["a"],
        self_total=None, mock_total=None, application_total=None, vetoes=list(vetoes), survey=None,
        objections={"open": 0, "upheld": upheld, "dismissed": 0}, titles_held=[], facts=dict(facts or {}),
    )


@pytest.mark.parametrize("level", [lv.id for lv in RUBRIC.levels])
def test_each_type_needs_every_required_item(level):
    context = DecisionContext(RUBRIC, [level])
    full = checklist_sheet(RUBRIC, [level])
    [ok] = STYLE.decide(context, [evidence(level, full, ALL_FACTS)])
    assert ok.named
    checks = ok.derivation["checks"]
    required = STYLE.required_items(RUBRIC, level)
    assert [c["rule"] for c in checks if c["rule"].startswith("item:")] == [f"item:{i}" for i in required]
    assert all({"required", "actual", "passed"} <= set(c) for c in checks)
    for item in required:
        [missing] = STYLE.decide(context, [evidence(level, {**full, item: "0.6667"}, ALL_FACTS)])
        assert not missing.named and any(item in r for r in missing.reasons)
    # items of other types do not count
    others = {i.id: "0" for i in RUBRIC.items() if i.id not in required}
    assert STYLE.decide(context, [evidence(level, {**full, **others}, ALL_FACTS)])[0].named


def test_facts_must_still_hold_and_objections_and_vetoes_refuse():
    level = "social-enterprise"
    context = DecisionContext(RUBRIC, [level])
    full = checklist_sheet(RUBRIC, [level])
    [no_fund] = STYLE.decide(context, [evidence(level, full, {"social_enterprises": 0, "community_funds": 0})])
    assert not no_fund.named and [c["rule"] for c in no_fund.derivation["checks"] if not c["passed"]] == ["fact:enterprise-or-fund"]
    [objected] = STYLE.decide(context, [evidence(level, full, ALL_FACTS, upheld=1)])
    assert not objected.named
    [listed] = STYLE.preliminary(context, [evidence(level, full, ALL_FACTS, upheld=1)])
    assert listed.named  # objections count in the final decision only
    [vetoed] = STYLE.decide(context, [evidence(level, full, ALL_FACTS, vetoes=["V1"])])
    assert not vetoed.named


def test_decisions_are_deterministic():
    context = DecisionContext(RUBRIC, [lv.id for lv in RUBRIC.levels])
    candidates = [evidence(lv.id, checklist_sheet(RUBRIC, [lv.id], ["G2"] if n % 2 else []), ALL_FACTS)
                  for n, lv in enumerate(RUBRIC.levels)]
    first = STYLE.decide(context, candidates)
    assert first == STYLE.decide(context, list(candidates))
    assert [o.named for o in first] == [True, False] * 3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"required_categories": ["nope"]}, "required_categories names 'nope'"),
        ({"required_items": ["Z9"]}, "required_items names 'Z9'"),
        ({"required_categories": []}, "require no checklist item"),
        ({"facts": [{"id": "x", "text": "t", "any_of": [{"fact": "Bad-Name", "min": 1}]}]}, "rules.facts.0.any_of.0.fact"),
        ({"facts": [{"id": "x", "text": "t", "any_of": []}]}, "any_of"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_rules_are_validated(change, message):
    data = RUBRIC.model_dump(mode="json")
    data["levels"][0]["rules"] = {**data["levels"][0]["rules"], **change}
    with pytest.raises(ValueError, match=re.escape(message)):
        STYLE.validate_rules(type(RUBRIC).model_validate(data))


# -- a campaign on every backend ------------------------------------------------------

OWNER = actor(Role.CITY_OWNER, "owner", "巴中市民政局", tenant="bazhong")
COUNTY = actor(Role.DISTRICT_OFFICER, "county", "巴州区民政局", tenant="bazhong")
STREET = actor(Role.STREET_OFFICER, "street", "宕梁街道", tenant="bazhong")
ASSESSORS = [actor(Role.ASSESSOR, f"assessor-{n}", "市级评估验收组", tenant="bazhong") for n in (1, 2, 3)]
RESIDENT = actor(Role.RESIDENT, "resident", "居民", tenant="bazhong")


def run_campaign(app) -> dict[str, str]:
    app.register_tenant(OWNER, "bazhong", "巴中市")
    c1 = app.register_community(COUNTY, "k1", "红岩社区", "巴州区", "宕梁街道", 3000, 9000, on="2020-05-15")
    c2 = app.register_community(COUNTY, "k2", "样例社区", "巴州区", "宕梁街道", 2000, 6000, on="2020-05-15")
    campaign = app.create_campaign(OWNER, "sf-2020", "2020年城乡社区示范创建", 2020, RUBRIC_ID, on="2020-05-18")
    app.open_campaign(OWNER, campaign, on="2020-05-18")
    before = notification_count(app)
    with pytest.raises(RuleViolation, match="吸纳2个以上社会组织承接购买社区服务事项"):
        app.apply(STREET, campaign, c1, "social-organisations", checklist_sheet(RUBRIC, []),
                  {**SOCIAL_ORGS, "organisations_undertaking_purchased_services": 1}, on="2020-05-20")
    assert notification_count(app) == before
    ids = {
        "org": app.apply(STREET, campaign, c1, "social-organisations", checklist_sheet(RUBRIC, ["social-organisations"]), SOCIAL_ORGS, on="2020-05-20"),
        "conv": app.apply(STREET, campaign, c1, "convenience", checklist_sheet(RUBRIC, ["convenience"]), on="2020-05-20"),
        "smart": app.apply(STREET, campaign, c2, "smart", checklist_sheet(RUBRIC, ["smart"]), on="2020-05-20"),
        "ent": app.apply(STREET, campaign, c2, "social-enterprise", checklist_sheet(RUBRIC, ["social-enterprise"]), {"community_funds": 1}, on="2020-05-20"),
    }
    for cid in ids.values():
        app.review(COUNTY, cid, "approve", on="2020-05-25")
    unmet = {"conv": {2: ["B4"]}}  # one assessor finds 优化实施服务项目 not met: mean exactly 2/3
    for key, cid in ids.items():
        level = app.candidacy(OWNER, cid).level
        for n, assessor in enumerate(ASSESSORS, start=1):
            app.submit_score_sheet(assessor, cid, "official", checklist_sheet(RUBRIC, [level], unmet.get(key, {}).get(n, [])), on="2020-11-20")
        app.record_survey(OWNER, cid, respondents=100, households=100, satisfied=90, basically_satisfied=8, dissatisfied=2, on="2020-11-25")
    listed = app.open_public_notice(OWNER, campaign, "2020-12-01", "2020-12-07", on="2020-12-01")
    assert set(listed) == {ids["org"], ids["smart"], ids["ent"]}
    objection = app.file_objection(RESIDENT, ids["smart"], "网格化管理未落实", ["Z1"], on="2020-12-02")
    app.resolve_objection(OWNER, ids["smart"], objection, True, "核查属实", on="2020-12-05")
    app.close_public_notice(OWNER, campaign, on="2020-12-08")
    results = app.decide(OWNER, campaign, on="2020-12-15")
    assert results == {ids["org"]: True, ids["conv"]: False, ids["smart"]: False, ids["ent"]: True}
    return {"campaign": campaign, "c1": c1, **ids}


def test_a_campaign_awards_types_independently(app):
    ids = run_campaign(app)
    org = app.candidacy(OWNER, ids["org"])
    assert org.status == NAMED
    outcome = org.decision["derivation"]["outcome"]
    assert org.decision["derivation"]["style"] == {"name": "checklist-by-type", "version": "2"}
    assert outcome["met_items"] == outcome["required_items"] == 8
    facts = [c for c in outcome["checks"] if c["rule"].startswith("fact:")]
    assert [(c["required"], c["passed"]) for c in facts] == [
        ("professional_social_workers >= 1", True),
        ("registered_community_social_organisations >= 2", True),
        ("organisations_undertaking_purchased_services >= 2", True),
    ]
    smart = app.candidacy(OWNER, ids["smart"])
    assert smart.status == NOT_NAMED
    assert [c["rule"] for c in smart.decision["derivation"]["outcome"]["checks"] if not c["passed"]] == ["no_upheld_objection"]
    assert app.community(OWNER, ids["c1"]).held_levels() == ["social-organisations"]


def test_a_named_candidacy_is_put_forward_to_the_province_once(app):
    ids = run_campaign(app)
    app.put_forward(OWNER, ids["org"], "省级示范社区候选", "创建成效突出", on="2020-12-20")
    entry = app.candidacy(OWNER, ids["org"]).put_forward
    assert entry == [{"to": "省级示范社区候选", "reason": "创建成效突出", "by": "owner", "effective": "2020-12-20"}]
    history = app.history(OWNER, ids["org"])
    assert history[-1]["event"] == "Candidacy.PutForward" and history[-1]["reason"] == "创建成效突出"

    before = notification_count(app)
    with pytest.raises(PermissionDenied):
        app.put_forward(COUNTY, ids["ent"], "省级示范社区候选", "推荐", on="2020-12-20")
    with pytest.raises(RuleViolation, match="only a named candidacy"):
        app.put_forward(OWNER, ids["conv"], "省级示范社区候选", "推荐", on="2020-12-20")
    with pytest.raises(RuleViolation, match="already been put forward to '省级示范社区候选'"):
        app.put_forward(OWNER, ids["org"], "省级示范社区候选", "再次推荐", on="2020-12-21")
    with pytest.raises(InvalidInput):
        app.put_forward(OWNER, ids["ent"], " ", "推荐", on="2020-12-20")
    assert notification_count(app) == before
    app.put_forward(OWNER, ids["org"], "全国示范社区候选", "另一级别", on="2020-12-21")  # another target is fine
    assert [e["to"] for e in app.candidacy(OWNER, ids["org"]).put_forward] == ["省级示范社区候选", "全国示范社区候选"]


# -- the demo ----------------------------------------------------------------------------


def test_demo_builds_once_on_sqlite(tmp_path, plugins):
    from core.services import CivicLedger

    app = CivicLedger(f"sqlite:///{tmp_path}/civic.sqlite3", plugins=plugins)
    try:
        assert plugins.demos()[DEMO.name][1] == "bazhong_demo"
        campaign = DEMO.build(app, lambda _: None)
        rows = app.outcome_table(DEMO.reader, campaign)
        assert {r["community"] for r in rows} == {name for _, name, _, _ in COMMUNITIES}
        assert {r["district"] for r in rows} == {"巴州区", "恩阳区", "南江县", "通江县", "平昌县", "经开区"}
        named = [(r["community"], r["level"]) for r in rows if r["status"] == NAMED]
        assert len(named) == 8 and ("麻石社区", "convenience") not in named
        forwarded = [cid for cid in app.campaign(DEMO.reader, campaign).candidacies
                     if app.candidacy(DEMO.reader, cid).put_forward]
        assert len(forwarded) == 2
        assert app.candidacy(DEMO.reader, forwarded[0]).put_forward[0]["to"] == PROVINCE
        before = notification_count(app)
        assert DEMO.build(app, lambda _: None) == campaign
        assert notification_count(app) == before
        assert DEMO.reader.tenant == TENANT
    finally:
        app.close()


# -- the plugin contract ------------------------------------------------------------------

try:
    from core.testing import PluginContract
except ImportError:  # the test kit is not there yet
    PluginContract = None

if PluginContract is not None:
    import plugins.bazhong_demo as bazhong_plugin

    class TestBazhongContract(PluginContract):
        plugin = bazhong_plugin
        plugin_name = "bazhong_demo"

        def sample_application(self, rubric, level, index):
            return checklist_sheet(rubric, [level]), dict(ALL_FACTS)

        def sample_official_scores(self, rubric, level, index):
            return checklist_sheet(rubric, [level], ["G1"] if index == 1 else [])
