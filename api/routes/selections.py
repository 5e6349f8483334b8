"""Routes: selections (评选表彰) — person awards and department rankings — and the progress
records of a campaign (monthly check-ins, quarterly pushes, a year-end summary).

Every handler passes the request's values to a :class:`~core.services.CivicLedger` command
or query (``core/services/selections.py``), which checks the role, the tenant and every
value; a refusal becomes a problem document and records nothing. Residents read public
notices only: a selection or progress record of their own tenant is 403 for them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import Field, StrictFloat, StrictInt, StrictStr

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from api.routes.answers import Acted, Answer, Registered, Shape, Uuid, absent
from api.routes.campaigns import ProgressEntry
from api.routes.inspections import Body
from api.routes.tenants import created
from api.versioning import etag, expect, written
from core.domain import Selection
from core.errors import NotFound
from core.permissions import authorize
from core.services import CivicLedger

router = APIRouter(tags=["selections"], route_class=LedgerRoute)
RESIDENTS = " 居民无权查看 Residents get 403."

#: A number as JSON number or decimal string ("0.5"); the core checks range and step.
Number = StrictInt | StrictFloat | StrictStr

ON = Field(
    default=None, description="生效日期 Effective date YYYY-MM-DD (default today; never in the future)",
    examples=["2020-03-01"],
)


# -- request bodies ---------------------------------------------------------------------------


class SelectionOpening(Body):
    """发起评选 Open a selection (person award or department ranking) in the tenant (city owner)."""

    code: str = Field(description="评选代码 Selection code, unique in the tenant", examples=["workers-2020"])
    title: str = Field(description="评选名称 Title", examples=["2020年度十佳社区工作者评选"])
    year: StrictInt = Field(description="年度 Year (>= 2000)", examples=[2020])
    subject: str = Field(description="评选对象 What is ranked: person or department", examples=["person"])
    method: str = Field(
        description="评定方式 How: score (assessors' mean score) or votes (recorded vote counts)", examples=["score"],
    )
    places: StrictInt | None = Field(
        default=None, description="名额 How many are selected (>= 1; omitted: everyone is ranked)", examples=[10],
    )
    max_score: Number = Field(
        default=100, description="满分 Highest score (method score; a number > 0)", examples=[100],
    )
    step: Number = Field(
        default=1, description="分值步长 Score step (method score; divides max_score)", examples=["0.5"],
    )
    on: str | None = ON


class Nomination(Body):
    """推荐候选 Nominate a person or department (district or street officer); each nominee once."""

    nominee_id: str = Field(description="候选编号 Nominee id, unique in the selection", examples=["n01"])
    name: str = Field(description="姓名或单位名称 Name of the person or department", examples=["王某某"])
    organisation: str = Field(description="所在单位 Organisation", examples=["詹滨里社区居委会"])
    reason: str = Field(description="推荐理由 Why (recorded)", examples=["服务居民成绩突出"])
    community_id: str | None = Field(
        default=None, description="所在社区 Community id (optional, a community of the tenant)",
        examples=["3f2b6c1e-4d5a-5b6c-8d7e-9f0a1b2c3d4e"],
    )
    on: str | None = ON


class SelectionScore(Body):
    """评分 An assessor's score for one nominee (0..max_score on the step, once per assessor)."""

    nominee_id: str = Field(description="候选编号 Nominee id", examples=["n01"])
    points: Number = Field(description="得分 Points (number or decimal string)", examples=["92.5"])
    on: str | None = ON


class SelectionVotes(Body):
    """票数 The vote count of one nominee (city owner), recorded once."""

    nominee_id: str = Field(description="候选编号 Nominee id", examples=["n01"])
    votes: StrictInt = Field(description="票数 Vote count (whole number >= 0)", examples=[340])
    on: str | None = ON


class SelectionMade(Body):
    """确定评选结果 Make the selection (city owner): the full ranking is recorded once."""

    on: str | None = ON


class ProgressRecord(Body):
    """进度记录 A progress record of a campaign at a cadence (district officer or city owner)."""

    cadence: str = Field(description="周期 monthly, quarterly or yearly", examples=["monthly"])
    period: str = Field(
        description="期间 YYYY-MM (monthly), YYYY-Qn (quarterly) or YYYY (yearly); begun by the effective date",
        examples=["2020-05"],
    )
    subject: str = Field(description="事项 What the record is about", examples=["东丽区创建推进"])
    summary: str = Field(description="进展摘要 Summary", examples=["完成12个社区的自评与整改部署"])
    figures: dict[str, Any] | None = Field(
        default=None, description="数据 Named figures (numbers or decimal strings)",
        examples=[{"communities": 12, "rectified_rate": "0.85"}],
    )
    on: str | None = ON


