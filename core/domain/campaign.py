"""Campaign (创建活动): one tenant's yearly evaluation against one pinned rubric version."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.domain import ids

DRAFT, OPEN, CLOSED, CANCELLED = "draft", "open", "closed", "cancelled"


class Campaign(Aggregate):
    """A campaign pins its rubric (id, version, content hash) when it is created.

    ``schedule`` is a list of phases ``{"id", "label", "kind", "start", "end"}`` with ISO
    dates; ``kind`` is one of the generic lifecycle steps (``core.plugins.types.PHASE_KINDS``).
    ``progress`` lists the progress records at a cadence (monthly, quarterly, yearly).
    """

    # Progress records in recorded order (a list once one is recorded). The class-level
    # default serves campaigns and snapshots from before the event existed; it is left
    # unannotated so that it is no dataclass field, and the event replaces it.
    progress = ()

    @staticmethod
    def create_id(meta: dict[str, Any], tenant: str, code: str, **_: Any) -> UUID:
        return ids.campaign_id(tenant, code)

    @event("Created")
    def __init__(
        self,
        meta: dict[str, Any],
        tenant: str,
        code: str,
        title: str,
        year: int,
        levels: list[str],
        quota: int | None,
        rubric: dict[str, str],
        schedule: list[dict[str, str]],
    ) -> None:
        self.tenant = tenant
        self.code = code
        self.title = title
        self.year = year
        self.levels = list(levels)
        self.quota = quota
        self.rubric = dict(rubric)
        self.schedule = [dict(p) for p in schedule]
        self.status = DRAFT
        self.frozen = False
        self.candidacies: dict[str, dict[str, str]] = {}
        self.amendments: list[dict[str, Any]] = []
        self.notice: dict[str, Any] | None = None
        self.decided = False

    # -- schedule and status ---------------------------------------------------

    @event("PhaseRescheduled")
    def reschedule(self, meta: dict[str, Any], phase_id: str, start: str, end: str) -> None:
        for phase in self.schedule:
            if phase["id"] == phase_id:
                phase["start"], phase["end"] = start, end

    @event("Opened")
    def open(self, meta: dict[str, Any]) -> None:
        self.status = OPEN

    @event("Closed")
    def close(self, meta: dict[str, Any]) -> None:
        self.status = CLOSED

    @event("Cancelled")
    def cancel(self, meta: dict[str, Any]) -> None:
        self.status = CANCELLED

    # -- the candidate list ----------------------------------------------------

    @event("CandidacyListed")
    def list_candidacy(self, meta: dict[str, Any], candidacy_id: str, community_id: str, level: str) -> None:
        self.candidacies[candidacy_id] = {"community_id": community_id, "level": level}

    @event("CandidateListFrozen")
    def freeze(self, meta: dict[str, Any]) -> None:
        self.frozen = True

    @event("CandidateListAmended")
    def amend(self, meta: dict[str, Any], candidacy_id: str, change: str) -> None:
        self.amendments.append({"candidacy_id": candidacy_id, "change": change, "reason": meta.get("reason")})

    # -- public notice and decisions ------------------------------------------

    @event("PublicNoticeOpened")
    def open_notice(
        self, meta: dict[str, Any], start: str, end: str, candidacy_ids: list[str], preliminary: dict[str, Any]
    ) -> None:
        self.notice = {
            "start": start,
            "end": end,
            "candidacy_ids": list(candidacy_ids),
            "preliminary": preliminary,
            "closed": False,
        }

    @event("PublicNoticeClosed")
    def close_notice(self, meta: dict[str, Any]) -> None:
        assert self.notice is not None
        self.notice["closed"] = True

    @event("DecisionsRecorded")
    def record_decisions(self, meta: dict[str, Any], outcomes: dict[str, dict[str, Any]]) -> None:
        self.decided = True
        for cid, outcome in outcomes.items():
            self.candidacies[cid]["outcome"] = outcome

    # -- progress at a cadence -------------------------------------------------

    @event("ProgressRecorded")
    def record_progress(
        self, meta: dict[str, Any], cadence: str, period: str, subject: str, summary: str, figures: dict[str, str]
    ) -> None:
        entry = {
            "cadence": cadence,
            "period": period,
            "subject": subject,
            "summary": summary,
            "figures": dict(figures),
            "by": meta["actor"]["id"],
            "effective": meta.get("effective"),
        }
        self.progress = [*self.progress, entry]

    def has_progress(self, cadence: str, period: str, subject: str) -> bool:
        return any((p["cadence"], p["period"], p["subject"]) == (cadence, period, subject) for p in self.progress)

    # -- derived ---------------------------------------------------------------

    def phase(self, kind: str) -> dict[str, str] | None:
        for phase in self.schedule:
            if phase.get("kind") == kind:
                return phase
        return None

    def is_frozen_on(self, day: str) -> bool:
        """Frozen by an explicit event or because ``day`` is past the application phase."""
        if self.frozen:
            return True
        phase = self.phase("application")
        return bool(phase and day > phase["end"])
