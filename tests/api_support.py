"""HTTP test support: the application over a ledger, and a bearer token for each person of
a :class:`tests.helpers.World` (and of another tenant)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from fastapi.testclient import TestClient

from api.app import create_app
from core.actors import Actor, Role
from core.errors import NotFound
from core.services import CivicLedger
from tests.helpers import World, actor

OTHER_TENANT = "beijing"
#: The other tenant's community and its street (the organisations of its community's and
#: street officer's tokens).
STRANGER_COMMUNITY = "北京测试社区"
STRANGER_STREET = "北京测试街道"


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
            if person.tenant == OTHER_TENANT and person.role in (Role.STREET_OFFICER, Role.COMMUNITY):
                self._stranger_community()  # what a stranger's street or community token names
            _, self.tokens[key] = self.app.issue_token("tests", person.tenant, person.role.value, person.id, person.organisation)
        return {"Authorization": f"Bearer {self.tokens[key]}", **extra}

    def stranger(self, role: Role = Role.CITY_OWNER) -> Actor:
        """Someone of another tenant with ``role`` (a street officer of the other tenant's
        street, a community of its community)."""
        organisation = {Role.STREET_OFFICER: STRANGER_STREET, Role.COMMUNITY: STRANGER_COMMUNITY}.get(role, "北京")
        return actor(role, f"bj-{role.value}", organisation, OTHER_TENANT)

    def _stranger_community(self) -> None:
        """The other tenant's one community, registered once."""
        district = actor(Role.DISTRICT_OFFICER, "bj-district", "北京", OTHER_TENANT)
        try:
            self.app.community_by_code(district, "bj1")
        except NotFound:
            self.app.register_community(district, "bj1", STRANGER_COMMUNITY, "东城区", STRANGER_STREET,
                                        households=100, population=300)


def api_world(ledger: CivicLedger) -> ApiWorld:
    return ApiWorld(ledger)


@contextmanager
def serving(asgi_app: Any, **config: Any) -> Iterator[int]:
    """``asgi_app`` served by uvicorn in a thread on a free port of 127.0.0.1 (``config``:
    more uvicorn settings, e.g. ``http=``); yields the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_level="critical",
                                           lifespan="off", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)

