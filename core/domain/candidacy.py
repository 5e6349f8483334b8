"""Candidacy (申报): one community competing for one level in one campaign.

Its stream holds the application with the self-assessment, the district's preliminary
review (初审), every item score of the three assessment kinds, vetoes, the resident
satisfaction survey (满意度测评), objections raised during public notice (异议), the
decision with its derivation, a named candidacy being put forward to a higher-level
selection (推荐, e.g. as a province-level candidate) and, later, a revocation (摘牌).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.domain import ids

APPLIED = "applied"
RETURNED = "returned"
APPROVED = "approved"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
NAMED = "named"
NOT_NAMED = "not_named"
REVOKED = "revoked"

ASSESSMENT_KINDS = ("self", "mock", "official")


class Candidacy(Aggregate):
    # Higher-level selections this candidacy was put forward to, in order (a list once
    # set). The class-level default serves snapshots taken before the event existed; it is
    # left unannotated so that it is no dataclass field, and the event replaces it.
    put_forward = ()

    @staticmethod
    def create_id(meta: dict[str, Any], campaign_id: str, community_id: str, level: str, **_: Any) -> UUID:
        return ids.candidacy_id(UUID(campaign_id), UUID(community_id), level)

    @event("Applied")
    def __init__(
        self,
        meta: dict[str, Any],
        tenant: str,
        campaign_id: str,
        community_id: str,
        level: str,
        self_scores: dict[str, str],
        facts: dict[str, Any],
    ) -> None:
        self.tenant = tenant
        self.campaign_id = campaign_id
        self.community_id = community_id
        self.level = level
        self.status = APPLIED
        self.application_scores = dict(self_scores)
        self.facts = dict(facts)
        self.reviews: list[dict[str, Any]] = []
        # kind -> assessor id -> item id -> points as a decimal string (latest value; the
        # history is in the events). Strings keep events and snapshots plain JSON.
        self.scores: dict[str, dict[str, dict[str, str]]] = {k: {} for k in ASSESSMENT_KINDS}
        self.vetoes: dict[str, dict[str, Any]] = {}
        self.survey: dict[str, Any] | None = None
        self.objections: dict[str, dict[str, Any]] = {}
        self.decision: dict[str, Any] | None = None
        self.revocation: dict[str, Any] | None = None
        self.put_forward = []
        self.inspections: list[str] = []

    # -- application and review -----------------------------------------------

    @event("Resubmitted")
    def resubmit(self, meta: dict[str, Any], self_scores: dict[str, str], facts: dict[str, Any]) -> None:
        self.application_scores = dict(self_scores)
        self.facts = dict(facts)
        self.status = APPLIED

    @event("Reviewed")
    def review(self, meta: dict[str, Any], outcome: str) -> None:
        self.reviews.append({"outcome": outcome, "reason": meta.get("reason"), "by": meta["actor"]["id"]})
        self.status = {"approve": APPROVED, "return": RETURNED, "reject": REJECTED}[outcome]

    @event("Withdrawn")
    def withdraw(self, meta: dict[str, Any]) -> None:
        self.status = WITHDRAWN

    @event("InspectionLinked")
    def link_inspection(self, meta: dict[str, Any], inspection_id: str) -> None:
        self.inspections.append(inspection_id)

    # -- assessments -----------------------------------------------------------

    @event("ScoreSheetSubmitted")
    def submit_sheet(self, meta: dict[str, Any], kind: str, assessor: str, points: dict[str, str]) -> None:
        """One assessor's points for some or all items, recorded as one fact."""
        self.scores[kind].setdefault(assessor, {}).update(points)

    @event("ItemScoreCorrected")
    def correct_item_score(self, meta: dict[str, Any], kind: str, assessor: str, item: str, points: str) -> None:
        self.scores[kind][assessor][item] = points

    @event("VetoRecorded")
    def record_veto(self, meta: dict[str, Any], veto_id: str, evidence: list[dict[str, str]]) -> None:
        self.vetoes[veto_id] = {"by": meta["actor"]["id"], "reason": meta.get("reason"), "evidence": evidence}

    @event("VetoWithdrawn")
    def withdraw_veto(self, meta: dict[str, Any], veto_id: str) -> None:
        del self.vetoes[veto_id]

    # -- survey and public notice ---------------------------------------------

    @event("SurveyRecorded")
    def record_survey(
        self,
        meta: dict[str, Any],
        respondents: int,
        households: int,
        satisfied: int,
        basically_satisfied: int,
        dissatisfied: int,
    ) -> None:
        self.survey = {
            "respondents": respondents,
            "households": households,
            "satisfied": satisfied,
            "basically_satisfied": basically_satisfied,
            "dissatisfied": dissatisfied,
        }

    @event("ObjectionFiled")
    def file_objection(self, meta: dict[str, Any], objection_id: str, text: str, items: list[str]) -> None:
        self.objections[objection_id] = {
            "text": text,
            "items": list(items),
            "filed_by": meta["actor"]["id"],
            "status": "open",
            "resolution": None,
        }

    @event("ObjectionResolved")
    def resolve_objection(self, meta: dict[str, Any], objection_id: str, upheld: bool) -> None:
        self.objections[objection_id]["status"] = "upheld" if upheld else "dismissed"
        self.objections[objection_id]["resolution"] = meta.get("reason")

    # -- decision and supervision ---------------------------------------------

    @event("Decided")
    def decide(self, meta: dict[str, Any], named: bool, derivation: dict[str, Any]) -> None:
        self.decision = {"named": named, "derivation": derivation, "effective": meta.get("effective")}
        self.status = NAMED if named else NOT_NAMED

    @event("PutForward")
    def record_put_forward(self, meta: dict[str, Any], to: str) -> None:
        entry = {"to": to, "reason": meta.get("reason"), "by": meta["actor"]["id"], "effective": meta.get("effective")}
        self.put_forward = [*self.put_forward, entry]

    @event("Revoked")
    def revoke(self, meta: dict[str, Any], findings: list[str]) -> None:
        self.revocation = {"reason": meta.get("reason"), "findings": list(findings), "effective": meta.get("effective")}
        self.status = REVOKED

    def __deepcopy__(self, memo: dict[int, Any]) -> Candidacy:
        # Commands work on a copy of the cached aggregate. Item points are immutable
        # strings, so the score sheets are copied two levels deep instead of object by
        # object: the generic deepcopy of a few hundred scores dominated a score command.
        clone = object.__new__(type(self))
        for key, value in self.__dict__.items():
            if key == "scores":
                clone.__dict__[key] = {k: {a: dict(s) for a, s in sheets.items()} for k, sheets in value.items()}
            else:
                clone.__dict__[key] = deepcopy(value, memo)
        return clone

    # -- derived ---------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        """Still in the running: not rejected, withdrawn or already decided."""
        return self.status in (APPLIED, RETURNED, APPROVED)

    def objection_counts(self) -> dict[str, int]:
        counts = {"open": 0, "upheld": 0, "dismissed": 0}
        for objection in self.objections.values():
            counts[objection["status"]] += 1
        return counts
