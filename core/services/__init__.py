"""Application services: commands take plain values and an :class:`~core.actors.Actor`,
load aggregates, call their methods and save the new events in one atomic write."""

from core.services.visits import VisitPlanCommands


class CivicLedger(VisitPlanCommands):
    """The Civic Ledger application: every command and query of the core."""


__all__ = ["CivicLedger"]
