"""Tamper evidence: checking the stores' hash chains, anchors of their heads, and which
streams make up a campaign's record. Read-only: nothing here records anything."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from core import chain, meaning
from core.actors import Actor, Role
from core.domain import Campaign, ids
from core.errors import InvalidInput, PermissionDenied
from core.services.base import ALL_TENANTS, project_events
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
        """Every stream of a tenant (each stream's first event names its tenant: communities,
        campaigns, candidacies, inspections, selections, visit plans, tokens, rubric
        versions) and the rubric versions its campaigns pinned or decisions named."""
        record = self.tenant(actor, tenant)
        streams = {record.id}
        for row in self.recorder.select_chain(None):
            if row.version == 1 and row.state is not None and _tenant_of(row.state) == tenant:
                streams.add(row.stream)
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
        report.breaks.extend(self._snapshot_breaks(report, streams))
        if anchor is not None:
            if streams is not None:
                wanted = {str(s) for s in streams}
                anchor = {**anchor, "heads": {s: h for s, h in anchor["heads"].items() if s in wanted}}
            report.breaks.extend(chain.check_anchor(anchor, report.kept))
        return report

    def verify_meaning(self, actor: Actor, streams: list[UUID] | None = None) -> meaning.MeaningReport:
        """Cross-stream meaning checks (:mod:`core.meaning`) of ``streams`` together with
        every stream they name, transitively (what they name must be there to be checked),
        or of the whole store (auditors of all tenants only)."""
        if streams is None:
            self._require_whole_store(actor)
            return meaning.check(self.stored_events(None))
        return meaning.check(self.meaning_events(streams))

    def _snapshot_breaks(self, report: chain.ChainReport, streams: list[UUID] | None) -> list[chain.Break]:
        """Snapshots are caches the application loads from: each stored snapshot must be
        exactly the state its stream's events give at that position."""
        if self.snapshots is None:
            return []
        breaks = []
        broken = {b.stream for b in report.breaks}
        for stream, version in self._snapshotted(streams):
            if str(stream) in broken:
                continue
            try:
                (snapshot,) = self.snapshots.get(stream, desc=True, limit=1)
                replayed = project_events(None, self.events.get(stream, lte=snapshot.originator_version))
                fresh = type(snapshot).take(replayed)
                same = self._normal(snapshot.state) == self._normal(fresh.state)
                detail = "the stored state differs from the events' state at that position"
            except Exception as exc:  # unreadable: changed behind the platform's back
                same, detail = False, f"the stored snapshot cannot be read ({type(exc).__name__})"
            if not same:
                breaks.append(chain.Break(str(stream), version, "snapshot", detail))
        return breaks

    def _normal(self, state: dict[str, Any]) -> bytes:
        return self.mapper.transcoder.encode({k: v for k, v in state.items() if k != "_modified_on"} | {"_modified_on": None})

    def _snapshotted(self, streams: list[UUID] | None) -> list[tuple[UUID, int]]:
        """(stream, version) of the latest snapshot of every snapshotted stream in scope."""
        recorder = self.snapshots.recorder
        wanted = None if streams is None else set(streams)
        if self.store.kind == "memory":
            found = [(UUID(k), max(v)) for k, v in recorder._stored_events_index.items() if v]
        else:
            table = recorder.events_table_name
            if self.store.kind == "sqlite":
                with recorder.datastore.transaction(commit=False) as c:
                    c.execute(f"SELECT originator_id, MAX(originator_version) FROM {table} GROUP BY originator_id")
                    found = [(UUID(str(r[0])), r[1]) for r in c.fetchall()]
            else:
                from psycopg.sql import SQL, Identifier

                with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                    curs.execute(SQL("SELECT originator_id, MAX(originator_version) AS v FROM {0}.{1} GROUP BY originator_id").format(
                        Identifier(recorder.datastore.schema), Identifier(table)))
                    found = [(r["originator_id"], r["v"]) for r in curs.fetchall()]
        return sorted((s, v) for s, v in found if wanted is None or s in wanted)

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


def _tenant_of(state: bytes | memoryview) -> str | None:
    """The tenant a stream's first event names in its metadata."""
    try:
        meta = json.loads(bytes(state)).get("meta")
    except (ValueError, AttributeError):
        return None
    return meta.get("tenant") if isinstance(meta, dict) else None


def _anchored_positions(anchor: Any) -> dict[UUID, int]:
    if not isinstance(anchor, dict) or anchor.get("format") != ANCHOR_FORMAT or not isinstance(anchor.get("heads"), dict):
        raise InvalidInput("anchor", str(anchor)[:60], f"an anchor written by `civic audit anchor` (format {ANCHOR_FORMAT!r} with 'heads')")
    positions = {}
    for stream, head in anchor["heads"].items():
        try:
            position = head[0]
            if isinstance(position, bool) or not isinstance(position, int) or position < 1 or not isinstance(head[1], str):
                raise ValueError(position)
            positions[UUID(str(stream))] = position
        except (TypeError, ValueError, IndexError, KeyError, OverflowError):
            raise InvalidInput(f"anchor.heads[{stream}]", head, "[position, link hex] under a stream id") from None
    return positions
