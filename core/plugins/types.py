"""Typed records that plugins return from their hooks and receive from the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from collections.abc import Callable
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

    Built by the core from the event streams; the decision records the stream versions it
    was read at, so anyone can rebuild the same evidence later. ``titles_held`` are the
    community's titles before the decision being made.

    Points, totals and rates are exact (:class:`fractions.Fraction`, docs/rules.md §1):
    ``item_points`` holds each item's official points combined over assessors by the
    rubric's aggregation (an item nobody scored is absent), ``subtotals`` and ``total`` add
    them up, the survey's ``satisfaction_rate`` and ``participation_rate`` are fractions of 1.
    ``incomplete`` says, in Chinese and English, why the official assessment cannot yet
    support a decision (no assessor, an item scored by fewer assessors than the rubric
    needs, sheets that do not cover the same items); empty when it can.
    """

    candidacy_id: str
    community_id: str
    community_name: str
    level: str
    item_points: dict[str, Fraction]
    subtotals: dict[str, Fraction]
    total: Fraction
    assessors: list[str]
    self_total: Fraction | None
    mock_total: Fraction | None
    application_total: Fraction | None
    vetoes: list[str]
    survey: dict[str, Any] | None
    objections: dict[str, int]
    titles_held: list[str]
    facts: dict[str, Any] = field(default_factory=dict)
    incomplete: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """A style's verdict on one candidacy, with reasons a person can read and a derivation
    (plain JSON data) that shows every figure and rule the verdict used."""

    candidacy_id: str
    named: bool
    reasons: list[str]
    derivation: dict[str, Any]


@dataclass(frozen=True)
class DecisionContext:
    """What a decision style knows about the campaign it decides for."""

    rubric: Rubric
    levels: list[str]
    quota: int | None = None


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

    def preliminary(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        """The preliminary list (初选名单) put on public notice: one outcome per candidate
        (of every level of the campaign), ``named`` meaning "listed"."""

    def decide(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        """The final outcome for every candidate on the public notice list, all levels at
        once, so that a level may depend on another level's outcome or on a ranking."""


@dataclass(frozen=True)
class Aggregation:
    """Combines several assessors' points for one item into the official item score.

    ``combine`` is given the points as exact fractions (:class:`fractions.Fraction`) and
    returns an exact number (a Fraction, int or Decimal); it must not round."""

    name: str
    combine: Any  # Callable[[list[Fraction]], Fraction]
    description: str = ""


@dataclass(frozen=True)
class Demo:
    """A demonstration campaign a plugin can build through the platform's own commands.

    ``build(app, step)`` records it on ``app`` (calling ``step(label)`` once per stage, at
    most ``stages`` times) and returns the campaign id; run again on the same store it
    records nothing new and returns the same campaign. ``reader`` is an actor who may read
    the campaign's outcome.
    """

    name: str
    title: str
    stages: int
    build: Callable[[Any, Callable[[str], None]], str]
    reader: Any
