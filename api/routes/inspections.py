"""Routes: inspections and unannounced visits (巡查、暗访), findings, rectification (整改) and
sealed visit plans.

Every handler passes the request's values straight to the ledger's command, which checks
the role, the tenant and the values and raises the errors :mod:`api.problems` answers.
Residents read none of this (they file objections and read public notices); the inspected
community and its street do not find a sealed visit plan until it is revealed (404).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from api.routes.answers import Acted, Answer, Evidence, Shape, Uuid, absent
from api.versioning import etag, expect, saved_version, written
from core.actors import Actor, Role
from core.domain.inspection import SEVERITY_LABELS, Inspection
from core.errors import NotFound, PermissionDenied

router = APIRouter(tags=["inspections"], route_class=LedgerRoute)

DIGEST_EXAMPLE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def deny_residents(actor: Actor, action: str) -> None:
    """Residents only file objections and read public notices: any other read is 403."""
    if actor.role is Role.RESIDENT:
        raise PermissionDenied(action, actor.role.value, sorted(r.value for r in Role if r is not Role.RESIDENT))


def location(response: Response, path: str) -> None:
    response.headers["Location"] = path


# -- request bodies ---------------------------------------------------------------------------


class Body(BaseModel):
    """A request body: no unknown fields. (Text that cannot be recorded, lone surrogates,
    is refused for every request by api.textcheck.)"""

    model_config = ConfigDict(extra="forbid")


class EvidenceRef(Body):
    """证据引用 A piece of evidence: the file's name and the SHA-256 of its bytes (the bytes
    stay in the municipality's own file store)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="文件名 File name", examples=["楼道照片-2020-05-20.jpg"])
    sha256: str = Field(description="文件内容的SHA-256（64位十六进制）SHA-256 of the file's bytes, 64 hex characters",
                        examples=[DIGEST_EXAMPLE])


class InspectionIn(Body):
    """巡查/暗访 A visit to a candidate community (campaign) or, after the title was
    awarded, a re-inspection (supervision, 回头看)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="明查或暗访 announced or unannounced", examples=["unannounced"])
    visit_date: str = Field(description="巡查日期 Date of the visit (YYYY-MM-DD, not in the future)", examples=["2020-05-20"])
    inspectors: list[str] = Field(description="巡查人员 Names of the inspectors on the visit (at least one)",
                                  examples=[["巡查员甲", "巡查员乙"]])
    purpose: str = Field("campaign", examples=["campaign"],
                         description="目的：创建巡查或回头看 campaign (during the campaign) or supervision (titled communities)")
    notes: str = Field("", description="备注 Notes on the visit", examples=["抽查楼道与垃圾分类"])


class FindingIn(Body):
    """发现问题 A problem found on the visit, tied to a rubric item, with the countermeasure
    and the rectification deadline."""

    model_config = ConfigDict(extra="forbid")

    item: str = Field(description="评分标准条目编号 Item id of the campaign's rubric", examples=["38"])
    description: str = Field(description="问题描述 What was found", examples=["楼道堆物"])
    severity: str = Field(description="严重程度 minor (一般), major (较重) or critical (严重)", examples=["major"])
    countermeasure: str = Field(description="整改措施 What must be done", examples=["清理楼道杂物"])
    deadline: str = Field(description="整改期限 Rectification deadline (YYYY-MM-DD, on or after the visit)",
                          examples=["2020-08-31"])
    evidence: list[EvidenceRef] | None = Field(None, description="证据 Evidence references (optional)",
                                               examples=[[{"name": "photo.jpg", "sha256": DIGEST_EXAMPLE}]])


class PlanIn(Body):
    """整改方案 The community's (or street's) plan to rectify a finding."""

    model_config = ConfigDict(extra="forbid")

    plan: str = Field(description="整改方案 The plan", examples=["组织物业与志愿者清理楼道"])
    on: str | None = Field(None, description="生效日期 Effective date (YYYY-MM-DD), default today", examples=["2020-06-01"])


class CompletionIn(Body):
    """整改完成 The rectification is done: a summary and at least one piece of evidence."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(description="整改情况 What was done", examples=["已清理全部楼道"])
    evidence: list[EvidenceRef] = Field(description="整改证据（至少一项）Evidence of the rectification (at least one)",
                                        examples=[[{"name": "after.jpg", "sha256": DIGEST_EXAMPLE}]])
    on: str | None = Field(None, description="生效日期 Effective date (YYYY-MM-DD), default today", examples=["2020-08-20"])


