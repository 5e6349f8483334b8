"""Routes: lists served from the read models (:mod:`core.readmodels`) — overdue findings,
every street's progress for the mid-term meeting and the public notice list.

Each request first loads the campaign through the core (another tenant's campaign is a
404, exactly as on every other route), then brings the read models up to date with the
event log (cheap when nothing is new) and reads their rows with SQL: no request replays
the campaign's candidacies or inspections. Rows are filtered by the token's tenant too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from core.actors import Role
from core.domain import Campaign
from core.readmodels import read_models

router = APIRouter(route_class=LedgerRoute)

ON_QUERY = Query(None, description="按此日期判断是否逾期 Judge overdue as of this date (YYYY-MM-DD), default today",
                 examples=["2020-09-01"])
RESIDENTS = " 居民无权查看 Residents get 403."


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
def overdue_findings(campaign_id: str, actor: CurrentActor, app: Ledger, on: str | None = ON_QUERY) -> dict[str, Any]:
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
def street_progress(campaign_id: str, actor: CurrentActor, app: Ledger, on: str | None = ON_QUERY) -> dict[str, Any]:
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
                "`{campaign_id, code, title, start, end, closed, decided, candidates}`; 404 before the notice opens.",
)
def notice_list(campaign_id: str, actor: CurrentActor, app: Ledger) -> dict[str, Any]:
    campaign = app.load(Campaign, campaign_id, actor, "campaign", readonly=True)  # no copy: only read
    notice = read_models(app).notice_list(actor, str(campaign.id), listed_only=actor.role is Role.RESIDENT)
    return {"campaign_id": str(campaign.id), "code": campaign.code, "title": campaign.title, **notice}
