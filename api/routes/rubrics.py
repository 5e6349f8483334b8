"""Routes: rubrics (the versions a tenant can use, rubric files checked and imported, lineage)
and the installed plugins.

A rubric file is sent as the request body itself (YAML or JSON text, as written for
``civic rubric validate``), and read by :mod:`core.rubric_files`, which locates every
problem by line and field; a file with problems is answered 422 listing all of them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from api.problems import KINDS, problem
from api.routes.answers import Answer, LevelSummary, Shape, Who, absent
from api.routes.tenants import RubricRecorded, created, reader_in, visible_tenant
from api.versioning import expect
from core.actors import Actor
from core.domain import ids
from core.errors import InvalidInput, NotFound
from core.exact import Publication
from core.permissions import authorize
from core.rubric import Rubric
from core.rubric_files import MAX_FILE_BYTES, RubricFile, read_rubric_file
from core.services import CivicLedger
from core.services.base import ALL_TENANTS
from core.services.registry import usage_problems

router = APIRouter(route_class=LedgerRoute)

RUBRICS = ["rubrics"]
PLUGINS = ["plugins"]

FILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "评分标准文件全文 The rubric file itself, YAML or JSON (UTF-8), see docs/rubric-files.md. "
                       "`Content-Type: application/json` is read as JSON, `application/yaml` (or `text/yaml`) as YAML; "
                       "otherwise a text starting with `{` is JSON and anything else YAML.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}, "example": "id: xinqu-hexie\nversion: \"2021.1\"\n..."},
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


async def raw_body(request: Request) -> bytes:
    """The request body as sent (a rubric file is read by :mod:`core.rubric_files`, not parsed here)."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]
FileName = Annotated[
    str | None,
    Query(description="文件名 Name to report problems under (its suffix .yaml/.yml/.json decides the format)",
          examples=["hexie-2021.yaml"]),
]


# -- reading a rubric file from the body -----------------------------------------------------------


def file_kind(request: Request, body: bytes) -> str:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type.endswith("json"):
        return "json"
    if "yaml" in content_type:
        return "yaml"
    return "json" if body.lstrip().startswith(b"{") else "yaml"


def read_body_file(request: Request, body: bytes, filename: str | None, app: CivicLedger) -> RubricFile:
    """The body read as a rubric file and checked against the installed plugins (as
    ``civic rubric validate`` does); every problem is in the result's ``problems``."""
    if len(body) > MAX_FILE_BYTES:
        raise InvalidInput("body", f"{len(body)} bytes", f"a rubric file of at most {MAX_FILE_BYTES} bytes")
    name = None
    if filename:
        # only a plain file name: it names the file in problem messages
        name = Path(filename).name
        if name in ("", ".", "..") or len(name.encode("utf-8", "replace")) > 200 or "\x00" in name or "\\" in name:
            raise InvalidInput("filename", filename[:80], "a plain file name (at most 200 bytes), e.g. hedong-2021.yaml")
    if name is None:
        name = "rubric.json" if file_kind(request, body) == "json" else "rubric.yaml"
    with tempfile.TemporaryDirectory(prefix="civic-rubric-") as folder:
        path = Path(folder) / name
        path.write_bytes(body)
        loaded = read_rubric_file(path)
    if loaded.rubric is not None:
        loaded.problems.extend(loaded.problem(*p) for p in usage_problems(app.plugins, loaded.rubric))
    return loaded


def file_problems(request: Request, loaded: RubricFile) -> JSONResponse:
    """422: every problem of the file, each with its line and field, in English and Chinese."""
    first = loaded.problems[0]
    rows = [
        {"file": p.file, "line": p.line, "field": p.path, "message": p.message, "message_zh": p.message_zh, "text": str(p)}
        for p in loaded.problems
    ]
    detail = f"{len(rows)} problem(s) in the rubric file 评分标准文件有{len(rows)}个问题; first: {first}"
    return problem(
        422, "invalid_input", KINDS[InvalidInput][1], detail, request,
        field=first.path or "body", value=None, allowed="a rubric file as described in docs/rubric-files.md",
        problems=rows,
    )