class VerificationIn(Body):
    """整改验收 An inspector accepts or rejects a completed rectification, with the reason."""

    model_config = ConfigDict(extra="forbid")

    accepted: bool = Field(description="是否通过 true: accepted, false: rejected", examples=[True], strict=True)
    reason: str = Field(description="理由 Why", examples=["现场复核通过"])
    on: str | None = Field(None, description="生效日期 Effective date (YYYY-MM-DD), default today", examples=["2020-09-01"])


class VisitPlanIn(Body):
    """密封暗访计划 Only the commitment to an unannounced visit: ``sha256:`` of
    ``"<candidacy id>|<visit date>|<nonce>"`` (see ``core.services.visits.visit_commitment``)."""

    model_config = ConfigDict(extra="forbid")

    commitment: str = Field(description="承诺值 sha256: followed by 64 lowercase hexadecimal characters",
                            examples=["sha256:" + DIGEST_EXAMPLE])
    on: str | None = Field(None, description="生效日期 Effective date (YYYY-MM-DD), default today", examples=["2020-05-20"])


class RevealIn(Body):
    """揭示暗访计划 After the visit: the target, date and nonce that were sealed, and the
    unannounced inspection recorded for them."""

    model_config = ConfigDict(extra="forbid")

    candidacy_id: str = Field(description="被暗访的申报 Candidacy visited", examples=["6f1d4c1e-8a43-5b8e-9c55-1c1e7d0a2b11"])
    visit_date: str = Field(description="暗访日期 Date of the visit (YYYY-MM-DD)", examples=["2020-06-01"])
    nonce: str = Field(description="随机数（与密封时完全一致，16-200个字符）The nonce exactly as sealed (16 to 200 characters)",
                       examples=["随机数-7f3a-9c01-44be-a2d0"])
    inspection_id: str = Field(description="记录的暗访 The unannounced inspection recorded for the visit",
                               examples=["0b7d8f7e-2f61-4c1e-9d55-1c1e7d0a2b11"])
    on: str | None = Field(None, description="生效日期 Effective date (YYYY-MM-DD), default today", examples=["2020-06-02"])


# -- answers ----------------------------------------------------------------------------------


class Completion(Shape):
    """整改完成 The reported rectification."""

    summary: str
    evidence: list[Evidence]
    on: str | None = Field(description="完成日期 Effective date")


class Verification(Shape):
    """整改验收 An inspector's verdict on a completed rectification."""

    accepted: bool
    by: str
    reason: str | None
    on: str | None = Field(description="验收日期 Effective date")


class FindingView(Shape):
    """问题 A finding with its rectification, overdue or not on `as_of` (`ETag`: the inspection's version)."""

    finding_id: str = Field(description="问题编号 F1, F2, … within the inspection")
    inspection_id: UUID
    item: str = Field(description="评分条目 Rubric item id")
    description: str
    severity: str = Field(description="minor, major or critical")
    severity_label: str
    countermeasure: str
    deadline: str = Field(description="整改期限 YYYY-MM-DD")
    evidence: list[Evidence]
    status: str = Field(description="open, planned, completed, accepted or rejected")
    plan: str | None = Field(description="整改方案 The rectification plan, once made")
    completion: Completion | None
    verifications: list[Verification]
    overdue: bool = Field(description="逾期 Past its deadline and not accepted")
    failed: bool = Field(description="整改失败 Rejected, or overdue")


