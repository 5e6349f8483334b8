"""Routes: score sheets of the three assessment kinds (自查自评、模拟评估、综合评估), item
corrections, vetoes (一票否决) and the satisfaction survey (满意度测评) — tag "assessments";
public notice (公示), objections (异议), decisions (命名), the outcome table, putting a
titled candidacy forward (推荐) and revocation (摘牌) — tag "decisions".

A score sheet is one request carrying every item score of one assessor: the ledger checks
every item before anything is recorded and records the sheet as one event, so a sheet
with one bad item records nothing and the problem names that item.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import ConfigDict, Field

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from api.routes.answers import Acted, Answer, CheckpointView, Evidence, ObjectionCounts, Shape, Uuid, absent
from api.routes.campaigns import Survey
from api.routes.inspections import Body, EvidenceRef, deny_residents, location
from api.versioning import etag, expect, saved_version, written
from core import signing
from core.actors import Role
from core.domain.candidacy import ASSESSMENT_KINDS
from core.errors import NotFound

router = APIRouter(route_class=LedgerRoute)

ASSESSMENTS = ["assessments"]
DECISIONS = ["decisions"]

ON = "生效日期 Effective date (YYYY-MM-DD), default today"


# -- request bodies ---------------------------------------------------------------------------


class ScoreSheetIn(Body):
    """评分表 One assessor's points for some or all items of the campaign's rubric, recorded
    atomically: every item is checked first, and one bad item records nothing."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="评估类型 self (社区自评, community), mock (模拟评估, district) or official (综合评估, assessor)",
                      examples=["official"])
    scores: dict[str, Any] = Field(
        description="条目得分 Item id -> points (a number or decimal text, 0 to the item's maximum on the rubric's "
                    "step); each item once per assessor and kind",
        examples=[{"1": "1.5", "2": 2, "3": "0.5"}],
    )
    on: str | None = Field(None, description=ON, examples=["2020-10-15"])


class ScoreCorrectionIn(Body):
    """更正得分 Correct one's own recorded score of one item, with the reason; the old value
    stays in the history."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="评估类型 self, mock or official", examples=["official"])
    item: str = Field(description="条目编号 Item id of the rubric", examples=["1"])
    points: Any = Field(description="更正后的分值 The corrected points (number or decimal text)", examples=["0.5"])
    reason: str = Field(description="更正理由 Why", examples=["录入错误"])
    on: str | None = Field(None, description=ON, examples=["2020-10-16"])


class VetoIn(Body):
    """一票否决 A veto item of the rubric applies to this candidacy."""

    model_config = ConfigDict(extra="forbid")

    veto_id: str = Field(description="否决项编号 Veto item id of the rubric", examples=["V1"])
    reason: str = Field(description="理由 Why it applies", examples=["发生重大安全责任事故"])
    evidence: list[EvidenceRef] | None = Field(None, description="证据 Evidence references (optional)",
                                               examples=[[{"name": "通报.pdf", "sha256": "a" * 64}]])
    on: str | None = Field(None, description=ON, examples=["2020-10-20"])


class ReasonIn(Body):
    """理由 A change that needs only its reason (and optionally its effective date)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="理由 Why", examples=["经核实不属实"])
    on: str | None = Field(None, description=ON, examples=["2020-10-25"])


class SurveyIn(Body):
    """满意度测评 The residents' satisfaction survey of a candidate community; recording it
    again is a correction and needs a reason."""

    model_config = ConfigDict(extra="forbid")

    respondents: int = Field(description="参与人数 Respondents (= satisfied + basically satisfied + dissatisfied)",
                             examples=[200], strict=True)
    households: int = Field(description="参与户数 Households that answered (at most the respondents and the community's "
                                        "households)", examples=[180], strict=True)
    satisfied: int = Field(description="满意 Satisfied", examples=[168], strict=True)
    basically_satisfied: int = Field(description="基本满意 Basically satisfied", examples=[26], strict=True)
    dissatisfied: int = Field(description="不满意 Dissatisfied", examples=[6], strict=True)
    reason: str | None = Field(None, description="更正理由（再次记录时必填）Reason, required when the survey is recorded again",
                               examples=["补录漏填问卷"])
    on: str | None = Field(None, description=ON, examples=["2020-11-05"])


