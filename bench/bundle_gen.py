"""A large export bundle for the offline-verification benchmark, generated from real ones.

The three demonstration campaigns (threshold, checklist-by-type and quota-ranking
decisions) are built through the platform's own commands on an in-memory store and read
back as stored events. Each copy of the set gets fresh stream ids (every id of the set's
streams is replaced, wherever it appears in an event, by a derived one; the shared rubric
versions keep theirs), its events are linked into new chains, and copies are added until
the bundle holds the requested number of events. Every decision in it is a real decision
on real evidence, so the offline check recomputes them all and confirms every one.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

from core import chain, merkle, notes, tlog
from core.bundle import FORMAT, OFFLINE_AUDITOR, RUBRIC_TOPIC, VERSION, event_line, write_bundle
from core.plugins import PluginHost
from core.services import CivicLedger

UUID_TEXT = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Template:
    """The demo campaigns' events, each state split around the stream ids it mentions."""

    def __init__(self) -> None:
        app = CivicLedger("memory://", plugins=PluginHost.discover())
        try:
            self.campaigns: list[str] = []
            streams: set[UUID] = set()
            for _, (demo, _) in sorted(app.plugins.demos().items()):
                campaign_id = demo.build(app, lambda _: None)
                self.campaigns.append(campaign_id)
                streams.update(app.campaign_streams(OFFLINE_AUDITOR, campaign_id))
            rows = list(app.recorder.select_chain(sorted(streams, key=str)))
            shared = {r.stream for r in rows if r.version == 1 and r.topic == RUBRIC_TOPIC.encode()}
            self.rubrics = {
                (record := app.repository.get(s)).content_hash: record.definition for s in shared
            }
        finally:
            app.close()
        self.shared_rows = [r for r in rows if r.stream in shared]
        self.ids = sorted({str(r.stream).encode() for r in rows if r.stream not in shared})
        known = set(self.ids)
        self.rows: list[tuple[bytes, int, bytes, list[bytes]]] = []
        for r in rows:
            if r.stream in shared:
                continue
            parts: list[bytes] = []
            last = 0
            for m in UUID_TEXT.finditer(r.state):
                if m.group(0) in known:
                    parts += [r.state[last:m.start()], m.group(0)]
                    last = m.end()
            parts.append(r.state[last:])
            self.rows.append((str(r.stream).encode(), r.version, r.topic, parts))
        #: the log of each row (its tenant), in the order of shared_rows + rows
        self.shared_logs = [tlog.tenant_of(r.state) for r in self.shared_rows]
        self.logs = [tlog.tenant_of(b"".join(parts)) for _, _, _, parts in self.rows]

    @property
    def events(self) -> int:
        return len(self.rows)


