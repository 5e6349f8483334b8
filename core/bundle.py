"""Export bundles: one self-contained file with a campaign's events, the rubric versions
they name and a manifest, checked offline with no database and no plugin installed.

The format is UTF-8 text, one record per line, fields separated by TAB::

    civic-ledger-bundle 1                                   (line 1: what this file is)
    M  <manifest: JSON>                                     (line 2)
    R  <sha256:hex>  <rubric definition: canonical JSON>    (one per rubric version)
    E  <stream id>  <position>  <link hex>  <topic>  <state>    (one per event)
    S  <sha256 of the manifest line>  <sha256 of every byte before this line>

Events are grouped by stream, in position order; ``state`` is the event exactly as the
store holds it (JSON; ``b64:`` + base64 if it ever held a TAB or line break). Every field
is written in one canonical spelling and read back strictly, so each byte of the file is
covered: event bytes by the hash chain (:mod:`core.chain`), rubric lines by their content
hash, the manifest (counts, chain heads, root) by its hash in the seal line, and the
whole file by the seal. A check reports each problem with its line and what the line
holds, the most specific first.
"""

from __future__ import annotations

import base64
from array import array
import binascii
import dataclasses
import datetime as dt
import gc
import hashlib
import json
import mmap
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import rfc8785
from eventsourcing.utils import get_topic

from core import chain, merkle, notes, tlog

from core.actors import Actor, Role
from core.domain import Campaign, RubricRecord
from core.errors import InvalidInput, StoreTampered

VERSION = 2
MAGIC = b"civic-ledger-bundle 2"
MAGIC_V1 = b"civic-ledger-bundle 1"
_sha256 = hashlib.sha256
FORMAT = "civic-ledger-bundle"
HEX64 = re.compile(rb"^[0-9a-f]{64}$")
RUBRIC_HASH = re.compile(rb"^sha256:[0-9a-f]{64}$")
POSITION = re.compile(rb"^[1-9][0-9]{0,17}$")
#: a log's name: a tenant code, or ``*`` for events that name no tenant
LOG_NAME = re.compile(r"^[^\x00-\x20\x7f]{1,200}$")
#: Offline checks read as an auditor of every tenant; nothing is ever recorded.
RUBRIC_TOPIC = get_topic(RubricRecord.Recorded)
CAMPAIGN_TOPIC = get_topic(Campaign.Created).encode()
OFFLINE_AUDITOR = Actor(id="civic-offline", role=Role.AUDITOR, organisation="offline bundle check", tenant="*")


# -- writing ------------------------------------------------------------------------------------


def _state_field(state: bytes) -> bytes:
    if b"\t" in state or b"\n" in state or b"\r" in state or state.startswith(b"b64:"):
        return b"b64:" + base64.b64encode(state)
    return state