class InspectionView(Shape):
    """巡查 A visit with its findings (`ETag`: its version)."""

    id: UUID
    version: int
    campaign_id: UUID
    candidacy_id: UUID | None
    community_id: UUID
    kind: str = Field(description="announced or unannounced")
    purpose: str = Field(description="campaign or supervision")
    visit_date: str
    inspectors: list[str]
    notes: str
    as_of: str = Field(description="判断逾期的日期 The date overdue is judged on")
    findings: list[FindingView]


class FindingRow(Shape):
    """问题 One finding of a campaign's or candidacy's list."""

    inspection_id: UUID
    finding_id: str
    candidacy_id: UUID | None
    community_id: UUID
    kind: str
    purpose: str
    visit_date: str
    item: str
    severity: str
    deadline: str
    status: str
    overdue: bool
    accepted: bool


class CampaignFindings(Shape):
    """活动的问题 Every finding of a campaign."""

    campaign_id: UUID
    as_of: str
    findings: list[FindingRow]


class CandidacyFindings(Shape):
    """申报的问题 Every finding of a candidacy."""

    candidacy_id: UUID
    as_of: str
    findings: list[FindingRow]


class Conducted(Acted):
    """已记录巡查 The new inspection and its version (`Location`: the inspection)."""

    candidacy_id: UUID


class FindingRecorded(Shape):
    """已记录问题 The new finding (`Location`: the finding)."""

    id: str = Field(description="问题编号 F1, F2, …")
    inspection_id: UUID
    version: int = Field(description="巡查的版本 The inspection's version")


class FindingActed(Acted):
    """整改已记录 The inspection written and the finding concerned."""

    finding_id: str


class Revealed(Shape):
    """揭示内容 What a revealed plan had sealed."""

    candidacy_id: UUID
    visit_date: str
    nonce: str
    inspection_id: UUID
    by: str


class PlanView(Shape):
    """暗访计划 A visit plan; before the reveal only its commitment (`ETag`: its version)."""

    id: UUID
    version: int
    campaign_id: UUID
    commitment: str = Field(description="承诺值 sha256:…")
    sealed_by: str
    revealed: Revealed | None


class PlanSealed(Shape):
    """已密封 The new visit plan (`Location`: the plan)."""

    id: UUID
    campaign_id: UUID
    version: int


class PlanAudit(Shape):
    """核验 Was the visit fixed in advance? (The reveal's fields only once revealed.)"""

    plan_id: UUID
    sealed_at: str = Field(description="密封时间 When the seal was recorded (ISO date-time)")
    inspection_recorded_at: str = absent("暗访记录时间 When the inspection was recorded (once revealed)")
    visit_date: str = absent("暗访日期 (once revealed)")
    candidacy_id: UUID = absent("被暗访的申报 (once revealed)")
    revealed: bool
    commitment_matches: bool = absent("承诺值相符 The reveal hashes to the commitment (once revealed)")
    fixed_in_advance: bool | None = Field(description="事先确定 null until revealed")


# -- views ------------------------------------------------------------------------------------


def finding_view(inspection: Inspection, finding_id: str, day: str) -> dict[str, Any]:
    finding = inspection.findings[finding_id]
    return {
        "finding_id": finding_id,
        "inspection_id": str(inspection.id),
        "item": finding["item"],
        "description": finding["description"],
        "severity": finding["severity"],
        "severity_label": SEVERITY_LABELS.get(finding["severity"], finding["severity"]),
        "countermeasure": finding["countermeasure"],
        "deadline": finding["deadline"],
        "evidence": [dict(e) for e in finding["evidence"]],
        "status": finding["status"],
        "plan": finding["plan"],
        "completion": finding["completion"],
        "verifications": [dict(v) for v in finding["verifications"]],
        "overdue": inspection.is_overdue(finding_id, day),
        "failed": inspection.is_failed(finding_id, day),
    }


