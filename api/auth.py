"""Bearer tokens: every request acts as the token's actor (``civic token create``).

Failed authentication is counted and throttled per client address and tenant (see
:mod:`api.throttle`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Unauthenticated
from api.throttle import AuthThrottle
from core.actors import Actor, Role
from core.errors import NotFound, PermissionDenied
from core.services import CivicLedger

bearer = HTTPBearer(auto_error=False, description="令牌 Token from `civic token create` (Authorization: Bearer civic_…)")


async def ledger(request: Request) -> CivicLedger:
    """The application's ledger (a coroutine: FastAPI runs a plain function dependency in
    the thread pool, a needless hop for an attribute read)."""
    return request.app.state.ledger


#: What a resident's token reaches (居民): who it is, public notice lists, and objections.
RESIDENT_ROUTES = frozenset({
    ("GET", "/me"),
    ("GET", "/campaigns/{campaign_id}/notice"),
    ("GET", "/campaigns/{campaign_id}/notice/list"),
    ("GET", "/candidacies/{candidacy_id}/objections/{objection_id}"),
})


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    token = credentials.credentials if credentials is not None and credentials.scheme.lower() == "bearer" else None
    throttle: AuthThrottle | None = getattr(request.app.state, "throttle", None)
    address = request.client.host if request.client is not None else "unknown"
    tenant = request.path_params.get("tenant")
    if throttle is not None and (refused := throttle.before_lookup(address, tenant, token)) is not None:
        raise refused  # too many failures here, and this request cannot carry a valid token
    failure = None
    if token is None:
        failure = "no bearer token: send Authorization: Bearer <token from `civic token create`>"
    else:
        try:
            actor = request.app.state.ledger.actor_for_token(token)
        except NotFound:
            failure = "the bearer token is unknown, malformed or revoked"
    if failure is not None:
        if throttle is not None and (refused := throttle.failed(address, tenant, token)) is not None:
            raise refused  # this failure, or an earlier one, went over a limit
        raise Unauthenticated(failure)
    if actor.role is Role.RESIDENT and request.method == "GET":
        # writes are governed by the core's rules (a resident may only file objections);
        # reads are limited here: a resident sees public notices and its own objections
        route = request.scope.get("route")
        if (request.method, getattr(route, "path", "")) not in RESIDENT_ROUTES:
            raise PermissionDenied(
                f"{request.method} {getattr(route, 'path', request.url.path)}", actor.role.value,
                [r.value for r in Role if r not in (Role.RESIDENT,)],
            )
    return actor


Ledger = Annotated[CivicLedger, Depends(ledger)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