def export_bundle(
    app: Any,
    actor: Actor,
    out: Path,
    *,
    campaign_id: str | None = None,
    tenant: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write the record of one campaign (or every campaign of a tenant) to ``out``; returns
    the manifest. The chains of the exported streams are checked first: a store whose
    chain is broken is not exported (:class:`StoreTampered` names the first break).

    The streams are the scope's (:meth:`campaign_streams`, :meth:`tenant_streams`) and every
    stream their events name, and what those name, and so on. The bundle covers each log
    its events belong to up to one signed checkpoint, taken
    when the export starts (events recorded meanwhile belong to a later export): every
    leaf of the log up to the checkpoint's size is in the file, as the event itself (an E
    line) or, for the events of other streams, as its stream, version and digest (a G
    line). See docs/bundle-format.md."""
    from core import signing

    if (campaign_id is None) == (tenant is None):
        raise InvalidInput("campaign/tenant", campaign_id or tenant, "exactly one of a campaign id or a tenant code")
    if campaign_id is not None:
        streams = app.campaign_streams(actor, campaign_id)
        campaigns = [str(app.campaign(actor, campaign_id).id)]
        scope = {"campaign": campaigns[0], "tenant": app.campaign(actor, campaign_id).tenant}
    else:
        streams = app.tenant_streams(actor, tenant)
        campaigns = [str(c) for c in app.tenant(actor, tenant).campaigns]
        scope = {"campaign": None, "tenant": tenant}
    # with every stream the record names (a community's title from an earlier campaign, the
    # rubric versions decisions used, ...), so that a checker finds everything it names
    streams = sorted({UUID(str(s)) for s in streams} | {e[0] for e in app.meaning_events(streams)}, key=str)
    signer = signing.log_key()
    recorder = app.recorder
    wanted = set(streams)
    # the logs at the export's start: which leaf each exported event is, and the others
    placed: dict[tuple[UUID, int], tuple[str, int]] = {}
    logs: dict[str, tuple[int, list[tuple[int, UUID, int]]]] = {}
    for name in recorder.log_tenants():
        size = recorder.log_size(name)
        others: list[tuple[int, UUID, int]] = []
        mine = False
        for index, stream, version in recorder.log_leaves(name, 0, size):
            if stream in wanted:
                placed[(stream, version)] = (name, index)
                mine = True
            else:
                others.append((index, stream, version))
        if mine:
            logs[name] = (size, others)
    checkpoints = {name: signing.checkpoint(recorder, name, signer, size) for name, (size, _) in logs.items()}
    report = app.verify_chains(actor, streams)
    if not report.intact:
        first = report.breaks[0]
        raise StoreTampered(
            f"not exported: the chain of stream {first.stream} is broken at position {first.version} "
            f"({first.explanation}); run `civic audit verify` on the store"
        )
    rubrics = {}
    for stream, topic in report.first_topics.items():
        if topic == RUBRIC_TOPIC:
            record = app.repository.get(UUID(stream))
            rubrics[record.content_hash] = record.definition
    tmp = Path(out).with_name(Path(out).name + ".events")
    events = 0
    exported: set[UUID] = set()
    try:
        with open(tmp, "wb") as spool:
            for row in recorder.select_chain(streams):
                where = placed.get((row.stream, row.version))
                if where is None:
                    continue  # recorded after the export's checkpoint
                if row.stored is None or row.topic is None:
                    raise StoreTampered(f"not exported: stream {row.stream} position {row.version} lost its link while "
                                        "exporting; run `civic audit verify` on the store")
                spool.write(event_line(row.stream, row.version, row.stored, row.topic, row.state, where))
                events += 1
                exported.add(row.stream)
                if progress is not None and not events % 2000:
                    progress(events, len(placed))
        if events != len(placed):
            raise StoreTampered(f"not exported: the logs name {len(placed)} events of the exported streams, the store "
                                f"holds {events} of them; run `civic audit verify` on the store")
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "exported_by": actor.as_record(),
            "store": app.store.display,
            "scope": scope,
            "campaigns": campaigns,
            "streams": len(exported),
            "events": events,
            "rubrics": sorted(rubrics),
            "logs": {name: size for name, (size, _) in sorted(logs.items())},
            "log_key": str(signer.verifier()),
        }
        gaps = _gap_lines(recorder, logs)
        with open(tmp, "rb") as spool:
            write_bundle(Path(out), manifest, rubrics, spool, checkpoints=checkpoints, gaps=gaps)
    finally:
        if tmp.exists():
            tmp.unlink()
    if progress is not None:
        progress(events, events)
    return manifest


def _gap_lines(recorder: Any, logs: dict[str, tuple[int, list[tuple[int, UUID, int]]]]) -> Iterator[bytes]:
    """The G lines of every log: each leaf whose event is not in the bundle, in leaf order."""
    for name, (_, others) in sorted(logs.items()):
        by_stream: dict[UUID, int] = {}
        for _, stream, version in others:
            by_stream[stream] = max(version, by_stream.get(stream, 0))
        digests: dict[tuple[UUID, int], bytes] = {}
        for stream, last in by_stream.items():
            for stored in recorder.select_events(stream, lte=last):
                digests[(stream, stored.originator_version)] = tlog.digest(stored.topic, stored.state)
        for index, stream, version in others:
            yield gap_line(name, index, stream, version, digests[(stream, version)])


def event_line(stream: UUID, version: int, link_: bytes, topic: bytes, state: bytes,
               leaf: tuple[str, int]) -> bytes:
    """One event as a bundle line (with its line break); ``topic`` as UTF-8 bytes, ``leaf``
    the log and index of its leaf."""
    return b"\t".join((
        b"E", str(stream).encode(), str(version).encode(), leaf[0].encode("utf-8"), str(leaf[1]).encode(),
        link_.hex().encode(), topic, _state_field(state),
    )) + b"\n"


def gap_line(log: str, index: int, stream: UUID, version: int, event_digest: bytes) -> bytes:
    return b"\t".join((b"G", log.encode("utf-8"), str(index).encode(), str(stream).encode(), str(version).encode(),
                       event_digest.hex().encode())) + b"\n"


def checkpoint_line(note: bytes) -> bytes:
    return b"C\t" + base64.b64encode(note) + b"\n"


def manifest_line(manifest: dict[str, Any]) -> bytes:
    """The manifest as its line: RFC 8785 canonical JSON (the ``rfc8785`` package)."""
    return b"M\t" + rfc8785.dumps(manifest) + b"\n"


def write_bundle(out: Path, manifest: dict[str, Any], rubrics: dict[str, str], event_lines: Iterable[bytes], *,
                 checkpoints: dict[str, bytes], gaps: Iterable[bytes] = ()) -> None:
    """Write a bundle: header, ``manifest``, the rubric definitions (hash -> canonical JSON),
    the checkpoints (log -> signed note), the gap lines (from :func:`gap_line`, in log and
    leaf order), the event lines (from :func:`event_line`, grouped by stream in position
    order) and the seal. Written to ``out.part`` and renamed, so ``out`` is never a
    partial file."""
    manifest_bytes = manifest_line(manifest)
    tmp = out.with_name(out.name + ".part")
    seal = hashlib.sha256()
    try:
        with open(tmp, "wb") as f:
            for line in _bundle_lines(manifest_bytes, rubrics, checkpoints, gaps, event_lines):
                seal.update(line)
                f.write(line)
            f.write(f"S\t{hashlib.sha256(manifest_bytes).hexdigest()}\t{seal.hexdigest()}\n".encode())
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def _bundle_lines(manifest_bytes: bytes, rubrics: dict[str, str], checkpoints: dict[str, bytes],
                  gaps: Iterable[bytes], event_lines: Iterable[bytes]) -> Iterator[bytes]:
    yield MAGIC + b"\n"
    yield manifest_bytes
    for content_hash in sorted(rubrics):
        yield b"R\t" + content_hash.encode() + b"\t" + rubrics[content_hash].encode("utf-8") + b"\n"
    for name in sorted(checkpoints):
        yield checkpoint_line(checkpoints[name])
    yield from gaps
    yield from event_lines


# -- checking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    line: int
    what: str  # "header" | "manifest" | "rubric" | "event" | "seal" | "file"
    message: str
    stream: str | None = None
    version: int | None = None
    #: found by comparing totals (manifest, seal) rather than on the line itself
    derived: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "what": self.what, "message": self.message, "stream": self.stream, "version": self.version}

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        event = f" (stream {self.stream} position {self.version})" if self.stream else ""
        return f"{where}{event}: {self.message}"


@dataclass
class BundleReport:
    manifest: dict[str, Any] | None = None
    #: whether installed plugins' code recomputed the decisions that need it
    with_plugins: bool = False
    events: int = 0
    streams: int = 0
    rubrics: int = 0
    problems: list[Problem] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    #: per log: {log, size, root (hex), signed (None: no log key given), held (None: no
    #: checkpoint of this log held; else whether the bundle agrees with it), witnesses}
    logs: list[dict[str, Any]] = field(default_factory=list)
    #: the campaigns derived from the bundle's events
    campaigns: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def verified(self) -> bool:
        return self.intact and all(v["status"] == "confirmed" for v in self.verdicts)


def _order(p: Problem) -> tuple[int, int]:
    """Problems found on a line first, in line order (the first names the changed line);
    then those found by comparing totals: the manifest's, then the seal's."""
    return (1, 0 if p.what == "manifest" else 1) if p.derived else (0, p.line)


class _Placed:
    """The leaves of one log's E lines, compactly (cheap to hand back from a worker):
    leaf indices, their 32-byte hashes end to end, their lines, and the streams."""

    __slots__ = ("indices", "hashes", "lines", "streams")

    def __init__(self) -> None:
        self.indices = array("q")
        self.hashes = bytearray()
        self.lines = array("q")
        self.streams: set[UUID] = set()

    def entries(self) -> Iterator[tuple[int, bytes, int, UUID | None]]:
        hashes = self.hashes
        for k, (index, line) in enumerate(zip(self.indices, self.lines)):
            yield index, bytes(hashes[32 * k:32 * k + 32]), line, None

    def add(self, other: _Placed, base: int = 0) -> None:
        self.indices.extend(other.indices)
        self.hashes += other.hashes
        self.lines.extend(n + base for n in other.lines)
        self.streams |= other.streams


class _Reader:
    """Reads a bundle strictly, collecting located problems instead of raising.

    :meth:`rows` walks the file once by offsets (no copy of the event states) and yields
    each event as a :class:`~core.chain.ChainRow` with its line number; everything else
    (header, manifest, rubrics, seal) is collected on the way.
    """

    def __init__(self, data: bytes, keep: bool = True) -> None:
        self.data = data
        self.keep = keep
        self.problems: list[Problem] = []
        self.rows: list[chain.ChainRow] = []
        self.topics: dict[bytes, str] = {}
        self.rubrics: dict[str, str] = {}
        self.manifest: dict[str, Any] | None = None
        self.manifest_line: bytes | None = None
        self.seal: tuple[int, list[bytes]] | None = None
        self.seal_offset: int | None = None
        self.lines = 0
        #: reading a part of the file whose line numbers start again from 1
        self.relative = False
        #: a part's rubric lines (line, hash, definition), added to the whole when merged
        self.rubric_lines: list[tuple[int, str, str]] = []
        self.expected = 0  # events the manifest announces (for progress)
        #: the format version line 1 names (1 or 2)
        self.format_version = VERSION
        #: log -> [(leaf index, leaf hash, line, stream)] of the E lines and of the G lines
        self.placed: dict[str, _Placed] = {}
        self.gaps: dict[str, list[tuple[int, bytes, int, UUID]]] = {}
        #: (line, note bytes) of each C line
        self.checkpoints: list[tuple[int, bytes]] = []
        #: the streams whose first event creates a campaign
        self.campaign_streams: list[str] = []
        #: the raw log field of E lines -> its list in :attr:`placed` (checked once per log)
        self._placed_by_raw: dict[bytes, _Placed] = {}

    def problem(self, line: int, what: str, message: str, stream: str | None = None, version: int | None = None) -> None:
        self.problems.append(Problem(line, what, message, stream, version))

    def read(self, progress: Callable[[int], None] | None = None) -> None:
        """Read everything (keeping the event rows), without checking chains."""
        for _ in self.rows_of_file(progress):
            pass

    def rows_of_file(self, progress: Callable[[int], None] | None = None, end: int | None = None) -> Iterator[chain.ChainRow]:
        """Every event of the file (or of its lines before offset ``end``, a line start),
        with the header and footer checks of a whole file."""
        data = self.data
        size = len(data)
        if data[-1:] != b"\n":
            lines = bytes(data).count(b"\n") + 1
            self.problem(lines, "file", "the file does not end with a line break: it was cut short or extended")
        first_end = data.find(b"\n")
        header = data[:first_end] if first_end >= 0 else data
        if header == MAGIC_V1:
            self.format_version = 1
        elif header != MAGIC:
            self.problem(1, "header", f"not a Civic Ledger bundle: line 1 must read {MAGIC.decode()!r} "
                                      f"(or {MAGIC_V1.decode()!r})")
        self.lines = 1
        yield from self.rows_of_lines(size if first_end < 0 else first_end + 1, size if end is None else end, progress)
        if end is None:
            self.finish()

    def finish(self) -> None:
        if self.manifest_line is None:
            self.problem(2, "manifest", "the manifest line (M) is missing")
        if self.seal is None:
            self.problems.append(Problem(max(1, self.lines), "seal", "the seal line (S) is missing: the file was cut short", derived=True))

    def rows_of_lines(self, pos: int, stop: int, progress: Callable[[int], None] | None = None) -> Iterator[chain.ChainRow]:
        """The events of the lines from offset ``pos`` to ``stop`` (both line starts), numbered
        on from :attr:`lines`; records, header aside, are checked wherever they are."""
        data = self.data
        view = memoryview(data)
        size = len(data)
        find = data.find
        streams: dict[bytes, UUID] = {}
        topics = self.topics
        keep = self.rows.append if self.keep else None
        v2 = self.format_version == 2
        n = self.lines
        count = 0
        while pos < stop:
            n += 1
            end = find(b"\n", pos)
            if end < 0:
                end = size
            kind = data[pos:pos + 2]
            if kind == b"E\t":
                count += 1
                if progress is not None and not count % 20_000:
                    progress(count)
                t1 = find(b"\t", pos + 2, end)
                t2 = find(b"\t", t1 + 1, end) if t1 >= 0 else -1
                if v2:
                    tl = find(b"\t", t2 + 1, end) if t2 >= 0 else -1
                    ti = find(b"\t", tl + 1, end) if tl >= 0 else -1
                    t3 = find(b"\t", ti + 1, end) if ti >= 0 else -1
                else:
                    tl = ti = t2
                    t3 = find(b"\t", t2 + 1, end) if t2 >= 0 else -1
                t4 = find(b"\t", t3 + 1, end) if t3 >= 0 else -1
                if t4 < 0 or find(b"\t", t4 + 1, end) >= 0:
                    fields = data[pos:end].count(b"\t") + 1
                    self.problem(n, "event", f"an event line has {8 if v2 else 6} fields, this one has {fields}")
                else:
                    row = self._event(n, data[pos + 2:t1], data[t1 + 1:t2], data[ti + 1:t3], data[t3 + 1:t4],
                                      view[t4 + 1:end], streams, topics)
                    if row is not None:
                        if v2 and not self._leaf(n, row, data[t2 + 1:tl], data[tl + 1:ti]):
                            row = None
                    if row is not None:
                        if row.version == 1 and row.topic == CAMPAIGN_TOPIC:
                            self.campaign_streams.append(str(row.stream))
                        if keep is not None:
                            keep(row)
                        yield row
            elif kind == b"G\t":
                self._gap(n, data[pos:end])
            elif kind == b"C\t":
                self._checkpoint(n, data[pos:end])
            elif kind == b"R\t":
                self._rubric(n, data[pos:end])
            elif kind == b"M\t":
                self._manifest(n, data[pos:end])
            elif kind == b"S\t":
                if end + 1 < size:
                    self.problem(n, "seal", "the seal line must be the last line")
                self.seal = (n, data[pos:end].split(b"\t")[1:])
                self.seal_offset = pos
            else:
                self.problem(n, "file", f"unknown record {data[pos:min(end, pos + 12)]!r}: lines start with M, R, C, G, E "
                                        "or S and a TAB")
            pos = end + 1
        self.lines = n
        if progress is not None:
            progress(count)

    def _event(
        self, n: int, raw_stream: bytes, raw_version: bytes, raw_link: bytes, raw_topic: bytes, raw_state: memoryview,
        streams: dict[bytes, UUID], topics: dict[bytes, str],
    ) -> chain.ChainRow | None:
        stream = streams.get(raw_stream)
        if stream is None:
            try:
                stream = UUID(raw_stream.decode("ascii"))
                if str(stream).encode() != raw_stream:
                    raise ValueError("not in canonical form")
            except (UnicodeDecodeError, ValueError) as exc:
                self.problem(n, "event", f"stream id {raw_stream[:40]!r} is not a lower-case UUID ({exc})")
                return None
            streams[raw_stream] = stream
        if not (raw_version.isdigit() and raw_version[:1] != b"0" and len(raw_version) <= 18):
            self.problem(n, "event", f"position {raw_version[:20]!r} is not a whole number >= 1 without leading zeros", str(stream))
            return None
        version = int(raw_version)
        if len(raw_link) != 64 or not HEX64.match(raw_link):
            self.problem(n, "event", f"link {raw_link[:70]!r} is not 64 lower-case hexadecimal digits", str(stream), version)
            return None
        if raw_topic not in topics:
            try:
                topics[raw_topic] = raw_topic.decode("utf-8")
            except UnicodeDecodeError:
                self.problem(n, "event", "the topic is not UTF-8 text", str(stream), version)
                return None
        state: bytes | memoryview = raw_state
        if raw_state[:4] == b"b64:":
            try:
                state = base64.b64decode(raw_state[4:], validate=True)
                if base64.b64encode(state) != raw_state[4:]:
                    raise binascii.Error("not in canonical form")
            except binascii.Error as exc:
                self.problem(n, "event", f"the state is not valid base64 ({exc})", str(stream), version)
                return None
        return chain.ChainRow(stream, version, raw_topic, state, binascii.unhexlify(raw_link), n)

    def _log_field(self, n: int, raw_log: bytes, raw_leaf: bytes, stream: str | None = None,
                   version: int | None = None) -> tuple[str, int] | None:
        try:
            log = raw_log.decode("utf-8")
        except UnicodeDecodeError:
            log = ""
        if not log or not LOG_NAME.match(log):
            self.problem(n, "event" if stream else "gap", f"log {raw_log[:40]!r} is not a log name (a tenant code, or '*')", stream, version)
            return None
        if not (raw_leaf.isdigit() and (raw_leaf == b"0" or raw_leaf[:1] != b"0") and len(raw_leaf) <= 18):
            self.problem(n, "event" if stream else "gap", f"leaf index {raw_leaf[:20]!r} is not a whole number >= 0 "
                         "without leading zeros", stream, version)
            return None
        return log, int(raw_leaf)

    def _leaf(self, n: int, row: chain.ChainRow, raw_log: bytes, raw_leaf: bytes) -> bool:
        """Place an event's leaf in its log; False (and a problem) if the fields are wrong.
        The same leaf hash as :func:`core.tlog.leaf`, computed inline (once per event)."""
        placed = self._placed_by_raw.get(raw_log)
        if placed is None or not (raw_leaf.isdigit() and (raw_leaf[:1] != b"0" or raw_leaf == b"0") and len(raw_leaf) <= 18):
            where = self._log_field(n, raw_log, raw_leaf, str(row.stream), row.version)
            if where is None:
                return False
            placed = self._placed_by_raw[raw_log] = self.placed.setdefault(where[0], _Placed())
        h = _sha256(row.topic)
        h.update(b"\x00")
        h.update(row.state)
        placed.hashes += _sha256(b"\x00" + row.stream.bytes + row.version.to_bytes(8, "big") + h.digest()).digest()
        placed.indices.append(int(raw_leaf))
        placed.lines.append(n)
        placed.streams.add(row.stream)
        return True

    def _gap(self, n: int, line: bytes) -> None:
        if self.format_version != 2:
            self.problem(n, "gap", "a gap line (G) belongs to format 2 only")
            return
        parts = line.split(b"\t")
        if len(parts) != 6:
            self.problem(n, "gap", f"a gap line is G, log, leaf, stream, version, digest: 6 fields, this one has {len(parts)}")
            return
        _, raw_log, raw_leaf, raw_stream, raw_version, raw_digest = parts
        try:
            stream = UUID(raw_stream.decode("ascii"))
            if str(stream).encode() != raw_stream:
                raise ValueError("not in canonical form")
        except (UnicodeDecodeError, ValueError) as exc:
            self.problem(n, "gap", f"stream id {raw_stream[:40]!r} is not a lower-case UUID ({exc})")
            return
        if not POSITION.match(raw_version):
            self.problem(n, "gap", f"position {raw_version[:20]!r} is not a whole number >= 1 without leading zeros", str(stream))
            return
        version = int(raw_version)
        if not HEX64.match(raw_digest):
            self.problem(n, "gap", f"digest {raw_digest[:70]!r} is not 64 lower-case hexadecimal digits", str(stream), version)
            return
        where = self._log_field(n, raw_log, raw_leaf)
        if where is None:
            return
        log, index = where
        leaf = merkle.leaf_hash(tlog.entry_of(stream, version, binascii.unhexlify(raw_digest)))
        self.gaps.setdefault(log, []).append((index, leaf, n, stream))

    def _checkpoint(self, n: int, line: bytes) -> None:
        if self.format_version != 2:
            self.problem(n, "checkpoint", "a checkpoint line (C) belongs to format 2 only")
            return
        encoded = line[2:]
        try:
            note = base64.b64decode(encoded, validate=True)
            if base64.b64encode(note) != encoded:
                raise binascii.Error("not in canonical form")
        except binascii.Error as exc:
            self.problem(n, "checkpoint", f"a checkpoint line is C, TAB, the note in base64 ({exc})")
            return
        self.checkpoints.append((n, note))

    def _manifest(self, n: int, line: bytes) -> None:
        if n != 2 or self.relative or self.manifest_line is not None:
            self.problem(n, "manifest", "a manifest line belongs on line 2 only")
            return
        self.manifest_line = line + b"\n"
        try:
            manifest = json.loads(line[2:].decode("utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ValueError(f"format is not {FORMAT!r}")
            self.manifest = manifest
            if isinstance(manifest.get("events"), int):
                self.expected = manifest["events"]
        except (UnicodeDecodeError, ValueError) as exc:
            self.problem(n, "manifest", f"the manifest cannot be read: {exc}")

    def _rubric(self, n: int, line: bytes) -> None:
        parts = line.split(b"\t", 2)
        if len(parts) != 3 or not RUBRIC_HASH.match(parts[1]):
            self.problem(n, "rubric", "a rubric line is R, TAB, sha256:<64 hex>, TAB, the definition")
            return
        named = parts[1].decode()
        actual = "sha256:" + hashlib.sha256(parts[2]).hexdigest()
        if actual != named:
            self.problem(n, "rubric", f"the rubric definition does not match its hash {named} (it hashes to {actual})")
            return
        try:
            text = parts[2].decode("utf-8")
        except UnicodeDecodeError:
            self.problem(n, "rubric", "the rubric definition is not UTF-8 text")
            return
        if self.relative:  # whether it comes twice is judged when the parts are merged
            self.rubric_lines.append((n, named, text))
        else:
            self.add_rubric(n, named, text)

    def add_rubric(self, n: int, named: str, text: str) -> None:
        if named in self.rubrics:
            self.problem(n, "rubric", f"rubric version {named} appears twice")
        self.rubrics[named] = text


def _seal_digest(data: bytes, end: int, result: dict[str, str]) -> None:
    result["digest"] = hashlib.sha256(memoryview(data)[:end]).hexdigest()


def verify_bundle(
    path: Path,
    *,
    decisions: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int | None = None,
    with_plugins: bool = False,
    held: Sequence[bytes] = (),
    log_key: str | None = None,
    witnesses: Sequence[str] = (),
    require: int | None = None,
) -> BundleReport:
    """Check a bundle with nothing but the file (and what the auditor holds): its structure and seal, every event's link,
    the rubric hashes, the manifest's heads and counts, and (``decisions``) every recorded
    decision whose style is built into the core, recomputed from the bundled events and
    rubric data. Decisions made with a style or aggregation only a plugin supplies are
    reported one by one as ``needs_plugin``, never as confirmed; ``with_plugins`` (opt in)
    recomputes them with the installed plugins' code instead, and each such verdict says so
    (``recomputed_with``). Decisions are recomputed by ``workers`` processes (default: one
    per available processor, where processes can be forked).

    Against what the auditor holds: ``held`` checkpoints (notes obtained independently,
    e.g. from a 公示), checked with the log's verifier key ``log_key`` and, with
    ``witnesses``, cosigned by at least ``require`` of them (default: all). The bundle's
    own checkpoints are checked with ``log_key`` too when it is given. A held checkpoint
    of a log up to the bundle's size must have the root the bundle's leaves give at its
    size; one beyond the bundle's size cannot be compared and is a problem."""
    keys = _held_keys(held, log_key, witnesses, require)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            # mapped, not read: a bundle of a million events is gigabytes
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    except OSError as exc:
        raise InvalidInput("bundle", str(path), f"a readable bundle file ({exc.strerror})") from None
    try:
        return _verify(data, decisions, progress, workers, with_plugins, keys)
    finally:
        if isinstance(data, mmap.mmap):
            try:
                data.close()
            except BufferError:  # a view still alive after an error: unmapped when collected
                pass