def inspection_view(inspection: Inspection, day: str) -> dict[str, Any]:
    return {
        "id": str(inspection.id),
        "version": inspection.version,
        "campaign_id": inspection.campaign_id,
        "candidacy_id": inspection.candidacy_id,
        "community_id": inspection.community_id,
        "kind": inspection.kind,
        "purpose": inspection.purpose,
        "visit_date": inspection.visit_date,
        "inspectors": list(inspection.inspectors),
        "notes": inspection.notes,
        "as_of": day,
        "findings": [finding_view(inspection, fid, day) for fid in inspection.findings],
    }


def _day(app: Any, on: str | None) -> str:
    return app.check_date("on", on) if on else app.today()


ON_QUERY = Query(None, description="按此日期判断是否逾期 Judge overdue as of this date (YYYY-MM-DD), default today",
                 examples=["2020-09-01"])
OVERDUE_QUERY = Query(None, description="只列逾期（true）或未逾期（false）的问题 Only overdue (true) or not overdue (false) findings")


# -- inspections ------------------------------------------------------------------------------


@router.post(
    "/candidacies/{candidacy_id}/inspections",
    status_code=201,
    summary="开展巡查或暗访 Conduct an inspection",
    description="巡查员记录一次明查或暗访（创建巡查或回头看）。An inspector records an announced or unannounced "
                "visit to a candidate community (purpose campaign) or a re-inspection of a titled one (supervision). "
                "`If-Match` names the candidacy's version. Returns the inspection id; `Location` is the inspection.",
)
def conduct_inspection(candidacy_id: Uuid, body: InspectionIn, actor: CurrentActor, app: Ledger,
                       request: Request, response: Response) -> Answer[Conducted]:
    with expect(app, request, candidacy_id) as saved:
        inspection_id = app.conduct_inspection(
            actor, candidacy_id, body.kind, body.visit_date, body.inspectors, purpose=body.purpose, notes=body.notes,
        )
    location(response, f"/inspections/{inspection_id}")
    return written(app, saved, inspection_id, candidacy_id=candidacy_id)


@router.get(
    "/inspections/{inspection_id}",
    summary="查看巡查 An inspection with its findings",
    description="一次巡查及其发现的问题、整改状态（含是否逾期）。The visit, every finding with its rectification "
                "(plan, completion, verifications), and whether it is overdue on `on` (default today). `ETag` is the "
                "inspection's version.",
)
def get_inspection(inspection_id: Uuid, actor: CurrentActor, app: Ledger, response: Response,
                   on: str | None = ON_QUERY) -> Answer[InspectionView]:
    inspection = app.inspection(actor, inspection_id)
    etag(response, inspection.version)
    return inspection_view(inspection, _day(app, on))


@router.post(
    "/inspections/{inspection_id}/findings",
    status_code=201,
    summary="记录问题 Record a finding",
    description="巡查员记录发现的问题（对应评分条目）、整改措施与期限。An inspector records a problem tied to a rubric "
                "item, with the countermeasure and deadline. Returns the finding id (F1, F2, … within the inspection).",
)
def record_finding(inspection_id: Uuid, body: FindingIn, actor: CurrentActor, app: Ledger,
                   request: Request, response: Response) -> Answer[FindingRecorded]:
    evidence = [e.model_dump() for e in body.evidence] if body.evidence is not None else None
    with expect(app, request, inspection_id) as saved:
        finding_id = app.record_finding(
            actor, inspection_id, body.item, body.description, body.severity, body.countermeasure, body.deadline,
            evidence,
        )
    location(response, f"/inspections/{inspection_id}/findings/{finding_id}")
    return {"id": finding_id, "inspection_id": inspection_id, "version": saved_version(app, saved, inspection_id)}


