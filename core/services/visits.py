"""Sealed unannounced visits: an inspector commits to a target and date as a hash before
the visit; the inspected community and its street cannot read the plan until it is
revealed, and the audit shows it was fixed before the visit."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from core.actors import Actor, Role
from core.domain import VisitPlan
from core.domain.inspection import UNANNOUNCED
from core.errors import InvalidInput, NotFound, RuleViolation
from core.services.audit import AuditQueries

COMMITMENT = re.compile(r"^sha256:[0-9a-f]{64}$")
#: Roles that must not see a plan before it is revealed: the inspected side.
INSPECTED = (Role.COMMUNITY, Role.STREET_OFFICER)


#: A short nonce would let anyone who sees the commitment try every target and date.
MIN_NONCE = 16


def visit_commitment(candidacy_id: str, visit_date: str, nonce: str) -> str:
    """The commitment an inspector seals: ``sha256:`` of ``"<candidacy id>|<date>|<nonce>"``.
    The nonce (random, at least 16 characters, kept secret until the reveal, used exactly
    as given) stops anyone guessing the target."""
    digest = hashlib.sha256(f"{candidacy_id}|{visit_date}|{nonce}".encode("utf-8")).hexdigest()
    return f"sha256:{digest}"


class VisitPlanCommands(AuditQueries):
    def seal_visit_plan(self, actor: Actor, campaign_id: str, commitment: str, on: str | None = None) -> str:
        """Record only the commitment to an unannounced visit; returns the plan id."""
        campaign = self.campaign(actor, campaign_id)
        self.authorize(actor, "seal_visit_plan", campaign.tenant)
        if not isinstance(commitment, str) or not COMMITMENT.match(commitment):
            raise InvalidInput("commitment", commitment, "sha256: followed by 64 lowercase hexadecimal characters")
        plan = VisitPlan(meta=self.campaign_meta(actor, campaign, on=on), tenant=campaign.tenant,
                         campaign_id=str(campaign.id), commitment=commitment)
        self.save_all(plan)
        return str(plan.id)

    def visit_plan(self, actor: Actor, plan_id: str) -> VisitPlan:
        """A plan; to the inspected side (community, street) it does not exist until revealed."""
        plan = self.load(VisitPlan, plan_id, actor, "visit plan")
        if actor.role in INSPECTED and plan.revealed is None:
            raise NotFound("visit plan", plan.id)
        return plan

    def stream_at(self, actor: Actor, stream_id: str, version: int | None = None, recorded_by: str | None = None) -> Any:
        self.stream_events(actor, stream_id)  # the inspected side must not find a sealed plan
        return super().stream_at(actor, stream_id, version=version, recorded_by=recorded_by)

    def stream_events(self, actor: Actor, stream_id: str) -> list[Any]:
        """As for any stream, except that a sealed plan does not exist for the inspected side."""
        events = super().stream_events(actor, stream_id)
        sealed = isinstance(events[0], VisitPlan.Sealed) and not any(isinstance(e, VisitPlan.Revealed) for e in events)
        if sealed and actor.role in INSPECTED:
            raise NotFound("stream", stream_id)
        return events

    def reveal_visit_plan(
        self, actor: Actor, plan_id: str, candidacy_id: str, visit_date: str, nonce: str, inspection_id: str,
        on: str | None = None,
    ) -> None:
        """Reveal the plan after the visit: the target, date and nonce must hash to the sealed
        commitment, and the unannounced inspection recorded must match them."""
        plan = self.load(VisitPlan, plan_id, actor, "visit plan")
        self.authorize(actor, "reveal_visit_plan", plan.tenant)
        if plan.revealed is not None:
            raise RuleViolation(f"visit plan {plan.id} is already revealed")
        visit_date = self.check_date("visit_date", visit_date)
        if not isinstance(nonce, str) or not MIN_NONCE <= len(nonce) <= 200:
            raise InvalidInput("nonce", nonce, f"the text sealed with the plan, {MIN_NONCE} to 200 characters, exactly as sealed")
        if visit_commitment(str(candidacy_id), visit_date, nonce) != plan.commitment:
            raise RuleViolation("the target, date and nonce do not match the sealed commitment")
        inspection = self.inspection(actor, inspection_id)
        if inspection.campaign_id != plan.campaign_id:
            raise RuleViolation(f"inspection {inspection.id} belongs to another campaign than the plan")
        if (inspection.candidacy_id, inspection.visit_date, inspection.kind) != (str(candidacy_id), visit_date, UNANNOUNCED):
            raise RuleViolation(
                f"inspection {inspection.id} is a {inspection.kind} visit to {inspection.candidacy_id} on "
                f"{inspection.visit_date}; the plan names an unannounced visit to {candidacy_id} on {visit_date}"
            )
        campaign = self.campaign(actor, plan.campaign_id)
        plan.reveal(meta=self.campaign_meta(actor, campaign, on=on), candidacy_id=str(candidacy_id),
                    visit_date=visit_date, nonce=nonce, inspection_id=str(inspection.id))
        self.save_all(plan)

    def audit_visit_plan(self, actor: Actor, plan_id: str) -> dict[str, Any]:
        """Was the revealed visit fixed in advance? The commitment must match and must have
        been recorded before the inspection was."""
        plan = self.visit_plan(actor, plan_id)
        events = self.stream_events(actor, plan_id)
        sealed_at = events[0].timestamp
        if plan.revealed is None:
            return {"plan_id": plan_id, "sealed_at": sealed_at.isoformat(), "revealed": False, "fixed_in_advance": None}
        revealed = plan.revealed
        inspection_recorded = self.stream_events(actor, revealed["inspection_id"])[0].timestamp
        matches = visit_commitment(revealed["candidacy_id"], revealed["visit_date"], revealed["nonce"]) == plan.commitment
        return {
            "plan_id": plan_id,
            "sealed_at": sealed_at.isoformat(),
            "inspection_recorded_at": inspection_recorded.isoformat(),
            "visit_date": revealed["visit_date"],
            "candidacy_id": revealed["candidacy_id"],
            "revealed": True,
            "commitment_matches": matches,
            "fixed_in_advance": matches and sealed_at < inspection_recorded,
        }
