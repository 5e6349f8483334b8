"""A complete synthetic campaign, built through the same commands a user would issue.

Modelled on the Dongli district 2020 timeline (seed 000): applications in March,
inspections and unannounced visits from late March, rectification by the end of August,
self-assessment and district mock assessment in September, city assessment in October,
public notice with satisfaction survey in November, decisions, and a re-inspection the
following spring that ends in a revocation. All communities and people are fictional.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.actors import Actor, Role
from core.errors import NotFound
from core.rubric import sheet_for_total
from core.plugins.types import Demo
from core.services import CivicLedger

TENANT = "demo-tianjin"
TENANT_NAME = "天津市（演示）"
RUBRIC = "tianjin-meili"
CAMPAIGN_CODE = "dongli-2020"
DIGEST = "5f2b1c0d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"

# code, name, street, households, self total, official totals of three assessors, premium?
COMMUNITIES = [
    ("d01", "晨光里社区", "东湖街道", 1860, 93, (94, 92, 93), True),
    ("d02", "和畅园社区", "东湖街道", 1420, 88, (86, 87, 85), False),
    ("d03", "清溪苑社区", "东湖街道", 990, 84, (78, 76, 77), False),
    ("d04", "翠柳居社区", "新华街道", 2210, 91, (91, 90, 92), True),
    ("d05", "锦绣坊社区", "新华街道", 1340, 86, (84, 83, 85), False),
    ("d06", "安澜里社区", "新华街道", 760, 82, (81, 80, 82), False),
    ("d07", "金桥花园社区", "金桥街道", 1980, 89, (88, 89, 87), False),
    ("d08", "德馨苑社区", "金桥街道", 1150, 85, (83, 85, 84), False),
    ("d09", "鸿运里社区", "金桥街道", 880, 81, (74, 75, 73), False),
    ("d10", "丰泽园社区", "丰泽街道", 2460, 92, (92, 93, 91.5), True),
    ("d11", "春晖里社区", "丰泽街道", 1010, 87, (86, 85, 86), False),
    ("d12", "兰亭社区", "丰泽街道", 1290, 83, (82, 81, 83), False),
]
UPHELD_OBJECTION = "d05"
OVERDUE = "d08"
REVOKED = "d02"


def _actor(role: Role, name: str, org: str) -> Actor:
    return Actor(id=name, role=role, organisation=org, tenant=TENANT)


@dataclass
class Cast:
    owner: Actor = _actor(Role.CITY_OWNER, "市民政局-张处长", "天津市民政局（演示）")
    district: Actor = _actor(Role.DISTRICT_OFFICER, "区民政局-李科长", "东丽区民政局（演示）")
    inspector: Actor = _actor(Role.INSPECTOR, "巡查组-赵", "第三方评估机构（演示）")
    resident: Actor = _actor(Role.RESIDENT, "居民-陈", "居民")

    def street(self, name: str) -> Actor:
        return _actor(Role.STREET_OFFICER, f"{name}-科长", name)

    def community(self, code: str) -> Actor:
        """A community's residents' committee: it acts for its own community only."""
        name = next(n for c, n, *_ in COMMUNITIES if c == code)
        return _actor(Role.COMMUNITY, f"{name}居委会", name)

    def assessor(self, n: int) -> Actor:
        return _actor(Role.ASSESSOR, f"评估组-{n}", "市评估组（演示）")


def build(app: CivicLedger, step: Callable[[str], None] = lambda _: None) -> str:
    """Build the demo campaign (or find the finished one) and return its id."""
    cast = Cast()
    app.ensure_tenant(cast.owner, TENANT, TENANT_NAME)
    code, done = app.resumable_campaign_code(
        cast.owner, CAMPAIGN_CODE,
        lambda c: c.decided and any(app.candidacy(cast.owner, cid).revocation for cid in c.candidacies),
    )
    if done:
        step("演示数据已存在 (demo already recorded)")
        return done
    step("登记社区 (registering communities)")
    community_ids = {}
    for c_code, name, street, households, *_ in COMMUNITIES:
        try:
            community_ids[c_code] = str(app.community_by_code(cast.owner, c_code).id)
        except NotFound:
            community_ids[c_code] = app.register_community(
                cast.district, c_code, name, "东丽区", street, households, households * 3, on="2020-03-01"
            )
    step("创建活动 (creating the campaign)")
    campaign = app.create_campaign(cast.owner, code, "2020年美丽社区和精品美丽社区创建（演示）", 2020, RUBRIC, on="2020-03-09")
    app.open_campaign(cast.owner, campaign, on="2020-03-09")
    rubric = app.rubric_of(app.campaign(cast.owner, campaign))

    step("街道申报、区级初审 (applications and preliminary review)")
    candidacies: dict[str, str] = {}
    for c_code, name, street, _, self_total, _, premium in COMMUNITIES:
        levels = ["meili", "jingpin"] if premium else ["meili"]
        for level in levels:
            key = c_code if level == "meili" else f"{c_code}+"
            candidacies[key] = app.apply(
                cast.street(street), campaign, community_ids[c_code], level, sheet_for_total(rubric, self_total), on="2020-03-10"
            )
    first = candidacies["d03"]
    app.review(cast.district, first, "return", "自评材料缺少居民代表会议记录", on="2020-03-11")
    app.resubmit(cast.street("东湖街道"), first, sheet_for_total(rubric, 84), on="2020-03-11")
    for cid in candidacies.values():
        app.review(cast.district, cid, "approve", on="2020-03-12")
    app.freeze_candidates(cast.district, campaign, on="2020-03-12")

    step("巡查与暗访、整改 (inspections, unannounced visits, rectification)")
    for n, (c_code, *_rest) in enumerate(COMMUNITIES):
        kind = "unannounced" if n % 2 else "announced"
        visit = app.conduct_inspection(cast.inspector, candidacies[c_code], kind, f"2020-05-{10 + n:02d}", ["巡查员甲", "巡查员乙"])
        if n % 3 and c_code != OVERDUE:
            continue
        finding = app.record_finding(
            cast.inspector, visit, "44", "楼道内杂物堆放，照明不全", "major", "清理楼道、补装照明", "2020-08-31",
            [{"name": f"{c_code}-楼道.jpg", "sha256": DIGEST}],
        )
        if c_code == OVERDUE:
            app.plan_rectification(cast.community(c_code), visit, finding, "街道牵头组织清理", on="2020-06-01")
            continue  # never completed: overdue after 2020-08-31
        app.complete_rectification(
            cast.community(c_code), visit, finding, "已清理并补装照明", [{"name": f"{c_code}-整改后.jpg", "sha256": DIGEST}], on="2020-08-25"
        )
        app.verify_rectification(cast.inspector, visit, finding, True, "复查合格", on="2020-09-02")

    step("自查自评、模拟评估、市级评估 (self, mock and official assessments)")
    for c_code, _, _, _, self_total, official, premium in COMMUNITIES:
        keys = [c_code, f"{c_code}+"] if premium else [c_code]
        for key in keys:
            app.submit_score_sheet(cast.community(c_code), candidacies[key], "self", sheet_for_total(rubric, self_total), on="2020-09-08")
            app.submit_score_sheet(cast.district, candidacies[key], "mock", sheet_for_total(rubric, min(official) - 1), on="2020-09-22")
            for n, total in enumerate(official, start=1):
                app.submit_score_sheet(cast.assessor(n), candidacies[key], "official", sheet_for_total(rubric, total), on="2020-10-20")

    step("公示与满意度测评 (public notice and satisfaction survey)")
    for c_code, _, _, households, _, official, premium in COMMUNITIES:
        respondents = 200
        dissatisfied = 6 if min(official) >= 90 else 14
        for key in ([c_code, f"{c_code}+"] if premium else [c_code]):
            app.record_survey(
                cast.owner, candidacies[key], respondents=respondents, households=min(respondents, households),
                satisfied=respondents - dissatisfied - 20, basically_satisfied=20, dissatisfied=dissatisfied, on="2020-11-04",
            )
    app.open_public_notice(cast.owner, campaign, "2020-11-01", "2020-11-07", on="2020-11-01")
    objection = app.file_objection(
        cast.resident, candidacies[UPHELD_OBJECTION], "小区内仍有私搭乱建未整改，与公示材料不符", ["39"], on="2020-11-03"
    )
    app.resolve_objection(cast.owner, candidacies[UPHELD_OBJECTION], objection, True, "经现场核查，异议属实", on="2020-11-06")
    dismissed = app.file_objection(cast.resident, candidacies["d07"], "停车位不足", ["41"], on="2020-11-04")
    app.resolve_objection(cast.owner, candidacies["d07"], dismissed, False, "车辆停放有序，异议不成立", on="2020-11-06")
    app.close_public_notice(cast.owner, campaign, on="2020-11-08")

    step("命名决定 (naming decisions)")
    app.decide(cast.owner, campaign, on="2020-11-30")

    step("回头看与摘牌 (re-inspection and revocation)")
    revisit = app.conduct_inspection(
        cast.inspector, candidacies[REVOKED], "unannounced", "2021-04-15", ["巡查员丙"], purpose="supervision"
    )
    finding = app.record_finding(
        cast.inspector, revisit, "38", "垃圾分类未落实，存在卫生死角", "critical", "落实垃圾分类、清除卫生死角", "2021-05-31",
        [{"name": "回头看-卫生.jpg", "sha256": DIGEST}],
    )
    app.complete_rectification(cast.community(REVOKED), revisit, finding, "已整改", [{"name": "整改.jpg", "sha256": DIGEST}], on="2021-05-20")
    app.verify_rectification(cast.inspector, revisit, finding, False, "复查仍存在卫生死角，整改不合格", on="2021-06-05")
    app.revoke(cast.owner, candidacies[REVOKED], "回头看整改不合格，取消美丽社区称号", [f"{revisit}/{finding}"], on="2021-06-20")
    return campaign


DEMO = Demo(
    name="tianjin-dongli-2020",
    title="天津市东丽区2020年美丽社区和精品美丽社区创建（演示）",
    stages=9,
    build=build,
    reader=Cast().owner,
)