def summary(rubric: Rubric, derived_from: str | None, name: str) -> dict[str, Any]:
    """What ``civic rubric validate --json`` prints for a valid file."""
    return {
        "file": name, "id": rubric.id, "version": rubric.version, "ref": rubric.ref, "hash": rubric.content_hash,
        "title": rubric.title, "style": rubric.style, "aggregation": rubric.aggregation,
        "categories": len(rubric.categories), "items": len(rubric.items()), "points": str(rubric.max_total),
        "veto_items": len(rubric.veto_items),
        "levels": [{"id": lv.id, "label": lv.label, "provisional": lv.provisional} for lv in rubric.levels],
        "provisional": rubric.is_provisional, "derived_from": derived_from,
    }


# -- views -------------------------------------------------------------------------------------------------


def rubric_row(rubric: Rubric, provided_by: str) -> dict[str, Any]:
    return {
        "ref": rubric.ref, "id": rubric.id, "version": rubric.version, "hash": rubric.content_hash,
        "title": rubric.title, "provided_by": provided_by, "style": rubric.style,
        "items": len(rubric.items()), "points": str(rubric.max_total),
        "levels": [{"id": lv.id, "label": lv.label, "provisional": lv.provisional} for lv in rubric.levels],
        "provisional": rubric.is_provisional,
    }


def shown(app: CivicLedger, actor: Actor, rubric_id: str, version: str | None) -> tuple[Rubric, str]:
    """The rubric the actor's tenant would pin (its own versions first, then the plugins');
    an auditor of every tenant sees the plugins' versions."""
    if actor.tenant == ALL_TENANTS:
        provided = app.plugins.rubric(rubric_id, version)
        return provided.rubric, f"plugin {provided.plugin}"
    return app.resolve_rubric(actor, rubric_id, version)


# -- answers -----------------------------------------------------------------------------------------------


class TrimmedMeanView(Shape):
    """截尾平均 A trimmed mean: the `drop` highest and lowest points dropped when at least `min_count` assessors scored."""

    kind: str = Field(examples=["trimmed_mean"])
    drop: int
    min_count: int


class RubricSummary(Shape):
    """检查结果 What `civic rubric validate --json` prints for a valid file."""

    file: str
    id: str
    version: str
    ref: str
    hash: str
    title: str
    style: str
    aggregation: str | TrimmedMeanView
    categories: int
    items: int
    points: str = Field(description="满分 The rubric's maximum total")
    veto_items: int
    levels: list[LevelSummary]
    provisional: bool
    derived_from: str | None = Field(description="派生自 id@version the file derives from, or null")


class RubricRow(Shape):
    """评分标准版本 A rubric version the tenant can pin."""

    ref: str
    id: str
    version: str
    hash: str
    title: str
    provided_by: str = Field(description="提供者 `plugin NAME` or `tenant CODE`")
    style: str
    items: int
    points: str
    levels: list[LevelSummary]
    provisional: bool


class ItemView(Shape):
    """评分条目 An item."""

    id: str
    text: str
    max_points: float


class CategoryView(Shape):
    """类别 A category with its items."""

    id: str
    title: str
    max_points: float
    items: list[ItemView]


class VetoItemView(Shape):
    """一票否决项 A veto item."""

    id: str
    text: str


class LevelView(Shape):
    """级别 A level with its rules."""

    id: str
    label: str
    provisional: bool
    note: str
    rules: dict[str, Any]


class RubricView(Shape):
    """评分标准 A rubric version in full, as `civic rubric show --json` (see docs/rubric-files.md)."""

    hash: str
    ref: str
    provided_by: str
    points: str = Field(description="满分 Maximum total")
    is_provisional: bool = Field(description="暂行 The version or one of its levels is provisional")
    id: str
    version: str
    title: str
    source: str
    step: float
    aggregation: str | TrimmedMeanView
    style: str
    categories: list[CategoryView]
    veto_items: list[VetoItemView]
    levels: list[LevelView]
    rules: dict[str, Any]
    provisional: bool
    publication: Publication = absent("公布口径 How figures are published (when the rubric declares it)")
    min_assessors: int = absent("评估人数 Official assessors needed on every item (when declared)")
    partial_sheets: bool = absent("部分评分表 Sheets may leave items out (when declared)")


