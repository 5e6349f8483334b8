"""A synthetic brand-community selection (品牌社区评选), built through the platform's own
commands: 52 communities, 13 places, as in seed 004 ("全区52个社区共评选出13个品牌社区").

The district (云川区), its streets, communities and people are fictional; community names
are generated. Each community declares one of the five types. Three assessors score every
candidate; three communities tie on the official total at the quota boundary (ranks
13–15), which the satisfaction rate and then the self-assessment total resolve. During the
public notice an objection against the 5th-ranked community is upheld, so the community
that lost the boundary tie-break moves up into the 13th place.

Alongside the campaign it records the work rhythm of seed 004 as progress records (每月一
碰头、每季度一推进、年终总结), the three person awards (十佳社区工作者 and 十佳社区志愿者
scored by the three assessors, 最美老姨妈 by votes; 12 fictional nominees each, 10 places)
and the yearly performance ranking of 10 fictional member departments (everyone ranked).
Selection codes derive from the campaign code, so an interrupted run rebuilt under a new
campaign code does not collide with the selections it left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.actors import Actor, Role
from core.errors import NotFound
from core.plugins.types import Demo
from core.rubric import sheet_for_total
from core.services import CivicLedger
from plugins.brand_community.rubric import LEVEL, RUBRIC_ID, data

TENANT = "demo-brand"
TENANT_NAME = "云川区（演示，虚构）"
DISTRICT = "云川区"
CAMPAIGN_CODE = "brand-2019"
QUOTA = 13
SIZE = 52

_FIRST = ["青", "枫", "柳", "松", "桂", "兰", "竹", "梅", "荷", "杏", "桃", "槐", "榆"]
_SECOND = ["溪苑", "湖里", "山园", "林湾"]
STREETS = ["北岸街道", "南岸街道", "东关街道", "西关街道"]


@dataclass(frozen=True)
class Planned:
    """One fictional community and the figures the demo records for it."""

    code: str
    name: str
    street: str
    households: int
    type: str
    rank: int  # its intended place in the ranking before the objection
    official: tuple[float, float, float]  # three assessors' totals
    self_total: float
    satisfied: int  # of 200 respondents; 20 basically satisfied, the rest dissatisfied


def _planned() -> list[Planned]:
    """52 communities; community n is intended for rank (19 n mod 52) + 1, so the register
    order does not give the ranking away."""
    types = data()["types"]
    out = []
    for n in range(SIZE):
        rank = (19 * n) % SIZE + 1
        if rank <= 12:
            total = 113 - rank  # 112 … 101
        elif rank <= 15:
            total = 100  # the boundary tie: ranks 13, 14 and 15
        else:
            total = 99 - (rank - 16) * 0.5  # 99 … 81
        satisfied = 176 - (rank % 7)
        self_total = min(120, total + 3)
        if rank == 13:
            satisfied, self_total = 174, 104  # 97.0%: ahead of 14 and 15 by satisfaction
        elif rank == 14:
            satisfied, self_total = 172, 104  # 96.0%: ahead of 15 by self-assessment
        elif rank == 15:
            satisfied, self_total = 172, 102
        out.append(Planned(
            code=f"y{n + 1:02d}",
            name=f"{_FIRST[n // 4]}{_SECOND[n % 4]}社区",
            street=STREETS[n % 4],
            households=900 + (n * 137) % 1400,
            type=types[n % len(types)],
            rank=rank,
            official=(total + 1, total - 1, total),
            self_total=self_total,
            satisfied=satisfied,
        ))
    return out


COMMUNITIES = _planned()
UPHELD_OBJECTION_RANK = 5
MOVES_UP_RANK = 14


_SURNAMES = ["林", "陈", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何"]
_GIVEN = ["晓红", "建国", "丽华", "志强", "秀英", "海燕", "文斌", "桂兰", "明辉", "淑珍", "国庆", "玉梅"]
PERSON_AWARDS = [
    # (code suffix, title, method, nominee organisation kind)
    ("workers", "十佳社区工作者", "score", "社区居委会"),
    ("volunteers", "十佳社区志愿者", "score", "社区志愿服务队"),
    ("aunties", "最美老姨妈", "votes", "社区居民"),
]
AWARD_PLACES = 10
AWARD_NOMINEES = 12
DEPARTMENTS = [
    "区文明办", "区财政局", "区住建局", "区城管局", "区卫健局",
    "区文旅局", "区公安分局", "区人社局", "区教育局", "区市场监管局",
]
MONTHLY = ["2019-03", "2019-04", "2019-05"]
QUARTERLY = ["2019-Q1", "2019-Q2"]


def _nominee_points(award: int, k: int, assessor: int) -> float:
    """Assessor's points for nominee k (1-based) of award number ``award``: the means fall
    by one per nominee, except that nominees 10 and 11 tie at the boundary of the ten
    places, so nomination order gives nominee 10 the 10th place."""
    mean = 98 - min(k, 10) - (1 if k == 12 else 0) - award
    return mean + (assessor - 2) * 0.5


def _actor(role: Role, name: str, org: str) -> Actor:
    return Actor(id=name, role=role, organisation=org, tenant=TENANT)


@dataclass
class Cast:
    owner: Actor = _actor(Role.CITY_OWNER, "区民政局-周局长", "云川区民政局（演示）")
    district: Actor = _actor(Role.DISTRICT_OFFICER, "创建办-吴科长", "云川区品牌社区创建工作指挥部（演示）")
    resident: Actor = _actor(Role.RESIDENT, "居民-郑", "居民")

    def street(self, name: str) -> Actor:
        return _actor(Role.STREET_OFFICER, f"{name}-科长", name)

    def assessor(self, n: int) -> Actor:
        return _actor(Role.ASSESSOR, f"考评组-{n}", "区考评组（演示）")


def build(app: CivicLedger, step: Callable[[str], None] = lambda _: None) -> str:
    """Build the demo campaign (or find the finished one) and return its id."""
    cast = Cast()
    app.ensure_tenant(cast.owner, TENANT, TENANT_NAME)
    code, done = app.resumable_campaign_code(cast.owner, CAMPAIGN_CODE, lambda c: c.decided)
    if done:
        step("演示数据已存在 (demo already recorded)")
        return done

    step("登记社区 (registering 52 communities)")
    community_ids = {}
    for c in COMMUNITIES:
        try:
            community_ids[c.code] = str(app.community_by_code(cast.owner, c.code).id)
        except NotFound:
            community_ids[c.code] = app.register_community(
                cast.district, c.code, c.name, DISTRICT, c.street, c.households, c.households * 3, on="2019-01-05"
            )

    step("创建活动（名额13个）(creating the campaign, quota 13)")
    campaign = app.create_campaign(
        cast.owner, code, "2019年品牌社区创建评选（演示）", 2019, RUBRIC_ID, quota=QUOTA, on="2019-01-10"
    )
    app.open_campaign(cast.owner, campaign, on="2019-01-10")
    rubric = app.rubric_of(app.campaign(cast.owner, campaign))

    step("申报创建类型、区级初审 (applications with their type, review)")
    candidacies: dict[str, str] = {}
    for c in COMMUNITIES:
        candidacies[c.code] = app.apply(
            cast.street(c.street), campaign, community_ids[c.code], LEVEL,
            sheet_for_total(rubric, c.self_total), facts={"type": c.type}, on="2019-02-15",
        )
    for cid in candidacies.values():
        app.review(cast.district, cid, "approve", on="2019-02-25")
    app.freeze_candidates(cast.district, campaign, on="2019-02-28")

    step("每月一碰头、每季度一推进 (monthly check-ins, quarterly pushes)")
    for month in MONTHLY:
        for street in STREETS:
            app.record_progress(
                cast.district, campaign, "monthly", month, street, f"{street}{month}月度碰头：挂图作战，按月分解任务",
                {"tasks_done": 3, "tasks_planned": 4}, on=f"{month}-28",
            )
    for quarter, end in zip(QUARTERLY, ["2019-03-31", "2019-06-30"]):
        app.record_progress(
            cast.owner, campaign, "quarterly", quarter, "all", f"{quarter}季度推进会：通报进度、督办落实",
            {"communities_on_track": 48 + len(quarter)}, on=end,
        )

    step("年终考评：三名考评员评分 (year-end scoring by three assessors)")
    for c in COMMUNITIES:
        for n, total in enumerate(c.official, start=1):
            app.submit_score_sheet(
                cast.assessor(n), candidacies[c.code], "official", sheet_for_total(rubric, total), on="2019-11-20"
            )

    step("满意度测评、排名公示 (satisfaction survey and public notice)")
    for c in COMMUNITIES:
        app.record_survey(
            cast.owner, candidacies[c.code], respondents=200, households=180,
            satisfied=c.satisfied, basically_satisfied=20, dissatisfied=180 - c.satisfied, on="2019-11-28",
        )
    app.open_public_notice(cast.owner, campaign, "2019-12-01", "2019-12-07", on="2019-12-01")

    step("公示期异议 (an objection upheld)")
    target = next(c for c in COMMUNITIES if c.rank == UPHELD_OBJECTION_RANK)
    objection = app.file_objection(
        cast.resident, candidacies[target.code], "社区养老服务中心长期闭门，与申报材料不符", ["10"], on="2019-12-03"
    )
    app.resolve_objection(cast.owner, candidacies[target.code], objection, True, "经核查，异议属实", on="2019-12-05")
    app.close_public_notice(cast.owner, campaign, on="2019-12-08")

    step("三“十佳”评选 (three person awards)")
    for a, (suffix, title, method, org) in enumerate(PERSON_AWARDS):
        award = app.open_selection(
            cast.owner, f"{code}-{suffix}", f"2019年{title}（演示，虚构）", 2019, "person", method,
            places=AWARD_PLACES, max_score=100, step="0.5", on="2019-09-01",
        )
        for k in range(1, AWARD_NOMINEES + 1):
            c = COMMUNITIES[(a * AWARD_NOMINEES + k) % SIZE]
            name = _SURNAMES[(k + a) % len(_SURNAMES)] + _GIVEN[(k * 5 + a) % len(_GIVEN)]
            app.nominate(
                cast.street(c.street), award, f"{suffix}-{k:02d}", name, f"{c.name}{org}",
                "扎根社区、服务居民，群众公认（虚构事迹）", community_id=community_ids[c.code], on="2019-09-20",
            )
        for k in range(1, AWARD_NOMINEES + 1):
            if method == "score":
                for n in (1, 2, 3):
                    app.record_score(cast.assessor(n), award, f"{suffix}-{k:02d}", _nominee_points(a, k, n), on="2019-11-22")
            else:
                votes = 1500 - 100 * k if k != 11 else 1500 - 100 * 10  # nominees 10 and 11 tie
                app.record_votes(cast.owner, award, f"{suffix}-{k:02d}", votes, on="2019-11-22")
        app.select(cast.owner, award, on="2019-12-10")

    step("成员单位年度绩效排名 (yearly ranking of member departments)")
    ranking = app.open_selection(
        cast.owner, f"{code}-departments", "2019年品牌社区创建成员单位年度绩效考核排名（演示，虚构）", 2019,
        "department", "score", places=None, max_score=100, step="0.5", on="2019-12-01",
    )
    for k, department in enumerate(DEPARTMENTS, start=1):
        app.nominate(
            cast.district, ranking, f"dept-{k:02d}", f"{department}（演示）", f"{department}（演示）",
            "品牌社区创建任务列入年度绩效考核", on="2019-12-02",
        )
        for n in (1, 2, 3):
            app.record_score(cast.assessor(n), ranking, f"dept-{k:02d}", 80 + (k * 7) % 19 + n * 0.5, on="2019-12-12")
    app.select(cast.owner, ranking, on="2019-12-15")

    step("年终总结 (year-end summary)")
    app.record_progress(
        cast.owner, campaign, "yearly", "2019", "all", "年终总结：品牌社区创建任务全面完成（演示）",
        {"communities": SIZE, "places": QUOTA, "person_awards": len(PERSON_AWARDS)}, on="2019-12-18",
    )

    step("按名额评定品牌社区 (selection by quota)")
    app.decide(cast.owner, campaign, on="2019-12-20")
    return campaign


DEMO = Demo(
    name="brand-community-2019",
    title="云川区2019年品牌社区（六好五型）评选（演示，虚构）",
    stages=11,
    build=build,
    reader=Cast().owner,
)