# -- views --------------------------------------------------------------------------------------


def selection_view(app: CivicLedger, selection: Selection) -> dict[str, Any]:
    nominees = []
    for nominee_id, nominee in selection.nominees.items():
        row = {
            "nominee_id": nominee_id,
            "name": nominee["name"],
            "organisation": nominee["organisation"],
            "community_id": nominee["community_id"],
            "reason": nominee["reason"],
            "order": nominee["order"],
            "nominated_by": nominee["by"],
            **(app.shown_figure(selection, nominee_id) if selection.has_figure(nominee_id) else {"figure": None, "exact": None}),
        }
        if selection.method == "score":
            row["scores"] = dict(selection.scores.get(nominee_id, {}))
        else:
            row["votes"] = selection.votes.get(nominee_id)
        nominees.append(row)
    return {
        "id": str(selection.id),
        "tenant": selection.tenant,
        "code": selection.code,
        "title": selection.title,
        "year": selection.year,
        "subject": selection.subject,
        "method": selection.method,
        "places": selection.places,
        "max_score": selection.max_score,
        "step": selection.step,
        "nominees": nominees,
        "selected": selection.selected,
        "ranking": [dict(row) for row in selection.ranking] if selection.ranking is not None else None,
        "tie_break": selection.tie_break,
        "version": selection.version,
    }


class NomineeView(Shape):
    """候选 A nominee with its figure so far: `scores` (method score) or `votes` (method votes)."""

    nominee_id: str
    name: str
    organisation: str
    community_id: UUID | None
    reason: str
    order: int = Field(description="推荐顺序 Nomination order (1 = first)")
    nominated_by: str
    figure: str | None = Field(description="当前得分 Mean score (2 places) or vote count; null before any")
    exact: str | None = Field(description="精确值 The exact figure as a fraction; null before any")
    scores: dict[str, str] = absent("评分 Assessor -> points (method score)")
    votes: int | None = absent("票数 The vote count, or null (method votes)")


class RankingRow(Shape):
    """排名 One row of the recorded ranking."""

    rank: int
    nominee_id: str
    name: str
    figure: str
    exact: str
    selected: bool
    tied: bool = Field(description="并列 Same figure as another nominee")
    assessors: int = absent("评估人数 Assessors who scored (method score)")


class SelectionView(Shape):
    """评选 A selection (`ETag`: its version)."""

    id: UUID
    tenant: str
    code: str
    title: str
    year: int
    subject: str = Field(description="person or department")
    method: str = Field(description="score or votes")
    places: int | None
    max_score: str | None
    step: str | None
    nominees: list[NomineeView]
    selected: bool
    ranking: list[RankingRow] | None
    tie_break: str | None
    version: int


class Nominated(Acted):
    """已推荐 The selection written and the nominee."""

    nominee_id: str


class Selected(Acted):
    """评选结果 The selection written, its whole ranking and the tie-break rule."""

    ranking: list[RankingRow]
    tie_break: str


# -- selections -------------------------------------------------------------------------------


@router.post(
    "/tenants/{tenant}/selections", status_code=201,
    summary="发起评选 Open a selection",
    description="市级发起人物评选或部门排名。A city owner opens a person award or a department ranking in its "
                "tenant: `method` score (assessors score 0..`max_score` in steps of `step`, the mean ranks) or "
                "votes (recorded vote counts rank); `places` is how many are selected (omitted: everyone is "
                "ranked). Answers `{id, code}` and `Location: /selections/{id}`; 409 if the code exists.",
)
def open_selection(
    tenant: str, body: SelectionOpening, actor: CurrentActor, app: Ledger, response: Response,
) -> Answer[Registered]:
    app.tenant(actor, tenant)  # 404 for a tenant the token may not see, as for one that does not exist
    if actor.tenant != tenant:  # an auditor of every tenant may read it, never write
        authorize(actor, "open_selection")
        raise NotFound("tenant", repr(tenant))
    selection_id = app.open_selection(
        actor, body.code, body.title, body.year, body.subject, body.method, places=body.places,
        max_score=body.max_score, step=body.step, on=body.on,
    )
    return created(response, f"/selections/{selection_id}", {"id": selection_id, "code": body.code.strip()})


@router.get(
    "/selections/{selection_id}",
    summary="评选详情 A selection",
    description="评选的设置、候选、评分或票数及（已确定时）完整排名。Settings, nominees with their scores (per "
                "assessor) or vote counts and current figure, and once made the recorded ranking with its "
                "tie-break rule; `ETag` is its version." + RESIDENTS,
)
def get_selection(selection_id: Uuid, actor: CurrentActor, app: Ledger, response: Response) -> Answer[SelectionView]:
    selection = app.selection(actor, selection_id)
    etag(response, selection.version)
    return selection_view(app, selection)