class RubricImported(RubricRecorded):
    """已导入 The rubric version recorded for the tenant (`Location`: the rubric)."""

    derived_from: str | None


class RubricVersionRow(Shape):
    """版本 A version of a rubric the tenant can use, with its lineage."""

    ref: str
    id: str
    version: str
    hash: str
    title: str
    provided_by: str
    recorded_by: Who | None = Field(description="记录人 Who recorded the tenant's own version (null for a plugin's)")
    effective: str | None
    reason: str | None
    provisional: bool
    derived_from: list[str] = Field(description="派生链 Refs it derives from, nearest first")


class LineageStep(Shape):
    """派生关系 A version in a lineage, nearest first (`ref` null where the tenant may not see it)."""

    ref: str | None
    hash: str
    provided_by: str
    derived_from: str | None = Field(description="派生自 Hash of the version it derives from, or null")


class PluginRow(Shape):
    """插件 An installed plugin (`core`: the built-ins)."""

    name: str
    version: str
    source: str
    hooks: list[str]
    rubrics: list[str]
    styles: list[str]
    aggregations: list[str]


class PluginFailure(Shape):
    """被拒绝的插件 A plugin that was refused, and why."""

    name: str
    error: str


class Plugins(Shape):
    """插件 As `civic plugins --json`."""

    plugins: list[PluginRow]
    failures: list[PluginFailure]


# -- rubrics ---------------------------------------------------------------------------------------------


@router.get(
    "/rubrics", tags=RUBRICS,
    summary="可用评分标准 Rubrics available to the tenant",
    description="本租户可用的全部评分标准版本：插件提供的与本租户自有的。Every rubric version the token's tenant can "
                "pin: the plugins' and its own (ref, hash, title, provided by, style, items, points, levels, "
                "provisional).",
)
def list_rubrics(actor: CurrentActor, app: Ledger) -> Answer[list[RubricRow]]:
    rows = [rubric_row(p.rubric, f"plugin {p.plugin}") for p in app.plugins.rubrics()]
    if actor.tenant != ALL_TENANTS:
        tenant = app.tenant(actor, actor.tenant)
        rows += [rubric_row(app.rubric_by_hash(h), f"tenant {tenant.code}") for h in tenant.rubrics.values()]
    return sorted(rows, key=lambda row: (row["id"], row["version"]))


@router.get(
    "/rubrics/{rubric_id}", tags=RUBRICS,
    summary="评分标准详情 A rubric",
    description="评分标准全文：类别、小项及分值、级别与规则、一票否决项、哈希。The rubric as `civic rubric show --json`: "
                "id, version, hash, title, rules, levels, veto items and categories with their items; without "
                "`version`, the version a campaign of the tenant would pin by default.",
)
def show_rubric(
    rubric_id: str, actor: CurrentActor, app: Ledger,
    version: Annotated[str | None, Query(description="版本 Version (default: the highest)", examples=["2017"])] = None,
) -> Answer[RubricView]:
    rubric, provided_by = shown(app, actor, rubric_id, version)
    return {
        "hash": rubric.content_hash, "ref": rubric.ref, "provided_by": provided_by,
        "points": str(rubric.max_total), "is_provisional": rubric.is_provisional,
        **rubric.model_dump(mode="json"),
    }


@router.post(
    "/rubrics/validate", tags=RUBRICS, openapi_extra=FILE_BODY,
    summary="检查评分标准文件 Validate a rubric file",
    description="检查请求体中的评分标准文件（YAML或JSON），不记录任何内容。Checks the rubric file sent as the body, "
                "and against the installed plugins, recording nothing: 200 with a summary, or 422 listing every "
                "problem with its line and field (`problems`).",
)
def validate_rubric(
    request: Request, body: RawBody, actor: CurrentActor, app: Ledger, filename: FileName = None,
) -> Answer[RubricSummary]:
    loaded = read_body_file(request, body, filename, app)
    if loaded.problems or loaded.rubric is None:
        return file_problems(request, loaded)
    return summary(loaded.rubric, loaded.derived_from, Path(loaded.path).name)