class NoticeIn(Body):
    """公示 Put the preliminary list drawn by the rubric's decision style on public notice
    for the window ``start`` to ``end``; from then on scores are fixed."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(description="公示开始 First day of the notice (YYYY-MM-DD)", examples=["2020-11-01"])
    end: str = Field(description="公示结束 Last day of the notice (YYYY-MM-DD, on or after start)", examples=["2020-11-07"])
    on: str | None = Field(None, description=ON, examples=["2020-11-01"])


class DateIn(Body):
    """生效日期 Only the effective date of the act (optional; the body may be left out)."""

    model_config = ConfigDict(extra="forbid")

    on: str | None = Field(None, description=ON, examples=["2020-11-08"])


class ObjectionIn(Body):
    """异议 A resident objects to a candidate on public notice, optionally naming rubric items."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="异议内容 The objection", examples=["公示材料与实际不符"])
    items: list[str] | None = Field(None, description="涉及的评分条目 Rubric item ids concerned (optional)", examples=[["38"]])
    on: str | None = Field(None, description=ON, examples=["2020-11-03"])


class ResolutionIn(Body):
    """异议处理 The city owner upholds or dismisses an objection, with the reason."""

    model_config = ConfigDict(extra="forbid")

    upheld: bool = Field(description="异议是否成立 true: upheld, false: dismissed", examples=[True], strict=True)
    reason: str = Field(description="理由 Why", examples=["核查属实"])
    on: str | None = Field(None, description=ON, examples=["2020-11-06"])


class PutForwardIn(Body):
    """推荐 Put a named candidacy forward to a higher-level selection."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="推荐至 The higher-level selection, in words", examples=["省级示范社区候选"])
    reason: str = Field(description="理由 Why", examples=["创建成效突出"])
    on: str | None = Field(None, description=ON, examples=["2020-12-20"])


class RevocationIn(Body):
    """摘牌 Revoke a title after failed rectification found by supervision (回头看)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="理由 Why", examples=["整改不合格，取消美丽社区称号"])
    findings: list[str] = Field(
        description="整改失败的问题 INSPECTION_ID/FINDING_ID of supervision findings whose rectification was "
                    "rejected or is overdue",
        examples=[["0b7d8f7e-2f61-4c1e-9d55-1c1e7d0a2b11/F1"]],
    )
    on: str | None = Field(None, description=ON, examples=["2021-04-10"])


# -- answers ----------------------------------------------------------------------------------


class SheetRecorded(Acted):
    """评分表已记录 The candidacy written, and the sheet recorded (`Location`: the assessments)."""

    kind: str
    assessor: str = Field(description="评估人员 The token's person")
    items: int = Field(description="条目数 Items recorded by the sheet")


class Sheet(Shape):
    """评分表 One assessor's sheet of one kind."""

    assessor: str
    items: int = Field(description="已评条目数 Items scored")
    sum: str = Field(description="合计 Sum of the points")
    points: dict[str, str] = Field(description="得分 Item id -> points")


class VetoView(Shape):
    """一票否决 A recorded veto (`ETag`: the candidacy's version)."""

    veto_id: str
    candidacy_id: UUID
    by: str
    reason: str | None
    evidence: list[Evidence]


class Assessments(Shape):
    """评估情况 A candidacy's score sheets by kind, vetoes and survey (`ETag`: the candidacy's version)."""

    candidacy_id: UUID
    version: int
    status: str
    level: str
    application_total: str = Field(description="申报自评总分 Total of the application's self-assessment")
    score_sheets: dict[str, list[Sheet]] = Field(description="评分表 Kind (self, mock, official) -> the sheets")
    vetoes: list[VetoView]
    survey: Survey | None


class VetoRecorded(Shape):
    """已记录否决 The veto (`Location`: the veto)."""

    id: str = Field(description="否决项编号 The veto item id")
    candidacy_id: UUID
    version: int = Field(description="申报的版本 The candidacy's version")


