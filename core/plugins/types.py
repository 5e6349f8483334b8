"""Typed records that plugins return from their hooks and receive from the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from core.rubric import Rubric

#: Bumped when a hook's signature or a record's shape changes incompatibly. A plugin may
#: declare ``CIVIC_PLUGIN_API = N``; one built for another major version is refused.
PLUGIN_API_VERSION = 1

#: Generic lifecycle steps a phase can stand for (DOMAIN.md); the core uses "application"
#: (its end freezes the candidate list) and "notice" (the public-notice window).
PHASE_KINDS = (
    "plan",
    "application",
    "training",
    "study",
    "inspection",
    "midterm",
    "rectification",
    "self_assessment",
    "assessment",
    "notice",
    "decision",
    "supervision",
    "other",
)


class PhaseSpec(BaseModel):
    """One phase of a campaign's schedule with ISO dates (inclusive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    kind: str = Field(default="other", json_schema_extra={"enum": list(PHASE_KINDS)})
    start: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    end: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CandidateEvidence:
    """Everything recorded about one candidacy that a decision style may use.

    Built by the core from the event streams; ``positions`` names the stream versions it
    was read at, so anyone can rebuild the same evidence later.
    """

    candidacy_id: str
    community_id: str
    community_name: str
    level: str
    item_points: dict[str, Decimal]
    subtotals: dict[str, Decimal]
    total: Decimal
    assessors: list[str]
    self_total: Decimal | None
    mock_total: Decimal | None
    application_total: Decimal | None
    vetoes: list[str]
    survey: dict[str, Any] | None
    objections: dict[str, int]
    titles_held: list[str]
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """A style's verdict on one candidacy, with reasons a person can read and a derivation
    (plain JSON data) that shows every figure and rule the verdict used."""

    candidacy_id: str
    named: bool
    reasons: list[str]
    derivation: dict[str, Any]


@runtime_checkable
class DecisionStyle(Protocol):
    """How a rubric's levels are awarded. Rubrics name their style; plugins supply it.

    Implementations must be deterministic functions of their arguments: the same rubric
    and evidence always give the same outcomes, so decisions can be re-derived by anyone.
    """

    name: str
    version: str

    def validate_rules(self, rubric: Rubric) -> None:
        """Raise ``ValueError`` naming the level and field when ``rubric``'s rules do not fit."""

    def check_application(
        self, rubric: Rubric, level: str, self_total: Decimal, facts: dict[str, Any]
    ) -> list[str]:
        """Reasons an application may not be filed (the gate); empty when it may."""

    def preliminary(self, rubric: Rubric, level: str, candidates: list[CandidateEvidence]) -> list[Outcome]:
        """The preliminary list (初选名单) put on public notice, from the assessment alone."""

    def decide(self, rubric: Rubric, level: str, candidates: list[CandidateEvidence]) -> list[Outcome]:
        """The final outcome for every candidate of one level, in the order given."""


@dataclass(frozen=True)
class Aggregation:
    """Combines several assessors' points for one item into the official item score."""

    name: str
    combine: Any  # Callable[[list[Decimal]], Decimal]
    description: str = ""