def _verify(
    data: Any, decisions: bool, progress: Callable[[str, int, int], None] | None, workers: int | None = None,
    with_plugins: bool = False, keys: _HeldKeys | None = None,
) -> BundleReport:
    report = BundleReport(with_plugins=with_plugins)
    reader = _Reader(data, keep=decisions)
    seal_at = data.rfind(b"\nS\t")
    seal_end = seal_at + 1 if seal_at >= 0 else len(data)
    # Without decisions nothing needs the rows afterwards, so the events can be shared out
    # to forked workers, each checking whole streams; with decisions this process reads
    # every row (the replay needs them) and the recomputation is what is shared out.
    parts = _workers(workers if workers is not None else len(data))
    cuts = _cuts(data, parts) if not decisions and len(data) > PARALLEL_CHECK_BYTES else []
    # the workers are forked on the first submission, before the hashing thread starts
    pool = _forked_workers(len(cuts), data) if cuts else None
    chain_progress = None if progress is None else lambda n: progress("chain", min(n, reader.expected), reader.expected)
    try:
        pending = [] if pool is None else [
            pool.submit(_check_lines, start, stop) for start, stop in zip(cuts, [*cuts[1:], len(data)])
        ]
        # the seal digest runs beside the parsing (hashlib releases the GIL on large buffers)
        sealed: dict[str, str] = {}
        hasher = threading.Thread(target=_seal_digest, args=(data, seal_end, sealed))
        hasher.start()
        checked = None
        if cuts:
            share = len(data) / cuts[0]  # this process's part, for the progress shown
            checked = _check_parts(reader, cuts[0], pending, None if chain_progress is None else lambda n: chain_progress(int(n * share)))
        if checked is None:
            if cuts:  # a stream runs on across a cut (lines that are not events in between): check it as one
                reader = _Reader(data, keep=decisions)
            checked = _check_rows(reader.rows_of_file(chain_progress))
        hasher.join()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    report.events, report.streams, report.rubrics = checked.events, checked.streams, len(reader.rubrics)
    report.manifest = reader.manifest
    problems = reader.problems
    for b in checked.breaks:
        problems.append(Problem(int(b.where) if b.where else 0, "event", f"{b.explanation}{': ' + b.detail if b.detail else ''}", b.stream, b.version))
    manifest = reader.manifest
    report.campaigns = sorted(set(reader.campaign_streams))
    if reader.format_version == 2:
        report.logs = _check_logs(reader, problems, keys or _HeldKeys())
    elif keys is not None and keys.held:
        problems.append(Problem(1, "header", "a bundle of format 1 carries no checkpoint: it cannot be checked against "
                                             "the checkpoint you hold; export it again", derived=True))
    if manifest is not None:
        _compare_manifest(manifest, checked, reader, problems, report.campaigns, report.logs)
    if reader.seal is not None:
        n, fields = reader.seal
        if len(fields) != 2 or not all(HEX64.match(x) for x in fields):
            problems.append(Problem(n, "seal", "the seal line is S, TAB, 64 hex, TAB, 64 hex"))
        else:
            prefix_ok = fields[1].decode() == sealed.get("digest") and reader.seal_offset == seal_end
            manifest_ok = reader.manifest_line is not None and fields[0].decode() == hashlib.sha256(reader.manifest_line).hexdigest()
            if prefix_ok and not manifest_ok:
                # every byte before the seal line is as sealed: the seal line itself changed
                problems.append(Problem(n, "seal", "the manifest hash in the seal line was changed"))
            if not prefix_ok:
                if not manifest_ok:
                    problems.append(Problem(2, "manifest", "the manifest does not match the hash in the seal line", derived=True))
                problems.append(Problem(n, "seal", "the file's bytes do not match its seal (something before the seal line changed, or the seal did)", derived=True))
    if decisions and reader.rows:
        _check_meaning(reader, problems)
    problems.sort(key=_order)
    report.problems = problems
    if decisions and manifest is not None:
        # the campaigns the events hold, never the manifest's list
        campaigns = report.campaigns if reader.format_version == 2 else [str(c) for c in manifest.get("campaigns") or []]
        if problems:
            # an altered bundle proves nothing about decisions: say so instead of replaying it
            report.verdicts = [_unverified(c, "the bundle is not intact (see its problems): decisions not recomputed") for c in campaigns]
        else:
            unknown = sorted(t for t in reader.topics.values() if t not in KNOWN_TOPICS)
            if unknown:
                note = f"events of unknown types {unknown[:3]}: only the platform's own event types are replayed"
                report.verdicts = [_unverified(c, note) for c in campaigns]
            else:
                report.verdicts = _recompute(reader, campaigns, progress, workers, with_plugins)
    reader.rows.clear()  # the rows hold views of the mapped file
    return report


