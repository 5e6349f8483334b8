"""The HTTP interface: every command and query of the core and plugins, for every role.

``create_app()`` builds the FastAPI application on a :class:`~core.services.CivicLedger`
(by default the store named by ``CIVIC_DATABASE_URL``). Every route except ``/health``
and the logs' checkpoints needs a bearer token; the token decides the actor, role and
tenant of everything the request records. Errors are ``application/problem+json`` (see :mod:`api.problems`).
Failed authentication is throttled per client address and tenant, with limits read from
the environment here (see :mod:`api.throttle`).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import openapi, problems
from api.auth import CurrentActor
from api.bodylimit import (BODY_ENV, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RUBRIC_BYTES, RUBRIC_ENV, BodyLimitMiddleware,
                           limit_from_env)
from api.idempotency import IdempotencyMiddleware, RequestLog
from api.routes import ROUTERS
from api.routes.answers import Answer, Me, Status
from api.throttle import AuthThrottle
from api.textcheck import TextCheckMiddleware
from core import __version__
from core.errors import CivicError
from core.services import CivicLedger

DESCRIPTION = """
社区评选台账 · Civic Ledger: applications, inspections, scoring, surveys, public notice,
naming and revocation as an auditable history.

**Authentication 认证**: `Authorization: Bearer <token>`; tokens come from
`civic token create --tenant T --role R --name N` on the server. The token decides who
acts: its name, role and tenant are recorded on every event the request causes.

**Errors 错误**: `application/problem+json` with `type`, `title` (中文 English), `status`,
`detail` and, for invalid input, `field`, `value` and `allowed`. 401 no or bad token,
403 role not allowed (names the roles that are), 404 not found *or another tenant's*,
409 rule or version conflict, 413 request body too large (64 KiB; 256 KiB for a rubric file;
answered before the token is looked at), 422 invalid input, 429 too many failed authentications
from the client's address or for the tenant in the path (`Retry-After` says how many
seconds to wait; requests with a valid token are still answered). A rejected request
records nothing.

**Retries 重试**: every POST takes an `Idempotency-Key`; writes take `If-Match` with the
version from a resource's `ETag`.
"""

TAGS = [
    {"name": "system", "description": "服务状态 Service status"},
    {"name": "tenants", "description": "租户与社区 Municipalities (tenants) and their communities"},
    {"name": "campaigns", "description": "评选活动与阶段 Campaigns and their phases"},
    {"name": "candidacies", "description": "申报与初审 Applications and reviews"},
    {"name": "inspections", "description": "巡查、问题与整改 Inspections, findings and rectification"},
    {"name": "assessments", "description": "评分与测评 Score sheets, corrections, vetoes and surveys"},
    {"name": "decisions", "description": "公示、异议、命名与摘牌 Public notice, objections, naming and revocation"},
    {"name": "selections", "description": "评选表彰与进度 Awards, rankings and progress records"},
    {"name": "rubrics", "description": "评分标准 Rubrics"},
    {"name": "plugins", "description": "插件 Plugins"},
    {"name": "audit", "description": "审计 History, time travel, verification and export"},
    {"name": "log", "description": "透明日志 The tenants' transparency logs: signed checkpoints, proofs, witness cosignatures"},
]


def create_app(ledger: CivicLedger | None = None) -> FastAPI:
    """The application over ``ledger`` (opened from ``CIVIC_DATABASE_URL`` when not given;
    then it is closed when the application shuts down)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        yield
        if owned:
            app.state.ledger.close()

    max_body = limit_from_env(BODY_ENV, DEFAULT_MAX_BODY_BYTES)
    max_rubric = limit_from_env(RUBRIC_ENV, DEFAULT_MAX_RUBRIC_BYTES)
    owned = ledger is None
    app = FastAPI(
        title="Civic Ledger 社区评选台账",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.ledger = ledger if ledger is not None else CivicLedger()
    app.state.request_log = RequestLog(app.state.ledger.side)
    app.state.throttle = AuthThrottle.from_environment(app.state.ledger.side)  # None: switched off
    app.add_middleware(TextCheckMiddleware)  # inner: runs after the idempotency check
    app.add_middleware(IdempotencyMiddleware)
    # outermost (added last): a body over its limit is answered 413 before anything else runs
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body, max_rubric_bytes=max_rubric)
    app.add_exception_handler(CivicError, problems.civic_error)
    app.add_exception_handler(RequestValidationError, problems.validation_error)
    app.add_exception_handler(StarletteHTTPException, problems.http_error)
    app.add_exception_handler(Exception, problems.unexpected_error)

    @app.get("/health", tags=["system"], summary="服务状态 Service status (no token needed)")
    def health() -> Answer[Status]:
        return {"status": "ok", "version": __version__}

    @app.get("/me", tags=["system"], summary="当前身份 Who the token acts as")
    def me(actor: CurrentActor) -> Answer[Me]:
        return {"id": actor.id, "role": actor.role.value, "role_label": actor.role.label,
                "organisation": actor.organisation, "tenant": actor.tenant}

    for router in ROUTERS:
        app.include_router(router)
    openapi.install(app)  # /openapi.json: every error, header and answer the routes give (see api.openapi)
    return app
