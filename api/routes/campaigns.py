"""Routes: campaigns (schedule, status, the candidate list) and candidacies (applications,
resubmission, preliminary review, withdrawal).

Handlers pass the request's values to the :class:`~core.services.CivicLedger` commands,
which check the role, the tenant and every value; a refusal records nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from api.routes.answers import (Acted, ActedStatus, Answer, Evidence, ObjectionCounts, ObjectionTally, PinnedRubric,
                                Shape, Uuid, absent)
from api.routes.tenants import created, visible_tenant
from api.versioning import acted, etag, expect, written
from core.domain import Campaign, Candidacy, ids
from core.readmodels import read_models

router = APIRouter(route_class=LedgerRoute)

CAMPAIGNS = ["campaigns"]
CANDIDACIES = ["candidacies"]

ON = "生效日期 Effective date YYYY-MM-DD (default today; never in the future)"


# -- views ------------------------------------------------------------------------------------


def campaign_view(campaign: Campaign, today: str) -> dict[str, Any]:
    return {
        "id": str(campaign.id),
        "tenant": campaign.tenant,
        "code": campaign.code,
        "title": campaign.title,
        "year": campaign.year,
        "levels": list(campaign.levels),
        "quota": campaign.quota,
        "rubric": dict(campaign.rubric),
        "schedule": [dict(phase) for phase in campaign.schedule],
        "status": campaign.status,
        "frozen": campaign.frozen,
        "frozen_today": campaign.is_frozen_on(today),
        "amendments": [dict(a) for a in campaign.amendments],
        "candidacies": {cid: dict(entry) for cid, entry in campaign.candidacies.items()},
        "notice": campaign.notice,
        "decided": campaign.decided,
        "progress": [dict(p) for p in campaign.progress],
        "version": campaign.version,
    }


def _total(points: dict[str, str]) -> str:
    return str(sum((Decimal(p) for p in points.values()), Decimal(0)))


def candidacy_view(candidacy: Candidacy) -> dict[str, Any]:
    return {
        "id": str(candidacy.id),
        "tenant": candidacy.tenant,
        "campaign_id": candidacy.campaign_id,
        "community_id": candidacy.community_id,
        "level": candidacy.level,
        "status": candidacy.status,
        "application": {
            "self_scores": dict(candidacy.application_scores),
            "self_total": _total(candidacy.application_scores),
            "facts": dict(candidacy.facts),
        },
        "reviews": [dict(r) for r in candidacy.reviews],
        "scores": {
            kind: {assessor: dict(points) for assessor, points in sheets.items()}
            for kind, sheets in candidacy.scores.items()
        },
        "totals": {
            kind: {assessor: _total(points) for assessor, points in sheets.items()}
            for kind, sheets in candidacy.scores.items()
        },
        "vetoes": {vid: dict(v) for vid, v in candidacy.vetoes.items()},
        "survey": candidacy.survey,
        "objections": {oid: dict(o) for oid, o in candidacy.objections.items()},
        "objection_counts": candidacy.objection_counts(),
        "decision": candidacy.decision,
        "revocation": candidacy.revocation,
        "put_forward": [dict(p) for p in candidacy.put_forward],
        "inspections": list(candidacy.inspections),
        "version": candidacy.version,
    }


class Phase(Shape):
    """阶段 A phase of the schedule."""

    id: str
    label: str
    kind: str = Field(description="环节 The lifecycle step (application, inspection, assessment, notice, decision, …)")
    start: str = Field(description="开始 YYYY-MM-DD")
    end: str = Field(description="结束 YYYY-MM-DD (inclusive)")


class AmendmentRecord(Shape):
    """名单变更 A recorded change to the frozen candidate list."""

    candidacy_id: UUID
    change: str = Field(description="admit or remove")
    reason: str | None = Field(description="依据 The justification")


class CandidateEntry(Shape):
    """候选 A candidacy on the campaign's list; `outcome` once decided."""

    community_id: UUID
    level: str
    outcome: dict[str, Any] = absent("评定结果 What the decision recorded for it (after the decision)")


