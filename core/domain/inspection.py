"""Inspection (巡查 / 暗访) with its findings and the rectification (整改) of each finding."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

ANNOUNCED, UNANNOUNCED = "announced", "unannounced"
SEVERITIES = ("minor", "major", "critical")
SEVERITY_LABELS = {"minor": "一般", "major": "较重", "critical": "严重"}

# finding statuses
OPEN = "open"
PLANNED = "planned"
COMPLETED = "completed"
ACCEPTED = "accepted"
REJECTED = "rejected"


class Inspection(Aggregate):
    """A field visit to one community, during a campaign or as later supervision (回头看)."""

    @event("Conducted")
    def __init__(
        self,
        meta: dict[str, Any],
        tenant: str,
        campaign_id: str,
        community_id: str,
        candidacy_id: str | None,
        kind: str,
        purpose: str,
        visit_date: str,
        inspectors: list[str],
        notes: str,
    ) -> None:
        self.tenant = tenant
        self.campaign_id = campaign_id
        self.community_id = community_id
        self.candidacy_id = candidacy_id
        self.kind = kind
        self.purpose = purpose
        self.visit_date = visit_date
        self.inspectors = list(inspectors)
        self.notes = notes
        self.findings: dict[str, dict[str, Any]] = {}

    @event("FindingRecorded")
    def record_finding(
        self,
        meta: dict[str, Any],
        finding_id: str,
        item: str,
        description: str,
        severity: str,
        countermeasure: str,
        deadline: str,
        evidence: list[dict[str, str]],
    ) -> None:
        self.findings[finding_id] = {
            "item": item,
            "description": description,
            "severity": severity,
            "countermeasure": countermeasure,
            "deadline": deadline,
            "evidence": list(evidence),
            "status": OPEN,
            "plan": None,
            "completion": None,
            "verifications": [],
        }

    @event("RectificationPlanned")
    def plan_rectification(self, meta: dict[str, Any], finding_id: str, plan: str) -> None:
        finding = self.findings[finding_id]
        finding["plan"] = plan
        finding["status"] = PLANNED

    @event("RectificationCompleted")
    def complete_rectification(
        self, meta: dict[str, Any], finding_id: str, summary: str, evidence: list[dict[str, str]]
    ) -> None:
        finding = self.findings[finding_id]
        finding["completion"] = {"summary": summary, "evidence": list(evidence), "on": meta.get("effective")}
        finding["status"] = COMPLETED

    @event("RectificationVerified")
    def verify_rectification(self, meta: dict[str, Any], finding_id: str, accepted: bool) -> None:
        finding = self.findings[finding_id]
        finding["verifications"].append(
            {"accepted": accepted, "by": meta["actor"]["id"], "reason": meta.get("reason"), "on": meta.get("effective")}
        )
        finding["status"] = ACCEPTED if accepted else REJECTED

    # -- derived ---------------------------------------------------------------

    def is_overdue(self, finding_id: str, on: str) -> bool:
        """Past its deadline on ``on`` (ISO date) and not accepted."""
        finding = self.findings[finding_id]
        return finding["status"] != ACCEPTED and on > finding["deadline"]

    def is_failed(self, finding_id: str, on: str) -> bool:
        """Rectification rejected by an inspector, or overdue."""
        return self.findings[finding_id]["status"] == REJECTED or self.is_overdue(finding_id, on)
