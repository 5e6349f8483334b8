"""Selection (评选): a named selection within a tenant, such as a person award (a top-ten
selection of people) or a yearly ranking of member departments.

Nominees are put forward one by one; each gets a figure, either the mean of the scores
assessors give it (method ``score``, 0 to ``max_score`` in steps of ``step``) or a vote
count (method ``votes``). The selection is then made once and recorded with its whole
ranking. Ties are broken deterministically: figure descending, then nomination order
ascending (the earlier nomination ranks first); the rule is recorded with the ranking.
Computing the ranking happens in the service; the event only records it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.domain import ids

SUBJECT_KINDS = ("person", "department")
METHODS = ("score", "votes")
TIE_BREAK = "figure descending, then nomination order ascending (earlier nomination ranks first)"


class Selection(Aggregate):
    @staticmethod
    def create_id(meta: dict[str, Any], tenant: str, code: str, **_: Any) -> UUID:
        return ids.selection_id(tenant, code)

    @event("Opened")
    def __init__(
        self,
        meta: dict[str, Any],
        tenant: str,
        code: str,
        title: str,
        year: int,
        subject: str,
        places: int | None,
        method: str,
        max_score: str | None,
        step: str | None,
    ) -> None:
        self.tenant = tenant
        self.code = code
        self.title = title
        self.year = year
        self.subject = subject
        self.places = places
        self.method = method
        self.max_score = max_score
        self.step = step
        # nominee id -> {name, organisation, community_id, reason, order, by}
        self.nominees: dict[str, dict[str, Any]] = {}
        # nominee id -> assessor id -> points as a decimal string
        self.scores: dict[str, dict[str, str]] = {}
        # nominee id -> vote count
        self.votes: dict[str, int] = {}
        self.ranking: list[dict[str, Any]] | None = None
        self.tie_break: str | None = None

    @event("Nominated")
    def nominate(
        self, meta: dict[str, Any], nominee_id: str, name: str, organisation: str, community_id: str | None, reason: str
    ) -> None:
        self.nominees[nominee_id] = {
            "name": name,
            "organisation": organisation,
            "community_id": community_id,
            "reason": reason,
            "order": len(self.nominees) + 1,
            "by": meta["actor"]["id"],
        }

    @event("ScoreRecorded")
    def record_score(self, meta: dict[str, Any], nominee_id: str, assessor: str, points: str) -> None:
        self.scores.setdefault(nominee_id, {})[assessor] = points

    @event("VotesRecorded")
    def record_votes(self, meta: dict[str, Any], nominee_id: str, votes: int) -> None:
        self.votes[nominee_id] = votes

    @event("Selected")
    def select(self, meta: dict[str, Any], ranking: list[dict[str, Any]], tie_break: str) -> None:
        self.ranking = [dict(row) for row in ranking]
        self.tie_break = tie_break

    # -- derived ---------------------------------------------------------------

    @property
    def selected(self) -> bool:
        return self.ranking is not None

    def has_figure(self, nominee_id: str) -> bool:
        if self.method == "score":
            return bool(self.scores.get(nominee_id))
        return nominee_id in self.votes
