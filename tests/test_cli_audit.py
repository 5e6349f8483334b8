"""``civic audit verify / export / anchor`` end to end on a SQLite file and on PostgreSQL:
the demo verifies, a tampered row or bundle fails and is named, nothing is recorded."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli import app as cli
from plugins.tianjin_meili import demo

runner = CliRunner()


def invoke(*args: str, env: dict[str, str]):
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


def _store(url: str) -> tuple[dict[str, str], str]:
    env = {"CIVIC_DATABASE_URL": url}
    assert invoke("demo", "tianjin-dongli-2020", env=env).exit_code == 0
    campaigns = json.loads(invoke("campaigns", demo.TENANT, "--json", env=env).stdout)
    return env, campaigns[0]["id"]


@pytest.fixture
def sqlite_store(tmp_path):
    path = tmp_path / "civic.sqlite3"
    env, campaign = _store(f"sqlite:///{path}")
    return env, campaign, path


def _tamper_sqlite(path: Path) -> tuple[str, int]:
    """Change one score of one official sheet, behind the platform's back."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT originator_id, originator_version, state FROM stored_events WHERE topic LIKE '%ScoreSheetSubmitted'"
        ).fetchall()
        stream, version, state = next(r for r in rows if b'"official"' in r[2])
        at = state.index(b'"points":{') + 10
        at = state.index(b':"', at) + 2
        changed = state[:at] + (b"1" if state[at:at + 1] != b"1" else b"0") + state[at + 1:]
        conn.execute("UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
                     (changed, stream, version))
    return stream, version


def test_the_demo_store_verifies_and_a_changed_score_is_named(sqlite_store, tmp_path):
    env, campaign, path = sqlite_store
    result = invoke("audit", "verify", "--json", env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["intact"] and report["verified"] and report["breaks"] == []
    assert len(report["decisions"]) == 15 and {d["status"] for d in report["decisions"]} == {"confirmed"}
    anchor = tmp_path / "anchor.json"
    assert invoke("audit", "anchor", "--out", str(anchor), env=env).exit_code == 0

    stream, version = _tamper_sqlite(path)
    result = invoke("audit", "verify", "--json", "--anchor", str(anchor), env=env)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(b["stream"].replace("-", ""), b["version"], b["problem"]) for b in report["breaks"]] == [(stream, version, "changed")]
    assert "mismatched" in {d["status"] for d in report["decisions"]}
    text = invoke("audit", "verify", "--campaign", campaign, env=env)
    assert text.exit_code == 1 and "链条断点" in text.output and str(version) in text.output


