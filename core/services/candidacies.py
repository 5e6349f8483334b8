"""Applications (申报) with self-assessment, preliminary review (初审), withdrawal and
changes to a frozen candidate list."""

from __future__ import annotations

import math
from core.exact import exact
from typing import Any

from core.actors import Actor, Role
from core.domain import Campaign, Candidacy, Community, ids
from core.domain.candidacy import APPLIED, RETURNED
from core.errors import AlreadyExists, InvalidInput, RuleViolation
from core.permissions import check_own_community, check_own_street
from core.rubric import subtotals
from core.services.campaigns import CampaignCommands

REVIEW_OUTCOMES = ("approve", "return", "reject")
AMENDMENTS = ("admit", "remove")


class CandidacyCommands(CampaignCommands):
    def candidacy(self, actor: Actor, candidacy_id: str) -> Candidacy:
        return self.load(Candidacy, candidacy_id, actor, "candidacy")

    def _candidacy_for(
        self, actor: Actor, candidacy_id: str, action: str, expected_version: int | None = None,
        *, readonly_campaign: bool = False,
    ) -> tuple[Candidacy, Campaign]:
        """The candidacy to change and its campaign (shared, not to be changed, when
        ``readonly_campaign``)."""
        candidacy = self.candidacy(actor, candidacy_id)
        self.authorize(actor, action, candidacy.tenant)
        if actor.role is Role.COMMUNITY:  # only then is the community needed
            check_own_community(actor, action, self.community(actor, candidacy.community_id))
        self.check_version(candidacy, expected_version, "candidacy")
        return candidacy, self.load(Campaign, candidacy.campaign_id, actor, "campaign", readonly=readonly_campaign)

    def apply(
        self,
        actor: Actor,
        campaign_id: str,
        community_id: str,
        level: str,
        self_scores: dict[str, Any],
        facts: dict[str, Any] | None = None,
        on: str | None = None,
    ) -> str:
        """A street officer applies for one of its communities with a full self-assessment."""
        campaign = self.campaign(actor, campaign_id)
        self.authorize(actor, "apply", campaign.tenant)
        self.require_open(campaign)
        community = self.community(actor, community_id)
        check_own_street(actor, "apply", community)
        if level not in campaign.levels:
            raise InvalidInput("level", level, f"a level of campaign {campaign.code}: {', '.join(campaign.levels)}")
        candidacy_id = ids.candidacy_id(campaign.id, community.id, level)
        if str(candidacy_id) in campaign.candidacies:
            raise AlreadyExists(f"{community.name} has already applied for {level} in campaign {campaign.code}")
        meta = self.campaign_meta(actor, campaign, on=on)
        if campaign.is_frozen_on(meta["effective"]):
            admitted = any(a["candidacy_id"] == str(candidacy_id) and a["change"] == "admit" for a in campaign.amendments)
            if not admitted:
                raise RuleViolation(
                    f"the candidate list of campaign {campaign.code} is frozen; a late application needs "
                    "the city owner to amend the list with a justification first"
                )
        scores, facts = self._gated_application(campaign, level, self_scores, facts, community.name)
        candidacy = Candidacy(
            meta=meta,
            tenant=campaign.tenant,
            campaign_id=str(campaign.id),
            community_id=str(community.id),
            level=level,
            self_scores=scores,
            facts=facts,
        )
        campaign.list_candidacy(meta=meta, candidacy_id=str(candidacy.id), community_id=str(community.id), level=level)
        self.save_all(candidacy, campaign)
        return str(candidacy.id)

    def _gated_application(
        self, campaign: Campaign, level: str, self_scores: Any, facts: Any, community_name: str
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """A complete self-assessment and facts that pass the decision style's application gate."""
        rubric = self.rubric_of(campaign)
        scores = self.check_sheet(rubric, "self_scores", self_scores, complete=True)
        checked_facts = self._check_facts(facts)
        _, total = subtotals(rubric, {k: exact(v) for k, v in scores.items()})
        refused = self.plugins.style(rubric.style).check_application(rubric, level, total, checked_facts)
        if refused:
            raise RuleViolation(f"application of {community_name} refused: " + "; ".join(refused))
        return scores, checked_facts

    @staticmethod
    def _check_facts(facts: Any) -> dict[str, Any]:
        if facts is None:
            return {}
        if not isinstance(facts, dict) or not all(isinstance(k, str) for k in facts):
            raise InvalidInput("facts", facts, "an object with text keys")
        for key, value in facts.items():
            if not isinstance(value, (str, int, float, bool)) or (isinstance(value, float) and not math.isfinite(value)):
                raise InvalidInput(f"facts.{key}", value, "text, a finite number or true/false")
        return dict(facts)

    def resubmit(
        self, actor: Actor, candidacy_id: str, self_scores: dict[str, Any], facts: dict[str, Any] | None = None,
        on: str | None = None, expected_version: int | None = None,
    ) -> None:
        """Resubmit an application the district returned for changes."""
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "resubmit", expected_version)
        community = self.community(actor, candidacy.community_id)
        check_own_street(actor, "resubmit", community)
        if candidacy.status != RETURNED:
            raise RuleViolation(f"candidacy is {candidacy.status}; only a returned application can be resubmitted")
        scores, facts = self._gated_application(campaign, candidacy.level, self_scores, facts, community.name)
        candidacy.resubmit(meta=self.campaign_meta(actor, campaign, on=on), self_scores=scores, facts=facts)
        self.save_all(candidacy)

    def review(
        self, actor: Actor, candidacy_id: str, outcome: str, reason: str | None = None,
        on: str | None = None, expected_version: int | None = None,
    ) -> None:
        """District preliminary review: approve, return for changes, or reject (with a reason)."""
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "review", expected_version)
        if outcome not in REVIEW_OUTCOMES:
            raise InvalidInput("outcome", outcome, ", ".join(REVIEW_OUTCOMES))
        if outcome != "approve":
            reason = self.check_text("reason", reason)
        if candidacy.status != APPLIED:
            raise RuleViolation(f"candidacy is {candidacy.status}; only a submitted application can be reviewed")
        candidacy.review(meta=self.campaign_meta(actor, campaign, on=on, reason=reason), outcome=outcome)
        self.save_all(candidacy)

    def withdraw(
        self, actor: Actor, candidacy_id: str, reason: str, on: str | None = None, expected_version: int | None = None
    ) -> None:
        """Withdraw an application before the list is frozen (afterwards: amend_candidates)."""
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "withdraw", expected_version)
        check_own_street(actor, "withdraw", self.community(actor, candidacy.community_id))
        meta = self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason))
        if not candidacy.is_active:
            raise RuleViolation(f"candidacy is {candidacy.status}; it can no longer be withdrawn")
        if campaign.is_frozen_on(meta["effective"]):
            raise RuleViolation(
                f"the candidate list of campaign {campaign.code} is frozen; removing a candidate needs "
                "the city owner to amend the list with a justification"
            )
        candidacy.withdraw(meta=meta)
        self.save_all(candidacy)

    def amend_candidates(
        self, actor: Actor, campaign_id: str, community_id: str, level: str, change: str, justification: str,
        on: str | None = None,
    ) -> str:
        """City owner's recorded change to a frozen list: ``admit`` a late application, or
        ``remove`` a candidate (withdrawing its candidacy in the same write)."""
        campaign = self._campaign_for(actor, campaign_id, "amend_candidates")
        if change not in AMENDMENTS:
            raise InvalidInput("change", change, ", ".join(AMENDMENTS))
        community = self.community(actor, community_id)
        if level not in campaign.levels:
            raise InvalidInput("level", level, ", ".join(campaign.levels))
        meta = self.campaign_meta(actor, campaign, on=on, reason=self.check_text("justification", justification))
        if not campaign.is_frozen_on(meta["effective"]):
            raise RuleViolation(f"the candidate list of campaign {campaign.code} is not frozen; no amendment is needed")
        candidacy_id = str(ids.candidacy_id(campaign.id, community.id, level))
        changed = [campaign]
        if change == "admit":
            if candidacy_id in campaign.candidacies:
                raise AlreadyExists(f"{community.name} is already a candidate for {level}")
        else:
            if candidacy_id not in campaign.candidacies:
                raise RuleViolation(f"{community.name} is not a candidate for {level}")
            candidacy = self.candidacy(actor, candidacy_id)
            if not candidacy.is_active:
                raise RuleViolation(f"candidacy is {candidacy.status}; there is nothing to remove")
            candidacy.withdraw(meta=meta)
            changed.append(candidacy)
        campaign.amend(meta=meta, candidacy_id=candidacy_id, change=change)
        self.save_all(*changed)
        return candidacy_id

    def candidacies_of(self, actor: Actor, campaign_id: str) -> list[Candidacy]:
        campaign = self.campaign(actor, campaign_id)
        return [self.candidacy(actor, cid) for cid in campaign.candidacies]
