"""The transparency log: one append-only Merkle tree per tenant over every event of that
tenant, in the order the events were recorded (RFC 9162 hashing, :mod:`core.merkle`).

Leaves
======

An event's *digest* and *entry* (the 56 bytes its leaf hashes) are::

    digest = SHA-256(topic (UTF-8) || 0x00 || state (the stored bytes, exactly))
    entry  = stream id (16 bytes) || version (8 bytes, big-endian, unsigned) || digest

and its leaf hash is ``SHA-256(0x00 || entry)`` (:func:`core.merkle.leaf_hash`). The
stream and version stand in the entry in the clear so that a leaf can be shown without
its event (an export names the leaves it leaves out by stream, version and digest, and a
checker can still tell which stream each belongs to). The
event's *tenant* is ``meta.tenant`` of its state (a JSON object; every event the platform
records has one); an event whose state names no tenant, or one that is not text, belongs
to the log ``*``.

Each store keeps, in the transaction that records the events, beside the event rows:

* ``<events>_log_leaves`` (tenant, leaf index, stream id, version): which event each leaf is;
* ``<events>_log_nodes`` (tenant, level, index, hash): the perfect subtrees of the tree,
  level 0 being the leaf hashes (see :mod:`core.merkle`, "Nodes and the node store").

Rows are only ever inserted: a tree's size is its number of leaves. Events recorded in one
insert get consecutive leaves in the order the insert lists them; inserts of one tenant are
serialised (SQLite: one writer; PostgreSQL: an advisory lock per tenant held to the end of
the transaction), so a tenant's leaf order is the order its events were committed. Roots and proofs for any past size come from stored
nodes alone. A store that held events before the log existed gets its leaves once, in
notification order, when the log tables are created.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from core import merkle

#: The log of events whose state names no tenant.
NO_TENANT = "*"


def digest(topic: str | bytes, state: bytes) -> bytes:
    """SHA-256 of the event's topic, a 0x00 byte and its stored state."""
    h = hashlib.sha256(topic if isinstance(topic, bytes) else topic.encode("utf-8"))
    h.update(b"\x00")
    h.update(state)
    return h.digest()


def entry_of(stream: UUID, version: int, event_digest: bytes) -> bytes:
    return stream.bytes + version.to_bytes(8, "big") + event_digest


def entry(stream: UUID, version: int, topic: str | bytes, state: bytes) -> bytes:
    """The bytes an event's leaf hashes (see the module docstring)."""
    return entry_of(stream, version, digest(topic, state))


def leaf(stream: UUID, version: int, topic: str | bytes, state: bytes) -> bytes:
    return merkle.leaf_hash(entry(stream, version, topic, state))


def tenant_of(state: Any) -> str:
    """The tenant an event belongs to: ``meta.tenant`` of its JSON state, else ``*``."""
    try:
        meta = json.loads(bytes(state)).get("meta")
        tenant = meta.get("tenant") if isinstance(meta, dict) else None
    except (ValueError, AttributeError, TypeError):
        return NO_TENANT
    return tenant if isinstance(tenant, str) and tenant else NO_TENANT


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def grouped(stored_events: Iterable[Any]) -> dict[str, list[tuple[UUID, int, bytes]]]:
    """The leaves of an insert per tenant, in insert order: (stream, version, leaf hash)."""
    out: dict[str, list[tuple[UUID, int, bytes]]] = {}
    for s in stored_events:
        stream = _uuid(s.originator_id)
        out.setdefault(tenant_of(s.state), []).append(
            (stream, s.originator_version, leaf(stream, s.originator_version, s.topic, s.state)))
    return out


class LogView:
    """What a store's log answers (every chained recorder provides these three reads)."""

    def log_size(self, tenant: str) -> int:
        raise NotImplementedError

    def log_nodes(self, tenant: str, keys: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
        raise NotImplementedError

    def log_leaves(self, tenant: str, start: int = 0, stop: int | None = None) -> list[tuple[int, UUID, int]]:
        """(leaf index, stream, version) of the tenant's leaves ``start <= index < stop``."""
        raise NotImplementedError

    def log_tenants(self) -> list[str]:
        raise NotImplementedError

    # -- derived --------------------------------------------------------------------------

    def log_root(self, tenant: str, size: int | None = None) -> tuple[int, bytes]:
        """(size, root) of the tenant's tree now, or at an earlier ``size``."""
        current = self.log_size(tenant)
        size = current if size is None else size
        if not 0 <= size <= current:
            raise ValueError(f"the log of {tenant!r} has {current} leaves, not {size}")
        return size, merkle.root_from(size, self.log_nodes(tenant, merkle.frontier(size)))

    def inclusion_proof(self, tenant: str, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof_from(index, size, self.log_nodes(tenant, merkle.inclusion_nodes(index, size)))

    def consistency_proof(self, tenant: str, old_size: int, new_size: int) -> list[bytes]:
        return merkle.consistency_proof_from(
            old_size, new_size, self.log_nodes(tenant, merkle.consistency_nodes(old_size, new_size)))


def appended(size: int, frontier: Mapping[merkle.Node, bytes],
             leaves: Sequence[tuple[UUID, int, bytes]]) -> tuple[list[tuple[int, UUID, int]], list[merkle.NodeRecord]]:
    """The leaf rows and node rows that appending ``leaves`` to a tree of ``size`` writes
    (``frontier``: the stored nodes of :func:`core.merkle.frontier` ``(size)``)."""
    hashes = [frontier[key] for key in merkle.frontier(size)]
    nodes, _ = merkle.extend(size, hashes, [h for _, _, h in leaves])
    return [(size + n, stream, version) for n, (stream, version, _) in enumerate(leaves)], nodes


def unlogged(recorder: Any, tenant: str) -> list[str]:
    """What the store holds of ``tenant`` that its log does not vouch for, each as a
    message (Chinese, then English): an event with no leaf (a row inserted past the
    platform, say through the database), a leaf whose event is gone, and a leaf whose
    stored hash is not its event's. Reads every event once."""
    events: dict[tuple[UUID, int], bytes] = {}
    start = 1
    while True:
        page = recorder.select_notifications(start=start, limit=10_000)
        if not page:
            break
        for n in page:
            if tenant_of(n.state) == tenant:
                stream = _uuid(n.originator_id)
                events[(stream, n.originator_version)] = leaf(stream, n.originator_version, n.topic, n.state)
        start = page[-1].id + 1
    leaves = recorder.log_leaves(tenant)
    stored = recorder.log_nodes(tenant, [(0, index) for index, _, _ in leaves])
    problems: list[str] = []
    logged = set()
    for index, stream, version in leaves:
        logged.add((stream, version))
        expected = events.get((stream, version))
        if expected is None:
            problems.append(f"日志第 {index} 片叶的事件已不在库中 leaf {index} names stream {stream} position {version}, "
                            "which the store no longer holds")
        elif stored.get((0, index)) != expected:
            problems.append(f"日志第 {index} 片叶与其事件不符 leaf {index} (stream {stream} position {version}) is not "
                            "its event's hash: the event was changed after it was logged")
    for stream, version in sorted(set(events) - logged, key=lambda k: (str(k[0]), k[1])):
        problems.append(f"事件不在日志中 stream {stream} position {version} is in the store but not in the log of "
                        f"{tenant!r}: it was recorded past the platform")
    return problems

