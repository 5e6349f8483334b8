"""The brand-community plugin (品牌社区，“六好五型”, seed 004): rubric data, the
quota-ranking decision style, the default schedule, a lifecycle on every backend and the
52-community demo."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest

import plugins.brand_community as brand
from core.actors import Role
from core.domain.candidacy import NAMED, NOT_NAMED
from core.errors import RuleViolation
from core.plugins.types import PHASE_KINDS, CandidateEvidence, DecisionContext
from core.rubric import Rubric, sheet_for_total
from core.services import CivicLedger
from core.styles.quota import QuotaRankingStyle, rank
from core.testing import PluginContract
from plugins.brand_community import demo
from plugins.brand_community.rubric import LEVEL, RUBRIC_ID, brand_2019, data
from tests.helpers import actor, notification_count, sheet

GOODS = ["自治好", "管理好", "服务好", "治安好", "环境好", "风尚好"]
TYPES = ["便民服务型", "温馨关爱型", "文明祥和型", "文体活跃型", "平安宜居型"]
STYLE = QuotaRankingStyle()


class TestBrandCommunityContract(PluginContract):
    """The plugin passes the plugin contract, each sample candidate declaring a type."""

    plugin = brand
    plugin_name = "brand_community"
    campaign_year = 2019
    quota = 2

    def sample_application(self, rubric, level, index):
        return sheet_for_total(rubric, rubric.max_total), {"type": TYPES[index % len(TYPES)]}


# -- rubric data ------------------------------------------------------------------------


def test_rubric_has_the_six_goods_with_equal_provisional_weights():
    rubric = brand_2019()
    assert [c.title for c in rubric.categories] == GOODS
    assert all(c.max_points == 20 and len(c.items) == 4 for c in rubric.categories)
    assert rubric.max_total == 120 and len(rubric.items()) == 24
    assert rubric.style == "quota-ranking" and rubric.provisional and rubric.is_provisional
    level = rubric.level(LEVEL)
    assert level.label.startswith("品牌社区") and level.provisional
    assert "占位" in level.note and "placeholder" in level.note and "并非官方" in level.note


def test_rubric_declares_the_five_types_and_every_items_provenance():
    rubric = brand_2019()
    assert rubric.rules["types"] == TYPES
    provenance = data()["provenance"]
    assert sorted(provenance, key=int) == [i.id for i in rubric.items()]
    assert all(p.startswith(("seed：", "placeholder")) for p in provenance.values())
    assert "52个社区共评选出13个" in rubric.source


def test_plugin_is_installed_with_its_rubric_style_schedule_and_demo(plugins):
    assert "brand_community" in plugins.plugins and "brand_community" not in plugins.failures
    assert plugins.rubric(RUBRIC_ID).rubric == brand_2019()
    assert isinstance(plugins.style("quota-ranking"), QuotaRankingStyle)
    assert plugins.demos()[demo.DEMO.name] == (demo.DEMO, "brand_community")


def test_default_schedule_follows_the_monthly_quarterly_and_year_end_cadence(plugins):
    phases = plugins.default_schedule(brand_2019(), 2019)
    assert all(p.kind in PHASE_KINDS and p.start <= p.end for p in phases)
    assert len([p for p in phases if p.id.startswith("checkin-")]) == 9  # 每月一碰头, March to November
    assert [p.kind for p in phases if p.id.startswith("push-")] == ["midterm"] * 3  # 每季度一推进
    kinds = [p.kind for p in phases]
    assert kinds[:2] == ["plan", "application"] and kinds[-2:] == ["notice", "decision"]
    assert "年终总结" in phases[-1].label and phases[-1].end == "2019-12-31"
    tianjin = plugins.rubric("tianjin-meili").rubric
    assert brand.civic_default_schedule(tianjin, 2019) is None  # only for its own rubric


# -- the application gate and the rules -------------------------------------------------


def test_application_must_declare_one_of_the_five_types():
    rubric = brand_2019()
    assert STYLE.check_application(rubric, LEVEL, Decimal(90), {"type": "温馨关爱型"}) == []
    for facts in ({}, {"type": "智慧科技型"}):
        [reason] = STYLE.check_application(rubric, LEVEL, Decimal(90), facts)
        assert all(t in reason for t in TYPES) and "facts.type" in reason


@pytest.mark.parametrize(
    "rules, fragment",
    [
        ({}, "rules.types"),
        ({"types": []}, "rules.types"),
        ({"types": ["便民服务型", "便民服务型"]}, "unique"),
        ({"types": TYPES, "reserve_places": -1}, "rules.reserve_places"),
        ({"types": TYPES, "quota": 13}, "rules.quota"),  # the quota belongs to the campaign
    ],
)
def test_malformed_rules_are_refused_naming_the_level_and_field(rules, fragment):
    raw = brand_2019().model_dump(mode="json")
    rubric = Rubric.model_validate({**raw, "rules": rules})
    with pytest.raises(ValueError, match=fragment) as info:
        STYLE.validate_rules(rubric)
    assert "level 'brand'" in str(info.value)


# -- the style on evidence ---------------------------------------------------------------


def ev(cid: str, total: float, rate: str | None = "0.95", upheld: int = 0, self_total: float | None = 100,
       vetoes: tuple[str, ...] = ()) -> CandidateEvidence:
    survey = None if rate is None else {"respondents": 100, "satisfaction_rate": Fraction(rate)}
    return CandidateEvidence(
        candidacy_id=cid, community_id=f"com-{cid}", community_name=f"{cid}社区", level=LEVEL,
        item_points={}, subtotals={}, total=Fraction(str(total)), assessors=["a1", "a2", "a3"],
        self_total=None if self_total is None else Fraction(str(self_total)), mock_total=None,
        application_total=None, vetoes=list(vetoes), survey=survey,
        objections={"open": 0, "upheld": upheld, "dismissed": 0}, titles_held=[], facts={"type": "便民服务型"},
    )


def context(quota: int | None = 2, rubric: Rubric | None = None) -> DecisionContext:
    return DecisionContext(rubric=rubric or brand_2019(), levels=[LEVEL], quota=quota)


def named(outcomes) -> list[str]:
    return sorted(o.candidacy_id for o in outcomes if o.named)


def test_the_top_n_by_official_total_fill_the_quota():
    candidates = [ev("a", 90), ev("b", 110), ev("c", 100), ev("d", 95), ev("e", 80)]
    assert named(STYLE.decide(context(2), candidates)) == ["b", "c"]
    assert named(STYLE.decide(context(4), candidates)) == list("abcd")
    assert named(STYLE.decide(context(9), candidates)) == list("abcde")  # fewer candidates than places


@pytest.mark.parametrize(
    "first, second, key",
    [
        (ev("z", 100), ev("a", 99.5), "total"),
        (ev("z", 100, rate="0.96"), ev("a", 100, rate="0.95"), "satisfaction_rate"),
        (ev("z", 100, rate="0.50"), ev("a", 100, rate=None), "satisfaction_rate"),  # no survey ranks last
        (ev("z", 100, upheld=0), ev("a", 100, upheld=1), "upheld_objections"),
        (ev("z", 100, self_total=101), ev("a", 100, self_total=100.5), "self_total"),
        (ev("z", 100, self_total=60), ev("a", 100, self_total=None), "self_total"),
        (ev("a", 100), ev("b", 100), "candidacy_id"),  # the last resort
    ],
)
def test_each_tie_break_level_orders_candidates_the_keys_before_it_left_tied(first, second, key):
    for order in ([first, second], [second, first]):
        ranked = rank(order)
        assert [r.evidence.candidacy_id for r in ranked] == [first.candidacy_id, second.candidacy_id]
        assert [r.separated_by for r in ranked] == [None, key]
    outcomes = {o.candidacy_id: o for o in STYLE.preliminary(context(1), [second, first])}
    assert outcomes[first.candidacy_id].derivation["status"] == "proposed"
    if second.survey is None:  # the survey is checked at the preliminary stage too: not even a reserve
        assert outcomes[second.candidacy_id].derivation["status"] == "excluded"
        assert not outcomes[second.candidacy_id].named
        assert any("未进行满意度测评" in r for r in outcomes[second.candidacy_id].reasons)
    else:
        assert outcomes[second.candidacy_id].derivation["status"] == "reserve"


def test_a_tie_at_the_quota_boundary_is_resolved_and_explained():
    candidates = [ev("a", 105), ev("b", 100, rate="0.97"), ev("c", 100, rate="0.96"), ev("d", 90)]
    outcomes = {o.candidacy_id: o for o in STYLE.decide(context(2), candidates)}
    assert named(outcomes.values()) == ["a", "b"]
    loser = outcomes["c"]
    assert any("按满意率排在其后" in r and "satisfaction_rate" in r for r in loser.reasons)
    assert loser.derivation["status"] == "quota_full" and loser.derivation["rank"] == 3
    ranking = loser.derivation["ranking"]
    assert [row["candidacy_id"] for row in ranking] == ["a", "b", "c", "d"]
    assert ranking[2] == {
        "rank": 3, "candidacy_id": "c", "community": "c社区", "type": "便民服务型",
        "total": {"exact": "100", "published": "100.00"},
        "satisfaction_rate": {"exact": "24/25", "published": "96.00%"}, "upheld_objections": 0,
        "self_total": {"exact": "100", "published": "100.00"},
        "separated_by": "satisfaction_rate", "status": "quota_full", "excluded_because": [],
    }
    assert [t["key"] for t in loser.derivation["tie_breaks"]] == [
        "total", "satisfaction_rate", "upheld_objections", "self_total", "candidacy_id"
    ]


@pytest.mark.parametrize(
    "spoiled, why",
    [
        (ev("a", 110, vetoes=("V1",)), "一票否决"),
        (ev("a", 110, upheld=1), "异议成立"),
        (ev("a", 110, rate=None), "未进行满意度测评"),
    ],
)
def test_vetoes_upheld_objections_and_missing_surveys_free_places_for_the_next_ranked(spoiled, why):
    candidates = [spoiled, ev("b", 105), ev("c", 100), ev("d", 95)]
    outcomes = {o.candidacy_id: o for o in STYLE.decide(context(2), candidates)}
    assert named(outcomes.values()) == ["b", "c"]
    assert outcomes["a"].derivation["status"] == "excluded" and why in outcomes["a"].reasons[0]
    assert any("a社区被排除而递补" in r for r in outcomes["c"].reasons)
    assert outcomes["d"].derivation["status"] == "quota_full"


def test_preliminary_lists_the_quota_and_reserves_but_not_vetoed_candidates():
    candidates = [ev("a", 110, vetoes=("V1",)), ev("b", 105), ev("c", 100), ev("d", 95), ev("e", 90)]
    outcomes = {o.candidacy_id: o for o in STYLE.preliminary(context(2), candidates)}
    assert named(outcomes.values()) == ["b", "c", "d", "e"]
    assert [outcomes[c].derivation["status"] for c in "abcde"] == ["excluded", "proposed", "proposed", "reserve", "reserve"]
    assert "列为候补" in outcomes["d"].reasons[0]

    raw = brand_2019().model_dump(mode="json")
    limited = Rubric.model_validate({**raw, "rules": {**raw["rules"], "reserve_places": 1}})
    outcomes = {o.candidacy_id: o for o in STYLE.preliminary(context(2, limited), candidates)}
    assert named(outcomes.values()) == ["b", "c", "d"]
    assert outcomes["e"].derivation["status"] == "not_listed"


def test_outcomes_do_not_depend_on_the_order_of_the_evidence():
    candidates = [
        ev(f"c{n:02d}", 100 - (n // 3) * 0.5, rate=f"0.9{n % 2}", upheld=int(n in (8, 12)), self_total=100 - n % 3)
        for n in range(15)
    ]
    expected = {o.candidacy_id: o for o in STYLE.decide(context(4), candidates)}
    shuffled = list(candidates)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        again = {o.candidacy_id: o for o in STYLE.decide(context(4), shuffled)}
        assert again == expected
    assert len(named(expected.values())) == 4


def test_a_campaign_without_a_quota_cannot_be_ranked():
    for judge in (STYLE.preliminary, STYLE.decide):
        with pytest.raises(RuleViolation, match="campaign has no quota"):
            judge(context(None), [ev("a", 100)])


def test_levels_are_ranked_separately_each_with_the_quota():
    raw = brand_2019().model_dump(mode="json")
    two = Rubric.model_validate({**raw, "levels": [*raw["levels"], {**raw["levels"][0], "id": "star"}]})
    candidates = [ev("a", 100), ev("b", 90), replace(ev("c", 80), level="star"), replace(ev("d", 70), level="star")]
    assert named(STYLE.decide(DecisionContext(two, [LEVEL, "star"], 1), candidates)) == ["a", "c"]


# -- a campaign on every backend ---------------------------------------------------------

TENANT = "brand"
OWNER = actor(Role.CITY_OWNER, "owner", "某区民政局", TENANT)
DISTRICT = actor(Role.DISTRICT_OFFICER, "district", "某区创建办", TENANT)
RESIDENT = actor(Role.RESIDENT, "resident", "居民", TENANT)
ASSESSORS = [actor(Role.ASSESSOR, f"assessor-{n}", "区考评组", TENANT) for n in (1, 2, 3)]
STREET = "某街道"
# code, type, three official totals, satisfied of 100 (10 basically satisfied), self total
SMALL = [
    ("s1", "便民服务型", (110, 108, 109), 85, 110),  # 109: first, but an objection is upheld
    ("s2", "温馨关爱型", (104, 106, 105), 86, 105),  # 105
    ("s3", "文明祥和型", (101, 99, 100), 86, 104),  # 100, satisfaction 96%
    ("s4", "文体活跃型", (101, 99, 100), 84, 104),  # 100, satisfaction 94%: loses the tie, then moves up
    ("s5", "平安宜居型", (101, 99, 100), 84, 101),  # 100, 94%, lower self total
    ("s6", "便民服务型", (90, 90, 90), 80, 95),
]


def small_campaign(app: CivicLedger, quota: int | None = 2) -> tuple[str, dict[str, str]]:
    app.register_tenant(OWNER, TENANT, "某区")
    street = actor(Role.STREET_OFFICER, "street", STREET, TENANT)
    campaign = app.create_campaign(OWNER, "brand-2019", "2019年品牌社区评选", 2019, RUBRIC_ID, quota=quota, on="2019-01-10")
    app.open_campaign(OWNER, campaign, on="2019-01-10")
    rubric = app.rubric_of(app.campaign(OWNER, campaign))
    ids = {}
    for code, kind, _, _, self_total in SMALL:
        community = app.register_community(DISTRICT, code, f"{code}社区", "某区", STREET, 1000, 3000, on="2019-01-05")
        ids[code] = app.apply(street, campaign, community, LEVEL, sheet(rubric, self_total), facts={"type": kind}, on="2019-02-10")
        app.review(DISTRICT, ids[code], "approve", on="2019-02-20")
    for code, _, totals, satisfied, _ in SMALL:
        for assessor, total in zip(ASSESSORS, totals):
            app.submit_score_sheet(assessor, ids[code], "official", sheet(rubric, total), on="2019-11-20")
        app.record_survey(OWNER, ids[code], respondents=100, households=100, satisfied=satisfied,
                          basically_satisfied=10, dissatisfied=90 - satisfied, on="2019-11-25")
    return campaign, ids


def test_a_brand_campaign_selects_by_quota_with_tie_breaks_and_a_place_freed(app):
    campaign, ids = small_campaign(app)
    assert app.campaign(OWNER, campaign).quota == 2
    assert [p["kind"] for p in app.campaign(OWNER, campaign).schedule][-2:] == ["notice", "decision"]

    listed = app.open_public_notice(OWNER, campaign, "2019-12-01", "2019-12-07", on="2019-12-01")
    assert set(listed) == set(ids.values())  # two proposed, four reserves
    preliminary = app.campaign(OWNER, campaign).notice["preliminary"]
    assert "拟入选" in preliminary[ids["s1"]]["reasons"][0] and "候补" in preliminary[ids["s3"]]["reasons"][0]
    objection = app.file_objection(RESIDENT, ids["s1"], "便民服务站长期关闭", ["11"], on="2019-12-03")
    app.resolve_objection(OWNER, ids["s1"], objection, True, "经核查属实", on="2019-12-05")
    app.close_public_notice(OWNER, campaign, on="2019-12-08")

    results = app.decide(OWNER, campaign, on="2019-12-20")
    assert [code for code, _, _, _, _ in SMALL if results[ids[code]]] == ["s2", "s3"]
    statuses = {code: app.candidacy(OWNER, cid).status for code, cid in ids.items()}
    assert statuses == {"s1": NOT_NAMED, "s2": NAMED, "s3": NAMED, "s4": NOT_NAMED, "s5": NOT_NAMED, "s6": NOT_NAMED}

    s3 = app.candidacy(OWNER, ids["s3"]).decision["derivation"]
    assert s3["style"] == {"name": "quota-ranking", "version": "2"} and s3["arithmetic"] == "exact-1"
    assert s3["rubric"]["id"] == RUBRIC_ID and s3["rubric"]["hash"] == brand_2019().content_hash
    outcome = s3["outcome"]
    assert outcome["quota"] == 2 and outcome["rank"] == 3 and outcome["type"] == "文明祥和型"
    assert [row["candidacy_id"] for row in outcome["ranking"]] == [ids[c] for c in ("s1", "s2", "s3", "s4", "s5", "s6")]
    assert [row["separated_by"] for row in outcome["ranking"]] == [
        None, "total", "total", "satisfaction_rate", "self_total", "total"
    ]
    assert any("s1社区被排除而递补" in r for r in s3["reasons"])
    s4 = app.candidacy(OWNER, ids["s4"]).decision["derivation"]
    assert any("按满意率排在其后" in r for r in s4["reasons"]) and s4["outcome"]["status"] == "quota_full"
    s1 = app.candidacy(OWNER, ids["s1"]).decision["derivation"]
    assert s1["outcome"]["excluded_because"] == ["公示期异议成立 1 项 (1 objection(s) upheld)"]
    titles = app.community(OWNER, app.candidacy(OWNER, ids["s2"]).community_id).held_levels()
    assert titles == [LEVEL]


def test_an_application_without_a_known_type_is_refused_and_records_nothing(app):
    app.register_tenant(OWNER, TENANT, "某区")
    street = actor(Role.STREET_OFFICER, "street", STREET, TENANT)
    campaign = app.create_campaign(OWNER, "brand-2019", "2019年品牌社区评选", 2019, RUBRIC_ID, quota=2, on="2019-01-10")
    app.open_campaign(OWNER, campaign, on="2019-01-10")
    community = app.register_community(DISTRICT, "s1", "s1社区", "某区", STREET, 1000, 3000, on="2019-01-05")
    rubric = app.rubric_of(app.campaign(OWNER, campaign))
    before = notification_count(app)
    for facts in (None, {"type": "智慧科技型"}):
        with pytest.raises(RuleViolation, match="平安宜居型") as info:
            app.apply(street, campaign, community, LEVEL, sheet(rubric, 100), facts=facts, on="2019-02-10")
        assert "application of s1社区 refused" in str(info.value)
    assert notification_count(app) == before


def test_a_campaign_without_a_quota_is_refused_at_the_public_notice_and_records_nothing(app):
    campaign, _ = small_campaign(app, quota=None)
    before = notification_count(app)
    with pytest.raises(RuleViolation, match="campaign has no quota"):
        app.open_public_notice(OWNER, campaign, "2019-12-01", "2019-12-07", on="2019-12-01")
    assert notification_count(app) == before
    assert app.campaign(OWNER, campaign).notice is None


# -- the demo ----------------------------------------------------------------------------


def test_demo_selects_13_of_52_and_records_nothing_when_run_again(tmp_path, plugins):
    url = f"sqlite:///{tmp_path}/brand.sqlite3"
    app = CivicLedger(url, plugins=plugins)
    try:
        stages: list[str] = []
        campaign_id = demo.DEMO.build(app, stages.append)
        assert len(stages) == demo.DEMO.stages
        before = notification_count(app)
        assert demo.DEMO.build(app, stages.append) == campaign_id
        assert notification_count(app) == before
    finally:
        app.close()

    app = CivicLedger(url, plugins=plugins)  # a fresh process reads the same result
    try:
        reader = demo.DEMO.reader
        campaign = app.campaign(reader, campaign_id)
        assert campaign.quota == 13 and len(campaign.candidacies) == 52
        rows = app.outcome_table(reader, campaign_id)
        assert len({r["community"] for r in rows}) == 52
        assert sum(r["status"] == NAMED for r in rows) == 13
        by_rank = {}
        for cid in campaign.candidacies:
            outcome = app.candidacy(reader, cid).decision["derivation"]["outcome"]
            by_rank[outcome["rank"]] = (app.candidacy(reader, cid), outcome)
        assert sorted(by_rank) == list(range(1, 53))
        assert {c.facts["type"] for c, _ in by_rank.values()} == set(TYPES)
        # the boundary tie on the official total, resolved by satisfaction and then self-assessment
        assert [by_rank[r][1]["total"] for r in (13, 14, 15)] == [{"exact": "100", "published": "100.00"}] * 3
        assert [by_rank[r][1]["ranking"][r - 1]["separated_by"] for r in (13, 14, 15)] == [
            "total", "satisfaction_rate", "self_total"
        ]
        # the objection upheld against rank 5 lets rank 14 move up into the 13th place
        assert by_rank[5][0].status == NOT_NAMED and by_rank[5][1]["status"] == "excluded"
        assert by_rank[14][0].status == NAMED
        assert any("被排除而递补" in r for r in by_rank[14][0].decision["derivation"]["reasons"])
        assert by_rank[15][0].status == NOT_NAMED and by_rank[15][1]["status"] == "quota_full"
        assert sorted(r for r in by_rank if by_rank[r][0].status == NAMED) == [*range(1, 5), *range(6, 15)]
    finally:
        app.close()


def test_demo_records_the_person_awards_the_department_ranking_and_progress(plugins):
    app = CivicLedger("memory://", plugins=plugins)
    try:
        campaign_id = demo.DEMO.build(app)
        reader = demo.DEMO.reader
        code = app.campaign(reader, campaign_id).code
        for suffix, title, method, _ in demo.PERSON_AWARDS:
            award = app.selection_by_code(reader, f"{code}-{suffix}")
            assert title in award.title and award.method == method and award.places == 10
            ranking = award.ranking
            assert len(ranking) == 12 and sum(r["selected"] for r in ranking) == 10
            # nominees 10 and 11 tie at the boundary; the earlier nomination takes the 10th place
            assert [r["nominee_id"] for r in ranking[9:11]] == [f"{suffix}-10", f"{suffix}-11"]
            assert ranking[9]["figure"] == ranking[10]["figure"] and ranking[9]["tied"]
        departments = app.selection_by_code(reader, f"{code}-departments")
        assert departments.places is None and len(departments.ranking) == 10
        assert all(r["selected"] for r in departments.ranking)
        cadences = [p["cadence"] for p in app.progress(reader, campaign_id)]
        assert cadences.count("monthly") == 12 and cadences.count("quarterly") == 2 and cadences.count("yearly") == 1
    finally:
        app.close()
