"""Auditing recorded decisions: recompute them from the events they name, and answer what
a community's titles were on any date. Read-only: nothing here records anything."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from core.actors import Actor
from core.domain import Campaign, Candidacy, Community
from core.errors import CivicError, InvalidInput, NotFound, PluginError
from core.plugins.types import CandidateEvidence, DecisionContext
from core.services.decisions import plain, summary
from core.services.selections import SelectionCommands


@dataclass
class DecisionInputs:
    """A campaign's decisions with the evidence rebuilt at the stream positions they recorded."""

    context: DecisionContext
    decisions: dict[str, dict[str, Any]]
    evidence: dict[str, CandidateEvidence]
    on_notice: list[str]


@dataclass
class Verdict:
    candidacy_id: str
    community: str
    level: str
    status: str  # "confirmed" | "mismatched" | "unverifiable"
    differences: list[str] = field(default_factory=list)


class AuditQueries(SelectionCommands):
    def decision_inputs(self, actor: Actor, campaign_id: str) -> DecisionInputs:
        """Rebuild, from the events alone, everything the campaign's decision style was given."""
        campaign = self.campaign(actor, campaign_id)
        decisions: dict[str, dict[str, Any]] = {}
        evidence: dict[str, CandidateEvidence] = {}
        notice_campaign: Campaign | None = None
        for cid in campaign.candidacies:
            decision = self.candidacy(actor, cid).decision
            if decision is None:
                continue
            positions = decision["derivation"]["positions"]
            at = {
                kind: self.load(
                    {"candidacy": Candidacy, "community": Community, "campaign": Campaign}[kind],
                    stream, actor, kind, version=version,
                )
                for kind, (stream, version) in positions.items()
            }
            notice_campaign = at["campaign"]
            rubric = self._named_rubric(decision["derivation"]["rubric"]["hash"])
            decisions[cid] = decision
            evidence[cid] = self.evidence(rubric, at["candidacy"], at["community"])
        if notice_campaign is None:
            raise NotFound("decision of campaign", campaign_id)
        rubric = self._named_rubric(notice_campaign.rubric["hash"])
        listed = set(notice_campaign.notice["candidacy_ids"]) if notice_campaign.notice else set()
        return DecisionInputs(
            context=DecisionContext(rubric=rubric, levels=list(notice_campaign.levels), quota=notice_campaign.quota),
            decisions=decisions,
            evidence=evidence,
            on_notice=[cid for cid in evidence if cid in listed],
        )

    def _named_rubric(self, content_hash: str) -> Any:
        try:
            return self.rubric_by_hash(content_hash)
        except NotFound:
            raise MissingRubric(f"rubric version {content_hash} named by the decision is not in the store") from None

    def verify_decisions(self, actor: Actor, campaign_id: str) -> list[Verdict]:
        """Recompute every recorded decision of a campaign from the recorded events with the
        rubric version it names (by hash) and report each as confirmed or mismatched,
        with the differing lines of the derivation."""
        try:
            inputs = self.decision_inputs(actor, campaign_id)
        except MissingRubric as exc:
            campaign = self.campaign(actor, campaign_id)
            return [
                Verdict(cid, self.community(actor, c.community_id).name, c.level, "unverifiable", [str(exc)])
                for cid in campaign.candidacies
                if (c := self.candidacy(actor, cid)).decision is not None
            ]
        style_name = inputs.context.rubric.style
        try:
            style = self.plugins.style(style_name)
        except PluginError as exc:
            return [self._verdict(inputs, cid, "unverifiable", [str(exc)]) for cid in inputs.decisions]
        candidates = [inputs.evidence[cid] for cid in inputs.on_notice]
        outcomes = {o.candidacy_id: o for o in style.decide(inputs.context, candidates)}
        verdicts = []
        for cid, decision in inputs.decisions.items():
            recorded = decision["derivation"]
            if recorded["style"] != {"name": style.name, "version": style.version}:
                note = f"recorded with style {recorded['style']}, installed is {style.name} {style.version}"
                verdicts.append(self._verdict(inputs, cid, "unverifiable", [note]))
                continue
            outcome = outcomes.get(cid)
            if outcome is None:
                expected = {"named": False, "outcome": {**summary(inputs.evidence[cid])}}
                actual = {"named": recorded["named"], "outcome": {k: v for k, v in recorded["outcome"].items() if k != "preliminary"}}
            else:
                expected = {"named": outcome.named, "reasons": list(outcome.reasons), "outcome": plain(outcome.derivation)}
                actual = {"named": recorded["named"], "reasons": recorded["reasons"], "outcome": recorded["outcome"]}
            differences = _diff(actual, expected)
            verdicts.append(self._verdict(inputs, cid, "mismatched" if differences else "confirmed", differences))
        return verdicts

    def _verdict(self, inputs: DecisionInputs, cid: str, status: str, differences: list[str]) -> Verdict:
        evidence = inputs.evidence[cid]
        return Verdict(cid, evidence.community_name, evidence.level, status, differences)

    def titles_on(self, actor: Actor, community_id: str, day: str) -> list[dict[str, Any]]:
        """The titles a community held on ``day`` (effective dates), each with the decision
        (candidacy) that awarded it and, if it was later revoked, when."""
        day = self.check_date("day", day)
        community = self.community(actor, community_id)
        held = []
        for candidacy_id, title in community.titles.items():
            if title["awarded"] <= day and (title["revoked"] is None or title["revoked"] > day):
                held.append({"candidacy_id": candidacy_id, **title})
        return sorted(held, key=lambda t: (t["awarded"], t["level"]))

    def _version_recorded_by(self, actor: Actor, stream_id: str, recorded_by: str) -> int:
        try:
            moment = dt.datetime.fromisoformat(str(recorded_by))
        except ValueError:
            raise InvalidInput("recorded_by", recorded_by, "an ISO date-time, e.g. 2020-11-30T12:00:00+00:00") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        versions = [e.originator_version for e in self.stream_events(actor, stream_id) if e.timestamp <= moment]
        if not versions:
            raise NotFound("stream state recorded by", recorded_by)
        return max(versions)

    def stream_at(
        self, actor: Actor, stream_id: str, version: int | None = None, recorded_by: str | None = None
    ) -> Any:
        """Any stream as it was at event position ``version``, or with every event recorded
        by the ISO date-time ``recorded_by`` (time travel)."""
        if (version is None) == (recorded_by is None):
            raise InvalidInput("version/recorded_by", version if recorded_by is None else recorded_by,
                               "exactly one of an event position or a recorded date-time")
        if recorded_by is not None:
            version = self._version_recorded_by(actor, stream_id, recorded_by)
        try:
            uid = UUID(str(stream_id))
            aggregate = self.repository.get(uid, version=self.check_count("version", version, minimum=1))
        except (ValueError, AggregateNotFoundError):
            raise NotFound("stream", stream_id) from None
        owner = getattr(aggregate, "tenant", getattr(aggregate, "code", None))
        if owner is not None and not self.can_see(actor, owner):
            raise NotFound("stream", stream_id)
        return aggregate


class MissingRubric(NotFound):
    """A decision names a rubric version the store does not hold."""

    def __init__(self, message: str) -> None:
        CivicError.__init__(self, message)


def _diff(recorded: dict[str, Any], recomputed: dict[str, Any]) -> list[str]:
    a = json.dumps(recorded, ensure_ascii=False, sort_keys=True, indent=1).splitlines()
    b = json.dumps(recomputed, ensure_ascii=False, sort_keys=True, indent=1).splitlines()
    if a == b:
        return []
    return [line for line in difflib.unified_diff(a, b, "recorded", "recomputed", lineterm="", n=1)]