@router.post(
    "/tenants/{tenant}/rubrics", status_code=201, tags=RUBRICS, openapi_extra=FILE_BODY,
    summary="导入评分标准文件 Import a rubric file",
    description="市级将评分标准文件记录为本租户专用的新版本（其他租户不可见）。A city owner records the rubric file "
                "sent as the body as a new version only this tenant can use; its `derived_from` must be a version the "
                "tenant can use. Answers `{id, ref, hash}` and its `Location`; a file with problems is 422 listing them.",
)
def import_rubric(
    tenant: str, request: Request, body: RawBody, actor: CurrentActor, app: Ledger, response: Response,
    filename: FileName = None,
    reason: Annotated[str | None, Query(description="理由 Why (recorded; default: imported over HTTP)",
                                        examples=["区民政局发布2021年标准"])] = None,
) -> Answer[RubricImported]:
    visible_tenant(app, actor, tenant)
    authorize(actor, "configure_rubric")  # the core's own rule, checked before the file is read
    if actor.tenant != tenant:
        raise NotFound("tenant", repr(tenant))
    loaded = read_body_file(request, body, filename, app)
    if loaded.problems or loaded.rubric is None:
        return file_problems(request, loaded)
    why = reason if reason is not None else f"导入评分标准文件 imported over HTTP ({Path(loaded.path).name})"
    with expect(app, request, ids.tenant_id(tenant)):
        content_hash = app.import_rubric(actor, loaded.rubric, loaded.derived_from, reason=why)
    rubric = loaded.rubric
    return created(
        response, f"/rubrics/{quote(rubric.id)}?version={quote(rubric.version)}",
        {"id": str(ids.rubric_record_id(content_hash)), "ref": rubric.ref, "version": rubric.version,
         "hash": content_hash, "derived_from": loaded.derived_from},
    )


@router.get(
    "/tenants/{tenant}/rubrics/{rubric_id}/versions", tags=RUBRICS,
    summary="评分标准版本 Versions of a rubric",
    description="本租户可用的全部版本（自有的与插件的）：哈希、提供者、记录人、时间、理由、派生关系。Every version of "
                "`rubric_id` the tenant can use, lowest first: hash, provided by, who recorded it, when and why, "
                "provisional, and its lineage (`derived_from`, nearest first).",
)
def rubric_versions(tenant: str, rubric_id: str, actor: CurrentActor, app: Ledger) -> Answer[list[RubricVersionRow]]:
    return app.rubric_versions(reader_in(app, actor, tenant), rubric_id)


@router.get(
    "/tenants/{tenant}/rubrics/{rubric_id}/versions/{version}/lineage", tags=RUBRICS,
    summary="派生关系 Lineage of a rubric version",
    description="该版本及其派生来源链（由近及远）。The version and the chain it derives from, nearest first: "
                "`[{ref, hash, provided_by, derived_from}, …]`; versions the tenant cannot see are not named.",
)
def rubric_lineage(tenant: str, rubric_id: str, version: str, actor: CurrentActor, app: Ledger) -> Answer[list[LineageStep]]:
    reader = reader_in(app, actor, tenant)
    rubric, _ = app.resolve_rubric(reader, rubric_id, version)
    return app.rubric_lineage(reader, rubric.content_hash)


# -- plugins ---------------------------------------------------------------------------------------------------


@router.get(
    "/plugins", tags=PLUGINS,
    summary="插件 Installed plugins",
    description="已安装插件（含核心内置的“core”）：版本、来源、钩子、评分标准、评定方式、汇总方式，以及被拒绝的插件及原因。"
                "As `civic plugins --json`: `{plugins: [{name, version, source, hooks, rubrics, styles, aggregations}], "
                "failures: [{name, error}]}`.",
)
def list_plugins(actor: CurrentActor, app: Ledger) -> Answer[Plugins]:
    return app.plugins.summary()