class NoticeRecord(Shape):
    """公示 The public notice as recorded on the campaign."""

    start: str
    end: str
    candidacy_ids: list[UUID] = Field(description="公示名单 The candidacies listed, in order")
    preliminary: dict[str, Any] = Field(description="初选 The decision style's preliminary outcome per candidacy")
    closed: bool


class ProgressEntry(Shape):
    """进度记录 A progress record at a cadence."""

    cadence: str = Field(description="monthly, quarterly or yearly")
    period: str = Field(description="YYYY-MM, YYYY-Qn or YYYY")
    subject: str
    summary: str
    figures: dict[str, str] = Field(description="数据 Named figures as decimal strings")
    by: str = Field(description="记录人 Who recorded it")
    effective: str | None = Field(description="生效日期 Effective date")


class CampaignView(Shape):
    """评选活动 A campaign (`ETag`: its version)."""

    id: UUID
    tenant: str
    code: str
    title: str
    year: int
    levels: list[str]
    quota: int | None
    rubric: PinnedRubric
    schedule: list[Phase]
    status: str = Field(description="draft, open, closed or cancelled")
    frozen: bool = Field(description="名单已确定 Candidate list explicitly frozen")
    frozen_today: bool = Field(description="今日名单已确定 Frozen explicitly or because the application phase is over")
    amendments: list[AmendmentRecord]
    candidacies: dict[str, CandidateEntry] = Field(description="候选名单 Candidacy id -> its entry")
    notice: NoticeRecord | None
    decided: bool
    progress: list[ProgressEntry]
    version: int


class CampaignRow(Shape):
    """活动 One campaign of a tenant's list."""

    id: UUID
    code: str
    title: str
    year: int
    rubric: PinnedRubric
    status: str
    decided: bool
    candidacies: int = Field(description="申报数 Number of candidacies")


class CampaignCreated(Shape):
    """已创建活动 The new campaign (`Location`: the campaign)."""

    id: UUID
    code: str
    rubric: PinnedRubric


class Frozen(Acted):
    """名单已确定 The campaign written and whether its candidate list is frozen."""

    frozen: bool


class Amended(Acted):
    """名单已变更 The campaign written and the candidacy admitted or removed."""

    candidacy_id: UUID
    change: str


class Applied(Shape):
    """已申报 The new candidacy (`Location`: the candidacy)."""

    id: UUID
    status: str
    level: str
    version: int


class CandidacyRow(Shape):
    """申报 One candidacy of a campaign's list (from the read model); `detail=true` adds the figures."""

    id: UUID
    community_id: UUID
    level: str
    status: str
    named: bool | None = Field(description="是否命名 Named by the decision; null before it")
    version: int
    community: str | None = absent("社区名称 (detail)")
    district: str | None = absent("区 (detail)")
    street: str | None = absent("街道 (detail)")
    self_total: str | None = absent("自评总分 (detail)")
    mock_total: str | None = absent("模拟评估总分 (detail)")
    official_total: str | None = absent("综合评估总分 Official total combined over assessors; null until every item is "
                                        "scored (detail)")
    assessors: int = absent("评估人数 Official assessors (detail)")
    satisfaction_rate: str | None = absent("满意率 (detail)")
    objections: ObjectionTally = absent("异议 (detail)")
    vetoes: int = absent("否决项数 (detail)")
    decided_on: str | None = absent("评定日期 (detail)")
    revoked: bool = absent("是否摘牌 (detail)")
    revoked_on: str | None = absent("摘牌日期 (detail)")


class ReviewRecord(Shape):
    """初审 A preliminary review."""

    outcome: str = Field(description="approve, return or reject")
    reason: str | None
    by: str


class ApplicationRecord(Shape):
    """申报材料 The application's self-assessment and facts."""

    self_scores: dict[str, str] = Field(description="自评分 Item id -> points (decimal text)")
    self_total: str
    facts: dict[str, Any]


class VetoRecord(Shape):
    """一票否决 A recorded veto."""

    by: str
    reason: str | None
    evidence: list[Evidence]


class Survey(Shape):
    """满意度测评 The satisfaction survey."""

    respondents: int
    households: int
    satisfied: int
    basically_satisfied: int
    dissatisfied: int


