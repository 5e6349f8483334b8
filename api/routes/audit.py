"""Routes: audit (审计) — history of any stream, a stream as it was at an event position or a
recorded time, a community's titles on a date, the verification of a campaign, export
bundles and what-if under another rubric version. Everything here reads only.

Who may read what is the core's rule: every role reads what its tenant may see (another
tenant's record is 404, exactly as a record that does not exist; a sealed visit plan does
not exist for the inspected community and street); auditors read everything in their scope
and write nothing. Residents read public notices only, so every route here is 403 for them
(refused before anything is looked up). Checks of the whole store (every tenant's chains,
anchors of every chain head) need an auditor of every tenant (a token for tenant ``*``);
everyone else gets 403 there.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse
from pydantic import Field
from starlette.background import BackgroundTask

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from api.routes.answers import Answer, Shape, Uuid, Who
from api.routes.tenants import TitleView
from core.actors import Actor
from core.bundle import export_bundle
from core.chain import ChainReport
from core.domain import AccessToken
from core.errors import InvalidInput, NotFound
from core.meaning import MeaningReport
from core.services import CivicLedger
from core.services.decisions import plain

router = APIRouter(tags=["audit"], route_class=LedgerRoute)

BUNDLE_MEDIA_TYPE = "application/x-civic-bundle"
RESIDENTS = " 居民无权查看 Residents get 403."
#: event positions are stored as 64-bit integers; larger ones cannot name a position
MAX_POSITION = 10**18


# -- helpers ------------------------------------------------------------------------------------


def _not_a_token(stream_id: str, is_token: bool) -> None:
    """Access-token streams belong to the platform's operator, not to the ledger's record:
    over HTTP they do not exist."""
    if is_token:
        raise NotFound("stream", stream_id)


def stream_view(aggregate: Any) -> dict[str, Any]:
    """A stream's state: its kind, position, times and the recorded fields of its aggregate."""
    return {
        "id": str(aggregate.id),
        "kind": type(aggregate).__name__,
        "version": aggregate.version,
        "created_on": aggregate.created_on.isoformat(),
        "modified_on": aggregate.modified_on.isoformat(),
        "state": {k: plain(v) for k, v in vars(aggregate).items() if not k.startswith("_")},
    }


def chains_answer(
    report: ChainReport, verdicts: list[dict[str, Any]], scope: dict[str, Any], meaning: MeaningReport
) -> dict[str, Any]:
    """The same document as ``civic audit verify --json``."""
    return {
        "scope": scope,
        "intact": report.intact,
        "streams": report.streams,
        "events": report.events,
        "root": report.root,
        "breaks": [b.as_dict() for b in report.breaks],
        "decisions": verdicts,
        "meaning": meaning.as_dict(),
        "verified": report.intact and all(v["status"] == "confirmed" for v in verdicts) and meaning.ok,
    }


