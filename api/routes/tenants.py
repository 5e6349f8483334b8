"""Routes: tenants (municipalities), their community register and their rubric configuration.

Every handler passes the request's values to a :class:`~core.services.CivicLedger` command
or query, which checks the role, the tenant and every value; a refusal becomes a problem
document (see :mod:`api.problems`) and records nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from api.routes.answers import Acted, Answer, Registered, Shape, Uuid
from api.versioning import etag, expect, written
from core.actors import Actor
from core.domain import Community, Tenant, ids
from core.services import CivicLedger

router = APIRouter(tags=["tenants"], route_class=LedgerRoute)


# -- helpers shared by the route modules of this area ------------------------------------


def created(response: Response, location: str, body: dict[str, Any]) -> dict[str, Any]:
    """A 201 answer: ``body`` (with ``id``) and the new resource's ``Location``."""
    response.headers["Location"] = location
    return body


def visible_tenant(app: CivicLedger, actor: Actor, tenant: str) -> Tenant:
    """The tenant named in the path, if the actor may see it (else NotFound, exactly as for
    a tenant that does not exist)."""
    return app.tenant(actor, tenant)


def reader_in(app: CivicLedger, actor: Actor, tenant: str) -> Actor:
    """The actor for a read-only query of ``tenant`` that the core scopes to the actor's own
    tenant: the actor itself, or, for an auditor of every tenant, the same auditor scoped
    to ``tenant``. NotFound when the actor may not see ``tenant``."""
    visible_tenant(app, actor, tenant)
    return actor if actor.tenant == tenant else actor.model_copy(update={"tenant": tenant})


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": str(tenant.id),
        "code": tenant.code,
        "name": tenant.name,
        "communities": list(tenant.communities),
        "campaigns": list(tenant.campaigns),
        "rubrics": dict(tenant.rubrics),
        "version": tenant.version,
    }


def community_view(community: Community) -> dict[str, Any]:
    return {
        "id": str(community.id),
        "tenant": community.tenant,
        "code": community.code,
        "name": community.name,
        "district": community.district,
        "street": community.street,
        "households": community.households,
        "population": community.population,
        "held": community.held_levels(),
        "titles": [{"candidacy_id": cid, **title} for cid, title in community.titles.items()],
        "version": community.version,
    }


class TenantView(Shape):
    """租户 A municipality: its communities, campaigns and own rubric versions (`ETag`: its version)."""

    id: UUID
    code: str
    name: str
    communities: list[UUID] = Field(description="社区 Ids of its communities, in registration order")
    campaigns: list[UUID] = Field(description="活动 Ids of its campaigns, in creation order")
    rubrics: dict[str, str] = Field(description="自有评分标准版本 Its own rubric versions: ref (id@version) -> hash")
    version: int


class TitleView(Shape):
    """称号 A title awarded by a decision (a candidacy), and when it was revoked, if it was."""

    candidacy_id: UUID = Field(description="授予称号的申报 The candidacy whose decision awarded it")
    campaign_id: UUID
    level: str
    label: str = Field(description="称号 The level's label")
    rubric: str = Field(description="评分标准哈希 Hash of the rubric version it was decided under")
    awarded: str = Field(description="授予日期 Effective date of the award (YYYY-MM-DD)")
    revoked: str | None = Field(description="摘牌日期 Effective date of the revocation, or null")


class CommunityView(Shape):
    """社区 A community's register data and titles (`ETag`: its version)."""

    id: UUID
    tenant: str
    code: str
    name: str
    district: str
    street: str
    households: int
    population: int
    held: list[str] = Field(description="现有称号 Levels it holds now (awarded, not revoked)")
    titles: list[TitleView] = Field(description="称号 Every title awarded, revoked ones included")
    version: int


class RubricRecorded(Shape):
    """已记录的评分标准版本 A rubric version recorded for the tenant (`Location`: the rubric)."""

    id: UUID = Field(description="记录编号 Id of the rubric record")
    ref: str = Field(description="id@version")
    version: str
    hash: str = Field(description="内容哈希 sha256:… of the version")