class VetoWithdrawn(Acted):
    """已撤销否决 The candidacy written and the veto withdrawn."""

    veto_id: str


class LeftOff(Shape):
    """未列入公示 An approved candidacy the notice left off, with the rules that kept it off."""

    candidacy_id: UUID
    community_id: UUID
    community: str
    level: str
    reasons: list[str]


class NoticeOpened(Acted):
    """公示已开始 The campaign written, the candidacies listed and those left off (`Location`: the notice)."""

    listed: list[UUID] = Field(description="公示名单 The candidacies on the notice, in order")
    left_off: list[LeftOff]


class NoticeEntry(Shape):
    """公示候选 A candidate on the public notice (or, for staff, approved but not listed)."""

    candidacy_id: UUID
    community_id: UUID
    community: str
    district: str
    street: str
    level: str
    level_label: str
    reasons: list[str] = Field(description="初选理由 The decision style's preliminary reasons")
    objections: ObjectionCounts


class NoticeView(Shape):
    """公示 The public notice window and its candidates (`ETag`: the campaign's version)."""

    campaign_id: UUID
    version: int
    code: str
    title: str
    start: str
    end: str
    closed: bool
    decided: bool
    candidates: list[NoticeEntry]
    not_listed: list[NoticeEntry] = absent("未列入 Approved candidacies not listed (not shown to residents)")
    checkpoint: CheckpointView


class ObjectionFiled(Shape):
    """已提出异议 The objection (`Location`: the objection)."""

    id: str = Field(description="异议编号 The objection id")
    candidacy_id: UUID
    version: int = Field(description="申报的版本 The candidacy's version")


class ObjectionView(Shape):
    """异议 An objection and its resolution (`ETag`: the candidacy's version)."""

    objection_id: str
    candidacy_id: UUID
    text: str
    items: list[str]
    filed_by: str
    status: str = Field(description="open, upheld or dismissed")
    resolution: str | None


class ObjectionResolved(Acted):
    """异议已处理 The candidacy written and the objection resolved."""

    objection_id: str


class Decided(Acted):
    """已评定 The campaign written and, per candidacy, whether it was named (`Location`: the outcome table)."""

    named: dict[str, bool] = Field(description="命名结果 Candidacy id -> named")


class OutcomeRow(Shape):
    """评定结果 One candidacy of the outcome table."""

    candidacy_id: UUID
    community: str
    district: str
    street: str
    level: str
    status: str
    total: str | None = Field(description="综合得分 Official total as published, null before the decision")
    satisfaction_rate: str | None
    objections: ObjectionCounts
    reasons: list[str]
    revocation: dict[str, Any] | None = Field(description="摘牌 {reason, findings, effective}, or null")


class Outcome(Shape):
    """评定结果表 The outcome table of a campaign."""

    campaign_id: UUID
    code: str
    decided: bool
    rows: list[OutcomeRow]
    checkpoint: CheckpointView


# -- helpers ----------------------------------------------------------------------------------


def _evidence(refs: list[EvidenceRef] | None) -> list[dict[str, str]] | None:
    return [e.model_dump() for e in refs] if refs is not None else None


def _sheet_sum(points: dict[str, str]) -> str:
    return str(sum((Decimal(v) for v in points.values()), Decimal(0)))


# -- assessments ------------------------------------------------------------------------------


@router.post(
    "/candidacies/{candidacy_id}/score-sheets",
    status_code=201,
    tags=ASSESSMENTS,
    summary="提交评分表 Submit a score sheet",
    description="一名评估人员一次提交一张评分表（自评：社区；模拟：区；综合：评估组），全部条目先校验，原子记录：任一条目无效则"
                "什么都不记录，错误指出该条目。One assessor's whole sheet in one request, recorded atomically: a "
                "sheet with one bad item records nothing and the problem's `field` names the item (`scores[38]`). "
                "The token's person is the assessor. `If-Match` names the candidacy's version.",
)
def submit_score_sheet(candidacy_id: Uuid, body: ScoreSheetIn, actor: CurrentActor, app: Ledger,
                       request: Request, response: Response) -> Answer[SheetRecorded]:
    with expect(app, request, candidacy_id) as saved:
        recorded = app.submit_score_sheet(actor, candidacy_id, body.kind, body.scores, on=body.on)
    location(response, f"/candidacies/{candidacy_id}/assessments")
    return written(app, saved, candidacy_id, kind=body.kind, assessor=actor.id, items=recorded)