def test_export_then_verify_offline_and_a_flipped_byte_is_located(sqlite_store, tmp_path):
    env, campaign, _ = sqlite_store
    bundle = tmp_path / "dongli.bundle"
    result = invoke("audit", "export", "--campaign", campaign, "--out", str(bundle), env=env)
    assert result.exit_code == 0 and "232 events" in result.output or "events" in result.output
    # offline: no store named at all
    result = invoke("audit", "verify", str(bundle), "--json", env={"CIVIC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verified"] and report["problems"] == [] and len(report["decisions"]) == 15

    data = bytearray(bundle.read_bytes())
    # a byte of an event's state near the middle of the file (the fields a log's root alone
    # covers are located otherwise: see test_bundle.py)
    start = data.rfind(b"\n", 0, len(data) // 2) + 1
    while not data.startswith(b"E\t", start):
        start = data.index(b"\n", start) + 1
    position = data.rindex(b"\t", start, data.index(b"\n", start)) + 3
    data[position] ^= 0x01
    changed = tmp_path / "changed.bundle"
    changed.write_bytes(bytes(data))
    result = invoke("audit", "verify", str(changed), "--json", env=env)
    assert result.exit_code == 1
    first = json.loads(result.stdout)["problems"][0]
    assert first["line"] == bytes(data).count(b"\n", 0, position) + 1
    text = invoke("audit", "verify", str(changed), env=env)
    assert text.exit_code == 1 and f"{first['line']}" in text.output

    # integrity alone: the same problems, no decisions recomputed (and none claimed)
    quick = invoke("audit", "verify", str(changed), "--chains-only", "--json", env=env)
    assert quick.exit_code == 1 and json.loads(quick.stdout)["problems"][0] == first
    quick = invoke("audit", "verify", str(bundle), "--chains-only", "--json", env=env)
    assert quick.exit_code == 0
    assert json.loads(quick.stdout) | {"intact": True, "verified": None, "decisions": None} == json.loads(quick.stdout)
    quick = invoke("audit", "verify", str(bundle), "--chains-only", env=env)
    assert quick.exit_code == 0 and "decisions not recomputed" in quick.output and "confirmed" not in quick.output


def test_export_refuses_to_overwrite_and_bundles_take_no_scope_options(sqlite_store, tmp_path):
    env, campaign, _ = sqlite_store
    bundle = tmp_path / "b.bundle"
    bundle.write_text("keep me")
    result = invoke("audit", "export", "--campaign", campaign, "--out", str(bundle), env=env)
    assert result.exit_code == 1 and "--force" in result.output and bundle.read_text() == "keep me"
    assert invoke("audit", "export", "--campaign", campaign, "--out", str(bundle), "--force", env=env).exit_code == 0
    result = invoke("audit", "verify", str(bundle), "--campaign", campaign, env=env)
    assert result.exit_code == 1 and "a bundle is checked as a whole" in result.output
    two = invoke("audit", "verify", str(bundle), "--workers", "2", "--json", env=env)
    assert two.exit_code == 0 and json.loads(two.stdout)["verified"]
    store = invoke("audit", "verify", "--workers", "2", env=env)
    assert store.exit_code == 1 and "--workers" in store.output and "only with a bundle file" in store.output
    store = invoke("audit", "verify", "--chains-only", env=env)
    assert store.exit_code == 1 and "--chains-only" in store.output and "only with a bundle file" in store.output
    assert invoke("audit", "verify", str(bundle), "--workers", "0", env=env).exit_code == 2
    missing = invoke("audit", "export", "--out", str(tmp_path / "x.bundle"), env=env)
    assert missing.exit_code == 1 and "exactly one of" in missing.output
    unknown = invoke("audit", "export", "--campaign", "00000000-0000-0000-0000-000000000000", "--out", str(tmp_path / "y.bundle"), env=env)
    assert unknown.exit_code == 1 and not (tmp_path / "y.bundle").exists()


@pytest.mark.postgres
def test_on_postgres_a_deleted_row_is_named_and_export_verifies(pg_schema_url, tmp_path):
    import psycopg

    env, campaign = _store(pg_schema_url)
    bundle = tmp_path / "pg.bundle"
    assert invoke("audit", "export", "--campaign", campaign, "--out", str(bundle), env=env).exit_code == 0
    assert json.loads(invoke("audit", "verify", str(bundle), "--json", env=env).stdout)["verified"]
    schema = pg_schema_url.rsplit("schema=", 1)[1]
    with psycopg.connect(pg_schema_url.split("?", 1)[0], autocommit=True) as conn:
        stream, version = conn.execute(
            f'SELECT originator_id, max(originator_version) FROM "{schema}".civicledger_events '
            f"WHERE originator_id = %s GROUP BY originator_id", (campaign,)
        ).fetchone()
        conn.execute(f'DELETE FROM "{schema}".civicledger_events WHERE originator_id = %s AND originator_version = %s',
                     (stream, version))
    result = invoke("audit", "verify", "--campaign", campaign, "--json", env=env)
    assert result.exit_code == 1
    breaks = json.loads(result.stdout)["breaks"]
    assert [(b["stream"], b["version"], b["problem"]) for b in breaks] == [(str(stream), version, "missing")]
