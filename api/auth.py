"""Bearer tokens: every request acts as the token's actor (``civic token create``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Unauthenticated
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
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("no bearer token: send Authorization: Bearer <token from `civic token create`>")
    try:
        actor = request.app.state.ledger.actor_for_token(credentials.credentials)
    except NotFound:
        raise Unauthenticated("the bearer token is unknown, malformed or revoked") from None
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