@router.get(
    "/candidacies/{candidacy_id}/assessments",
    tags=ASSESSMENTS,
    summary="评估情况 Score sheets, vetoes and survey of a candidacy",
    description="一个申报的三类评分表（每名评估人员的条目得分与合计）、一票否决项与满意度测评。The score sheets of the three "
                "kinds (each assessor's item points and their sum), the vetoes and the survey. `ETag` is the "
                "candidacy's version.",
)
def get_assessments(candidacy_id: Uuid, actor: CurrentActor, app: Ledger, response: Response) -> Answer[Assessments]:
    candidacy = app.candidacy(actor, candidacy_id)
    etag(response, candidacy.version)
    return {
        "candidacy_id": str(candidacy.id),
        "version": candidacy.version,
        "status": candidacy.status,
        "level": candidacy.level,
        "application_total": _sheet_sum(candidacy.application_scores),
        "score_sheets": {
            kind: [
                {"assessor": assessor, "items": len(points), "sum": _sheet_sum(points), "points": dict(points)}
                for assessor, points in sorted(candidacy.scores[kind].items())
            ]
            for kind in ASSESSMENT_KINDS
        },
        "vetoes": [{"veto_id": vid, **veto} for vid, veto in candidacy.vetoes.items()],
        "survey": dict(candidacy.survey) if candidacy.survey is not None else None,
    }


@router.post(
    "/candidacies/{candidacy_id}/correct-score",
    tags=ASSESSMENTS,
    summary="更正单项得分 Correct one item score",
    description="评估人员更正自己已记录的一个条目得分，须说明理由；原分值保留在历史中。An assessor corrects one of their "
                "own recorded item scores with a reason; the old value stays in the history. Not after the public "
                "notice opened.",
)
def correct_score(candidacy_id: Uuid, body: ScoreCorrectionIn, actor: CurrentActor, app: Ledger,
                  request: Request) -> Answer[Acted]:
    with expect(app, request, candidacy_id) as saved:
        app.correct_score(actor, candidacy_id, body.kind, body.item, body.points, body.reason, on=body.on)
    return written(app, saved, candidacy_id)


@router.post(
    "/candidacies/{candidacy_id}/vetoes",
    status_code=201,
    tags=ASSESSMENTS,
    summary="记录一票否决 Record a veto",
    description="评估组或巡查组记录评分标准中的一票否决项适用于此申报。An assessor or inspector records that a veto "
                "item of the rubric applies. Returns the veto id; `Location` is the veto.",
)
def record_veto(candidacy_id: Uuid, body: VetoIn, actor: CurrentActor, app: Ledger,
                request: Request, response: Response) -> Answer[VetoRecorded]:
    with expect(app, request, candidacy_id) as saved:
        app.record_veto(actor, candidacy_id, body.veto_id, body.reason, _evidence(body.evidence), on=body.on)
    location(response, f"/candidacies/{candidacy_id}/vetoes/{body.veto_id}")
    return {"id": body.veto_id, "candidacy_id": candidacy_id, "version": saved_version(app, saved, candidacy_id)}


@router.get(
    "/candidacies/{candidacy_id}/vetoes/{veto_id}",
    tags=ASSESSMENTS,
    summary="查看一票否决 A recorded veto",
    description="已记录的一票否决项：记录人、理由与证据。A veto recorded for the candidacy: by whom, why, evidence.",
)
def get_veto(candidacy_id: Uuid, veto_id: str, actor: CurrentActor, app: Ledger, response: Response) -> Answer[VetoView]:
    candidacy = app.candidacy(actor, candidacy_id)
    if veto_id not in candidacy.vetoes:
        raise NotFound("veto", veto_id, known=list(candidacy.vetoes))
    etag(response, candidacy.version)
    return {"veto_id": veto_id, "candidacy_id": str(candidacy.id), **candidacy.vetoes[veto_id]}