@router.get(
    "/inspections/{inspection_id}/findings/{finding_id}",
    summary="查看问题 One finding with its rectification",
    description="一个问题及其整改状态。One finding, its rectification state and whether it is overdue on `on` "
                "(default today). `ETag` is the inspection's version.",
)
def get_finding(inspection_id: Uuid, finding_id: str, actor: CurrentActor, app: Ledger, response: Response,
                on: str | None = ON_QUERY) -> Answer[FindingView]:
    inspection = app.inspection(actor, inspection_id)
    if finding_id not in inspection.findings:
        raise NotFound("finding", finding_id, known=list(inspection.findings))
    etag(response, inspection.version)
    return finding_view(inspection, finding_id, _day(app, on))


@router.post(
    "/inspections/{inspection_id}/findings/{finding_id}/plan",
    summary="制定整改方案 Plan the rectification",
    description="社区或街道为一个未整改或被驳回的问题制定整改方案。The community or its street plans the rectification "
                "of an open or rejected finding.",
)
def plan_rectification(inspection_id: Uuid, finding_id: str, body: PlanIn, actor: CurrentActor, app: Ledger,
                       request: Request) -> Answer[FindingActed]:
    with expect(app, request, inspection_id) as saved:
        app.plan_rectification(actor, inspection_id, finding_id, body.plan, on=body.on)
    return written(app, saved, inspection_id, finding_id=finding_id)


@router.post(
    "/inspections/{inspection_id}/findings/{finding_id}/complete",
    summary="完成整改 Complete the rectification",
    description="社区或街道报告整改完成，附至少一项证据。The community or its street reports the rectification done, "
                "with at least one piece of evidence.",
)
def complete_rectification(inspection_id: Uuid, finding_id: str, body: CompletionIn, actor: CurrentActor,
                           app: Ledger, request: Request) -> Answer[FindingActed]:
    with expect(app, request, inspection_id) as saved:
        app.complete_rectification(
            actor, inspection_id, finding_id, body.summary, [e.model_dump() for e in body.evidence], on=body.on,
        )
    return written(app, saved, inspection_id, finding_id=finding_id)


@router.post(
    "/inspections/{inspection_id}/findings/{finding_id}/verify",
    summary="整改验收 Verify the rectification",
    description="巡查员验收已完成的整改：通过或驳回，并说明理由。An inspector accepts or rejects a completed "
                "rectification, with the reason.",
)
def verify_rectification(inspection_id: Uuid, finding_id: str, body: VerificationIn, actor: CurrentActor,
                         app: Ledger, request: Request) -> Answer[FindingActed]:
    with expect(app, request, inspection_id) as saved:
        app.verify_rectification(actor, inspection_id, finding_id, body.accepted, body.reason, on=body.on)
    return written(app, saved, inspection_id, finding_id=finding_id)


@router.get(
    "/campaigns/{campaign_id}/findings",
    summary="活动的全部问题 Every finding of a campaign",
    description="一次评选活动中所有巡查发现的问题及其整改状态、是否逾期。Every finding of the campaign's inspections with "
                "its status and whether it is overdue on `on` (default today); `overdue=true` lists only overdue ones.",
)
def campaign_findings(campaign_id: Uuid, actor: CurrentActor, app: Ledger, on: str | None = ON_QUERY,
                      overdue: bool | None = OVERDUE_QUERY) -> Answer[CampaignFindings]:
    app.campaign(actor, campaign_id)
    rows = app.findings(actor, campaign_id, on=on)
    if overdue is not None:
        rows = [r for r in rows if r["overdue"] is overdue]
    return {"campaign_id": campaign_id, "as_of": _day(app, on), "findings": rows}