def verdicts_of(app: CivicLedger, actor: Actor, campaign_ids: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for campaign_id in campaign_ids:
        if app.campaign(actor, campaign_id).decided:
            rows += [{"campaign_id": campaign_id, **v.__dict__} for v in app.verify_decisions(actor, campaign_id)]
    return rows


# -- answers ------------------------------------------------------------------------------------


class HistoryRow(Shape):
    """事件 One recorded event: who, when, what and why (a row of `civic history --json`)."""

    stream: UUID
    version: int = Field(description="事件位置 Position of the event in its stream")
    event: str = Field(description="事件 Kind.Event, e.g. Candidacy.ScoreSheetSubmitted")
    recorded: str = Field(description="记录时间 ISO date-time it was recorded")
    effective: str | None = Field(description="生效日期 Effective date")
    actor: Who | None
    reason: str | None
    tenant: str | None
    campaign: str | None
    rubric: str | None = Field(description="评分标准哈希 The rubric version it was recorded under")
    data: dict[str, Any] = Field(description="数据 The event's recorded fields")


class StreamView(Shape):
    """记录状态 A stream as it was: kind, position, times and recorded fields."""

    id: UUID
    kind: str = Field(description="类型 Campaign, Candidacy, Community, Inspection, Selection, Tenant, …")
    version: int
    created_on: str
    modified_on: str
    state: dict[str, Any]


class VerificationScope(Shape):
    """范围 What a verification covered."""

    campaign: UUID | None
    tenant: str | None
    anchor: str | None


class ChainBreak(Shape):
    """断链 The first break of a broken chain."""

    stream: str
    version: int
    problem: str
    explanation: str
    detail: str
    where: str


class DecisionVerdict(Shape):
    """决定核验 A recorded decision recomputed from the events."""

    campaign_id: UUID
    candidacy_id: UUID
    community: str
    level: str
    status: str = Field(description="confirmed, mismatched or unverifiable")
    differences: list[str]


class MeaningProblem(Shape):
    """含义问题 A problem of what the events say about each other, at the event it was found on."""

    stream: str
    version: int | None = Field(description="事件位置 Position of the event (null: the stream as a whole)")
    what: str = Field(description="not_present, disagrees, unrecorded, summary, duplicate, positions, kind, "
                                  "unknown, malformed or hash")
    explanation: str
    message: str = Field(description="说明 What is wrong, in Chinese, then English")


class LeftOutTitle(Shape):
    """未采信的称号 A recorded title that no verified decision backs, and why."""

    community_id: UUID
    candidacy_id: str
    level: str | None
    label: str | None
    awarded: str | None
    revoked: str | None
    stream: UUID = Field(description="社区 The community's stream, where the award is recorded")
    version: int = Field(description="事件位置 Position of the award (TitleAwarded) in it")
    reasons: list[str]


class MeaningCheck(Shape):
    """含义核验 The cross-stream meaning checks (docs/audit.md): every reference between the events,
    every decision against its campaign's summary, every title against its decision."""

    ok: bool
    streams: int = Field(description="所查记录 Streams checked: the scope's and every stream they name")
    events: int
    campaigns: list[UUID] = Field(description="活动 The campaigns the events hold")
    problems: list[MeaningProblem]
    titles: int = Field(description="称号 Recorded titles a verified decision backs")
    left_out: list[LeftOutTitle]


class ChainVerification(Shape):
    """核验结果 The document of `civic audit verify --json`: `verified` is false when a chain is broken, a
    decision does not match or the events do not agree with each other (`meaning`)."""

    scope: VerificationScope
    intact: bool
    streams: int
    events: int
    root: str = Field(description="链头根 sha256:… over every head")
    breaks: list[ChainBreak]
    decisions: list[DecisionVerdict]
    meaning: MeaningCheck
    verified: bool


class Anchor(Shape):
    """锚定 Every chain head of the store, as `civic audit anchor` writes it."""

    format: str
    version: int
    taken_at: str
    store: str
    intact: bool
    streams: int
    events: int
    root: str
    heads: dict[str, list[int | str]] = Field(description="链头 Stream id -> [position, link hex]")


class WhatIfDecision(Shape):
    """推演决定 One recorded decision and what the other version would decide."""

    candidacy_id: UUID
    community: str
    level: str
    recorded_named: bool
    whatif_named: bool | None = Field(description="null: the other version cannot score this candidacy")
    changed: bool
    status: str = Field(description="changed, unchanged or unscorable")
    reasons: list[str]
    recorded_reasons: list[str]
    recorded_total: str | None
    on_notice: bool
    whatif_total: str | None
    differences: list[str] = Field(description="差异 path: recorded -> what-if")
    notes: list[str]


class WhatIf(Shape):
    """推演 The campaign's decisions under another rubric version (as `civic audit whatif --json`)."""

    campaign_id: UUID
    campaign: str
    tenant: str
    recorded_rubric: str
    recorded_hash: str
    rubric: str
    rubric_hash: str
    provided_by: str
    style: str
    decisions: list[WhatIfDecision]
    notes: list[str]


# -- history and time travel --------------------------------------------------------------------


@router.get(
    "/streams/{stream_id}/history",
    summary="事件历史 History of a stream",
    description="任一记录（活动、申报、社区、巡查、评选、租户……）的全部事件：谁、何时（记录时间与生效日期）、做了什么、"
                "为什么。活动的历史包括其申报与巡查。The events of any stream (campaign, candidacy, community, "
                "inspection, selection, tenant, …) in recorded order with who, when (recorded and effective), "
                "what and why — the rows of `civic history --json`. A campaign's history includes its "
                "candidacies and inspections." + RESIDENTS,
)
def history(stream_id: Uuid, actor: CurrentActor, app: Ledger) -> Answer[list[HistoryRow]]:
    rows = app.history(actor, stream_id)
    _not_a_token(stream_id, bool(rows) and rows[0]["event"].startswith("AccessToken."))
    return rows


@router.get(
    "/streams/{stream_id}",
    summary="时间回溯 A stream as it was",
    description="任一记录在某事件位置（`version`）或某记录时刻（`recorded_by`，ISO 日期时间）时的状态，二者取其一。"
                "Any stream as it was at event position `version`, or with every event recorded by the ISO "
                "date-time `recorded_by` (exactly one of them): its kind, position, times and recorded fields." + RESIDENTS,
)
def stream_at(
    stream_id: Uuid,
    actor: CurrentActor,
    app: Ledger,
    version: Annotated[int | None, Query(
        ge=1, le=MAX_POSITION, description="事件位置 Event position (1 = the first event)", examples=[3],
    )] = None,
    recorded_by: Annotated[str | None, Query(
        description="记录时刻 ISO date-time: the stream with every event recorded by then",
        examples=["2020-11-30T12:00:00+08:00"],
    )] = None,
) -> Answer[StreamView]:
    aggregate = app.stream_at(actor, stream_id, version=version, recorded_by=recorded_by)
    _not_a_token(stream_id, isinstance(aggregate, AccessToken))
    return stream_view(aggregate)


# -- titles ---------------------------------------------------------------------------------------


TITLES_LEFT_OUT = "X-Civic-Titles-Left-Out"
TITLES_LEFT_OUT_REASONS = "X-Civic-Titles-Left-Out-Reasons"


@router.get(
    "/communities/{community_id}/titles",
    summary="某日称号 Titles held on a date",
    description="社区在某日（生效日期）持有的称号，及授予它的决定（申报）与摘牌日期；只列出有经核实的决定支持的称号。"
                "The titles a community held on `on` (effective dates; default today), each with the decision "
                "(candidacy) that awarded it and, if later revoked, when — as `civic audit titles --json`. Only "
                f"titles a verified decision backs are answered; `{TITLES_LEFT_OUT}` counts the community's "
                f"recorded titles left out and `{TITLES_LEFT_OUT_REASONS}` says why." + RESIDENTS,
    responses={200: {"headers": {
        TITLES_LEFT_OUT: {"description": "未采信 How many recorded titles of the community no verified decision "
                                         "backs (left out of the answer)",
                          "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}},
        TITLES_LEFT_OUT_REASONS: {"description": "原因 When any were left out: a JSON array (ASCII, non-ASCII "
                                                 "as \\u escapes) of {candidacy_id, stream, version, reasons}",
                                  "required": False, "schema": {"type": "string"}},
    }}},
)
def titles(
    community_id: Uuid,
    actor: CurrentActor,
    app: Ledger,
    response: Response,
    on: Annotated[str | None, Query(description="日期 Date YYYY-MM-DD (default today)", examples=["2021-01-01"])] = None,
) -> Answer[list[TitleView]]:
    try:
        rows = app.titles_on(actor, community_id, on if on is not None else app.today())
    except InvalidInput as exc:
        if exc.field == "day":  # the core names its argument; the request names the query parameter
            raise InvalidInput("on", exc.value, exc.allowed) from None
        raise
    response.headers[TITLES_LEFT_OUT] = str(len(rows.left_out))
    if rows.left_out:
        response.headers[TITLES_LEFT_OUT_REASONS] = json.dumps(
            [{"candidacy_id": t["candidacy_id"], "stream": t["stream"], "version": t["version"], "reasons": t["reasons"]}
             for t in rows.left_out], ensure_ascii=True, separators=(",", ":"))
    return list(rows)


# -- verification, export, what-if ------------------------------------------------------------


@router.get(
    "/campaigns/{campaign_id}/verification",
    summary="核验活动 Verify a campaign",
    description="核验活动记录的哈希链（活动、申报、社区、巡查及所用评分标准版本），并按所记录的事件位置与评分标准版本"
                "重新计算每项决定。Checks the hash chains of the campaign's streams (campaign, candidacies, "
                "their communities and inspections, the rubric versions named) and recomputes every recorded "
                "decision from the events at the positions it recorded: the document of `civic audit verify "
                "--campaign ID --json` (`verified` false when a chain is broken or a decision does not match; "
                "the answer is still 200)." + RESIDENTS,
)
def verify_campaign(campaign_id: Uuid, actor: CurrentActor, app: Ledger) -> Answer[ChainVerification]:
    streams = app.campaign_streams(actor, campaign_id)
    report = app.verify_chains(actor, streams)
    campaign = str(app.campaign(actor, campaign_id).id)
    return chains_answer(report, verdicts_of(app, actor, [campaign]), {"campaign": campaign, "tenant": None, "anchor": None},
                         app.verify_meaning(actor, streams))


@router.get(
    "/campaigns/{campaign_id}/bundle",
    summary="导出包 Export bundle",
    response_class=FileResponse,
    responses={200: {
        "description": "导出包 The bundle file, as an attachment",
        "content": {BUNDLE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "X-Civic-Bundle-Logs": {"description": "日志检查点 The logs the bundle's checkpoints cover, with their sizes: "
                                                   "`<log>=<size>`, comma-separated (e.g. `tianjin=246, *=3`)",
                                    "required": True, "schema": {"type": "string"}},
            "Content-Disposition": {"description": "附件 attachment; filename=\"campaign-<id>.civic-bundle\"",
                                    "required": True, "schema": {"type": "string"}},
        },
    }},
    description="活动记录的自包含导出包（事件、所用评分标准版本、清单与封印），可用 `civic audit verify FILE` 离线核验。"
                "A self-contained file with the campaign's events, the rubric versions they name and a "
                "manifest, as an attachment (`application/x-civic-bundle`); check it "
                "offline with `civic audit verify FILE`. 409 when a chain of the campaign is broken (nothing "
                "is exported). The bundle carries a signed checkpoint of each log its events belong to (see "
                "docs/bundle-format.md); header `X-Civic-Bundle-Logs` names those logs and sizes." + RESIDENTS,
)
def export(campaign_id: Uuid, actor: CurrentActor, app: Ledger) -> FileResponse:
    fd, name = tempfile.mkstemp(prefix="civic-export-", suffix=".civic-bundle")
    os.close(fd)
    path = Path(name)
    try:
        manifest = export_bundle(app, actor, path, campaign_id=campaign_id)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(
        path,
        media_type=BUNDLE_MEDIA_TYPE,
        filename=f"campaign-{manifest['campaigns'][0]}.civic-bundle",
        headers={"X-Civic-Bundle-Logs": ", ".join(f"{log}={size}" for log, size in manifest["logs"].items())},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get(
    "/campaigns/{campaign_id}/whatif",
    summary="推演 What-if under another rubric version",
    description="假如活动采用另一评分标准版本：以相同证据（各决定所记录的事件位置）重新计算每项决定，列出将改变的决定、"
                "原因与不同的数值和检查项；不记录任何内容。Recomputes every recorded decision of the campaign from the "
                "same evidence under `rubric` (`ID@VERSION`, one the campaign's tenant can use) and its decision "
                "style: per decision what it would be, why, and which figures and checks differ — the document "
                "of `civic audit whatif --json`. Records nothing." + RESIDENTS,
)
def whatif(
    campaign_id: Uuid,
    actor: CurrentActor,
    app: Ledger,
    rubric: Annotated[str | None, Query(
        description="评分标准版本 RUBRIC@VERSION the tenant can use", examples=["tianjin-meili@2017"],
    )] = None,
) -> Answer[WhatIf]:
    return app.whatif(actor, campaign_id, rubric).as_dict()


# -- the whole store: auditors of every tenant only -----------------------------------------------


@router.get(
    "/audit/verification",
    summary="核验全库 Verify the whole store",
    description="核验库中每条哈希链并重新计算每个活动的决定；仅限全部租户审计员（租户 `*` 的令牌），其他令牌 403。"
                "Every chain of the store and every recorded decision of every campaign, as `civic audit verify "
                "--json`: for auditors of every tenant (a token for tenant `*`) only; anyone else gets 403. "
                "On a large store this takes as long as the command does.",
)
def verify_store(actor: CurrentActor, app: Ledger) -> Answer[ChainVerification]:
    report = app.verify_chains(actor)  # PermissionDenied unless an auditor of every tenant
    campaigns = app.campaigns_in_store(report)
    return chains_answer(report, verdicts_of(app, actor, campaigns), {"campaign": None, "tenant": None, "anchor": None},
                         app.verify_meaning(actor))


@router.get(
    "/audit/anchor",
    summary="锚定链头 Anchor every chain head",
    description="库中每条链的链头（供保存在运营方无法改动之处，日后用 `civic audit verify --anchor` 核对）；仅限全部"
                "租户审计员。The head of every chain in the store, as `civic audit anchor` writes it, to keep "
                "where the store's operators cannot change it: for auditors of every tenant only (403 otherwise).",
)
def anchor(actor: CurrentActor, app: Ledger) -> Answer[Anchor]:
    return app.anchor(actor)