# -- request bodies ---------------------------------------------------------------------------


class TenantRegistration(BaseModel):
    """注册租户（市） Register a municipality; the token must be a city owner of that tenant code."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="租户代码 Tenant code (the token's tenant)", examples=["tianjin"])
    name: str = Field(description="名称 Name of the municipality", examples=["天津市"])


class CommunityRegistration(BaseModel):
    """登记社区 Add a community to the tenant's register."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="社区代码 Community code, unique in the tenant", examples=["c1"])
    name: str = Field(description="社区名称 Community name", examples=["詹滨里社区"])
    district: str = Field(description="所属区 District", examples=["东丽区"])
    street: str = Field(description="所属街道 Street (a street officer's organisation)", examples=["张贵庄街道"])
    households: StrictInt = Field(description="户数 Households (whole number >= 0)", examples=[1200])
    population: StrictInt = Field(description="人口 Population (whole number >= 0)", examples=[3000])
    on: str | None = Field(
        default=None, description="生效日期 Effective date YYYY-MM-DD (default today; never in the future)",
        examples=["2020-03-01"],
    )


class CommunityCorrection(BaseModel):
    """更正社区登记信息 Correct register details; the old values stay in the history."""

    model_config = ConfigDict(extra="forbid")

    changes: dict[str, Any] = Field(
        description="更正的字段 Fields to correct: some of name, district, street, households, population",
        examples=[{"households": 1250, "name": "詹滨里社区"}],
    )
    reason: str = Field(description="更正理由 Why (recorded)", examples=["2020年人口普查数据更新"])


class RubricConfiguration(BaseModel):
    """配置评分标准版本 Derive a tenant-only version of a rubric (replace a provisional level, add veto items)."""

    model_config = ConfigDict(extra="forbid")

    base_version: str | None = Field(
        default=None, description="基础版本 Version derived from (default: the highest the tenant can use)",
        examples=["2017"],
    )
    version: str = Field(description="新版本号 The new version (new for the tenant and the plugins)", examples=["2017-hexi.1"])
    changes: dict[str, Any] = Field(
        description="修改 Changes: title, veto_items, aggregation, and levels by id (label, provisional, note, rules)",
        examples=[{
            "levels": {"jingpin": {"provisional": False, "label": "精品美丽社区", "rules": {"min_total": 92}}},
            "veto_items": [{"id": "V1", "text": "发生重大刑事案件"}],
        }],
    )
    reason: str = Field(description="理由 Why (recorded)", examples=["区级精品标准"])


# -- tenants --------------------------------------------------------------------------------


@router.post(
    "/tenants", status_code=201,
    summary="注册租户 Register a tenant (municipality)",
    description="城市所有者注册本租户。A city owner registers its own tenant code; answers `{id, code}` and "
                "`Location: /tenants/{code}`. 409 when the tenant is already registered.",
)
def register_tenant(body: TenantRegistration, actor: CurrentActor, app: Ledger, response: Response) -> Answer[Registered]:
    tenant_id = app.register_tenant(actor, body.code, body.name)
    code = body.code.strip()
    return created(response, f"/tenants/{quote(code)}", {"id": tenant_id, "code": code})


@router.get(
    "/tenants/{tenant}",
    summary="租户详情 A tenant",
    description="代码、名称、社区与活动编号、自有评分标准版本。Code, name, the ids of its communities and "
                "campaigns, its own rubric versions (ref -> hash) and its version (also the `ETag`).",
)
def get_tenant(tenant: str, actor: CurrentActor, app: Ledger, response: Response) -> Answer[TenantView]:
    record = visible_tenant(app, actor, tenant)
    etag(response, record.version)
    return tenant_view(record)


# -- communities ----------------------------------------------------------------------------


