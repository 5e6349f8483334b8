"""Field inspections and unannounced visits (巡查、暗访), findings, and rectification (整改)."""

from __future__ import annotations

from typing import Any

from core.actors import Actor
from core.domain import Campaign, Inspection
from core.domain.candidacy import NAMED
from core.domain.inspection import ACCEPTED, ANNOUNCED, COMPLETED, OPEN, PLANNED, REJECTED, SEVERITIES, UNANNOUNCED
from core.errors import InvalidInput, RuleViolation
from core.permissions import check_own_community, check_own_street
from core.services.assessments import AssessmentCommands

PURPOSES = ("campaign", "supervision")


class InspectionCommands(AssessmentCommands):
    def conduct_inspection(
        self,
        actor: Actor,
        candidacy_id: str,
        kind: str,
        visit_date: str,
        inspectors: list[str],
        purpose: str = "campaign",
        notes: str = "",
    ) -> str:
        """Record a visit to a candidate community (``purpose="campaign"``) or, after the
        title was awarded, a re-inspection (``purpose="supervision"``, 回头看)."""
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "conduct_inspection")
        if kind not in (ANNOUNCED, UNANNOUNCED):
            raise InvalidInput("kind", kind, f"{ANNOUNCED}, {UNANNOUNCED}")
        if purpose not in PURPOSES:
            raise InvalidInput("purpose", purpose, ", ".join(PURPOSES))
        if purpose == "campaign" and not candidacy.is_active:
            raise RuleViolation(f"candidacy is {candidacy.status}; campaign inspections need an active candidacy")
        if purpose == "supervision" and candidacy.status != NAMED:
            raise RuleViolation(f"candidacy is {candidacy.status}; supervision re-inspects titled communities only")
        if not isinstance(inspectors, list) or not inspectors or not all(isinstance(i, str) and i.strip() for i in inspectors):
            raise InvalidInput("inspectors", inspectors, "a non-empty list of inspector names")
        visit_date = self.check_date("visit_date", visit_date)
        meta = self.campaign_meta(actor, campaign, on=visit_date)
        inspection = Inspection(
            meta=meta,
            tenant=campaign.tenant,
            campaign_id=str(campaign.id),
            community_id=candidacy.community_id,
            candidacy_id=str(candidacy.id),
            kind=kind,
            purpose=purpose,
            visit_date=visit_date,
            inspectors=[i.strip() for i in inspectors],
            notes=str(notes or ""),
        )
        # indexed on the candidacy, not the campaign: visits to different communities
        # never contend for one stream
        candidacy.link_inspection(meta=meta, inspection_id=str(inspection.id))
        self.save_all(inspection, candidacy)
        return str(inspection.id)

    def inspection(self, actor: Actor, inspection_id: str) -> Inspection:
        return self.load(Inspection, inspection_id, actor, "inspection")

    def _inspection_for(self, actor: Actor, inspection_id: str, action: str) -> tuple[Inspection, Any]:
        inspection = self.inspection(actor, inspection_id)
        self.authorize(actor, action, inspection.tenant)
        community = self.community(actor, inspection.community_id)
        check_own_street(actor, action, community)
        check_own_community(actor, action, community)
        return inspection, self.load(Campaign, inspection.campaign_id, actor, "campaign", readonly=True)

    def record_finding(
        self,
        actor: Actor,
        inspection_id: str,
        item: str,
        description: str,
        severity: str,
        countermeasure: str,
        deadline: str,
        evidence: list[dict[str, str]] | None = None,
    ) -> str:
        """A problem found on the visit, tied to a rubric item, with the countermeasure and
        rectification deadline. Returns the finding id (F1, F2, … within the inspection)."""
        inspection, campaign = self._inspection_for(actor, inspection_id, "record_finding")
        rubric = self.rubric_of(campaign)
        try:
            rubric.item(str(item))
        except KeyError:
            raise InvalidInput("item", item, f"an item id of rubric {rubric.ref}") from None
        if severity not in SEVERITIES:
            raise InvalidInput("severity", severity, ", ".join(SEVERITIES))
        deadline = self.check_date("deadline", deadline)
        if deadline < inspection.visit_date:
            raise InvalidInput("deadline", deadline, f"a date on or after the visit {inspection.visit_date}")
        finding_id = f"F{len(inspection.findings) + 1}"
        inspection.record_finding(
            meta=self.campaign_meta(actor, campaign, on=inspection.visit_date),
            finding_id=finding_id,
            item=str(item),
            description=self.check_text("description", description),
            severity=severity,
            countermeasure=self.check_text("countermeasure", countermeasure),
            deadline=deadline,
            evidence=self.check_evidence("evidence", evidence),
        )
        self.save_all(inspection)
        return finding_id

    def _finding(self, inspection: Inspection, finding_id: str) -> dict[str, Any]:
        return inspection.findings[self.check_key("finding_id", finding_id, list(inspection.findings))]

    def plan_rectification(self, actor: Actor, inspection_id: str, finding_id: str, plan: str, on: str | None = None) -> None:
        inspection, campaign = self._inspection_for(actor, inspection_id, "plan_rectification")
        finding = self._finding(inspection, finding_id)
        if finding["status"] not in (OPEN, REJECTED):
            raise RuleViolation(f"finding {finding_id} is {finding['status']}; a plan is made for open or rejected findings")
        inspection.plan_rectification(
            meta=self.campaign_meta(actor, campaign, on=on), finding_id=finding_id, plan=self.check_text("plan", plan)
        )
        self.save_all(inspection)

    def complete_rectification(
        self, actor: Actor, inspection_id: str, finding_id: str, summary: str,
        evidence: list[dict[str, str]] | None = None, on: str | None = None,
    ) -> None:
        inspection, campaign = self._inspection_for(actor, inspection_id, "complete_rectification")
        finding = self._finding(inspection, finding_id)
        if finding["status"] not in (OPEN, PLANNED, REJECTED):
            raise RuleViolation(f"finding {finding_id} is {finding['status']}; nothing to complete")
        checked = self.check_evidence("evidence", evidence)
        if not checked:
            raise InvalidInput("evidence", evidence, "at least one evidence reference {name, sha256}")
        inspection.complete_rectification(
            meta=self.campaign_meta(actor, campaign, on=on), finding_id=finding_id,
            summary=self.check_text("summary", summary), evidence=checked,
        )
        self.save_all(inspection)

    def verify_rectification(
        self, actor: Actor, inspection_id: str, finding_id: str, accepted: bool, reason: str, on: str | None = None
    ) -> None:
        inspection, campaign = self._inspection_for(actor, inspection_id, "verify_rectification")
        finding = self._finding(inspection, finding_id)
        if not isinstance(accepted, bool):
            raise InvalidInput("accepted", accepted, "true or false")
        if finding["status"] != COMPLETED:
            raise RuleViolation(f"finding {finding_id} is {finding['status']}; only a completed rectification is verified")
        inspection.verify_rectification(
            meta=self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason)),
            finding_id=finding_id, accepted=accepted,
        )
        self.save_all(inspection)

    def findings(self, actor: Actor, campaign_id: str, on: str | None = None) -> list[dict[str, Any]]:
        """Every finding of a campaign with its status and whether it is overdue on ``on``."""
        campaign = self.campaign(actor, campaign_id)
        day = self.check_date("on", on) if on else self.today()
        rows = []
        inspection_ids = [i for cid in campaign.candidacies for i in self.candidacy(actor, cid).inspections]
        for inspection_id in inspection_ids:
            inspection = self.inspection(actor, inspection_id)
            for finding_id, finding in inspection.findings.items():
                rows.append(
                    {
                        "inspection_id": inspection_id,
                        "finding_id": finding_id,
                        "candidacy_id": inspection.candidacy_id,
                        "community_id": inspection.community_id,
                        "kind": inspection.kind,
                        "purpose": inspection.purpose,
                        "visit_date": inspection.visit_date,
                        "item": finding["item"],
                        "severity": finding["severity"],
                        "deadline": finding["deadline"],
                        "status": finding["status"],
                        "overdue": inspection.is_overdue(finding_id, day),
                        "accepted": finding["status"] == ACCEPTED,
                    }
                )
        return rows
