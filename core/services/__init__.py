"""Application services: commands take plain values and an :class:`~core.actors.Actor`,
load aggregates, call their methods and save the new events in one atomic write."""

from core.services.tokens import TokenCommands


class CivicLedger(TokenCommands):
    """The Civic Ledger application: every command and query of the core."""


__all__ = ["CivicLedger"]