#: below this size a bundle is checked in one process (forking costs more than it saves)
PARALLEL_CHECK_BYTES = 64 * 1024 * 1024

#: in a forked worker: what its parent handed over (the mapped bundle, or what the
#: decisions are recomputed from); never set in the parent
_FORKED: Any = None


def _forked_workers(workers: int, work: Any) -> ProcessPoolExecutor:
    """``workers`` processes forked with ``work`` (handed over by the fork, never pickled).
    A worker that dies breaks the pool (BrokenProcessPool) instead of leaving a wait."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_received, initargs=(work,))


def _received(work: Any) -> None:
    global _FORKED
    _FORKED = work


def _cuts(data: Any, parts: int, scan: int = 100_000) -> list[int]:
    """Line starts at which a bundle's events can be shared out to ``parts`` - 1 other
    processes: each the first line of a stream, right after an event line of another
    stream (so no chain is split), near equal fractions of the file. Empty when there are
    no such places within ``scan`` lines of those fractions."""
    cuts: list[int] = []
    size = len(data)
    for k in range(1, parts):
        at = data.find(b"\nE\t", max(size * k // parts, cuts[-1] if cuts else 0)) + 1
        for _ in range(scan):
            if at <= 0:
                break
            nxt = data.find(b"\n", at) + 1
            if nxt <= 0 or data[nxt:nxt + 2] != b"E\t":
                at = data.find(b"\nE\t", at) + 1
                continue
            if data[at + 2:at + 39] != data[nxt + 2:nxt + 39]:
                cuts.append(nxt)
                break
            at = nxt
    return cuts if len(cuts) == parts - 1 else []


def _check_rows(rows: Iterable[chain.ChainRow]) -> chain.ChainReport:
    collecting = gc.isenabled()
    gc.disable()  # millions of small objects, none of them cyclic: no collector passes
    try:
        return chain.check(rows)
    finally:
        if collecting:
            gc.enable()


def _tracked(rows: Iterable[chain.ChainRow], ends: list[UUID | None]) -> Iterator[chain.ChainRow]:
    """``rows``, noting the stream of the first and of the last in ``ends``."""
    for row in rows:
        if ends[0] is None:
            ends[0] = row.stream
        ends[1] = row.stream
        yield row


def _check_parts(
    reader: _Reader, cut: int, pending: list[Any], progress: Callable[[int], None] | None,
) -> chain.ChainReport | None:
    """Check the lines before ``cut`` here and merge the workers' parts after them; None
    when a stream runs on across a cut, which only one process can judge (the chain's
    state carries over from one part to the next)."""
    ends: list[UUID | None] = [None, None]
    checked = _check_rows(_tracked(reader.rows_of_file(progress, end=cut), ends))
    last = ends[1]
    try:
        parts = [result.result() for result in pending]
    except BrokenProcessPool:  # a worker died (out of memory, say): check it all here
        return None
    for part in parts:
        first, part_last = part[-1]
        if last is not None and first is not None and first == last:
            return None
        last = part_last if part_last is not None else last
    for part in parts:
        _merge(reader, checked, *part[:-1])
    reader.finish()
    return checked


def _check_lines(start: int, stop: int) -> tuple[Any, ...]:
    """In a forked worker: read and check the lines from ``start`` to ``stop``, numbered
    from 1 (the parent renumbers them)."""
    reader = _Reader(_FORKED, keep=False)
    reader.lines = 0
    reader.relative = True
    if _FORKED[:len(MAGIC_V1) + 1] == MAGIC_V1 + b"\n":
        reader.format_version = 1
    ends: list[UUID | None] = [None, None]
    checked = _check_rows(_tracked(reader.rows_of_lines(start, stop), ends))
    return (checked, reader.problems, reader.topics, reader.rubric_lines, reader.seal, reader.seal_offset, reader.lines,
            (reader.placed, reader.gaps, reader.checkpoints, reader.campaign_streams), tuple(ends))


def _merge(
    reader: _Reader, checked: chain.ChainReport, part: chain.ChainReport, problems: list[Problem],
    topics: dict[bytes, str], rubric_lines: list[tuple[int, str, str]], seal: tuple[int, list[bytes]] | None,
    seal_offset: int | None, lines: int, logged: tuple[Any, ...] = ({}, {}, [], []),
) -> None:
    """Add a worker's findings on the lines after ``reader.lines`` to the reader's and
    ``checked`` (in file order: its streams follow those already checked)."""
    base = reader.lines
    reader.problems.extend(dataclasses.replace(p, line=p.line + base) for p in problems)
    reader.topics.update(topics)
    for n, named, text in rubric_lines:
        reader.add_rubric(base + n, named, text)
    if seal is not None:
        reader.seal, reader.seal_offset = (seal[0] + base, seal[1]), seal_offset
    reader.lines = base + lines
    placed, gaps, checkpoints, campaign_streams = logged
    for log, leaves in placed.items():
        reader.placed.setdefault(log, _Placed()).add(leaves, base)
    for log, entries in gaps.items():
        reader.gaps.setdefault(log, []).extend((i, leaf, n + base, stream) for i, leaf, n, stream in entries)
    reader.checkpoints.extend((n + base, note) for n, note in checkpoints)
    reader.campaign_streams.extend(campaign_streams)
    checked.streams += part.streams
    checked.events += part.events
    checked.heads.update(part.heads)
    checked.first_topics.update(part.first_topics)
    checked.breaks.extend(dataclasses.replace(b, where=str(int(b.where) + base)) for b in part.breaks)


def _unverified(campaign_id: str, why: str) -> dict[str, Any]:
    return {"campaign_id": campaign_id, "candidacy_id": None, "community": None, "level": None,
            "status": "unverifiable", "differences": [why]}


def _known_topics() -> frozenset[str]:
    """The topics of the platform's own events: the only ones an offline check replays (a
    bundle naming any other module is never made to import it)."""
    from eventsourcing.domain import DomainEvent

    from core import domain

    found = set()
    for name in domain.__all__:
        aggregate = getattr(domain, name)
        for value in vars(aggregate).values():
            if isinstance(value, type) and issubclass(value, DomainEvent):
                found.add(get_topic(value))
    return frozenset(found)


KNOWN_TOPICS = _known_topics()


def _compare_manifest(manifest: dict[str, Any], checked: chain.ChainReport, reader: _Reader, problems: list[Problem],
                      campaigns: list[str] | None = None, logs_checked: list[dict[str, Any]] = ()) -> None:
    if reader.format_version == 2:
        if reader.manifest_line is not None and reader.manifest_line != manifest_line(manifest):
            problems.append(Problem(2, "manifest", "the manifest is not in RFC 8785 canonical form", derived=True))
        if manifest.get("version") != 2:
            problems.append(Problem(2, "manifest", f"version: manifest says {manifest.get('version')!r}, line 1 says 2", derived=True))
        logs = {log["log"]: log["size"] for log in logs_checked}
        if manifest.get("logs") != logs:
            problems.append(Problem(2, "manifest", f"logs: manifest says {manifest.get('logs')!r}, the checkpoints give {logs!r}", derived=True))
        if campaigns is not None and sorted(str(c) for c in manifest.get("campaigns") or []) != campaigns:
            problems.append(Problem(2, "manifest", f"campaigns: manifest says {manifest.get('campaigns')!r}, the events hold "
                                                   f"{campaigns!r}", derived=True))
    else:
        heads = manifest.get("heads")
        if not isinstance(heads, dict):
            problems.append(Problem(2, "manifest", "the manifest has no 'heads'", derived=True))
            return
        computed = {s: [v, h] for s, (v, h) in checked.heads.items()}
        for stream in sorted(set(heads) | set(computed)) if heads != computed else ():
            if heads.get(stream) != computed.get(stream):
                problems.append(Problem(
                    2, "manifest", f"chain head of stream {stream}: manifest says {heads.get(stream)}, the events give {computed.get(stream)}",
                    stream, derived=True,
                ))
        if manifest.get("root") != checked.root:
            problems.append(Problem(2, "manifest", f"root: manifest says {manifest.get('root')!r}, the events give {checked.root!r}", derived=True))
    for key, actual in (("events", checked.events), ("streams", checked.streams)):
        if manifest.get(key) != actual:
            problems.append(Problem(2, "manifest", f"{key}: manifest says {manifest.get(key)!r}, the events give {actual!r}", derived=True))
    if manifest.get("rubrics") != sorted(reader.rubrics):
        problems.append(Problem(2, "manifest", f"rubrics: manifest says {manifest.get('rubrics')}, the file holds {sorted(reader.rubrics)}", derived=True))


def _check_meaning(reader: _Reader, problems: list[Problem]) -> None:
    """The cross-stream facts (:mod:`core.meaning`): every problem on the line of the event
    it was found on."""
    from core import meaning

    lines: dict[tuple[str, int], int] = {}
    decoded = []
    for row in reader.rows:
        try:
            state = json.loads(bytes(row.state))
        except ValueError:
            continue  # an unreadable state is a problem of its own line already
        lines[(str(row.stream), row.version)] = int(row.where) if row.where else 0
        decoded.append((row.stream, row.version, reader.topics.get(row.topic, row.topic.decode("utf-8", "replace")), state))
    found = meaning.check(decoded)
    for p in found.problems:
        line = lines.get((str(p.stream), p.version or 1), 0)
        problems.append(Problem(line, "meaning", p.message, str(p.stream), p.version, derived=not line))


# -- the logs: checkpoints, leaves and what the auditor holds ---------------------------------


@dataclass
class _HeldKeys:
    held: list[tuple[notes.Checkpoint, bytes]] = field(default_factory=list)
    log_key: notes.VerifierKey | None = None
    witnesses: list[notes.VerifierKey] = field(default_factory=list)
    require: int = 0


def _held_keys(held: Sequence[bytes], log_key: str | None, witnesses: Sequence[str], require: int | None) -> _HeldKeys | None:
    """What the auditor holds, checked before the bundle is read: bad input is refused
    (InvalidInput) with nothing checked."""
    if not held and not log_key and not witnesses:
        return None
    keys = _HeldKeys()
    if log_key:
        try:
            keys.log_key = notes.parse_verifier_key(log_key.strip())
        except ValueError as exc:
            raise InvalidInput("--log-key", log_key[:80], f"the log's verifier key, as `civic audit log-key` prints it ({exc})") from None
    elif held:
        raise InvalidInput("--log-key", "", "the log's verifier key (published with the notices): a checkpoint is "
                                            "checked against the key that signed it")
    for text in witnesses:
        try:
            keys.witnesses.append(notes.parse_verifier_key(text.strip()))
        except ValueError as exc:
            raise InvalidInput("--witness", text[:80], f"a witness's verifier key ({exc})") from None
    if witnesses and not held:
        raise InvalidInput("--witness", witnesses[0][:80], "witnesses with --checkpoint: cosignatures are checked on the "
                                                          "checkpoint you hold")
    keys.require = len(keys.witnesses) if require is None else require
    if keys.witnesses and not 1 <= keys.require <= len(keys.witnesses):
        raise InvalidInput("--require", str(require), f"a number from 1 to {len(keys.witnesses)} (the witnesses named)")
    if require is not None and not keys.witnesses:
        raise InvalidInput("--require", str(require), "--require with --witness")
    for note in held:
        try:
            opened = notes.open_checkpoint(note, keys.log_key, witnesses=keys.witnesses, k=keys.require)
        except notes.NotEnoughCosignatures as exc:
            raise InvalidInput("--checkpoint", note[:60].decode("utf-8", "replace"), f"a checkpoint cosigned as required ({exc})") from None
        except (notes.NoteError, ValueError) as exc:
            raise InvalidInput("--checkpoint", note[:60].decode("utf-8", "replace"),
                               f"a checkpoint note signed by {keys.log_key.name} ({exc})") from None
        keys.held.append((opened.checkpoint, note))
    return keys


def _check_logs(reader: _Reader, problems: list[Problem], keys: _HeldKeys) -> list[dict[str, Any]]:
    """Rebuild each log's tree from the bundle's leaves and compare its root with the
    bundle's checkpoint and with any checkpoint the auditor holds (see
    docs/bundle-format.md, "Checking")."""
    found: dict[str, tuple[int, bytes, int, bytes]] = {}
    # the key the bundle names: checked against the auditor's key where one is given
    named = (reader.manifest or {}).get("log_key")
    signer: notes.VerifierKey | None = None
    try:
        signer = notes.parse_verifier_key(named) if isinstance(named, str) else None
    except ValueError:
        signer = None
    if signer is None and reader.manifest is not None:
        problems.append(Problem(2, "manifest", f"log_key: {str(named)[:80]!r} is not a verifier key", derived=True))
    if keys.log_key is not None and signer is not None and signer != keys.log_key:
        problems.append(Problem(2, "manifest", f"log_key: the bundle names {signer}, not the log key you hold "
                                               f"({keys.log_key}): its checkpoints are not that log's", derived=True))
    if keys.log_key is not None:
        signer = keys.log_key
    for n, note in reader.checkpoints:
        try:
            parsed = notes.parse_note(note)
            cp = notes.Checkpoint.parse(parsed.text)
        except (notes.NoteError, ValueError) as exc:
            problems.append(Problem(n, "checkpoint", f"the checkpoint note cannot be read: {exc}"))
            continue
        log = cp.origin.rpartition("/")[2]
        if log in found:
            problems.append(Problem(n, "checkpoint", f"a second checkpoint of log {log!r}: one per log"))
            continue
        if signer is not None:
            try:
                notes.open_checkpoint(note, signer)
            except (notes.NoteError, ValueError) as exc:
                problems.append(Problem(n, "checkpoint", f"the checkpoint of log {log!r} is not signed by {signer.name} ({exc})"))
        found[log] = (cp.size, cp.root, n, note)
    bundled: set[UUID] = set()
    for placed in reader.placed.values():
        bundled |= placed.streams
    out = []
    for log in sorted(set(reader.placed) | set(reader.gaps) | set(found)):
        placed = reader.placed.get(log, _Placed())
        if log not in found:
            first = min([*placed.lines, *(n for _, _, n, _ in reader.gaps.get(log, []))])
            problems.append(Problem(first, "checkpoint", f"leaves of log {log!r} but no checkpoint of it"))
            continue
        size, root, cp_line, note = found[log]
        leaves: list[bytes | None]
        if len(placed.indices) == size and not reader.gaps.get(log) and placed.indices == array("q", range(size)):
            # every leaf an event, in leaf order: the usual whole-log bundle
            hashes = bytes(placed.hashes)
            leaves = [hashes[k:k + 32] for k in range(0, 32 * size, 32)]
        else:
            leaves = [None] * size
            lines_of: dict[int, tuple[str, int, UUID | None]] = {}
            for kind, entries in (("event", placed.entries()), ("gap", reader.gaps.get(log, []))):
                for index, leaf, n, stream in entries:
                    where = str(stream) if stream is not None else None
                    if index >= size:
                        problems.append(Problem(n, kind, f"leaf {index} of log {log!r} is beyond its checkpoint's size {size}", where))
                    elif leaves[index] is not None:
                        k, other, other_stream = lines_of[index]
                        for at, what, s_ in ((other, k, other_stream), (n, kind, stream)):
                            problems.append(Problem(at, what, f"leaf {index} of log {log!r} comes twice (lines {other} and {n})",
                                                    str(s_) if s_ is not None else None))
                    else:
                        leaves[index] = leaf
                        lines_of[index] = (kind, n, stream)
                    if kind == "gap" and stream in bundled:
                        problems.append(Problem(n, "gap", f"an event of stream {stream}, which the bundle holds, is left out as "
                                                          "a gap: a stream's events up to the checkpoint are all in the bundle", where))
        missing = [i for i, leaf in enumerate(leaves) if leaf is None]
        if missing:
            problems.append(Problem(cp_line, "checkpoint", f"log {log!r}: {len(missing)} of its {size} leaves are not in the bundle "
                                                           f"(first: leaf {missing[0]}): events were removed", derived=True))
            computed = None
        else:
            computed = merkle.root(leaves)  # type: ignore[arg-type]
            if computed != root:
                problems.append(Problem(cp_line, "checkpoint", f"log {log!r}: the bundle's leaves give another root than its "
                                                               f"checkpoint of {size} leaves: the events are not those signed", derived=True))
        entry: dict[str, Any] = {"log": log, "size": size, "root": base64.b64encode(root).decode(),
                                 "signed": not any(p.line == cp_line and p.what == "checkpoint" and "not signed" in p.message
                                                   for p in problems) if signer is not None else None,
                                 "held": None, "witnesses": []}
        for cp, held_note in keys.held:
            if cp.origin.rpartition("/")[2] != log:
                continue
            if cp.size > size:
                problems.append(Problem(cp_line, "checkpoint", f"log {log!r}: the checkpoint you hold has {cp.size} leaves, the bundle "
                                                               f"{size}: the bundle is older and cannot be compared with it; "
                                                               "export it again", derived=True))
                entry["held"] = False
                continue
            agrees = computed is not None and (merkle.root(leaves[:cp.size]) == cp.root)  # type: ignore[arg-type]
            if not agrees:
                problems.append(Problem(cp_line, "checkpoint", f"log {log!r}: the bundle does not agree with the checkpoint you hold "
                                                               f"({cp.size} leaves): history was rewritten", derived=True))
            entry["held"] = agrees
            entry["held_size"] = cp.size
            entry["witnesses"] = [c.witness.name for c in notes.verify_cosignatures(held_note, keys.witnesses)] if keys.witnesses else []
        out.append(entry)
    for cp, _ in keys.held:
        if cp.origin.rpartition("/")[2] not in found:
            problems.append(Problem(1, "checkpoint", f"the bundle holds no log {cp.origin!r}: the checkpoint you hold is of another "
                                                     "log", derived=True))
    return out


def _recompute(
    reader: _Reader, campaigns: list[str], progress: Callable[[str, int, int], None] | None, workers: int | None = None,
    with_plugins: bool = False,
) -> list[dict[str, Any]]:
    """Replay the bundled events into an in-memory ledger with no plugin (``with_plugins``:
    with the installed ones) and recompute.

    Campaigns are independent, so with several processors (and ``fork``, which hands the
    loaded ledger to the workers without copying it) they are recomputed by that many
    worker processes; the verdicts come back in the campaigns' order either way.
    """
    from core.plugins import PluginHost
    from core.services import CivicLedger

    # the core's built-in styles and aggregations, nothing installed, unless asked for
    host = PluginHost.discover() if with_plugins else PluginHost()
    ledger = CivicLedger("memory://", plugins=host)
    try:
        try:
            ledger.recorder.insert_checked(reader.rows, reader.topics)
        except Exception as exc:
            return [_unverified(c, f"the bundled events cannot be replayed ({type(exc).__name__}: {exc})") for c in campaigns]
        core = set(PluginHost().styles()), set(PluginHost().provided_by("core")["aggregations"])
        work = (ledger, core, reader.rubrics)
        chunks = [campaigns[i:i + CAMPAIGNS_PER_TASK] for i in range(0, len(campaigns), CAMPAIGNS_PER_TASK)]
        workers = _workers(len(chunks)) if workers is None else min(workers, len(chunks))
        verdicts: list[dict[str, Any]] = []
        done = 0
        try:
            for chunk, found in zip(chunks, _map_chunks(work, chunks, workers)):
                verdicts.extend(found)
                done += len(chunk)
                if progress is not None:
                    progress("decisions", done, len(campaigns))
        except BrokenProcessPool:  # a worker died (out of memory, say): say so for what is left
            note = "a worker process stopped before recomputing this campaign; recompute it in one process (workers=1)"
            verdicts.extend(_unverified(c, note) for c in campaigns[done:])
        return verdicts
    finally:
        ledger.close()


#: campaigns handed to a worker at a time: large enough that sending the verdicts back
#: costs little beside recomputing them, small enough to keep both processors busy
CAMPAIGNS_PER_TASK = 16

def _workers(tasks: int) -> int:
    if tasks < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, tasks))


def _map_chunks(work: tuple[Any, tuple[set[str], set[str]], dict[str, str]], chunks: list[list[str]], workers: int) -> Iterator[list[dict[str, Any]]]:
    if workers <= 1:
        for chunk in chunks:
            yield _chunk_verdicts(chunk, work)
        return
    with _forked_workers(workers, work) as pool:
        yield from pool.map(_chunk_verdicts, chunks)


def _chunk_verdicts(chunk: list[str], work: tuple[Any, tuple[set[str], set[str]], dict[str, str]] | None = None) -> list[dict[str, Any]]:
    ledger, built_in, rubrics = work if work is not None else _FORKED
    verdicts: list[dict[str, Any]] = []
    for campaign_id in chunk:
        try:
            verdicts.extend(_campaign_verdicts(ledger, campaign_id, built_in, rubrics))
        except Exception as exc:  # a sealed, linked bundle whose events still do not replay
            verdicts.append(_unverified(campaign_id, f"the bundled events of this campaign cannot be replayed ({type(exc).__name__}: {exc})"))
    return verdicts


def _campaign_verdicts(
    ledger: Any, campaign_id: str, core: tuple[set[str], set[str]], rubrics: dict[str, str]
) -> list[dict[str, Any]]:
    """The verdicts of one campaign's decisions. A decision whose style or aggregation is
    not the core's needs that plugin's code: without it installed (and asked for) it is
    reported ``needs_plugin`` on its own row; recomputed with it, its verdict names the
    plugin (``recomputed_with``)."""
    from core.errors import CivicError
    from core.rubric import Rubric

    try:
        recorded = ledger.recorded_decisions(OFFLINE_AUDITOR, campaign_id)
    except CivicError as exc:
        return [_unverified(campaign_id, f"the campaign cannot be read from the bundle: {exc}")]
    campaign, decided = recorded
    if not decided:
        return []
    core_styles, core_aggregations = core
    host = ledger.plugins
    plugin_code: dict[str, list[str]] = {}  # candidacy -> what of a plugin's its decision needs
    for cid, (decision, _) in decided.items():
        needs = []
        style = decision["derivation"]["style"]["name"]
        if style not in core_styles:
            needs.append(f"decision style {style}")
        text = rubrics.get(decision["derivation"]["rubric"]["hash"])
        if text is not None:
            try:
                aggregation = Rubric.model_validate_json(text).aggregation_name
            except ValueError:
                aggregation = None
            if aggregation is not None and aggregation not in core_aggregations:
                needs.append(f"aggregation {aggregation}")
        if needs:
            plugin_code[cid] = needs
    installed = {**host.styles(), **{name: None for name in _installed_aggregations(host)}}
    missing = {cid: needs for cid, needs in plugin_code.items()
               if any(need.split(" ")[-1] not in installed for need in needs)}
    if missing:
        return [{
            "campaign_id": campaign_id, "candidacy_id": cid, "community": ledger.community(OFFLINE_AUDITOR, c.community_id).name,
            "level": c.level, "status": "needs_plugin",
            "differences": [f"{' and '.join(plugin_code.get(cid) or next(iter(missing.values())))} supplied by a plugin: only that "
                            "plugin's code can recompute this decision (需插件代码复核); install it and verify with --with-plugins"],
        } for cid, (_, c) in decided.items()]
    named = {d["derivation"]["rubric"]["hash"] for d, _ in decided.values()} | {campaign.rubric["hash"]}
    absent = sorted(h for h in named if h not in rubrics)
    out = [{"campaign_id": campaign_id, **v.__dict__} for v in ledger.verify_decisions(OFFLINE_AUDITOR, campaign_id, recorded)]
    for v in out:
        needs = plugin_code.get(v["candidacy_id"])
        if needs:
            v["recomputed_with"] = [f"{need} of plugin {_provider(host, need)}" for need in needs]
    if absent:
        for v in out:
            if v["status"] == "confirmed":
                v["status"] = "unverifiable"
                v["differences"] = [f"rubric version(s) {', '.join(absent)} are not among the bundle's rubric lines"]
    return out


def _installed_aggregations(host: Any) -> list[str]:
    return [name for plugin in host.plugins for name in host.provided_by(plugin)["aggregations"]]


def _provider(host: Any, need: str) -> str:
    kind, name = need.rsplit(" ", 1)
    key = "styles" if kind == "decision style" else "aggregations"
    for plugin, info in host.plugins.items():
        if name in host.provided_by(plugin)[key]:
            return f"{plugin} {info.version}" if info.version not in ("", "?") else plugin
    return "?"