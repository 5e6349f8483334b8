"""A rubric version as recorded in the ledger, so decisions never depend on a plugin being installed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from core.domain import ids


class RubricRecord(Aggregate):
    """The canonical JSON of one rubric version, stored once under its content hash."""

    @staticmethod
    def create_id(meta: dict[str, Any], content_hash: str, **_: Any) -> UUID:
        return ids.rubric_record_id(content_hash)

    @event("Recorded")
    def __init__(
        self,
        meta: dict[str, Any],
        content_hash: str,
        rubric_id: str,
        rubric_version: str,
        definition: str,
        provided_by: str,
        tenant: str | None,
        derived_from: str | None,
    ) -> None:
        self.content_hash = content_hash
        self.rubric_id = rubric_id
        self.rubric_version = rubric_version
        self.definition = definition
        self.provided_by = provided_by
        self.tenant = tenant
        self.derived_from = derived_from
