"""Access tokens for the HTTP interface: who may act, in which role, for which tenant.

Only the SHA-256 of a token is ever recorded; the token itself is shown once, when issued.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.domain import ids


class AccessToken(Aggregate):
    """A bearer token's identity: the actor every request made with it acts as."""

    @staticmethod
    def create_id(meta: dict[str, Any], digest: str, **_: Any) -> UUID:
        return ids.token_id(digest)

    @event("Issued")
    def __init__(
        self, meta: dict[str, Any], digest: str, tenant: str, role: str, name: str, organisation: str
    ) -> None:
        self.digest = digest
        self.tenant = tenant
        self.role = role
        self.name = name
        self.organisation = organisation
        self.issued_on = meta["effective"]
        self.revoked: dict[str, Any] | None = None

    @event("Revoked")
    def revoke(self, meta: dict[str, Any]) -> None:
        self.revoked = {"on": meta["effective"], "by": meta["actor"]["id"], "reason": meta["reason"]}