@router.post(
    "/tenants/{tenant}/communities", status_code=201,
    summary="登记社区 Register a community",
    description="区民政局或市级登记社区。A district officer or city owner adds a community to the register; "
                "answers `{id, code}` and its `Location`. `If-Match` names the tenant's version.",
)
def register_community(
    tenant: str, body: CommunityRegistration, actor: CurrentActor, app: Ledger, request: Request, response: Response,
) -> Answer[Registered]:
    visible_tenant(app, actor, tenant)
    with expect(app, request, ids.tenant_id(tenant)):
        community_id = app.register_community(
            actor, body.code, body.name, body.district, body.street, body.households, body.population, on=body.on
        )
    return created(response, f"/communities/{community_id}", {"id": community_id, "code": body.code.strip()})


@router.get(
    "/tenants/{tenant}/communities",
    summary="社区名录 A tenant's communities",
    description="租户登记的全部社区（含所获称号）。Every registered community with its register data and titles.",
)
def list_communities(tenant: str, actor: CurrentActor, app: Ledger) -> Answer[list[CommunityView]]:
    record = visible_tenant(app, actor, tenant)
    return [community_view(app.community(actor, cid)) for cid in record.communities]


@router.get(
    "/communities/{community_id}",
    summary="社区详情 A community",
    description="登记信息与所获称号（含摘牌日期）。Register data, the titles awarded (and revoked, with dates) "
                "and the levels held now; `ETag` is its version.",
)
def get_community(community_id: Uuid, actor: CurrentActor, app: Ledger, response: Response) -> Answer[CommunityView]:
    community = app.community(actor, community_id)
    etag(response, community.version)
    return community_view(community)


@router.get(
    "/tenants/{tenant}/communities/by-code/{code}",
    summary="按代码查社区 A community by its code",
    description="按社区代码查找。The community registered under `code` in the tenant (as `GET /communities/{id}`).",
)
def get_community_by_code(tenant: str, code: str, actor: CurrentActor, app: Ledger, response: Response) -> Answer[CommunityView]:
    visible_tenant(app, actor, tenant)
    community = app.community(actor, str(ids.community_id(tenant, code)))
    etag(response, community.version)
    return community_view(community)


@router.post(
    "/communities/{community_id}/corrections",
    summary="更正社区信息 Correct a community's details",
    description="更正登记信息（须说明理由，原值保留在历史中）。Corrects register fields with a reason; "
                "answers `{id, version}`. `If-Match` names the community's version.",
)
def correct_community(
    community_id: Uuid, body: CommunityCorrection, actor: CurrentActor, app: Ledger, request: Request,
) -> Answer[Acted]:
    with expect(app, request, community_id) as saved:
        app.correct_community(actor, community_id, body.changes, body.reason)
    return written(app, saved, community_id)


# -- rubric configuration -----------------------------------------------------------------


@router.post(
    "/tenants/{tenant}/rubrics/{rubric_id}/versions", status_code=201,
    summary="配置评分标准版本 Configure a tenant's rubric version",
    description="市级从已有版本派生本租户专用版本（如替换暂行精品标准、增加一票否决项）。A city owner derives a "
                "version only this tenant can use from `rubric_id` (at `base_version`); answers `{id, ref, hash}` "
                "and its `Location`. Campaigns already created keep the version they pinned.",
)
def configure_rubric(
    tenant: str, rubric_id: str, body: RubricConfiguration, actor: CurrentActor, app: Ledger, request: Request,
    response: Response,
) -> Answer[RubricRecorded]:
    visible_tenant(app, actor, tenant)
    base = f"{rubric_id}@{body.base_version}" if body.base_version is not None else rubric_id
    with expect(app, request, ids.tenant_id(tenant)):
        content_hash = app.configure_rubric(actor, base, body.version, body.changes, body.reason)
    rubric = app.rubric_by_hash(content_hash)
    return created(
        response, f"/rubrics/{quote(rubric.id)}?version={quote(rubric.version)}",
        {"id": str(ids.rubric_record_id(content_hash)), "ref": rubric.ref, "version": rubric.version, "hash": content_hash},
    )