class ObjectionRecord(Shape):
    """异议 An objection and its resolution."""

    text: str
    items: list[str]
    filed_by: str
    status: str = Field(description="open, upheld or dismissed")
    resolution: str | None = Field(description="处理理由 The reason it was upheld or dismissed")


class Decision(Shape):
    """评定 The decision with its whole derivation."""

    named: bool
    derivation: dict[str, Any] = Field(description="推导 Rules, figures and checks the decision style applied")
    effective: str | None


class Revocation(Shape):
    """摘牌 The revocation of the title."""

    reason: str | None
    findings: list[str] = Field(description="INSPECTION_ID/FINDING_ID of the failed rectifications")
    effective: str | None


class PutForwardRecord(Shape):
    """推荐 The candidacy put forward to a higher-level selection."""

    to: str
    reason: str | None
    by: str
    effective: str | None


class CandidacyView(Shape):
    """申报 A candidacy with everything recorded on it (`ETag`: its version)."""

    id: UUID
    tenant: str
    campaign_id: UUID
    community_id: UUID
    level: str
    status: str = Field(description="applied, returned, approved, rejected, withdrawn, named, not_named or revoked")
    application: ApplicationRecord
    reviews: list[ReviewRecord]
    scores: dict[str, dict[str, dict[str, str]]] = Field(
        description="评分表 Kind (self, mock, official) -> assessor -> item id -> points")
    totals: dict[str, dict[str, str]] = Field(description="合计 Kind -> assessor -> sum of the points")
    vetoes: dict[str, VetoRecord] = Field(description="否决 Veto id -> the veto")
    survey: Survey | None
    objections: dict[str, ObjectionRecord] = Field(description="异议 Objection id -> the objection")
    objection_counts: ObjectionCounts
    decision: Decision | None
    revocation: Revocation | None
    put_forward: list[PutForwardRecord]
    inspections: list[UUID]
    version: int


class CampaignCreation(BaseModel):
    """创建评选活动 Create a campaign pinned to one rubric version."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="活动代码 Campaign code, unique in the tenant", examples=["meili-2020"])
    title: str = Field(description="活动名称 Title", examples=["2020年美丽社区创建"])
    year: StrictInt = Field(description="年度 Year (>= 2000)", examples=[2020])
    rubric_id: str = Field(description="评分标准 Rubric id", examples=["tianjin-meili"])
    rubric_version: str | None = Field(
        default=None, description="评分标准版本 Rubric version (default: the highest)", examples=["2017"]
    )
    levels: list[str] | None = Field(
        default=None, description="参评级别 Levels competed for (default: every level of the rubric)",
        examples=[["meili", "jingpin"]],
    )
    quota: StrictInt | None = Field(default=None, description="名额 Quota (>= 1), for quota-ranking styles", examples=[13])
    schedule: list[dict[str, Any]] | None = Field(
        default=None,
        description="日程 Phases {id, label, kind, start, end} (default: the plugin's schedule for the year)",
        examples=[[{"id": "apply", "label": "申报", "kind": "application", "start": "2020-03-10", "end": "2020-03-31"}]],
    )
    on: str | None = Field(default=None, description=ON, examples=["2020-03-09"])


class PhaseChange(BaseModel):
    """调整阶段日期 Move a phase of the schedule (with a reason)."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(description="开始日期 Start YYYY-MM-DD", examples=["2020-04-01"])
    end: str = Field(description="结束日期 End YYYY-MM-DD (inclusive, on or after start)", examples=["2020-04-30"])
    reason: str = Field(description="理由 Why (recorded)", examples=["疫情防控，顺延一个月"])
    on: str | None = Field(default=None, description=ON, examples=["2020-03-20"])


class Dated(BaseModel):
    """生效日期（可选） Only the effective date of the act (the body may be omitted)."""

    model_config = ConfigDict(extra="forbid")

    on: str | None = Field(default=None, description=ON, examples=["2020-03-09"])


