"""The application's routers, one module per area; ``create_app`` includes them all.

Path parameters are named the same everywhere (the tenant-isolation test fills them from
a demo campaign): ``tenant`` (tenant code), ``community_id``, ``campaign_id``,
``candidacy_id``, ``inspection_id``, ``finding_id``, ``objection_id``, ``veto_id``,
``phase_id``, ``selection_id``, ``plan_id``, ``stream_id``, ``rubric_id``, ``version``,
``size`` (a tree size of a tenant's log).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import audit, campaigns, inspections, lists, log, rubrics, scoring, selections, tenants

ROUTERS: list[APIRouter] = [
    tenants.router,
    campaigns.router,
    inspections.router,
    scoring.router,
    selections.router,
    rubrics.router,
    audit.router,
    lists.router,
    log.router,
]
