"""Read-side queries derived from the recorded events: history and outcome tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.utils import TopicError

from core.exact import shown
from core.actors import Actor
from core.domain import Campaign, Candidacy
from core.errors import InvalidInput, NotFound
from core.services.base import unreadable
from core.services.decisions import DecisionCommands, plain


class QueryMixin(DecisionCommands):
    def stream_events(self, actor: Actor, stream_id: str) -> list[Any]:
        """The events of one stream the actor may see, in order."""
        try:
            uid = UUID(str(stream_id))
        except ValueError:
            raise InvalidInput("stream_id", stream_id, "a UUID as printed by the platform") from None
        try:
            events = list(self.events.get(uid))
        except TopicError as exc:
            raise unreadable(self.store, exc) from exc
        if not events:
            raise NotFound("stream", uid)
        tenant = getattr(events[0], "meta", {}).get("tenant")
        if tenant is not None and not self.can_see(actor, tenant):
            raise NotFound("stream", uid)
        return events

    def history(self, actor: Actor, stream_id: str, *, include_related: bool = True) -> list[dict[str, Any]]:
        """Every event of a candidacy, community, inspection or campaign in recorded order, with
        who, when, what and why. A campaign's history includes its candidacies and inspections."""
        events = self.stream_events(actor, stream_id)
        aggregate = self.repository.get(UUID(str(stream_id)))
        if include_related and isinstance(aggregate, Campaign):
            for candidacy_id in aggregate.candidacies:
                events.extend(self.stream_events(actor, candidacy_id))
                for inspection_id in self.candidacy(actor, candidacy_id).inspections:
                    events.extend(self.stream_events(actor, inspection_id))
        events.sort(key=lambda e: (e.timestamp, str(e.originator_id), e.originator_version))
        return [describe(e) for e in events]

    def resumable_campaign_code(
        self, actor: Actor, code: str, finished: Callable[[Campaign], bool]
    ) -> tuple[str, str | None]:
        """For scripts that build a campaign step by step and may be run again (demos):
        ``(code, id)`` of the first of ``code``, ``code-2``, … that ``finished`` accepts, or
        ``(code, None)`` for the first not yet recorded. An interrupted earlier run is left
        as recorded and never reused."""
        n = 1
        while True:
            candidate = code if n == 1 else f"{code}-{n}"
            try:
                campaign = self.campaign_by_code(actor, candidate)
            except NotFound:
                return candidate, None
            if finished(campaign):
                return candidate, str(campaign.id)
            n += 1

    def campaigns_of(self, actor: Actor, tenant: str) -> list[dict[str, Any]]:
        """A tenant's campaigns: id, code, title, year, pinned rubric, status, candidacies."""
        rows = []
        for campaign_id in self.tenant(actor, tenant).campaigns:
            campaign = self.campaign(actor, campaign_id)
            rows.append(
                {
                    "id": campaign_id,
                    "code": campaign.code,
                    "title": campaign.title,
                    "year": campaign.year,
                    "rubric": dict(campaign.rubric),
                    "status": campaign.status,
                    "decided": campaign.decided,
                    "candidacies": len(campaign.candidacies),
                }
            )
        return rows

    def outcome_table(self, actor: Actor, campaign_id: str) -> list[dict[str, Any]]:
        """One row per candidacy: community, street, level, the decision's total and
        satisfaction rate as published (docs/rules.md §1), objections, status, reasons."""
        campaign = self.campaign(actor, campaign_id)
        rows = []
        for cid in campaign.candidacies:
            candidacy: Candidacy = self.candidacy(actor, cid)
            community = self.community(actor, candidacy.community_id)
            outcome = (candidacy.decision or {}).get("derivation", {}).get("outcome", {})
            rows.append(
                {
                    "candidacy_id": cid,
                    "community": community.name,
                    "district": community.district,
                    "street": community.street,
                    "level": candidacy.level,
                    "status": candidacy.status,
                    "total": shown(outcome.get("total")),
                    "satisfaction_rate": shown((outcome.get("survey") or {}).get("satisfaction_rate")),
                    "objections": candidacy.objection_counts(),
                    "reasons": (candidacy.decision or {}).get("derivation", {}).get("reasons", []),
                    "revocation": candidacy.revocation,
                }
            )
        return rows


def describe(event: Any) -> dict[str, Any]:
    meta = getattr(event, "meta", {}) or {}
    topic = type(event).__qualname__
    data = {
        k: plain(v)
        for k, v in event.__dict__.items()
        if k not in ("meta", "originator_id", "originator_version", "timestamp", "originator_topic")
    }
    return {
        "stream": str(event.originator_id),
        "version": event.originator_version,
        "event": topic,
        "recorded": event.timestamp.isoformat(),
        "effective": meta.get("effective"),
        "actor": meta.get("actor"),
        "reason": meta.get("reason"),
        "tenant": meta.get("tenant"),
        "campaign": meta.get("campaign"),
        "rubric": meta.get("rubric"),
        "data": data,
    }
