"""Tamper evidence: checking the stores' hash chains, anchors of their heads, and which
streams make up a campaign's record. Read-only: nothing here records anything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from core import chain
from core.actors import Actor, Role
from core.domain import Campaign, ids
from core.errors import InvalidInput, PermissionDenied
from core.services.base import ALL_TENANTS
from core.services.visits import VisitPlanCommands

ANCHOR_FORMAT = "civic-ledger-anchor"
CAMPAIGN_TOPIC = get_topic(Campaign.Created)


class IntegrityQueries(VisitPlanCommands):
    def campaign_streams(self, actor: Actor, campaign_id: str) -> list[UUID]:
        """The streams that make up a campaign's record: the campaign, its candidacies,
        their communities and inspections, and every rubric version the campaign pinned or
        a decision named."""
        campaign = self.campaign(actor, campaign_id)
        streams: set[UUID] = {campaign.id}
        hashes = {campaign.rubric["hash"]}
        for cid in campaign.candidacies:
            candidacy = self.candidacy(actor, cid)
            streams.add(candidacy.id)
            streams.add(UUID(str(candidacy.community_id)))
            streams.update(UUID(str(i)) for i in candidacy.inspections)
            if candidacy.decision is not None:
                hashes.add(candidacy.decision["derivation"]["rubric"]["hash"])
        streams.update(r for h in sorted(hashes) if self.exists(r := ids.rubric_record_id(h)))
        return sorted(streams, key=str)

    def tenant_streams(self, actor: Actor, tenant: str) -> list[UUID]:
        """A tenant's own stream, its communities and the records of all its campaigns."""
        record = self.tenant(actor, tenant)
        streams = {record.id, *(UUID(str(c)) for c in record.communities)}
        for campaign_id in record.campaigns:
            streams.update(self.campaign_streams(actor, campaign_id))
        return sorted(streams, key=str)

    @staticmethod
    def _require_whole_store(actor: Actor) -> None:
        if actor.role is not Role.AUDITOR or actor.tenant != ALL_TENANTS:
            raise PermissionDenied("verify_store", actor.role.value, ["auditor (all tenants, 全部租户审计员)"])

    def verify_chains(
        self,
        actor: Actor,
        streams: list[UUID] | None = None,
        *,
        anchor: dict[str, Any] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> chain.ChainReport:
        """Check the hash chains of ``streams`` (see :meth:`campaign_streams`), or of the
        whole store (auditors of all tenants only). With ``anchor`` (from :meth:`anchor`),
        also check that every anchored head is still there, unchanged."""
        if streams is None:
            self._require_whole_store(actor)
        keep = None
        if anchor is not None:
            keep = _anchored_positions(anchor)
        rows = chain.merge_orphans(self.recorder.select_chain(streams), self.recorder.select_orphans(streams))
        report = chain.check(rows, progress=progress, keep=keep)
        if anchor is not None:
            if streams is not None:
                wanted = {str(s) for s in streams}
                anchor = {**anchor, "heads": {s: h for s, h in anchor["heads"].items() if s in wanted}}
            report.breaks.extend(chain.check_anchor(anchor, report.kept))
        return report

    def campaigns_in_store(self, report: chain.ChainReport) -> list[str]:
        """Ids of every campaign whose stream a whole-store check walked."""
        return sorted(s for s, topic in report.first_topics.items() if topic == CAMPAIGN_TOPIC)

    def anchor(self, actor: Actor, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """The heads of every chain in the store, to keep somewhere the store's operators
        cannot write (printed, mailed, published). A later ``verify --anchor`` shows that no
        event up to these heads was changed, even by someone who recomputed the links."""
        report = self.verify_chains(actor, progress=progress)
        return {
            "format": ANCHOR_FORMAT,
            "version": 1,
            "taken_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "store": self.store.display,
            "intact": report.intact,
            "streams": report.streams,
            "events": report.events,
            "root": report.root,
            "heads": {s: [v, h] for s, (v, h) in sorted(report.heads.items())},
        }


def _anchored_positions(anchor: Any) -> dict[UUID, int]:
    if not isinstance(anchor, dict) or anchor.get("format") != ANCHOR_FORMAT or not isinstance(anchor.get("heads"), dict):
        raise InvalidInput("anchor", str(anchor)[:60], f"an anchor written by `civic audit anchor` (format {ANCHOR_FORMAT!r} with 'heads')")
    positions = {}
    for stream, head in anchor["heads"].items():
        try:
            positions[UUID(str(stream))] = int(head[0])
        except (TypeError, ValueError, IndexError, KeyError):
            raise InvalidInput(f"anchor.heads[{stream}]", head, "[position, link hex] under a stream id") from None
    return positions
