"""Export bundles: exported from every store, verified offline with no store and no plugin;
any single-byte change is detected and located on the line that holds it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from core import bundle
from core.actors import Actor, Role
from core.bundle import export_bundle, verify_bundle
from core.errors import InvalidInput, NotFound, StoreTampered
from core.plugins import PluginHost
from core.services import CivicLedger
from tests.forgery import Forger
from tests.helpers import World
from tests.test_chain import update_state
from tests.test_lifecycle import run_to_decision

AUDITOR = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")


@pytest.fixture(scope="module")
def demo_bundles(tmp_path_factory) -> dict[str, Path]:
    """Every installed demo, built on a memory store and exported campaign by campaign."""
    folder = tmp_path_factory.mktemp("bundles")
    app = CivicLedger("memory://", plugins=PluginHost.discover())
    paths = {}
    for name, (demo, _) in sorted(app.plugins.demos().items()):
        campaign_id = demo.build(app, lambda _: None)
        paths[name] = folder / f"{name}.bundle"
        export_bundle(app, AUDITOR, paths[name], campaign_id=campaign_id)
    app.close()
    return paths


def test_every_demo_decision_verifies_offline(demo_bundles):
    assert set(demo_bundles) == {"tianjin-dongli-2020", "bazhong-2020", "brand-community-2019"}
    for name, path in demo_bundles.items():
        report = verify_bundle(path)
        assert report.intact, (name, [str(p) for p in report.problems])
        assert report.verdicts and {v["status"] for v in report.verdicts} == {"confirmed"}, name
        assert report.verified


def test_offline_verification_uses_no_plugin(demo_bundles, monkeypatch):
    # nothing installed: entry points are never read
    monkeypatch.setattr(PluginHost, "load_entry_points", lambda self: pytest.fail("an offline check loaded plugins"))
    monkeypatch.setattr(PluginHost, "discover", classmethod(lambda cls: pytest.fail("an offline check discovered plugins")))
    assert verify_bundle(demo_bundles["brand-community-2019"]).verified


def test_the_bundle_holds_what_the_manifest_says(demo_bundles):
    lines = demo_bundles["tianjin-dongli-2020"].read_bytes().split(b"\n")
    assert lines[0] == bundle.MAGIC and lines[-1] == b""
    manifest = json.loads(lines[1][2:])
    assert bundle.manifest_line(manifest) == lines[1] + b"\n"  # RFC 8785 canonical JSON
    events = [line for line in lines if line.startswith(b"E\t")]
    rubrics = [line for line in lines if line.startswith(b"R\t")]
    gaps = [line for line in lines if line.startswith(b"G\t")]
    checkpoints = [line for line in lines if line.startswith(b"C\t")]
    assert manifest["events"] == len(events) and manifest["streams"] == len({e.split(b"\t")[1] for e in events})
    assert manifest["rubrics"] == [line.split(b"\t")[1].decode() for line in rubrics]
    # every leaf of each log up to its checkpoint: an event of the bundle or a gap
    assert len(checkpoints) == len(manifest["logs"])
    for log, size in manifest["logs"].items():
        held = sorted([int(e.split(b"\t")[4]) for e in events if e.split(b"\t")[3].decode() == log] +
                      [int(g.split(b"\t")[2]) for g in gaps if g.split(b"\t")[1].decode() == log])
        assert held == list(range(size)), log
    assert lines[-2].startswith(b"S\t")


def _line_of(data: bytes, position: int) -> int:
    return data.count(b"\n", 0, position) + 1


def _outside_the_lines_checks(data: bytes, position: int) -> bool:
    """Whether the byte at ``position`` is one only its log's root covers: a gap line's
    leaf, stream, version or digest, or an event line's log or leaf index."""
    start = data.rfind(b"\n", 0, position) + 1
    field = data.count(b"\t", start, position)
    return (data[start:start + 2] == b"G\t" and field >= 1) or (data[start:start + 2] == b"E\t" and field in (3, 4))