class Cancellation(BaseModel):
    """取消活动 Cancel a campaign that has no decisions (with a reason)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="理由 Why (recorded)", examples=["上级通知暂停创建工作"])
    on: str | None = Field(default=None, description=ON, examples=["2020-04-01"])


class Amendment(BaseModel):
    """变更已确定的候选名单 The city owner's recorded change to a frozen candidate list."""

    model_config = ConfigDict(extra="forbid")

    community_id: str = Field(description="社区编号 Community id", examples=["3f0c1a52-6d1e-5b7a-9a43-0c1e7d0a2b11"])
    level: str = Field(description="级别 Level", examples=["meili"])
    change: str = Field(description="变更 admit (late application) or remove (a candidate)", examples=["admit"])
    justification: str = Field(description="依据 Justification (recorded)", examples=["经领导小组研究同意补报"])
    on: str | None = Field(default=None, description=ON, examples=["2020-04-02"])


class Application(BaseModel):
    """申报 A street officer applies for one of its communities with a complete self-assessment."""

    model_config = ConfigDict(extra="forbid")

    community_id: str = Field(description="社区编号 Community id", examples=["3f0c1a52-6d1e-5b7a-9a43-0c1e7d0a2b11"])
    level: str = Field(description="申报级别 Level applied for", examples=["meili"])
    self_scores: dict[str, Any] = Field(
        description="自评分表 Self-assessment: every item id of the rubric -> points (number or decimal text)",
        examples=[{"1": "3", "2": 2.5}],
    )
    facts: dict[str, Any] | None = Field(
        default=None, description="申报事实 Facts the decision style may need (text, numbers, true/false)",
        examples=[{"type": "safe"}],
    )
    on: str | None = Field(default=None, description=ON, examples=["2020-03-10"])


class Resubmission(BaseModel):
    """重新申报 Resubmit an application the district returned for changes."""

    model_config = ConfigDict(extra="forbid")

    self_scores: dict[str, Any] = Field(
        description="自评分表 Complete self-assessment: item id -> points", examples=[{"1": "3", "2": 2.5}]
    )
    facts: dict[str, Any] | None = Field(default=None, description="申报事实 Facts", examples=[{"type": "safe"}])
    on: str | None = Field(default=None, description=ON, examples=["2020-03-15"])


class Review(BaseModel):
    """初审 District preliminary review of a submitted application."""

    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(description="结论 approve, return (for changes) or reject", examples=["approve"])
    reason: str | None = Field(default=None, description="理由 Why (required to return or reject)", examples=["自评材料不全"])
    on: str | None = Field(default=None, description=ON, examples=["2020-03-11"])


