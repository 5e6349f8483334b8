"""A sealed plan for an unannounced visit (暗访): committed as a hash before the visit,
revealed after it, so anyone can check the target and date were fixed in advance."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event


class VisitPlan(Aggregate):
    """Only the commitment ``sha256:<hex>`` of ``"<candidacy id>|<visit date>|<nonce>"`` is
    recorded when the plan is sealed; the target, date and nonce only when it is revealed."""

    @event("Sealed")
    def __init__(self, meta: dict[str, Any], tenant: str, campaign_id: str, commitment: str) -> None:
        self.tenant = tenant
        self.campaign_id = campaign_id
        self.commitment = commitment
        self.sealed_by = meta["actor"]["id"]
        self.revealed: dict[str, Any] | None = None

    @event("Revealed")
    def reveal(self, meta: dict[str, Any], candidacy_id: str, visit_date: str, nonce: str, inspection_id: str) -> None:
        self.revealed = {
            "candidacy_id": candidacy_id,
            "visit_date": visit_date,
            "nonce": nonce,
            "inspection_id": inspection_id,
            "by": meta["actor"]["id"],
        }