@router.post(
    "/candidacies/{candidacy_id}/vetoes/{veto_id}/withdraw",
    tags=ASSESSMENTS,
    summary="撤销一票否决 Withdraw a veto",
    description="撤销已记录的一票否决项，须说明理由。Withdraw a recorded veto, with the reason.",
)
def withdraw_veto(candidacy_id: Uuid, veto_id: str, body: ReasonIn, actor: CurrentActor, app: Ledger,
                  request: Request) -> Answer[VetoWithdrawn]:
    with expect(app, request, candidacy_id) as saved:
        app.withdraw_veto(actor, candidacy_id, veto_id, body.reason, on=body.on)
    return written(app, saved, candidacy_id, veto_id=veto_id)


@router.post(
    "/candidacies/{candidacy_id}/survey",
    tags=ASSESSMENTS,
    summary="记录满意度测评 Record the satisfaction survey",
    description="记录居民满意度测评结果（市民政局或评估组）；再次记录即为更正，须说明理由。Record the residents' satisfaction "
                "survey (city owner or assessor); recording it again is a correction and needs a reason.",
)
def record_survey(candidacy_id: Uuid, body: SurveyIn, actor: CurrentActor, app: Ledger,
                  request: Request) -> Answer[Acted]:
    with expect(app, request, candidacy_id) as saved:
        app.record_survey(
            actor, candidacy_id, respondents=body.respondents, households=body.households, satisfied=body.satisfied,
            basically_satisfied=body.basically_satisfied, dissatisfied=body.dissatisfied, reason=body.reason,
            on=body.on,
        )
    return written(app, saved, candidacy_id)


# -- public notice and objections -------------------------------------------------------------