def generate(
    out: Path, events: int, progress: Callable[[int], None] | None = None, template: Template | None = None
) -> dict[str, int]:
    """Write a bundle of at least ``events`` events to ``out``; returns its counts. Each
    log's leaves are its events in the order written, and its checkpoint is signed with a
    key generated for the run."""
    template = template or Template()
    copies = -(-(events - len(template.shared_rows)) // template.events)
    heads: dict[str, tuple[int, str]] = {}
    campaigns: list[str] = []
    leaves: dict[str, list[bytes]] = {}
    written = 0

    def placed(log: str, stream: UUID, version: int, topic: bytes, state: bytes) -> tuple[str, int]:
        hashes = leaves.setdefault(log, [])
        hashes.append(merkle.leaf_hash(tlog.entry(stream, version, topic, state)))
        return log, len(hashes) - 1

    with tempfile.TemporaryFile(dir=out.parent) as body:
        for row, log in zip(template.shared_rows, template.shared_logs):
            body.write(event_line(row.stream, row.version, row.stored, row.topic, row.state,
                                  placed(log, row.stream, row.version, row.topic, row.state)))
            heads[str(row.stream)] = (row.version, row.stored.hex())
            written += 1
        for copy in range(copies):
            fresh = {old: str(uuid5(NAMESPACE_URL, f"civic-bench/{copy}/{old.decode()}")).encode() for old in template.ids}
            campaigns += [fresh[c.encode()].decode() for c in template.campaigns]
            prev_stream, prev = None, chain.GENESIS
            for (stream_text, version, topic, parts), log in zip(template.rows, template.logs):
                state = b"".join(fresh.get(p, p) if len(p) == 36 else p for p in parts)
                stream = UUID(fresh[stream_text].decode())
                if stream != prev_stream:
                    prev_stream, prev = stream, chain.GENESIS
                prev = chain.link(prev, stream, version, topic, state)
                body.write(event_line(stream, version, prev, topic, state, placed(log, stream, version, topic, state)))
                heads[str(stream)] = (version, prev.hex())
                written += 1
            if progress is not None:
                progress(written)
        body.seek(0)
        signer, verifier = notes.generate_key("civic-bench.generated")
        checkpoints = {log: notes.sign(notes.Checkpoint(f"{signer.name}/{log}", len(hashes), merkle.root(hashes)).body(), signer)
                       for log, hashes in leaves.items()}
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "exported_by": {"id": "civic-bench", "role": "auditor", "org": "generated for the benchmark"},
            "store": "generated",
            "scope": {"campaign": None, "tenant": None},
            "campaigns": campaigns,
            "streams": len(heads),
            "events": written,
            "rubrics": sorted(template.rubrics),
            "logs": {log: len(hashes) for log, hashes in sorted(leaves.items())},
            "log_key": str(verifier),
        }
        write_bundle(out, manifest, template.rubrics, iter(body), checkpoints=checkpoints)
    return {"events": written, "streams": len(heads), "campaigns": len(campaigns), "copies": copies}


#: runs of the integrity check timed (the median is reported)
INTEGRITY_RUNS = 3


def bench_offline_verification(events: int, result: Callable[..., None], say: Callable[[str], None]) -> None:
    """c) Offline verification of a generated bundle of ``events`` events: the integrity
    check (structure, every link, every leaf and each log's root against its signed
    checkpoint, rubric hashes, manifest, seal) and the full check that
    also recomputes every decision, each against SHA-256 over the same bytes (the floor of
    any check that reads every byte)."""
    import hashlib
    import os
    import time

    from core.bundle import verify_bundle

    with tempfile.TemporaryDirectory(prefix="civic-bench-") as folder:
        path = Path(folder) / "generated.bundle"
        began = time.perf_counter()
        counts = generate(path, events)
        size = path.stat().st_size
        os.sync()  # the file on disk before any timing: its writeback must not run beside the checks
        say(f"generated bundle: {counts['events']} events, {counts['streams']} streams, {counts['campaigns']} campaigns, "
            f"{size / 1e6:.0f} MB in {time.perf_counter() - began:.0f} s")
        began = time.perf_counter()
        hashlib.sha256(path.read_bytes()).digest()
        sha = time.perf_counter() - began
        result("bundle_sha256_baseline", counts["events"] / sha, "events/s", "n/a", 0)
        times = []
        for _ in range(INTEGRITY_RUNS):  # the median of a few: one run on a shared machine is noisy
            began = time.perf_counter()
            report = verify_bundle(path, decisions=False)
            times.append(time.perf_counter() - began)
            assert report.intact, report.problems[:3]
        chain_only = sorted(times)[len(times) // 2]
        say(f"integrity check: {', '.join(f'{t:.1f}' for t in times)} s")
        result("bundle_verify_integrity", counts["events"] / chain_only, "events/s", ">= 300000", 0)
        began = time.perf_counter()
        report = verify_bundle(path)
        full = time.perf_counter() - began
        confirmed = sum(v["status"] == "confirmed" for v in report.verdicts)
        assert report.intact and confirmed == len(report.verdicts), "the generated bundle must verify"
        say(f"full check: {confirmed} decisions recomputed and confirmed in {full:.0f} s")
        result("bundle_verify_full", counts["events"] / full, "events/s", ">= 70000", 0)
        result("bundle_decisions", confirmed / max(full - chain_only, 1e-9), "decisions/s", "n/a", 0)
