"""Community register entry (社区) and the titles it holds."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.domain import ids


class Community(Aggregate):
    """A residential community with its district (区) and street (街道).

    Titles are awarded and revoked by decisions on candidacies; the community keeps the
    list so that "which titles does it hold now" needs no search.
    """

    @staticmethod
    def create_id(meta: dict[str, Any], tenant: str, code: str, **_: Any) -> UUID:
        return ids.community_id(tenant, code)

    @event("Registered")
    def __init__(
        self,
        meta: dict[str, Any],
        tenant: str,
        code: str,
        name: str,
        district: str,
        street: str,
        households: int,
        population: int,
    ) -> None:
        self.tenant = tenant
        self.code = code
        self.name = name
        self.district = district
        self.street = street
        self.households = households
        self.population = population
        self.titles: dict[str, dict[str, Any]] = {}

    @event("DetailsCorrected")
    def correct(self, meta: dict[str, Any], changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    @event("TitleAwarded")
    def award_title(
        self, meta: dict[str, Any], candidacy_id: str, campaign_id: str, level: str, label: str, rubric: str,
        decision: list[Any] | None = None,
    ) -> None:
        """``decision``: ``[candidacy stream id, position]`` of the ``Decided`` event that
        grants the title (awards recorded before it was named leave it out; their decision
        is the candidacy's one ``Decided`` event, see :mod:`core.meaning`)."""
        self.titles[candidacy_id] = {
            "campaign_id": campaign_id,
            "level": level,
            "label": label,
            "rubric": rubric,
            "awarded": meta.get("effective"),
            "revoked": None,
        }

    @event("TitleRevoked")
    def revoke_title(self, meta: dict[str, Any], candidacy_id: str, revocation: list[Any] | None = None) -> None:
        """``revocation``: ``[candidacy stream id, position]`` of the candidacy's ``Revoked``
        event (left out by revocations recorded before it was named)."""
        self.titles[candidacy_id]["revoked"] = meta.get("effective")

    def held_levels(self) -> list[str]:
        return sorted({t["level"] for t in self.titles.values() if t["revoked"] is None})