@router.post(
    "/campaigns/{campaign_id}/notice",
    status_code=201,
    tags=DECISIONS,
    summary="公示初选名单 Open the public notice",
    description="市民政局将评分规则产生的初选名单公示；所有申报须已初审，此后评分不可更改。The city owner puts the "
                "preliminary list drawn by the rubric's decision style on public notice; every application must "
                "have been reviewed, and scores and surveys are fixed from now on. A candidate is listed only if "
                "every rule the notice period cannot change already passes (docs/rules.md §6). Returns the "
                "candidacies on the list (`listed`) and each one left off with the rules that kept it off "
                "(`left_off`: `candidacy_id`, `community_id`, `community`, `level`, `reasons`); "
                "`Location` is the notice. `If-Match` names the campaign's version.",
)
def open_public_notice(campaign_id: Uuid, body: NoticeIn, actor: CurrentActor, app: Ledger,
                       request: Request, response: Response) -> Answer[NoticeOpened]:
    with expect(app, request, campaign_id) as saved:
        listed = app.open_public_notice(actor, campaign_id, body.start, body.end, on=body.on)
    location(response, f"/campaigns/{campaign_id}/notice")
    return written(app, saved, campaign_id, listed=listed, left_off=app.notice_left_off(actor, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/notice/close",
    tags=DECISIONS,
    summary="结束公示 Close the public notice",
    description="公示期满后结束公示（不早于公示结束日）。Close the public notice, on or after its last day.",
)
def close_public_notice(campaign_id: Uuid, actor: CurrentActor, app: Ledger, request: Request,
                        body: DateIn | None = None) -> Answer[Acted]:
    with expect(app, request, campaign_id) as saved:
        app.close_public_notice(actor, campaign_id, on=body.on if body else None)
    return written(app, saved, campaign_id)


@router.get(
    "/campaigns/{campaign_id}/notice",
    tags=DECISIONS,
    summary="公示名单 The public notice",
    description="公示期、公示名单（社区、街道、等级、理由）及各候选的异议数；居民可读。The notice window and the "
                "candidates on it (community, street, level, reasons, objection counts); residents may read it, to "
                "file objections. Other roles also see the approved candidates not listed, with the reasons. "
                "`ETag` is the campaign's version. `checkpoint` is a signed checkpoint of the tenant's "
                "transparency log taken after the notice was read: the root to publish with it.",
)
def get_public_notice(campaign_id: Uuid, actor: CurrentActor, app: Ledger, response: Response) -> Answer[NoticeView]:
    campaign = app.campaign(actor, campaign_id)
    notice = campaign.notice
    if notice is None:
        raise NotFound("public notice of campaign", campaign_id)
    rubric = app.rubric_of(campaign)

    def entry(cid: str) -> dict[str, Any]:
        candidacy = app.candidacy(actor, cid)
        community = app.community(actor, candidacy.community_id)
        return {
            "candidacy_id": cid,
            "community_id": candidacy.community_id,
            "community": community.name,
            "district": community.district,
            "street": community.street,
            "level": candidacy.level,
            "level_label": rubric.level(candidacy.level).label,
            "reasons": list((notice["preliminary"].get(cid) or {}).get("reasons", [])),
            "objections": candidacy.objection_counts(),
        }

    view: dict[str, Any] = {
        "campaign_id": str(campaign.id),
        "version": campaign.version,
        "code": campaign.code,
        "title": campaign.title,
        "start": notice["start"],
        "end": notice["end"],
        "closed": notice["closed"],
        "decided": campaign.decided,
        "candidates": [entry(cid) for cid in notice["candidacy_ids"]],
    }
    if actor.role is not Role.RESIDENT:
        listed = set(notice["candidacy_ids"])
        view["not_listed"] = [entry(cid) for cid in notice["preliminary"] if cid not in listed]
    view["checkpoint"] = signing.covering(app.recorder, campaign.tenant)
    etag(response, campaign.version)
    return view


@router.post(
    "/candidacies/{candidacy_id}/objections",
    status_code=201,
    tags=DECISIONS,
    summary="提出异议 File an objection",
    description="居民在公示期内对公示名单上的候选提出异议，可指明评分条目。A resident objects to a candidate on the "
                "public notice during its window, optionally naming rubric items. Returns the objection id; "
                "`Location` is the objection.",
)
def file_objection(candidacy_id: Uuid, body: ObjectionIn, actor: CurrentActor, app: Ledger,
                   request: Request, response: Response) -> Answer[ObjectionFiled]:
    with expect(app, request, candidacy_id) as saved:
        objection_id = app.file_objection(actor, candidacy_id, body.text, body.items, on=body.on)
    location(response, f"/candidacies/{candidacy_id}/objections/{objection_id}")
    return {"id": objection_id, "candidacy_id": candidacy_id, "version": saved_version(app, saved, candidacy_id)}


@router.get(
    "/candidacies/{candidacy_id}/objections/{objection_id}",
    tags=DECISIONS,
    summary="查看异议 An objection",
    description="一项异议及其处理结果；居民只能查看自己提出的异议。An objection and its resolution; a resident sees "
                "only the objections they filed. `ETag` is the candidacy's version.",
)
def get_objection(candidacy_id: Uuid, objection_id: str, actor: CurrentActor, app: Ledger,
                  response: Response) -> Answer[ObjectionView]:
    candidacy = app.candidacy(actor, candidacy_id)
    objection = candidacy.objections.get(objection_id)
    if actor.role is Role.RESIDENT and (objection is None or objection["filed_by"] != actor.id):
        deny_residents(actor, "read_objection")
    if objection is None:
        raise NotFound("objection", objection_id, known=list(candidacy.objections))
    etag(response, candidacy.version)
    return {
        "objection_id": objection_id,
        "candidacy_id": str(candidacy.id),
        "text": objection["text"],
        "items": list(objection["items"]),
        "filed_by": objection["filed_by"],
        "status": objection["status"],
        "resolution": objection["resolution"],
    }


@router.post(
    "/candidacies/{candidacy_id}/objections/{objection_id}/resolve",
    tags=DECISIONS,
    summary="处理异议 Resolve an objection",
    description="市民政局认定异议成立或不成立，并说明理由。The city owner upholds or dismisses an objection, with "
                "the reason.",
)
def resolve_objection(candidacy_id: Uuid, objection_id: str, body: ResolutionIn, actor: CurrentActor, app: Ledger,
                      request: Request) -> Answer[ObjectionResolved]:
    with expect(app, request, candidacy_id) as saved:
        app.resolve_objection(actor, candidacy_id, objection_id, body.upheld, body.reason, on=body.on)
    return written(app, saved, candidacy_id, objection_id=objection_id)


# -- decisions, outcome, put forward, revocation ------------------------------------------------


@router.post(
    "/campaigns/{campaign_id}/decisions",
    status_code=201,
    tags=DECISIONS,
    summary="评定命名 Decide the campaign",
    description="公示结束后，按评分标准的评定方式一次评定全部已通过初审的申报，并授予称号。After the closed public "
                "notice, decide every approved candidacy at once by the rubric's decision style and award the "
                "titles; each decision is recorded with its whole derivation. Returns candidacy id -> named; "
                "`Location` is the outcome table. `If-Match` names the campaign's version.",
)
def decide(campaign_id: Uuid, actor: CurrentActor, app: Ledger, request: Request, response: Response,
           body: DateIn | None = None) -> Answer[Decided]:
    with expect(app, request, campaign_id) as saved:
        results = app.decide(actor, campaign_id, on=body.on if body else None)
    location(response, f"/campaigns/{campaign_id}/outcome")
    return written(app, saved, campaign_id, named=results)


@router.get(
    "/campaigns/{campaign_id}/outcome",
    tags=DECISIONS,
    summary="评定结果表 The outcome table",
    description="每个申报一行：社区、街道、等级、状态、综合得分、满意度、异议、理由、摘牌。One row per candidacy: "
                "community, district, street, level, status, official total, satisfaction rate, objections, the "
                "decision's reasons and any revocation. `checkpoint` is a signed checkpoint of the tenant's "
                "transparency log that covers the table.",
)
def outcome(campaign_id: Uuid, actor: CurrentActor, app: Ledger, response: Response) -> Answer[Outcome]:
    campaign = app.campaign(actor, campaign_id)
    return {
        "campaign_id": str(campaign.id),
        "code": campaign.code,
        "decided": campaign.decided,
        "rows": app.outcome_table(actor, campaign_id),
        "checkpoint": signing.covering(app.recorder, campaign.tenant),
    }


@router.post(
    "/candidacies/{candidacy_id}/put-forward",
    tags=DECISIONS,
    summary="推荐上级评选 Put forward",
    description="将已命名的申报推荐到上一级评选（如省级示范社区候选），同一评选只推荐一次。Put a named candidacy forward "
                "to a higher-level selection, once per selection.",
)
def put_forward(candidacy_id: Uuid, body: PutForwardIn, actor: CurrentActor, app: Ledger,
                request: Request) -> Answer[Acted]:
    with expect(app, request, candidacy_id) as saved:
        app.put_forward(actor, candidacy_id, body.to, body.reason, on=body.on)
    return written(app, saved, candidacy_id)


@router.post(
    "/candidacies/{candidacy_id}/revoke",
    tags=DECISIONS,
    summary="摘牌 Revoke a title",
    description="回头看发现整改不合格或逾期的，市民政局取消称号，须列明问题并说明理由。The city owner revokes a title "
                "after failed rectification: name the supervision findings (INSPECTION_ID/FINDING_ID) whose "
                "rectification was rejected or is overdue, and the reason.",
)
def revoke(candidacy_id: Uuid, body: RevocationIn, actor: CurrentActor, app: Ledger,
           request: Request) -> Answer[Acted]:
    with expect(app, request, candidacy_id) as saved:
        app.revoke(actor, candidacy_id, body.reason, body.findings, on=body.on)
    return written(app, saved, candidacy_id)