class Withdrawal(BaseModel):
    """撤回申报 Withdraw an application before the candidate list is frozen."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="理由 Why (recorded)", examples=["社区合并，不再参评"])
    on: str | None = Field(default=None, description=ON, examples=["2020-03-20"])


# -- campaigns ------------------------------------------------------------------------------------


@router.post(
    "/tenants/{tenant}/campaigns", status_code=201, tags=CAMPAIGNS,
    summary="创建活动 Create a campaign",
    description="市级创建评选活动，固定评分标准版本（编号、版本、哈希）。A city owner creates a campaign pinned to one "
                "rubric version; answers `{id, code, rubric}` and its `Location`.",
)
def create_campaign(
    tenant: str, body: CampaignCreation, actor: CurrentActor, app: Ledger, request: Request, response: Response,
) -> Answer[CampaignCreated]:
    visible_tenant(app, actor, tenant)
    with expect(app, request, ids.tenant_id(tenant)):
        campaign_id = app.create_campaign(
            actor, body.code, body.title, body.year, body.rubric_id, rubric_version=body.rubric_version,
            levels=body.levels, quota=body.quota, schedule=body.schedule, on=body.on,
        )
    campaign = app.campaign(actor, campaign_id)
    return created(response, f"/campaigns/{campaign_id}",
                   {"id": campaign_id, "code": campaign.code, "rubric": dict(campaign.rubric)})


@router.get(
    "/tenants/{tenant}/campaigns", tags=CAMPAIGNS,
    summary="活动列表 A tenant's campaigns",
    description="租户的全部活动：编号、代码、名称、年度、评分标准、状态、候选数。Id, code, title, year, pinned rubric, "
                "status, decided and number of candidacies of every campaign.",
)
def list_campaigns(tenant: str, actor: CurrentActor, app: Ledger) -> Answer[list[CampaignRow]]:
    return app.campaigns_of(actor, tenant)


@router.get(
    "/campaigns/{campaign_id}", tags=CAMPAIGNS,
    summary="活动详情 A campaign",
    description="代码、名称、年度、级别、名额、评分标准、日程各阶段、状态、名单是否确定、公示与命名情况。Code, title, "
                "year, levels, quota, pinned rubric, schedule with its phases, status, whether the candidate list is "
                "frozen (`frozen`: explicitly; `frozen_today`: explicitly or because the application phase is "
                "over), amendments, candidacies, public notice and whether it is decided; `ETag` is its version.",
)
def get_campaign(campaign_id: Uuid, actor: CurrentActor, app: Ledger, response: Response) -> Answer[CampaignView]:
    campaign = app.campaign(actor, campaign_id)
    etag(response, campaign.version)
    return campaign_view(campaign, app.today())


@router.get(
    "/tenants/{tenant}/campaigns/by-code/{code}", tags=CAMPAIGNS,
    summary="按代码查活动 A campaign by its code",
    description="按活动代码查找。The campaign created under `code` in the tenant (as `GET /campaigns/{id}`).",
)
def get_campaign_by_code(tenant: str, code: str, actor: CurrentActor, app: Ledger, response: Response) -> Answer[CampaignView]:
    visible_tenant(app, actor, tenant)
    campaign = app.campaign(actor, str(ids.campaign_id(tenant, code)))
    etag(response, campaign.version)
    return campaign_view(campaign, app.today())


@router.post(
    "/campaigns/{campaign_id}/phases/{phase_id}", tags=CAMPAIGNS,
    summary="调整阶段 Reschedule a phase",
    description="市级调整某阶段起止日期（须说明理由；名单确定后不能再移动申报阶段）。A city owner moves a phase with a "
                "reason; answers `{id, version}`. `If-Match` names the campaign's version.",
)
def reschedule_phase(
    campaign_id: Uuid, phase_id: str, body: PhaseChange, actor: CurrentActor, app: Ledger, request: Request,
) -> Answer[Acted]:
    with expect(app, request, campaign_id) as saved:
        app.reschedule_phase(actor, campaign_id, phase_id, body.start, body.end, body.reason, on=body.on)
    return written(app, saved, campaign_id)


@router.post(
    "/campaigns/{campaign_id}/open", tags=CAMPAIGNS,
    summary="启动活动 Open a campaign",
    description="市级启动草稿状态的活动（之后可以申报）。A city owner opens a draft campaign; answers `{id, version, "
                "status}`. The body (only `on`) may be omitted. `If-Match` names the campaign's version.",
)
def open_campaign(
    campaign_id: Uuid, actor: CurrentActor, app: Ledger, request: Request, body: Dated | None = None,
) -> Answer[ActedStatus]:
    with expect(app, request, campaign_id):
        app.open_campaign(actor, campaign_id, on=body.on if body else None)
    campaign = app.campaign(actor, campaign_id)
    return acted(campaign_id, campaign.version, status=campaign.status)


@router.post(
    "/campaigns/{campaign_id}/close", tags=CAMPAIGNS,
    summary="结束活动 Close a campaign",
    description="市级结束已命名的活动。A city owner closes an open campaign once it is decided; answers "
                "`{id, version, status}`. `If-Match` names the campaign's version.",
)
def close_campaign(
    campaign_id: Uuid, actor: CurrentActor, app: Ledger, request: Request, body: Dated | None = None,
) -> Answer[ActedStatus]:
    with expect(app, request, campaign_id):
        app.close_campaign(actor, campaign_id, on=body.on if body else None)
    campaign = app.campaign(actor, campaign_id)
    return acted(campaign_id, campaign.version, status=campaign.status)


@router.post(
    "/campaigns/{campaign_id}/cancel", tags=CAMPAIGNS,
    summary="取消活动 Cancel a campaign",
    description="市级取消尚未命名的活动（须说明理由）。A city owner cancels a campaign without decisions, with a "
                "reason; answers `{id, version, status}`. `If-Match` names the campaign's version.",
)
def cancel_campaign(
    campaign_id: Uuid, body: Cancellation, actor: CurrentActor, app: Ledger, request: Request,
) -> Answer[ActedStatus]:
    with expect(app, request, campaign_id):
        app.cancel_campaign(actor, campaign_id, body.reason, on=body.on)
    campaign = app.campaign(actor, campaign_id)
    return acted(campaign_id, campaign.version, status=campaign.status)


@router.post(
    "/campaigns/{campaign_id}/freeze", tags=CAMPAIGNS,
    summary="确定候选名单 Freeze the candidate list",
    description="确定候选名单（一旦确定原则上不得更改，之后只能由市级变更并说明依据）。A city owner or district officer "
                "freezes the candidate list; answers `{id, version, frozen}`. `If-Match` names the campaign's version.",
)
def freeze_candidates(
    campaign_id: Uuid, actor: CurrentActor, app: Ledger, request: Request, body: Dated | None = None,
) -> Answer[Frozen]:
    with expect(app, request, campaign_id):
        app.freeze_candidates(actor, campaign_id, on=body.on if body else None)
    campaign = app.campaign(actor, campaign_id)
    return acted(campaign_id, campaign.version, frozen=campaign.frozen)


@router.post(
    "/campaigns/{campaign_id}/amendments", tags=CAMPAIGNS,
    summary="变更候选名单 Amend the frozen candidate list",
    description="市级变更已确定的名单：admit 补报、remove 移出（同时撤回其申报），须说明依据。A city owner admits a late "
                "application or removes a candidate, with a justification; answers `{id, version, candidacy_id}`. "
                "`If-Match` names the campaign's version.",
)
def amend_candidates(
    campaign_id: Uuid, body: Amendment, actor: CurrentActor, app: Ledger, request: Request,
) -> Answer[Amended]:
    with expect(app, request, campaign_id) as saved:
        candidacy_id = app.amend_candidates(
            actor, campaign_id, body.community_id, body.level, body.change, body.justification, on=body.on
        )
    return written(app, saved, campaign_id, candidacy_id=candidacy_id, change=body.change)


# -- candidacies ----------------------------------------------------------------------------------


@router.post(
    "/campaigns/{campaign_id}/candidacies", status_code=201, tags=CANDIDACIES,
    summary="申报 Apply",
    description="街道为本街道社区申报某一级别，附完整自评分表与申报事实。A street officer applies for one of its "
                "street's communities with the complete self-assessment score sheet; answers `{id, status}` and its "
                "`Location`. `If-Match` names the campaign's version.",
)
def apply(
    campaign_id: Uuid, body: Application, actor: CurrentActor, app: Ledger, request: Request, response: Response,
) -> Answer[Applied]:
    with expect(app, request, campaign_id):
        candidacy_id = app.apply(actor, campaign_id, body.community_id, body.level, body.self_scores, body.facts, on=body.on)
    candidacy = app.candidacy(actor, candidacy_id)
    return created(response, f"/candidacies/{candidacy_id}",
                   {"id": candidacy_id, "status": candidacy.status, "level": candidacy.level, "version": candidacy.version})


@router.get(
    "/campaigns/{campaign_id}/candidacies", tags=CANDIDACIES,
    summary="申报列表 A campaign's candidacies",
    description="活动的全部申报：社区、级别、状态、是否命名；可附得分并按综合得分排名（读模型）。Every candidacy of the "
                "campaign, served from the candidacies read model (kept up to date from the event log; no candidacy "
                "is replayed per request): `id`, `community_id`, `level`, `status`, `named` (null before the "
                "decision), `version`, in application order. `detail=true` adds `community`, `district`, `street`, "
                "`self_total`, `mock_total`, `official_total` (official scores combined over assessors by the "
                "rubric's aggregation; null until every item is scored; after the decision, the total it recorded), "
                "`assessors`, `satisfaction_rate`, `objections` (`filed`, `open`, `upheld`, `dismissed`), `vetoes`, "
                "`decided_on`, `revoked`, `revoked_on`. `order=ranking` lists by official total, highest first, "
                "unscored last. 居民无权查看 Residents get 403 (they read the public notice list).",
)
def list_candidacies(
    campaign_id: Uuid, actor: CurrentActor, app: Ledger,
    detail: bool = Query(False, description="附得分等明细 Add the figures (totals, survey, objections, ...)"),
    order: str = Query("applied", description="排序 applied (application order) or ranking (official total, highest "
                                              "first)", examples=["ranking"]),
) -> Answer[list[CandidacyRow]]:
    campaign = app.load(Campaign, campaign_id, actor, "campaign", readonly=True)  # no copy: only read
    rows = read_models(app).candidacies(actor, str(campaign.id), order=order, detail=detail)
    listed = []
    for row in rows:
        entry = {"id": row["candidacy_id"], "community_id": row["community_id"], "level": row["level"],
                 "status": row["status"], "named": row["named"], "version": row["version"]}
        if detail:
            entry.update({k: v for k, v in row.items() if k not in entry and k != "candidacy_id"})
        listed.append(entry)
    return listed


@router.get(
    "/candidacies/{candidacy_id}", tags=CANDIDACIES,
    summary="申报详情 A candidacy",
    description="状态、级别、社区、自评申报、初审、各类评分（自评/模拟/正式）、否决、满意度测评、异议、命名结论及推导、摘牌。"
                "Status, level, community, application, reviews, score sheets by kind (self, mock, official) with "
                "totals, vetoes, survey, objections, decision with its derivation, revocation; `ETag` is its version.",
)
def get_candidacy(candidacy_id: Uuid, actor: CurrentActor, app: Ledger, response: Response) -> Answer[CandidacyView]:
    candidacy = app.candidacy(actor, candidacy_id)
    etag(response, candidacy.version)
    return candidacy_view(candidacy)


def _candidacy_acted(app: Any, actor: Any, candidacy_id: str) -> dict[str, Any]:
    candidacy = app.candidacy(actor, candidacy_id)
    return acted(candidacy_id, candidacy.version, status=candidacy.status)


@router.post(
    "/candidacies/{candidacy_id}/resubmit", tags=CANDIDACIES,
    summary="重新申报 Resubmit",
    description="街道修改后重新提交被退回的申报。A street officer resubmits a returned application with a new complete "
                "self-assessment; answers `{id, version, status}`. `If-Match` names the candidacy's version.",
)
def resubmit(
    candidacy_id: Uuid, body: Resubmission, actor: CurrentActor, app: Ledger, request: Request,
) -> Answer[ActedStatus]:
    with expect(app, request, candidacy_id):
        app.resubmit(actor, candidacy_id, body.self_scores, body.facts, on=body.on)
    return _candidacy_acted(app, actor, candidacy_id)


@router.post(
    "/candidacies/{candidacy_id}/review", tags=CANDIDACIES,
    summary="初审 Review",
    description="区民政局初审：approve 通过、return 退回修改、reject 不通过（后两者须说明理由）。A district officer "
                "approves, returns or rejects a submitted application; answers `{id, version, status}`. "
                "`If-Match` names the candidacy's version.",
)
def review(candidacy_id: Uuid, body: Review, actor: CurrentActor, app: Ledger, request: Request) -> Answer[ActedStatus]:
    with expect(app, request, candidacy_id):
        app.review(actor, candidacy_id, body.outcome, body.reason, on=body.on)
    return _candidacy_acted(app, actor, candidacy_id)


@router.post(
    "/candidacies/{candidacy_id}/withdraw", tags=CANDIDACIES,
    summary="撤回申报 Withdraw",
    description="名单确定前撤回申报（须说明理由；之后只能由市级变更名单）。A street officer or city owner withdraws an "
                "application before the list is frozen; answers `{id, version, status}`. `If-Match` names the "
                "candidacy's version.",
)
def withdraw(candidacy_id: Uuid, body: Withdrawal, actor: CurrentActor, app: Ledger, request: Request) -> Answer[ActedStatus]:
    with expect(app, request, candidacy_id):
        app.withdraw(actor, candidacy_id, body.reason, on=body.on)
    return _candidacy_acted(app, actor, candidacy_id)