@router.get(
    "/candidacies/{candidacy_id}/findings",
    summary="申报社区的全部问题 Every finding of a candidacy",
    description="一个申报（社区在某活动中的某一等级）的所有巡查问题，含回头看。Every finding of the inspections of one "
                "candidacy (campaign visits and supervision), with status and whether overdue on `on` (default today).",
)
def candidacy_findings(candidacy_id: Uuid, actor: CurrentActor, app: Ledger, on: str | None = ON_QUERY,
                       overdue: bool | None = OVERDUE_QUERY) -> Answer[CandidacyFindings]:
    candidacy = app.candidacy(actor, candidacy_id)
    cid = str(candidacy.id)
    rows = [r for r in app.findings(actor, candidacy.campaign_id, on=on) if r["candidacy_id"] == cid]
    if overdue is not None:
        rows = [r for r in rows if r["overdue"] is overdue]
    return {"candidacy_id": cid, "as_of": _day(app, on), "findings": rows}


# -- sealed visit plans -------------------------------------------------------------------------


def plan_view(plan: Any) -> dict[str, Any]:
    revealed = plan.revealed
    return {
        "id": str(plan.id),
        "version": plan.version,
        "campaign_id": plan.campaign_id,
        "commitment": plan.commitment,
        "sealed_by": plan.sealed_by,
        "revealed": dict(revealed) if revealed is not None else None,
    }


@router.post(
    "/campaigns/{campaign_id}/visit-plans",
    status_code=201,
    summary="密封暗访计划 Seal an unannounced visit plan",
    description="巡查员事先只记录暗访目标与日期的承诺值（哈希），被检查的社区与街道在揭示前看不到该计划。An inspector "
                "records only the commitment (a hash of target, date and nonce); the inspected community and its "
                "street get 404 for the plan until it is revealed.",
)
def seal_visit_plan(campaign_id: Uuid, body: VisitPlanIn, actor: CurrentActor, app: Ledger,
                    response: Response) -> Answer[PlanSealed]:
    plan_id = app.seal_visit_plan(actor, campaign_id, body.commitment, on=body.on)
    location(response, f"/visit-plans/{plan_id}")
    return {"id": plan_id, "campaign_id": campaign_id, "version": app.visit_plan(actor, plan_id).version}


@router.get(
    "/visit-plans/{plan_id}",
    summary="查看暗访计划 A visit plan",
    description="暗访计划：揭示前只有承诺值。The plan: before the reveal only its commitment. The inspected community "
                "and street get 404 until it is revealed. `ETag` is the plan's version.",
)
def get_visit_plan(plan_id: Uuid, actor: CurrentActor, app: Ledger, response: Response) -> Answer[PlanView]:
    plan = app.visit_plan(actor, plan_id)
    etag(response, plan.version)
    return plan_view(plan)


@router.post(
    "/visit-plans/{plan_id}/reveal",
    summary="揭示暗访计划 Reveal a visit plan",
    description="暗访之后，巡查员公开目标、日期与随机数；须与承诺值及记录的暗访一致。After the visit the inspector "
                "reveals target, date and nonce; they must hash to the commitment and match the unannounced "
                "inspection recorded.",
)
def reveal_visit_plan(plan_id: Uuid, body: RevealIn, actor: CurrentActor, app: Ledger,
                      request: Request) -> Answer[Acted]:
    app.visit_plan(actor, plan_id)  # the inspected side does not find a sealed plan: 404, not 403
    with expect(app, request, plan_id) as saved:
        app.reveal_visit_plan(actor, plan_id, body.candidacy_id, body.visit_date, body.nonce, body.inspection_id,
                              on=body.on)
    return written(app, saved, plan_id)


@router.get(
    "/visit-plans/{plan_id}/audit",
    summary="核验暗访计划 Audit a visit plan",
    description="暗访是否事先确定：承诺值是否相符、密封是否早于暗访记录。Was the visit fixed in advance: does the "
                "reveal match the commitment, and was the seal recorded before the inspection?",
)
def audit_visit_plan(plan_id: Uuid, actor: CurrentActor, app: Ledger) -> Answer[PlanAudit]:
    app.visit_plan(actor, plan_id)
    return app.audit_visit_plan(actor, plan_id)
