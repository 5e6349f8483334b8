"""An insider rewrites an exported bundle so that it vouches for itself (every link, leaf,
root, count and the seal recomputed, the checkpoints signed again with a key of their
own). Checked against the checkpoint an auditor holds and the log's key, each rewrite is
refused and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import notes, signing, tlog
from core.actors import Actor, Role
from core.bundle import export_bundle, verify_bundle
from core.cli import app as cli
from core.plugins import PluginHost
from core.services import CivicLedger
from tests.forgery import Forger, state_of

AUDITOR = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")
FORGER_KEY = notes.generate_key("forger.example")[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, list[bytes], str]:
    """The Tianjin demo campaign exported, the checkpoints published at its export (what an
    auditor holds) and the log's verifier key."""
    folder = tmp_path_factory.mktemp("attacks")
    app = CivicLedger("memory://", plugins=PluginHost.discover())
    try:
        demo, _ = app.plugins.demos()["tianjin-dongli-2020"]
        campaign_id = demo.build(app, lambda _: None)
        path = folder / "campaign.bundle"
        manifest = export_bundle(app, AUDITOR, path, campaign_id=campaign_id)
        key = signing.log_key()
        held = [signing.checkpoint(app.recorder, log, key, size) for log, size in manifest["logs"].items()]
    finally:
        app.close()
    return path, held, str(key.verifier())


def check(path: Path, exported, **options):
    _, held, log_key = exported
    return verify_bundle(path, held=held, log_key=log_key, **options)


def messages(report) -> list[str]:
    return [str(p) for p in report.problems]


def forged(tmp_path: Path, forger: Forger, name: str, signer=FORGER_KEY, **build) -> Path:
    path = tmp_path / f"{name}.bundle"
    path.write_bytes(forger.build(signer, **build))
    return path


def test_the_honest_bundle_agrees_with_the_checkpoint_the_auditor_holds(exported):
    report = check(exported[0], exported)
    assert report.verified, messages(report)
    assert report.logs and all(log["signed"] and log["held"] for log in report.logs)


def test_a_consistent_rewrite_of_an_upheld_objection_is_refused(exported, tmp_path):
    forger = Forger(exported[0].read_bytes())
    upheld = [f for f in forger.events if f[6].endswith(b".ObjectionResolved") and b'"upheld":true' in f[7]]
    assert upheld
    victim = upheld[0][1]
    forger.edit(lambda f: f in upheld, lambda s: {**s, "upheld": False})
    forger.edit(lambda f: f[1] == victim and f[6].endswith(b".Decided"), lambda s: {**s, "named": True})
    path = forged(tmp_path, forger, "rewritten")
    alone = verify_bundle(path, decisions=False)
    assert alone.intact  # the file alone vouches for itself
    report = check(path, exported, decisions=False)
    assert not report.intact
    found = messages(report)
    assert any("not the log key you hold" in m for m in found), found
    assert any("does not agree with the checkpoint you hold" in m for m in found), found
    # kept with the platform's own signatures instead, the checkpoint no longer fits the leaves
    forger = Forger(exported[0].read_bytes())
    forger.edit(lambda f: f[6].endswith(b".ObjectionResolved") and f[1] == victim, lambda s: {**s, "upheld": False})
    report = check(forged(tmp_path, forger, "resigned", signer=None), exported, decisions=False)
    assert any("another root than its checkpoint" in m for m in messages(report)), messages(report)


def test_removing_the_revocation_is_refused(exported, tmp_path):
    forger = Forger(exported[0].read_bytes())
    revoked = {f[1] for f in forger.events if f[6].endswith(b".Revoked")}
    assert revoked
    gone = forger.remove(lambda f: f[6].endswith((b".Revoked", b".TitleRevoked")))
    assert gone >= 2
    report = check(forged(tmp_path, forger, "truncated"), exported, decisions=False)
    found = messages(report)
    assert not report.intact
    assert any("the bundle is older" in m or "does not agree with the checkpoint you hold" in m for m in found), found
    # with the platform's checkpoints left as they were, the removed leaves are missing
    forger = Forger(exported[0].read_bytes())
    forger.remove(lambda f: f[6].endswith((b".Revoked", b".TitleRevoked")))
    report = check(forged(tmp_path, forger, "cut", signer=None), exported, decisions=False)
    assert any("events were removed" in m for m in messages(report)), messages(report)


