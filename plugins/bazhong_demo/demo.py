"""Bazhong's 2020 城乡社区示范 campaign on the real list of the plan's 附件
(2020年城乡社区示范创建统计表: 8 communities in 6 counties and districts), built through the
same commands a user would issue.

The communities, their streets and counties are the published list. Everything else is
invented for the demonstration and labelled so: which types each applied for, the facts
reported, household numbers, assessors' findings, the survey, the objection and the
province-level recommendations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.actors import Actor, Role
from core.errors import NotFound
from core.plugins.types import Demo
from core.services import CivicLedger
from plugins.bazhong_demo.rubric import RUBRIC_ID, checklist_sheet

TENANT = "demo-bazhong"
TENANT_NAME = "巴中市（演示）"
CAMPAIGN_CODE = "bazhong-2020"
CAMPAIGN_TITLE = "2020年城乡社区示范创建（演示：名单真实，类型、数据与结果虚构）"
PROVINCE = "省级示范社区候选"

# The published list: code, community, county/district, street (or town).
COMMUNITIES = [
    ("bzq-hongyan", "红岩社区", "巴州区", "宕梁街道"),
    ("bzq-huifeng", "回风社区", "巴州区", "回风街道"),
    ("eyq-xinchang", "新场社区", "恩阳区", "登科街道"),
    ("eyq-mashi", "麻石社区", "恩阳区", "登科街道"),
    ("nj-hongta", "红塔社区", "南江县", "集州街道"),
    ("tj-xiejiaheba", "谢家河坝社区", "通江县", "诺江镇"),
    ("pc-liaojiazui", "廖家咀社区", "平昌县", "同州街道"),
    ("jk-dongjin", "东锦社区", "经开区", "兴文街道"),
]

# Invented: households, and the types applied for with the facts reported for each.
HOUSEHOLDS = {
    "bzq-hongyan": 3260, "bzq-huifeng": 2840, "eyq-xinchang": 2150, "eyq-mashi": 1680,
    "nj-hongta": 2510, "tj-xiejiaheba": 1930, "pc-liaojiazui": 2370, "jk-dongjin": 2050,
}
SOCIAL_ORGS = {
    "professional_social_workers": 2,
    "registered_community_social_organisations": 3,
    "organisations_undertaking_purchased_services": 2,
}
APPLICATIONS: list[tuple[str, str, dict]] = [
    ("bzq-hongyan", "convenience", {}),
    ("bzq-hongyan", "social-organisations", SOCIAL_ORGS),
    ("bzq-huifeng", "smart", {}),
    ("eyq-xinchang", "service-projects", {}),
    ("eyq-mashi", "convenience", {}),
    ("nj-hongta", "social-enterprise", {"social_enterprises": 1, "community_funds": 0}),
    ("tj-xiejiaheba", "distinctive", {}),
    ("pc-liaojiazui", "social-organisations", {**SOCIAL_ORGS, "registered_community_social_organisations": 2}),
    ("jk-dongjin", "social-enterprise", {"social_enterprises": 0, "community_funds": 1}),
]
# Returned by the county for missing material, then resubmitted with the facts corrected.
RETURNED = ("jk-dongjin", "social-enterprise")
# (community, type) -> {assessor number: items that assessor found not met}
UNMET = {("eyq-mashi", "convenience"): {2: ["B4"], 3: ["B4"]}}
DISMISSED_OBJECTION = ("bzq-huifeng", "smart")
PUT_FORWARD = [("bzq-hongyan", "social-organisations"), ("nj-hongta", "social-enterprise")]


def _actor(role: Role, name: str, org: str) -> Actor:
    return Actor(id=name, role=role, organisation=org, tenant=TENANT)


@dataclass
class Cast:
    owner: Actor = field(default_factory=lambda: _actor(Role.CITY_OWNER, "市民政局-基层政权科", "巴中市民政局（演示）"))
    inspector: Actor = field(default_factory=lambda: _actor(Role.INSPECTOR, "专项督查组", "市委组织部、市民政局专项督查组（演示）"))
    resident: Actor = field(default_factory=lambda: _actor(Role.RESIDENT, "居民-甲", "居民"))

    def county(self, name: str) -> Actor:
        return _actor(Role.DISTRICT_OFFICER, f"{name}民政局", f"{name}民政局（演示）")

    def street(self, name: str) -> Actor:
        return _actor(Role.STREET_OFFICER, f"{name}-社区科", name)

    def community(self, code: str) -> Actor:
        """A community's residents' committee: it acts for its own community only."""
        name = next(n for c, n, *_ in COMMUNITIES if c == code)
        return _actor(Role.COMMUNITY, f"{name}居委会", name)

    def assessor(self, n: int) -> Actor:
        return _actor(Role.ASSESSOR, f"评估验收组-{n}", "市级评估验收组（演示）")


def build(app: CivicLedger, step: Callable[[str], None] = lambda _: None) -> str:
    """Build the demo campaign (or find the finished one) and return its id."""
    cast = Cast()
    app.ensure_tenant(cast.owner, TENANT, TENANT_NAME)
    code, done = app.resumable_campaign_code(
        cast.owner, CAMPAIGN_CODE,
        lambda c: c.decided and any(app.candidacy(cast.owner, cid).put_forward for cid in c.candidacies),
    )
    if done:
        step("演示数据已存在 (demo already recorded)")
        return done
    where = {c_code: (county, street) for c_code, _, county, street in COMMUNITIES}

    step("登记社区、创建活动 (registering the 2020 list, creating the campaign)")
    community_ids = {}
    for c_code, name, county, street in COMMUNITIES:
        try:
            community_ids[c_code] = str(app.community_by_code(cast.owner, c_code).id)
        except NotFound:
            community_ids[c_code] = app.register_community(
                cast.county(county), c_code, name, county, street, HOUSEHOLDS[c_code], HOUSEHOLDS[c_code] * 3,
                on="2020-05-15",
            )
    campaign = app.create_campaign(cast.owner, code, CAMPAIGN_TITLE, 2020, RUBRIC_ID, on="2020-05-18")
    app.open_campaign(cast.owner, campaign, on="2020-05-18")
    rubric = app.rubric_of(app.campaign(cast.owner, campaign))

    step("按类型申报、县区初审 (applications per type, county review)")
    candidacies: dict[tuple[str, str], str] = {}
    for c_code, level, facts in APPLICATIONS:
        county, street = where[c_code]
        candidacies[c_code, level] = cid = app.apply(
            cast.street(street), campaign, community_ids[c_code], level, checklist_sheet(rubric, [level]),
            facts=facts, on="2020-05-20",
        )
        if (c_code, level) == RETURNED:
            app.review(cast.county(county), cid, "return", "请补充社区基金备案材料", on="2020-05-22")
            app.resubmit(cast.street(street), cid, checklist_sheet(rubric, [level]), facts=facts, on="2020-05-25")
        app.review(cast.county(county), cid, "approve", on="2020-05-27")
    app.freeze_candidates(cast.owner, campaign, on="2020-05-31")

    step("组织实施：专项监督检查 (implementation: unannounced supervision visits)")
    for n, (c_code, level, _) in enumerate(APPLICATIONS):
        app.conduct_inspection(
            cast.inspector, candidacies[c_code, level], "unannounced" if n % 2 else "announced",
            f"2020-{7 + n % 3:02d}-{10 + n:02d}", ["督查员甲", "督查员乙"],
        )

    step("县区检查验收、市级评估验收 (county checks, city acceptance assessment)")
    for (c_code, level), cid in candidacies.items():
        county, _ = where[c_code]
        app.submit_score_sheet(cast.community(c_code), cid, "self", checklist_sheet(rubric, [level]), on="2020-11-02")
        app.submit_score_sheet(cast.county(county), cid, "mock", checklist_sheet(rubric, [level]), on="2020-11-10")
        for n in (1, 2, 3):
            unmet = UNMET.get((c_code, level), {}).get(n, [])
            app.submit_score_sheet(cast.assessor(n), cid, "official", checklist_sheet(rubric, [level], unmet), on="2020-11-20")

    step("满意度测评、公示 (survey, public notice)")
    for (c_code, level), cid in candidacies.items():
        app.record_survey(
            cast.owner, cid, respondents=200, households=180, satisfied=168, basically_satisfied=26,
            dissatisfied=6, on="2020-11-25",
        )
    app.open_public_notice(cast.owner, campaign, "2020-12-01", "2020-12-07", on="2020-12-01")
    objection = app.file_objection(
        cast.resident, candidacies[DISMISSED_OBJECTION], "智慧社区平台部分便捷服务尚未开通", ["Z2"], on="2020-12-03"
    )
    app.resolve_objection(
        cast.owner, candidacies[DISMISSED_OBJECTION], objection, False, "经核查，政务、医护等便捷服务已上线运行，异议不成立",
        on="2020-12-06",
    )
    app.close_public_notice(cast.owner, campaign, on="2020-12-08")

    step("评选授牌市级示范社区 (city-level titles per type)")
    app.decide(cast.owner, campaign, on="2020-12-15")

    step("推荐省级示范社区候选 (province-level candidates)")
    for key in PUT_FORWARD:
        app.put_forward(cast.owner, candidacies[key], PROVINCE, "市级示范社区创建成效突出，推荐争创基层治理省级示范社区", on="2020-12-20")
    return campaign


DEMO = Demo(
    name="bazhong-2020",
    title="巴中市2020年城乡社区示范创建（演示：名单真实，类型、数据与结果虚构）",
    stages=7,
    build=build,
    reader=Cast().owner,
)
