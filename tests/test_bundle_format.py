"""docs/bundle-format.md is normative: its test vectors are what the code computes, and its
small bundle, written out byte for byte, verifies."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID

from core import bundle, chain, merkle, notes, tlog

DOC = Path(__file__).resolve().parents[1] / "docs" / "bundle-format.md"
SIGNER = notes.SignerKey("vectors.example", bytes(range(1, 33)))
A, B = UUID("00000000-0000-4000-8000-000000000001"), UUID("00000000-0000-4000-8000-000000000002")
EVENTS = [
    (A, 1, b"core.domain.community:Community.Registered",
     '{"meta":{"tenant":"demo"},"tenant":"demo","code":"c1","name":"示例社区","district":"东丽区","street":"张贵庄街道",'
     '"households":100,"population":250}'.encode()),
    (A, 2, b"core.domain.community:Community.DetailsCorrected", b'{"meta":{"tenant":"demo"},"changes":{"population":260}}'),
    (B, 1, b"core.domain.community:Community.Registered",
     '{"meta":{"tenant":"demo"},"tenant":"demo","code":"c2","name":"另一社区","district":"东丽区","street":"张贵庄街道",'
     '"households":80,"population":200}'.encode()),
]
MANIFEST = {
    "format": "civic-ledger-bundle", "version": 2, "exported_at": "2026-01-01T00:00:00+00:00",
    "exported_by": {"id": "auditor", "role": "auditor", "org": "审计"}, "store": "vectors",
    "scope": {"campaign": None, "tenant": "demo"}, "campaigns": [], "streams": 1, "events": 2, "rubrics": [],
    "logs": {"demo": 3}, "log_key": str(SIGNER.verifier()),
}


def small_bundle(path: Path) -> bytes:
    """The documented small bundle: stream A's two events, and stream B's one as a gap."""
    leaves = [merkle.leaf_hash(tlog.entry(s, v, t, st)) for s, v, t, st in EVENTS]
    note = notes.sign(notes.Checkpoint("vectors.example/demo", 3, merkle.root(leaves)).body(), SIGNER)
    prev, lines = chain.GENESIS, []
    for index, (s, v, t, st) in enumerate(EVENTS[:2]):
        prev = chain.link(prev, s, v, t, st)
        lines.append(bundle.event_line(s, v, prev, t, st, ("demo", index)))
    gap = bundle.gap_line("demo", 2, B, 1, tlog.digest(EVENTS[2][2], EVENTS[2][3]))
    bundle.write_bundle(path, MANIFEST, {}, lines, checkpoints={"demo": note}, gaps=[gap])
    return path.read_bytes()


def block(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {name} -->\n```[a-z]*\n(.*?)```", text, re.S)
    assert found, f"docs/bundle-format.md has no block {name}"
    return found.group(1)


def test_the_documented_vectors_are_what_the_code_computes():
    values = dict(line.split(": ", 1) for line in block("vectors").strip().splitlines())
    leaves = []
    for n, (s, v, t, st) in enumerate(EVENTS):
        assert values[f"digest {n}"] == tlog.digest(t, st).hex()
        assert values[f"entry {n}"] == tlog.entry(s, v, t, st).hex()
        leaves.append(merkle.leaf_hash(tlog.entry(s, v, t, st)))
        assert values[f"leaf {n}"] == leaves[-1].hex()
    for size in (1, 2, 3):
        assert values[f"root {size}"] == merkle.root(leaves[:size]).hex()
    proof = [bytes.fromhex(h) for h in values["inclusion 0 3"].split()]
    assert merkle.verify_inclusion(leaves[0], 0, 3, proof, merkle.root(leaves))
    proof = [bytes.fromhex(h) for h in values["consistency 2 3"].split()]
    assert merkle.verify_consistency(2, 3, merkle.root(leaves[:2]), merkle.root(leaves), proof)
    assert values["link 0"] == chain.link(chain.GENESIS, *EVENTS[0]).hex()
    assert values["verifier key"] == str(SIGNER.verifier())


def test_the_documented_small_bundle_is_byte_for_byte_what_the_code_writes_and_verifies(tmp_path):
    written = small_bundle(tmp_path / "small.bundle")
    assert block("small bundle").encode("utf-8") == written
    report = bundle.verify_bundle(tmp_path / "small.bundle", log_key=str(SIGNER.verifier()))
    assert report.verified, [str(p) for p in report.problems]
    assert report.logs[0]["signed"] is True and report.logs[0]["size"] == 3


def test_the_documented_checkpoint_is_the_small_bundles():
    note = block("checkpoint").encode("utf-8")
    opened = notes.open_checkpoint(note, SIGNER.verifier())
    assert (opened.checkpoint.origin, opened.checkpoint.size) == ("vectors.example/demo", 3)