def test_a_forged_title_appended_is_refused(exported, tmp_path):
    forger = Forger(exported[0].read_bytes())
    award = next(f for f in forger.events if f[6].endswith(b".TitleAwarded"))
    community_events = [f for f in forger.events if f[1] == award[1]]
    last = community_events[-1]
    state = json.loads(award[7])
    state["candidacy_id"] = "00000000-0000-0000-0000-000000000001"
    forger.append(last, award[6], state)
    report = check(forged(tmp_path, forger, "appended"), exported, decisions=False)
    assert any("not the log key you hold" in m for m in messages(report)), messages(report)
    # under the platform's own checkpoint the new leaf lies beyond it
    forger = Forger(exported[0].read_bytes())
    forger.append([f for f in forger.events if f[1] == award[1]][-1], award[6], state)
    report = check(forged(tmp_path, forger, "appended-kept", signer=None), exported, decisions=False)
    assert not report.intact, messages(report)


def test_an_emptied_campaign_list_is_refused_and_the_decisions_are_still_checked(exported, tmp_path):
    forger = Forger(exported[0].read_bytes())
    path = forged(tmp_path, forger, "emptied", signer=None, campaigns=[])
    report = check(path, exported)
    found = messages(report)
    assert any("campaigns: manifest says []" in m for m in found), found
    assert report.campaigns  # derived from the events, not from the manifest
    assert not report.verified


def test_hiding_a_bundled_streams_event_as_a_gap_is_refused(exported, tmp_path):
    forger = Forger(exported[0].read_bytes())
    revoked = next(f for f in forger.events if f[6].endswith(b".Revoked"))
    forger.gaps.append([b"G", revoked[3], revoked[4], revoked[1], revoked[2], tlog.digest(revoked[6], state_of(revoked[7])).hex().encode()])
    forger.events.remove(revoked)
    report = check(forged(tmp_path, forger, "hidden", signer=None), exported, decisions=False)
    assert any("which the bundle holds, is left out as a gap" in m for m in messages(report)), messages(report)


def test_the_command_line_checks_a_bundle_against_a_held_checkpoint(exported, tmp_path):
    path, held, log_key = exported
    cp = tmp_path / "published.checkpoint"
    cp.write_bytes(held[0])
    forger = Forger(path.read_bytes())
    forger.edit(lambda f: f[6].endswith(b".ObjectionResolved"), lambda s: {**s, "upheld": False})
    bad = forged(tmp_path, forger, "cli")

    runner = CliRunner()

    def run(*args: str):
        answer = runner.invoke(cli, ["audit", "verify", *args])
        answer.returncode, answer.stdout_all = answer.exit_code, answer.output
        return answer

    good = run(str(path), "--checkpoint", str(cp), "--log-key", log_key, "--json")
    assert good.returncode == 0, good.output[-3000:]
    assert all(log["held"] for log in json.loads(good.stdout)["logs"])
    refused = run(str(bad), "--checkpoint", str(cp), "--log-key", log_key, "--chains-only")
    assert refused.returncode == 1
    assert "does not agree with the checkpoint you hold" in refused.stdout
    wrong_key = run(str(path), "--checkpoint", str(cp), "--log-key", str(FORGER_KEY.verifier()))
    assert wrong_key.returncode == 1 and "--checkpoint" in wrong_key.output and "forger" not in good.output
    no_witness = run(str(path), "--checkpoint", str(cp), "--log-key", log_key, "--witness",
                     str(notes.generate_key("witness.example")[0].cosignature_verifier()))
    assert no_witness.returncode == 1 and "cosign" in no_witness.output.lower()
