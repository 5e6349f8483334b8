"""A small cast of actors and shortcuts for scenario tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.actors import Actor, Role
from core.errors import NotFound
from core.rubric import Rubric, sheet_for_total
from core.services import CivicLedger

TENANT = "tianjin"
DIGEST = "a" * 64


def actor(role: Role, name: str, org: str, tenant: str = TENANT) -> Actor:
    return Actor(id=name, role=role, organisation=org, tenant=tenant)


def sheet(rubric: Rubric, total: float | str | Decimal) -> dict[str, str]:
    """Points for every item adding up to ``total`` (see core.rubric.sheet_for_total)."""
    return sheet_for_total(rubric, total)


def evidence(name: str = "photo.jpg") -> list[dict[str, str]]:
    return [{"name": name, "sha256": DIGEST}]


@dataclass
class World:
    """A tenant with two streets' communities and one person for every role."""

    app: CivicLedger
    owner: Actor = field(default_factory=lambda: actor(Role.CITY_OWNER, "owner", "天津市民政局"))
    district: Actor = field(default_factory=lambda: actor(Role.DISTRICT_OFFICER, "district", "东丽区民政局"))
    street_a: Actor = field(default_factory=lambda: actor(Role.STREET_OFFICER, "street-a", "张贵庄街道"))
    street_b: Actor = field(default_factory=lambda: actor(Role.STREET_OFFICER, "street-b", "丰年村街道"))
    inspector: Actor = field(default_factory=lambda: actor(Role.INSPECTOR, "inspector", "第三方评估机构"))
    assessors: list[Actor] = field(
        default_factory=lambda: [actor(Role.ASSESSOR, f"assessor-{n}", "市评估组") for n in (1, 2, 3)]
    )
    resident: Actor = field(default_factory=lambda: actor(Role.RESIDENT, "resident", "居民"))
    auditor: Actor = field(default_factory=lambda: actor(Role.AUDITOR, "auditor", "审计"))
    communities: dict[str, str] = field(default_factory=dict)

    #: The communities :meth:`setup` registers: code, name, street.
    COMMUNITIES = (
        ("c1", "詹滨里社区", "张贵庄街道"),
        ("c2", "新立花园社区", "张贵庄街道"),
        ("c3", "丰年里社区", "丰年村街道"),
    )

    def register(self, year: int = 2020) -> None:
        """The tenant and its communities (what street officers and communities act for)."""
        self.app.register_tenant(self.owner, TENANT, "天津市")
        for code, name, street in self.COMMUNITIES:
            self.communities[code] = self.app.register_community(
                self.district, code, name, "东丽区", street, households=1200, population=3000, on=f"{year}-03-01"
            )

    def setup(self, year: int = 2020) -> str:
        self.register(year)
        return self.app.create_campaign(
            self.owner, f"meili-{year}", f"{year}年美丽社区创建", year, "tianjin-meili", on=f"{year}-03-09"
        )

    @property
    def rubric(self) -> Rubric:
        return self.app.plugins.rubric("tianjin-meili").rubric

    @property
    def community(self) -> Actor:
        """The residents' committee (社区居委会) of c1: a community acts only for its own."""
        return self.community_of("c1")

    def community_of(self, code: str) -> Actor:
        """The residents' committee of community ``code``: its organisation is the
        community's registered name (before registration, the name :meth:`setup` gives it)."""
        if code in self.communities:
            name = self.app.community(self.owner, self.communities[code]).name
        else:
            name = next(n for c, n, _ in self.COMMUNITIES if c == code)
        return actor(Role.COMMUNITY, "juweihui" if code == "c1" else f"juweihui-{code}", name)

    def community_for(self, stream_id: str) -> Actor:
        """The residents' committee of the community a candidacy or an inspection concerns."""
        try:
            community_id = self.app.candidacy(self.owner, stream_id).community_id
        except NotFound:
            community_id = self.app.inspection(self.owner, stream_id).community_id
        community = self.app.community(self.owner, community_id)
        return actor(Role.COMMUNITY, "juweihui" if community.code == "c1" else f"juweihui-{community.code}", community.name)

    def street_of(self, code: str) -> Actor:
        return self.street_b if code == "c3" else self.street_a

    def apply(self, campaign: str, code: str, level: str = "meili", self_total: float = 90, on: str = "2020-03-10") -> str:
        return self.app.apply(
            self.street_of(code), campaign, self.communities[code], level, sheet(self.rubric, self_total), on=on
        )

    def score_official(self, candidacy: str, totals: list[float], on: str = "2020-10-15") -> None:
        for assessor, total in zip(self.assessors, totals):
            self.app.submit_score_sheet(assessor, candidacy, "official", sheet(self.rubric, total), on=on)

    def survey(self, candidacy: str, satisfied: int = 180, basic: int = 15, dissatisfied: int = 5) -> None:
        self.app.record_survey(
            self.owner, candidacy, respondents=satisfied + basic + dissatisfied, households=200,
            satisfied=satisfied, basically_satisfied=basic, dissatisfied=dissatisfied, on="2020-11-05",
        )


def notification_count(app: CivicLedger) -> int:
    """How many events the store holds: a rejected command must leave it unchanged."""
    return app.recorder.max_notification_id() or 0


def counting_loads(app: CivicLedger, monkeypatch) -> list[str]:
    """From now on, every aggregate the app's repository loads, by id, in order."""
    loaded: list[str] = []
    get = app.repository.get

    def counting_get(aggregate_id, *args, **kwargs):
        loaded.append(str(aggregate_id))
        return get(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(app.repository, "get", counting_get)
    return loaded
