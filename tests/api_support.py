"""HTTP test support: the application over a ledger, and a bearer token for each person of
a :class:`tests.helpers.World` (and of another tenant)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from api.app import create_app
from core.actors import Actor, Role
from core.services import CivicLedger
from tests.helpers import World, actor

OTHER_TENANT = "beijing"


@dataclass
class ApiWorld(World):
    """A :class:`World` whose people act over HTTP: ``self.http`` is a test client and
    ``self.auth(person)`` the headers carrying that person's token."""

    tokens: dict[tuple[str, str, str], str] = field(default_factory=dict)
    stranger_owner: Actor = field(default_factory=lambda: actor(Role.CITY_OWNER, "bj-owner", "北京市民政局", OTHER_TENANT))

    def __post_init__(self) -> None:
        self.http = TestClient(create_app(self.app), raise_server_exceptions=False)

    def auth(self, person: Actor, **extra: str) -> dict[str, str]:
        key = (person.tenant, person.role.value, person.id)
        if key not in self.tokens:
            if person.tenant != "*":
                try:
                    self.app.tenant(Actor(id="t", role=Role.AUDITOR, organisation="t", tenant=person.tenant), person.tenant)
                except Exception:
                    owner = actor(Role.CITY_OWNER, "owner", "市民政局", person.tenant)
                    self.app.register_tenant(owner, person.tenant, person.tenant)
            _, self.tokens[key] = self.app.issue_token("tests", person.tenant, person.role.value, person.id, person.organisation)
        return {"Authorization": f"Bearer {self.tokens[key]}", **extra}

    def stranger(self, role: Role = Role.CITY_OWNER) -> Actor:
        """Someone of another tenant with ``role``."""
        return actor(role, f"bj-{role.value}", "北京", OTHER_TENANT)


def api_world(ledger: CivicLedger) -> ApiWorld:
    return ApiWorld(ledger)
