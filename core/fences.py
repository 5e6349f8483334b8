"""Write fences: a write that belongs to a claimed request is noted in the same
transaction as its events.

An HTTP request with an ``Idempotency-Key`` claims its key first (``civic_api_requests``,
see :mod:`api.idempotency`); while it runs, :data:`FENCE` names the claim. Every event
insert made meanwhile, on every store, also marks the claim's row as *written* (the
streams and versions it recorded) in the transaction that records the events, and only
if the claim is still held by this request. So:

* the events are recorded if and only if the claim's row says they were: after a crash
  at any moment, the row alone tells a retry whether to answer from what was recorded or
  to run the request afresh;
* a request whose claim was taken over (it ran past its lease and a retry took the key)
  can no longer record anything: its insert fails with :class:`FenceLost` and the whole
  transaction, events included, is rolled back.

Memory store: its events live and die with the process, so the mark is made in the side
store right after the events, under the recorder's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from uuid import UUID

#: Part of the message of every refused fenced insert (Python and PostgreSQL alike).
FENCE_LOST = "request claim lost"


class FenceLost(RuntimeError):
    """The request's claim on its key is no longer held by it: nothing was recorded."""


@dataclass(frozen=True)
class Fence:
    """The claim a write belongs to: the request-log row (scope, key) held by ``holder``."""

    table: str  # the request log's table, as the side store names it (PostgreSQL: schema-qualified)
    function: str | None  # PostgreSQL: the function that marks the row (see api.idempotency)
    scope: str
    key: str
    holder: str
    #: memory store: marks the row in the side store (``mark(stored_events)``), or FenceLost
    mark: Any = None


#: The claim of the request being served in this context, or None.
FENCE: ContextVar[Fence | None] = ContextVar("civic_fence", default=None)


def written_lines(stored_events: Sequence[Any]) -> str:
    """What an insert records, as the row keeps it: ``<stream uuid> <version>`` per stream
    (its highest version in the insert), one line each, in the order first seen."""
    highest: dict[str, int] = {}
    for s in stored_events:
        stream = str(s.originator_id if isinstance(s.originator_id, UUID) else UUID(str(s.originator_id)))
        highest[stream] = max(highest.get(stream, 0), s.originator_version)
    return "".join(f"{stream} {version}\n" for stream, version in highest.items())


def parse_written(text: str | None) -> list[tuple[str, int]]:
    """The (stream, version) pairs of a row's ``written`` column, the highest version of
    each stream, in the order first written."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        stream, _, version = line.partition(" ")
        if stream and version.isdigit():
            out[stream] = max(out.get(stream, 0), int(version))
    return list(out.items())


def sqlite_mark(c: Any, fence: Fence, stored_events: Sequence[Any]) -> None:
    """Mark the claim inside an SQLite transaction (cursor ``c``), or FenceLost."""
    cursor = getattr(c, "sqlite_cursor", c)
    cursor.execute(
        f"UPDATE {fence.table} SET written = COALESCE(written, '') || ? WHERE scope = ? AND key = ? AND holder = ?",
        (written_lines(stored_events), fence.scope, fence.key, fence.holder),
    )
    if cursor.rowcount != 1:
        raise FenceLost(f"{FENCE_LOST}: another request took over Idempotency-Key {fence.key!r}")
