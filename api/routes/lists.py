"""Routes: lists served from the read models (:mod:`core.readmodels`) — overdue findings,
every street's progress for the mid-term meeting and the public notice list.

Each request first loads the campaign through the core (another tenant's campaign is a
404, exactly as on every other route), then brings the read models up to date with the
event log (cheap when nothing is new) and reads their rows with SQL: no request replays
the campaign's candidacies or inspections. Rows are filtered by the token's tenant too.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from api.routes.answers import Answer, CheckpointView, ObjectionTally, Shape, Uuid
from core import signing
from core.actors import Role
from core.domain import Campaign
from core.readmodels import read_models

router = APIRouter(route_class=LedgerRoute)

ON_QUERY = Query(None, description="按此日期判断是否逾期 Judge overdue as of this date (YYYY-MM-DD), default today",
                 examples=["2020-09-01"])
RESIDENTS = " 居民无权查看 Residents get 403."


class OverdueRow(Shape):
    """逾期问题 A finding past its rectification deadline and not accepted."""

    inspection_id: UUID
    finding_id: str
    candidacy_id: UUID | None
    community_id: UUID
    community: str | None
    street: str | None
    kind: str
    purpose: str
    visit_date: str
    item: str
    severity: str
    deadline: str
    status: str = Field(description="open, planned, completed or rejected")
    completed_on: str | None
    verified_on: str | None
    overdue: bool
    days_overdue: int
    accepted: bool


class OverdueFindings(Shape):
    """逾期未整改问题 The campaign's overdue findings, earliest deadline first."""

    campaign_id: UUID
    as_of: str
    count: int
    findings: list[OverdueRow]


class CandidacyCounts(Shape):
    total: int
    by_status: dict[str, int]


class InspectionCounts(Shape):
    done: int
    unannounced: int
    supervision: int


class FindingCounts(Shape):
    total: int
    open: int = Field(description="未验收 Not yet accepted")
    overdue: int
    verified: int = Field(description="已验收 Accepted")
    rejected: int


class OfficialTotals(Shape):
    scored: int = Field(description="已评 Candidacies whose official assessment covers every item")
    average: str | None = Field(description="平均综合得分 Their average official total, or null")


class StreetRow(Shape):
    """街道进度 One street of the campaign's candidate communities."""

    district: str | None
    street: str | None
    candidacies: CandidacyCounts
    inspections: InspectionCounts
    findings: FindingCounts
    official_total: OfficialTotals


class StreetProgress(Shape):
    """各街道进度 Every street's progress."""

    campaign_id: UUID
    as_of: str
    streets: list[StreetRow]


class NoticeListEntry(Shape):
    """公示候选 A candidate of the public notice list (`listed` false: approved, not listed; staff only)."""

    candidacy_id: UUID
    listed: bool
    community_id: UUID | None
    community: str | None
    district: str | None
    street: str | None
    level: str | None
    level_label: str | None
    total: str | None = Field(description="综合得分 Official total as published")
    objections: ObjectionTally
    reasons: list[str]
    named: bool | None = Field(description="是否命名 null until the decision")
    revoked: bool


class NoticeList(Shape):
    """公示名单 The public notice window and its candidates, in the notice's order."""

    campaign_id: UUID
    code: str
    title: str
    start: str
    end: str
    closed: bool
    decided: bool
    candidates: list[NoticeListEntry]
    checkpoint: CheckpointView


@router.get(
    "/campaigns/{campaign_id}/findings/overdue",
    tags=["inspections"],
    summary="逾期未整改问题 Overdue findings",
    description="活动中超过整改期限且未验收通过的问题，按期限排序（读模型）。The campaign's findings (campaign visits "
                "and supervision) whose rectification deadline has passed on `on` (default today) without an accepted "
                "verification, earliest deadline first. Each row: `inspection_id`, `finding_id`, `candidacy_id`, "
                "`community_id`, `community`, `street`, `kind`, `purpose`, `visit_date`, `item`, `severity`, "
                "`deadline`, `status` (open, planned, completed, rejected), `completed_on`, `verified_on`, `overdue`, "
                "`days_overdue`, `accepted`. Answers `{campaign_id, as_of, count, findings}`." + RESIDENTS,
)
def overdue_findings(campaign_id: Uuid, actor: CurrentActor, app: Ledger, on: str | None = ON_QUERY) -> Answer[OverdueFindings]:
    campaign = app.load(Campaign, campaign_id, actor, "campaign", readonly=True)  # no copy: only read
    day = app.check_date("on", on) if on else app.today()
    rows = read_models(app).findings(actor, str(campaign.id), on=day, overdue_only=True)
    return {"campaign_id": str(campaign.id), "as_of": day, "count": len(rows), "findings": rows}


@router.get(
    "/campaigns/{campaign_id}/streets/progress",
    tags=["campaigns"],
    summary="各街道进度 Every street's progress",
    description="中期推进会用：按街道统计申报状态、巡查次数、问题（未完成/逾期/已验收）及已评分申报的平均综合得分（读模型）。"
                "For the mid-term meeting, one row per street of the campaign's candidate communities: `district`, "
                "`street`, `candidacies` (`total`, `by_status`), `inspections` (`done`, `unannounced`, `supervision`), "
                "`findings` (`total`, `open` = not yet accepted, `overdue` on `on` (default today), `verified` = "
                "accepted, `rejected`) and `official_total` (`scored`: candidacies whose official assessment covers "
                "every item, `average`: their average official total, 2 decimals, or null). Answers "
                "`{campaign_id, as_of, streets}`." + RESIDENTS,
)
def street_progress(campaign_id: Uuid, actor: CurrentActor, app: Ledger, on: str | None = ON_QUERY) -> Answer[StreetProgress]:
    campaign = app.load(Campaign, campaign_id, actor, "campaign", readonly=True)  # no copy: only read
    day = app.check_date("on", on) if on else app.today()
    return {"campaign_id": str(campaign.id), "as_of": day,
            "streets": read_models(app).street_progress(actor, str(campaign.id), on=day)}


@router.get(
    "/campaigns/{campaign_id}/notice/list",
    tags=["decisions"],
    summary="公示名单列表 The public notice list",
    description="公示名单：社区、街道、级别、综合得分、异议情况，命名后注明是否命名；居民可读（读模型）。The candidates on "
                "the campaign's public notice, in the notice's order: `candidacy_id`, `listed`, `community_id`, "
                "`community`, `district`, `street`, `level`, `level_label`, `total` (official total), `objections` "
                "(`filed`, `open`, `upheld`, `dismissed`), `reasons` (the decision style's preliminary reasons), "
                "`named` (null until the decision) and `revoked`. Residents may read it and see the listed candidates "
                "only; other roles also see the approved candidates not listed (`listed: false`). Answers "
                "`{campaign_id, code, title, start, end, closed, decided, candidates, checkpoint}` (`checkpoint`: a "
                "signed checkpoint of the tenant's transparency log covering the list); 404 before the notice opens.",
)
def notice_list(campaign_id: Uuid, actor: CurrentActor, app: Ledger) -> Answer[NoticeList]:
    campaign = app.load(Campaign, campaign_id, actor, "campaign", readonly=True)  # no copy: only read
    notice = read_models(app).notice_list(actor, str(campaign.id), listed_only=actor.role is Role.RESIDENT)
    return {"campaign_id": str(campaign.id), "code": campaign.code, "title": campaign.title, **notice,
            "checkpoint": signing.covering(app.recorder, campaign.tenant)}