@router.post(
    "/selections/{selection_id}/nominations",
    summary="推荐候选 Nominate",
    description="区民政局或街道推荐候选人或单位（每个候选一次）。A district or street officer nominates a person or "
                "department once; answers `{id, version, nominee_id}`. `If-Match` names the selection's version.",
)
def nominate(selection_id: Uuid, body: Nomination, actor: CurrentActor, app: Ledger, request: Request) -> Answer[Nominated]:
    with expect(app, request, selection_id) as saved:
        app.nominate(actor, selection_id, body.nominee_id, body.name, body.organisation, body.reason,
                     community_id=body.community_id, on=body.on)
    return written(app, saved, selection_id, nominee_id=body.nominee_id.strip())


@router.post(
    "/selections/{selection_id}/scores",
    summary="评分 Record a score",
    description="评估组为一名候选评分（每名评估员对每名候选一次）。An assessor scores one nominee (0..max_score on "
                "the step, once); answers `{id, version}`. `If-Match` names the selection's version.",
)
def record_score(
    selection_id: Uuid, body: SelectionScore, actor: CurrentActor, app: Ledger, request: Request,
) -> Answer[Acted]:
    with expect(app, request, selection_id) as saved:
        app.record_score(actor, selection_id, body.nominee_id, body.points, on=body.on)
    return written(app, saved, selection_id)


@router.post(
    "/selections/{selection_id}/votes",
    summary="录入票数 Record votes",
    description="市级录入一名候选的票数（一次）。The city owner records one nominee's vote count once; answers "
                "`{id, version}`. `If-Match` names the selection's version.",
)
def record_votes(
    selection_id: Uuid, body: SelectionVotes, actor: CurrentActor, app: Ledger, request: Request,
) -> Answer[Acted]:
    with expect(app, request, selection_id) as saved:
        app.record_votes(actor, selection_id, body.nominee_id, body.votes, on=body.on)
    return written(app, saved, selection_id)


@router.post(
    "/selections/{selection_id}/select",
    summary="确定评选结果 Make the selection",
    description="市级确定结果：按得分（或票数）降序、同分按推荐先后排名，前 places 名入选；完整排名只记录一次。"
                "The city owner makes the selection once: figure descending, ties by nomination order "
                "(earlier first), the first `places` selected. Answers `{id, version, ranking, tie_break}`. "
                "`If-Match` names the selection's version.",
)
def select(selection_id: Uuid, body: SelectionMade, actor: CurrentActor, app: Ledger, request: Request) -> Answer[Selected]:
    with expect(app, request, selection_id):
        ranking = app.select(actor, selection_id, on=body.on)
    selection = app.selection(actor, selection_id)
    return {"id": str(selection.id), "version": selection.version, "ranking": ranking, "tie_break": selection.tie_break}


# -- progress records of a campaign ----------------------------------------------------------


@router.post(
    "/campaigns/{campaign_id}/progress",
    summary="记录进度 Record progress",
    description="区民政局或市级按周期记录活动进度（同一周期、期间、事项只记录一次）。A district officer or the city "
                "owner records progress at a cadence: `period` YYYY-MM (monthly), YYYY-Qn (quarterly) or YYYY "
                "(yearly), begun by the effective date; `figures` are stored as decimal strings. Answers "
                "`{id, version}` of the campaign. `If-Match` names the campaign's version.",
)
def record_progress(
    campaign_id: Uuid, body: ProgressRecord, actor: CurrentActor, app: Ledger, request: Request,
) -> Answer[Acted]:
    with expect(app, request, campaign_id):
        app.record_progress(actor, campaign_id, body.cadence, body.period, body.subject, body.summary,
                            figures=body.figures, on=body.on)
    campaign = app.campaign(actor, campaign_id)
    return {"id": str(campaign.id), "version": campaign.version}


@router.get(
    "/campaigns/{campaign_id}/progress",
    summary="进度记录 Progress records",
    description="活动的全部进度记录（按记录先后）。A campaign's progress records in recorded order: cadence, period, "
                "subject, summary, figures, who and when. `ETag` is the campaign's version." + RESIDENTS,
)
def progress(campaign_id: Uuid, actor: CurrentActor, app: Ledger, response: Response) -> Answer[list[ProgressEntry]]:
    campaign = app.campaign(actor, campaign_id)
    etag(response, campaign.version)
    return app.progress(actor, campaign_id)