def _positions(data: bytes, sample: int, seed: int) -> list[int]:
    """Every line's first and last byte (its line break), every field boundary, and a
    seeded random sample of the rest."""
    chosen = {0, len(data) - 1}
    start = 0
    for line in data.split(b"\n")[:-1]:
        end = start + len(line)
        chosen.update({start, end, (start + end) // 2})
        chosen.update(start + i for i, byte in enumerate(line) if byte == 9)
        start = end + 1
    rng = random.Random(seed)
    chosen.update(rng.randrange(len(data)) for _ in range(sample))
    return sorted(chosen)


@pytest.mark.parametrize("name", ["tianjin-dongli-2020", "bazhong-2020"])
def test_any_single_byte_change_is_detected_and_located(demo_bundles, tmp_path, name):
    data = demo_bundles[name].read_bytes()
    target = tmp_path / "changed.bundle"
    positions = _positions(data, sample=300, seed=len(data))
    assert len(positions) > 1000
    for position in positions:
        for flip in (0x01, 0x20):
            changed = bytearray(data)
            changed[position] ^= flip
            target.write_bytes(bytes(changed))
            report = verify_bundle(target, decisions=False)
            assert not report.intact, (position, flip)
            first = report.problems[0]
            line = _line_of(data, position)
            if _outside_the_lines_checks(data, position):
                # a gap's fields and an event's leaf fields: caught by its log's root, named
                # on the line where the change shows (a leaf that comes twice, say) or on the
                # log's checkpoint line
                assert any(p.line == line for p in report.problems) or any(
                    p.what == "checkpoint" and p.derived for p in report.problems), (position, flip, [str(p) for p in report.problems])
            else:
                assert first.line == line, (position, flip, str(first), data[position - 20:position + 20])


def test_chains_checked_by_worker_processes_give_the_report_of_one_process(demo_bundles, tmp_path, monkeypatch):
    """Without decisions a large bundle's events are shared out to forked workers at stream
    boundaries; whatever changed, the report (problems and their lines included) is the
    one a single process gives."""
    monkeypatch.setattr(bundle, "PARALLEL_CHECK_BYTES", 0)
    data = demo_bundles["brand-community-2019"].read_bytes()
    cut = bundle._cuts(data, 2)
    assert len(cut) == 1 and data[cut[0]:cut[0] + 2] == b"E\t"
    before = data.rfind(b"\n", 0, cut[0] - 1) + 1
    assert data[before:before + 2] == b"E\t" and data[before + 2:before + 38] != data[cut[0] + 2:cut[0] + 38]

    def same(path: Path) -> bundle.BundleReport:
        alone, shared = verify_bundle(path, decisions=False, workers=1), verify_bundle(path, decisions=False, workers=2)
        assert [p.as_dict() for p in shared.problems] == [p.as_dict() for p in alone.problems]
        assert (shared.events, shared.streams, shared.rubrics, shared.manifest) == (alone.events, alone.streams, alone.rubrics, alone.manifest)
        return shared

    assert same(demo_bundles["brand-community-2019"]).intact
    rng = random.Random(7)
    positions = sorted({*range(cut[0] - 40, cut[0] + 40), *(rng.randrange(len(data)) for _ in range(60)), len(data) - 2})
    target = tmp_path / "changed.bundle"
    for position in positions:
        changed = bytearray(data)
        changed[position] ^= 0x01
        target.write_bytes(bytes(changed))
        report = same(target)
        assert not report.intact, position
        if not _outside_the_lines_checks(data, position):  # those are located otherwise (see above)
            assert report.problems[0].line == _line_of(data, position), position

    # records that belong elsewhere, in the part a worker reads: a rubric line again, a
    # manifest line, a seal line; and no line break at the end
    lines = data.split(b"\n")
    at = _line_of(data, cut[0]) - 1  # index of the cut's line
    rubric = next(line for line in lines if line.startswith(b"R\t"))
    for extra in (rubric, lines[1], lines[-2]):
        target.write_bytes(b"\n".join([*lines[:at + 1], extra, *lines[at + 1:]]))
        assert not same(target).intact
    target.write_bytes(data[:-1])
    assert not same(target).intact

    # a line that is no event, between two of one stream, where the file is cut: the chain
    # runs on across the cut, so the file is checked as one
    lines = data.split(b"\n")
    at = next(i for i in range(2, len(lines) - 3) if lines[i].startswith(b"E\t")
              and lines[i][:38] == lines[i + 1][:38] == lines[i + 2][:38])
    broken = b"\n".join([*lines[:at + 1], b"E\tg" + lines[at + 1][3:], *lines[at + 2:]])
    target.write_bytes(broken)
    offset = len(b"\n".join(lines[:at + 1])) + 1
    monkeypatch.setattr(bundle, "_cuts", lambda data, parts, scan=0: [offset])
    report = same(target)
    assert report.problems[0].line == at + 2 and "stream id" in report.problems[0].message
    before = int(lines[at].split(b"\t")[2])
    assert any(p.line == at + 3 and p.message.endswith(f"expected position {before + 1}, found {before + 2}")
               for p in report.problems), [str(p) for p in report.problems]


def test_a_changed_bundle_is_never_passed_and_never_crashes_the_full_check(demo_bundles, tmp_path):
    """What `civic audit verify FILE` runs: with decisions. Every edit fails the check, and
    no decision is confirmed from an altered bundle."""
    data = demo_bundles["bazhong-2020"].read_bytes()
    target = tmp_path / "changed.bundle"
    for position in _positions(data, sample=40, seed=3)[::7]:
        changed = bytearray(data)
        changed[position] ^= 0x01
        target.write_bytes(bytes(changed))
        report = verify_bundle(target)
        assert not report.verified and report.problems
        assert not any(v["status"] == "confirmed" for v in report.verdicts)


def test_a_bundle_naming_foreign_event_types_is_not_replayed(demo_bundles, tmp_path):
    """Topics name Python modules: an offline check imports none but the platform's own."""
    import sys

    lines = demo_bundles["bazhong-2020"].read_bytes().split(b"\n")
    n = next(i for i, line in enumerate(lines) if line.startswith(b"E\t"))
    parts = lines[n].split(b"\t")
    parts[6] = b"this:s"
    lines[n] = b"\t".join(parts)
    target = tmp_path / "foreign.bundle"
    target.write_bytes(b"\n".join(lines))
    sys.modules.pop("this", None)
    report = verify_bundle(target)
    assert "this" not in sys.modules
    assert not report.verified and report.problems[0].line == n + 1


def test_a_changed_event_names_its_stream_and_position(demo_bundles, tmp_path):
    data = demo_bundles["tianjin-dongli-2020"].read_bytes()
    lines = data.split(b"\n")
    n = next(i for i, line in enumerate(lines) if line.startswith(b"E\t") and b'"official"' in line)
    _, stream, version, *_ = lines[n].split(b"\t")
    lines[n] = lines[n].replace(b'"official"', b'"offici4l"', 1)
    target = tmp_path / "changed.bundle"
    target.write_bytes(b"\n".join(lines))
    report = verify_bundle(target)
    first = report.problems[0]
    assert (first.line, first.what, first.stream, first.version) == (n + 1, "event", stream.decode(), int(version))
    assert "changed" in first.message
    assert not report.verified


def test_broken_or_foreign_files_are_reported_not_crashed_on(tmp_path, demo_bundles):
    empty = tmp_path / "empty.bundle"
    empty.write_bytes(b"")
    assert [p.line for p in verify_bundle(empty).problems][:1] == [1]
    noise = tmp_path / "noise.bundle"
    noise.write_bytes(bytes(random.Random(7).randrange(256) for _ in range(5000)))
    assert not verify_bundle(noise).intact
    cut = tmp_path / "cut.bundle"
    data = demo_bundles["bazhong-2020"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    report = verify_bundle(cut)
    assert not report.intact and any(p.what == "seal" for p in report.problems)
    with pytest.raises(InvalidInput, match="bundle"):
        verify_bundle(tmp_path / "absent.bundle")


def test_a_decision_of_a_plugin_only_style_is_not_passed_offline(demo_bundles):
    reader = bundle._Reader(demo_bundles["tianjin-dongli-2020"].read_bytes())
    reader.read()
    manifest = reader.manifest
    from eventsourcing.persistence import StoredEvent

    # as if neither the threshold style nor the mean aggregation were the core's
    not_core: tuple[set[str], set[str]] = (set(), set())
    ledger = CivicLedger("memory://", plugins=PluginHost())
    try:
        ledger.recorder.insert_events([StoredEvent(r.stream, r.version, r.topic.decode(), bytes(r.state)) for r in reader.rows])
        # installed, the providing plugin's code recomputes them, and each verdict names it
        installed = bundle._campaign_verdicts(ledger, manifest["campaigns"][0], not_core, reader.rubrics)
        # not installed: no decision of the campaign is passed
        ledger.plugins.styles = lambda: {}
        verdicts = bundle._campaign_verdicts(ledger, manifest["campaigns"][0], not_core, reader.rubrics)
    finally:
        ledger.close()
    assert installed and {v["status"] for v in installed} == {"confirmed"}
    assert all(len(v["recomputed_with"]) == 2 for v in installed)
    assert installed[0]["recomputed_with"][0].startswith("decision style threshold of plugin core")
    assert installed[0]["recomputed_with"][1].startswith("aggregation mean of plugin core")
    assert verdicts and {v["status"] for v in verdicts} == {"needs_plugin"}
    assert len(verdicts) == len(installed)
    assert verdicts[0]["differences"][0].startswith("decision style threshold and aggregation mean supplied by a plugin")
    assert "only that plugin's code can recompute" in verdicts[0]["differences"][0]


def test_decisions_recomputed_by_worker_processes_are_those_of_one_process(tmp_path, monkeypatch):
    """Campaigns are shared out to forked workers; their verdicts, mismatches with their
    differing lines included, come back complete and in order."""
    import re

    from bench.bundle_gen import Template, generate

    template = Template()
    # one recorded decision of the demos gets another total: every copy carries one mismatch
    at = next(i for i, (_, _, topic, parts) in enumerate(template.rows)
              if topic.endswith(b".Decided") and any(b'"total":{"exact":"' in p for p in parts))
    stream, version, topic, parts = template.rows[at]
    k = next(i for i, p in enumerate(parts) if b'"total":{"exact":"' in p)
    parts = [*parts[:k], re.sub(rb'("total":)\{"exact":"[0-9/]+","published":"[0-9.]+"\}',
                                rb'\g<1>{"exact":"1","published":"1.00"}', parts[k], count=1), *parts[k + 1:]]
    template.rows[at] = (stream, version, topic, parts)
    path = tmp_path / "generated.bundle"
    counts = generate(path, template.events * 3, template=template)
    monkeypatch.setattr(bundle, "CAMPAIGNS_PER_TASK", 2)  # several tasks for the two workers

    alone, shared = verify_bundle(path, workers=1), verify_bundle(path, workers=2)
    assert alone.intact and shared.intact
    assert shared.verdicts == alone.verdicts
    assert [v["campaign_id"] for v in shared.verdicts] == sorted(
        (v["campaign_id"] for v in shared.verdicts), key=alone.campaigns.index)
    mismatched = [v for v in shared.verdicts if v["status"] == "mismatched"]
    assert len(mismatched) == counts["copies"]
    assert all(any(line.startswith("-") and '"1.00"' in line for line in v["differences"]) for v in mismatched)
    assert sum(v["status"] == "confirmed" for v in shared.verdicts) == len(shared.verdicts) - counts["copies"]
    assert not shared.verified


def test_a_stream_that_comes_twice_is_not_replayed(demo_bundles):
    from eventsourcing.persistence import IntegrityError

    reader = bundle._Reader(demo_bundles["tianjin-dongli-2020"].read_bytes())
    reader.read()
    first = [r for r in reader.rows if r.stream == reader.rows[0].stream]
    ledger = CivicLedger("memory://", plugins=PluginHost())
    try:
        with pytest.raises(IntegrityError, match=f"stream {first[0].stream} comes twice"):
            ledger.recorder.insert_checked([*reader.rows, *first], reader.topics)
    finally:
        ledger.close()


def test_a_decided_candidacy_left_out_of_a_resealed_bundle_fails_the_check(demo_bundles, tmp_path):
    forger = Forger(demo_bundles["tianjin-dongli-2020"].read_bytes())
    decided = next(f[1].decode() for f in forger.events if f[6].endswith(b".Decided"))
    assert forger.hide(decided)  # its leaves stay, as gaps: the log's root still holds
    path = tmp_path / "dropped.bundle"
    path.write_bytes(forger.build())
    report = verify_bundle(path)
    assert not report.verified
    named = [str(p) for p in report.problems] + [d for v in report.verdicts for d in v["differences"]]
    assert any(decided in text for text in named), named


def test_a_decision_naming_another_candidacys_position_is_mismatched_alone(demo_bundles, tmp_path):
    from core import notes

    forger = Forger(demo_bundles["tianjin-dongli-2020"].read_bytes())
    decided = [f for f in forger.events if f[6].endswith(b".Decided")]
    victim, other = decided[0][1], decided[1][1]

    def point_elsewhere(state: dict) -> dict:
        state["derivation"]["positions"]["candidacy"][0] = other.decode()
        return state

    assert forger.edit(lambda f: f is decided[0], point_elsewhere) == 1
    path = tmp_path / "foreign.bundle"
    path.write_bytes(forger.build(notes.generate_key("forger.example")[0]))  # every link, leaf, root and the seal agree
    report = verify_bundle(path, decisions=True)
    statuses = {v["candidacy_id"]: v["status"] for v in report.verdicts}
    assert not report.verified
    if report.intact:  # the file alone vouches for itself: the decision check still catches it
        assert len(statuses) == 15 and statuses[victim.decode()] == "mismatched"
        assert sum(s == "confirmed" for s in statuses.values()) >= 13
    # with the log's key the auditor holds, the forged checkpoints are refused outright
    from core import signing

    held = verify_bundle(path, decisions=False, log_key=str(signing.log_key().verifier()))
    assert any("not the log key you hold" in p.message for p in held.problems)


# -- exporting from each store ---------------------------------------------------------------


@pytest.fixture
def decided(app):
    world = World(app)
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-20")
    return world, ids


def test_export_from_every_store_verifies_offline(decided, tmp_path):
    world, ids = decided
    path = tmp_path / "campaign.bundle"
    manifest = export_bundle(world.app, AUDITOR, path, campaign_id=ids["campaign"])
    assert manifest["scope"] == {"campaign": ids["campaign"], "tenant": world.owner.tenant}
    report = verify_bundle(path)
    assert report.verified, [str(p) for p in report.problems]
    assert {v["candidacy_id"] for v in report.verdicts} == {ids[k] for k in ("c1", "c2", "c3", "c1p")}
    # the bundle's logs are the live store's logs at the export's checkpoints
    import base64

    for log in report.logs:
        assert log["signed"] is True
        size, root = world.app.recorder.log_root(log["log"], log["size"])
        assert base64.b64decode(log["root"]) == root and manifest["logs"][log["log"]] == size


def test_a_tenant_export_holds_every_campaign(decided, tmp_path):
    world, ids = decided
    path = tmp_path / "tenant.bundle"
    manifest = export_bundle(world.app, AUDITOR, path, tenant=world.owner.tenant)
    assert ids["campaign"] in manifest["campaigns"]
    assert verify_bundle(path).verified


def test_a_store_with_a_broken_chain_is_not_exported(decided, tmp_path):
    from uuid import UUID

    world, ids = decided
    update_state(world.app, UUID(ids["c2"]), 2, b'"', b"'")
    folder = tmp_path / "exports"
    folder.mkdir()
    with pytest.raises(StoreTampered, match=f"stream {ids['c2']} is broken at position 2"):
        export_bundle(world.app, AUDITOR, folder / "campaign.bundle", campaign_id=ids["campaign"])
    assert not list(folder.iterdir())  # not even a partial file


def test_export_is_scoped_to_what_the_actor_may_see(decided, tmp_path):
    world, ids = decided
    stranger = Actor(id="x", role=Role.AUDITOR, organisation="别处", tenant="elsewhere")
    with pytest.raises(NotFound):
        export_bundle(world.app, stranger, tmp_path / "x.bundle", campaign_id=ids["campaign"])
    with pytest.raises(InvalidInput, match="exactly one"):
        export_bundle(world.app, AUDITOR, tmp_path / "x.bundle")
