"""Assessments of three kinds (self 自查自评, mock 模拟评估, official 综合评估), vetoes and the
resident satisfaction survey (满意度测评)."""

from __future__ import annotations

from typing import Any

from core.actors import Actor
from core.domain.candidacy import APPROVED, ASSESSMENT_KINDS
from core.errors import InvalidInput, RuleViolation
from core.services.candidacies import CandidacyCommands


class AssessmentCommands(CandidacyCommands):
    def submit_score_sheet(
        self, actor: Actor, candidacy_id: str, kind: str, scores: dict[str, Any], on: str | None = None,
        expected_version: int | None = None,
    ) -> int:
        """Record an assessor's points as one event (one atomic write).

        An official or mock sheet covers every item of the rubric unless the rubric allows
        partial sheets (``partial_sheets``); a self-assessment may cover some. Each item may
        be scored once per assessor and kind; a change is a correction with a reason
        (:meth:`correct_score`). Returns the number of item scores recorded.
        """
        if kind not in ASSESSMENT_KINDS:
            raise InvalidInput("kind", kind, ", ".join(ASSESSMENT_KINDS))
        candidacy, campaign = self._candidacy_for(
            actor, candidacy_id, f"score:{kind}", expected_version, readonly_campaign=True
        )
        self.require_open(campaign)
        if kind == "official" and candidacy.status != APPROVED:
            raise RuleViolation(f"candidacy is {candidacy.status}; official scoring needs an approved candidacy")
        if not candidacy.is_active:
            raise RuleViolation(f"candidacy is {candidacy.status}; it can no longer be scored")
        self._scores_open(campaign)
        rubric = self.rubric_of(campaign)
        complete = kind in ("official", "mock") and not rubric.partial_sheets
        checked = self.check_sheet(rubric, "scores", scores, complete=complete)
        already = candidacy.scores[kind].get(actor.id, {})
        repeated = sorted(set(checked) & set(already), key=lambda i: rubric.items().index(rubric.item(i)))
        if repeated:
            raise RuleViolation(
                f"assessor {actor.id} already scored item(s) {', '.join(repeated)} ({kind}); "
                "change a recorded score with a correction and its reason"
            )
        candidacy.submit_sheet(meta=self.campaign_meta(actor, campaign, on=on), kind=kind, assessor=actor.id, points=checked)
        self.save_all(candidacy)
        return len(checked)

    @staticmethod
    def _scores_open(campaign: Any) -> None:
        if campaign.notice is not None:
            raise RuleViolation(
                f"scores of campaign {campaign.code} are fixed since the preliminary list went on public "
                f"notice ({campaign.notice['start']}); residents' objections are the way to contest them"
            )

    def correct_score(
        self, actor: Actor, candidacy_id: str, kind: str, item: str, points: Any, reason: str,
        on: str | None = None, expected_version: int | None = None,
    ) -> None:
        """Correct one's own recorded item score; the old value stays in the history."""
        if kind not in ASSESSMENT_KINDS:
            raise InvalidInput("kind", kind, ", ".join(ASSESSMENT_KINDS))
        candidacy, campaign = self._candidacy_for(
            actor, candidacy_id, f"score:{kind}", expected_version, readonly_campaign=True
        )
        self.require_open(campaign)
        if not candidacy.is_active:
            raise RuleViolation(f"candidacy is {candidacy.status}; its scores can no longer change")
        self._scores_open(campaign)
        rubric = self.rubric_of(campaign)
        value = self.check_points(rubric, "points", item, points)
        if str(item) not in candidacy.scores[kind].get(actor.id, {}):
            raise RuleViolation(f"assessor {actor.id} has no {kind} score for item {item} to correct")
        candidacy.correct_item_score(
            meta=self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason)),
            kind=kind, assessor=actor.id, item=str(item), points=str(value),
        )
        self.save_all(candidacy)

    def record_veto(
        self, actor: Actor, candidacy_id: str, veto_id: str, reason: str, evidence: list[dict[str, str]] | None = None,
        on: str | None = None,
    ) -> None:
        """Record that a veto item (一票否决) applies to this candidacy."""
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "record_veto")
        rubric = self.rubric_of(campaign)
        known = [v.id for v in rubric.veto_items]
        if not isinstance(veto_id, str) or veto_id not in known:
            raise InvalidInput("veto_id", veto_id, f"a veto item of {rubric.ref}: {', '.join(known) or '(this rubric has none)'}")
        if not candidacy.is_active:
            raise RuleViolation(f"candidacy is {candidacy.status}; vetoes can no longer be recorded")
        if veto_id in candidacy.vetoes:
            raise RuleViolation(f"veto {veto_id} is already recorded for this candidacy")
        candidacy.record_veto(
            meta=self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason)),
            veto_id=veto_id, evidence=self.check_evidence("evidence", evidence),
        )
        self.save_all(candidacy)

    def withdraw_veto(self, actor: Actor, candidacy_id: str, veto_id: str, reason: str, on: str | None = None) -> None:
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "withdraw_veto")
        self.check_key("veto_id", veto_id, list(candidacy.vetoes))
        if not candidacy.is_active:
            raise RuleViolation(f"candidacy is {candidacy.status}; vetoes can no longer change")
        candidacy.withdraw_veto(
            meta=self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason)), veto_id=veto_id
        )
        self.save_all(candidacy)

    def record_survey(
        self,
        actor: Actor,
        candidacy_id: str,
        respondents: int,
        households: int,
        satisfied: int,
        basically_satisfied: int,
        dissatisfied: int,
        reason: str | None = None,
        on: str | None = None,
    ) -> None:
        """Record the resident satisfaction survey; recording it again is a correction with a reason."""
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "record_survey")
        community = self.community(actor, candidacy.community_id)
        counts = {
            "respondents": self.check_count("respondents", respondents, minimum=1),
            "households": self.check_count("households", households, minimum=1),
            "satisfied": self.check_count("satisfied", satisfied),
            "basically_satisfied": self.check_count("basically_satisfied", basically_satisfied),
            "dissatisfied": self.check_count("dissatisfied", dissatisfied),
        }
        answered = counts["satisfied"] + counts["basically_satisfied"] + counts["dissatisfied"]
        if answered != counts["respondents"]:
            raise InvalidInput(
                "respondents", respondents,
                f"the sum of satisfied + basically_satisfied + dissatisfied ({answered})",
            )
        if counts["households"] > counts["respondents"]:
            raise InvalidInput("households", households, f"at most the {counts['respondents']} respondents (each household answers at least once)")
        if counts["households"] > community.households:
            raise InvalidInput("households", households, f"at most the community's {community.households} households")
        if not candidacy.is_active:
            raise RuleViolation(f"candidacy is {candidacy.status}; the survey can no longer change")
        if campaign.notice is not None:
            raise RuleViolation(
                f"the survey of campaign {campaign.code} is fixed since the preliminary list went on public notice "
                f"({campaign.notice['start']}): the notice lists only candidates whose survey is recorded "
                "(公示后不再记录满意度测评)"
            )
        if candidacy.survey is not None:
            reason = self.check_text("reason", reason)
        candidacy.record_survey(meta=self.campaign_meta(actor, campaign, on=on, reason=reason), **counts)
        self.save_all(candidacy)
