"""The hash chain that binds every recorded event: tamper evidence for stores and exports.

Every stream (one aggregate: a tenant, community, campaign, candidacy, inspection, …) is
its own chain. The link of event *n* is::

    link(n) = SHA-256( link(n-1) | stream id (16 bytes) | n (8 bytes, big-endian)
                       | topic (UTF-8) | 0x00 | state (the stored bytes) )

with ``link(0)`` = 32 zero bytes. The store keeps each event's link beside the event, in
the same transaction (a table of its own, so the event rows stay exactly as the event
store library writes them). Checking a chain recomputes every link from the stored
events and compares:

* an event whose content changed no longer matches its link (``changed``);
* an event with no link was not recorded by the platform (``unchained``);
* a link with no event is a deleted event (``missing``);
* a jump in the positions is an event deleted with its link (``gap``); events moved to
  other positions fail their links, which cover the position.

Why per stream: a stream already has one writer at a time (optimistic concurrency on its
positions), so linking it adds no locking, and a stream can be checked and exported on its
own. The chain proves a store consistent with itself; someone able to rewrite both the
events and every following link could forge a consistent store, which is why the *heads*
(last position and link of every stream) can be written down as an **anchor** and checked
later: history before an anchor cannot be rewritten without the anchor noticing.

This module is plain Python with no store or plugin behind it, so exported bundles are
checked with exactly the code that checks the live store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from uuid import UUID

GENESIS = bytes(32)

#: What a break means, in Chinese and English.
PROBLEMS = {
    "changed": "事件内容或其链接值被改动 (the event or its recorded link was changed)",
    "unchained": "事件没有链接值，不是由本平台记录的 (the event has no link: it was not recorded by the platform)",
    "missing": "事件已被删除，只剩链接值 (the event was deleted; its link remains)",
    "gap": "事件位置不连续：事件连同链接值被删除 (positions jump: an event was deleted together with its link)",
    "malformed": "记录无法读取 (the record cannot be read)",
    "anchor": "与锚定的链头不一致：锚定之前的历史被改写 (differs from the anchored head: history before the anchor was rewritten)",
    "snapshot": "快照与事件不符：快照被改动 (the stored snapshot does not match the events: it was changed)",
}


def link(prev: bytes, stream: UUID, version: int, topic: str | bytes, state: bytes) -> bytes:
    """The link of one event (see the module docstring)."""
    h = hashlib.sha256(prev)
    h.update(stream.bytes)
    h.update(version.to_bytes(8, "big"))
    h.update(topic if isinstance(topic, bytes) else topic.encode("utf-8"))
    h.update(b"\x00")
    h.update(state)
    return h.digest()


class ChainRow(NamedTuple):
    """One stored event and its stored link; ``topic``/``state`` are None when only the
    link is left, ``stored`` is None when the event has no link. ``topic`` is the topic's
    UTF-8 bytes. ``where`` tells a reader where the record is (a line of an export, say)."""

    stream: UUID
    version: int
    topic: bytes | None
    state: bytes | memoryview | None
    stored: bytes | None
    where: int | str = ""


@dataclass(frozen=True)
class Break:
    stream: str
    version: int
    problem: str
    detail: str = ""
    where: str = ""

    @property
    def explanation(self) -> str:
        return PROBLEMS[self.problem]

    def as_dict(self) -> dict[str, object]:
        return {
            "stream": self.stream, "version": self.version, "problem": self.problem,
            "explanation": self.explanation, "detail": self.detail, "where": self.where,
        }


@dataclass
class ChainReport:
    """The result of checking chains: every stream's head and the first break of each
    broken stream, ordered by stream id."""

    streams: int = 0
    events: int = 0
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    breaks: list[Break] = field(default_factory=list)
    #: the topic of each stream's first event (what kind of stream it is)
    first_topics: dict[str, str] = field(default_factory=dict)
    #: stored links at the positions asked for with ``keep``
    kept: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def intact(self) -> bool:
        return not self.breaks

    @property
    def root(self) -> str:
        """One SHA-256 over every head, in stream order: a short fingerprint of the state
        of all checked chains, to write down and compare."""
        return heads_root(self.heads)


def heads_root(heads: dict[str, tuple[int, str]]) -> str:
    h = hashlib.sha256()
    for stream in sorted(heads):
        version, digest = heads[stream]
        h.update(f"{stream} {version} {digest}\n".encode())
    return "sha256:" + h.hexdigest()


def check(
    rows: Iterable[ChainRow],
    report: ChainReport | None = None,
    progress: Callable[[int], None] | None = None,
    keep: dict[UUID, int] | None = None,
) -> ChainReport:
    """Check chains from ``rows`` grouped by stream, each stream's rows in position order.

    Every stream is checked to its end; the first break of a stream is reported (later
    links of a broken stream are checked against the stored links, so one edited event is
    reported once). ``progress(n)`` is called with the number of rows checked so far,
    every 10,000 rows. ``keep`` (stream -> position) asks for the stored links at those
    positions in ``report.kept`` (to compare with an anchor).
    """
    report = report if report is not None else ChainReport()
    current: UUID | None = None
    prev = GENESIS
    stream_bytes = b""
    expected = 1
    broken = False
    last_version = 0
    count = 0
    sha256 = hashlib.sha256
    breaks, heads, first_topics, kept = report.breaks, report.heads, report.first_topics, report.kept
    for row in rows:
        stream, version, topic, state, stored, where = row
        if stream is not current and stream != current:
            if current is not None:
                heads[str(current)] = (last_version, prev.hex())
            current, prev, expected, broken = stream, GENESIS, 1, False
            stream_bytes = stream.bytes
            report.streams += 1
            if version == 1 and topic is not None:
                first_topics[str(stream)] = topic.decode("utf-8", "replace")
        count += 1
        if progress is not None and not count % 10_000:
            progress(count)
        problem = None
        if version != expected:
            problem, detail = "gap", f"expected position {expected}, found {version}"
        elif state is None or topic is None:
            problem, detail = "missing", ""
        elif stored is None:
            problem, detail = "unchained", ""
        else:
            report.events += 1
            # the same bytes as link(): the short fields joined first, one update for the state
            h = sha256(b"".join((prev, stream_bytes, version.to_bytes(8, "big"), topic, b"\x00")))
            h.update(state)
            computed = h.digest()
            if computed != stored:
                problem = "changed"
                detail = f"recorded link {stored.hex()[:16]}…, recomputed {computed.hex()[:16]}…"
        if problem is not None and not broken:
            broken = True
            breaks.append(Break(str(stream), expected if problem == "gap" else version, problem, detail, str(where)))
        if keep and stored is not None and keep.get(stream) == version:
            kept[(str(stream), version)] = stored.hex()
        # carry on from the stored link, so later events are judged on their own
        if stored is not None:
            prev = stored
        expected = version + 1
        last_version = version
    if current is not None:
        heads[str(current)] = (last_version, prev.hex())
    if progress is not None:
        progress(count)
    return report


def merge_orphans(rows: Iterable[ChainRow], orphans: Iterable[ChainRow]) -> Iterator[ChainRow]:
    """Interleave links whose event is gone (``orphans``) into ``rows``; both sorted by
    (stream, version) in the same stream order."""
    pending = sorted(orphans, key=lambda r: (r.stream.bytes, r.version))
    if not pending:
        yield from rows
        return
    by_stream: dict[UUID, list[ChainRow]] = {}
    for o in pending:
        by_stream.setdefault(o.stream, []).append(o)
    current: UUID | None = None
    queue: list[ChainRow] = []
    for row in rows:
        if row.stream != current:
            yield from queue
            current = row.stream
            queue = by_stream.pop(row.stream, [])
        while queue and queue[0].version < row.version:
            yield queue.pop(0)
        yield row
    yield from queue
    for rest in by_stream.values():  # streams whose every event was deleted
        yield from rest


def check_anchor(anchor: dict[str, object], links: dict[tuple[str, int], str]) -> list[Break]:
    """Compare an anchor (``{"heads": {stream: [version, link hex]}}``) with the links the
    store holds now at those positions."""
    breaks = []
    heads = anchor.get("heads")
    if not isinstance(heads, dict):
        return [Break("-", 0, "malformed", "the anchor has no 'heads' object")]
    for stream, head in sorted(heads.items()):
        try:
            version, digest = int(head[0]), str(head[1])
        except (TypeError, ValueError, IndexError, KeyError, OverflowError):
            breaks.append(Break(str(stream), 0, "malformed", f"anchor entry {json.dumps(head)[:80]}"))
            continue
        now = links.get((str(stream), version))
        if now != digest:
            state = "absent now" if now is None else f"now {now[:16]}…"
            breaks.append(Break(str(stream), version, "anchor", f"anchored {digest[:16]}…, {state}"))
    return breaks
