"""Signed checkpoints of the tenants' logs (core/signing.py): a store is checked against a
checkpoint held elsewhere, and a rewrite or a truncation after it is caught."""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner

from core import notes, signing
from core.cli import app as cli
from core.errors import InvalidInput
from core.services import CivicLedger
from tests.helpers import World


@pytest.fixture
def store(tmp_path, plugins):
    url = f"sqlite:///{tmp_path}/civic.sqlite3"
    app = CivicLedger(url, plugins=plugins)
    World(app).setup()
    yield app, url, tmp_path
    app.close()


def test_a_checkpoint_is_a_signed_c2sp_note_of_the_tenants_tree(store):
    app, _, tmp_path = store
    signer = signing.log_key(tmp_path / "log.key")
    note = signing.checkpoint(app.recorder, "tianjin", signer)
    opened = notes.open(note, [signer.verifier()])
    cp = notes.Checkpoint.parse(opened.text)
    assert (cp.origin, cp.size, cp.root) == ("civic-ledger.local/tianjin", *app.recorder.log_root("tianjin"))
    assert signing.check(app.recorder, note, signer.verifier())["ok"]
    # the key file is made once, private, and read back the same
    assert (tmp_path / "log.key").stat().st_mode & 0o777 == 0o600
    assert signing.log_key(tmp_path / "log.key").verifier() == signer.verifier()


def test_a_store_that_grew_after_the_checkpoint_is_consistent_with_it(store):
    app, _, tmp_path = store
    signer = signing.log_key(tmp_path / "log.key")
    note = signing.checkpoint(app.recorder, "tianjin", signer)
    world = World(app)
    app.register_community(world.district, "c9", "新社区", "东丽区", "张贵庄街道", households=1, population=1)
    verdict = signing.check(app.recorder, note, signer.verifier())
    assert verdict["ok"] and verdict["log_size"] > verdict["size"]


def test_history_rewritten_consistently_after_the_checkpoint_is_caught(store):
    app, url, tmp_path = store
    signer = signing.log_key(tmp_path / "log.key")
    note = signing.checkpoint(app.recorder, "tianjin", signer)
    app.close()
    # an insider edits an event and rebuilds every derived table from the edited events
    with sqlite3.connect(tmp_path / "civic.sqlite3") as db:
        (rowid, state), = db.execute("SELECT rowid, state FROM stored_events WHERE topic LIKE '%Community.Registered' "
                                     "ORDER BY rowid LIMIT 1").fetchall()
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (bytes(state).replace("詹滨里".encode(), "假社区".encode()), rowid))
        for table in ("chain", "log_leaves", "log_nodes"):
            db.execute(f"DROP TABLE stored_events_{table}")
    reopened = CivicLedger(url, plugins=app.plugins)
    try:
        verdict = signing.check(reopened.recorder, note, signer.verifier())
        assert not verdict["ok"] and "rewritten" in verdict["problems"][0]
    finally:
        reopened.close()


def test_a_truncated_log_is_caught(store):
    app, url, tmp_path = store
    signer = signing.log_key(tmp_path / "log.key")
    note = signing.checkpoint(app.recorder, "tianjin", signer)
    size, _ = app.recorder.log_root("tianjin")
    app.close()
    with sqlite3.connect(tmp_path / "civic.sqlite3") as db:
        db.execute("DELETE FROM stored_events_log_leaves WHERE leaf = ?", (size - 1,))
        db.execute("DELETE FROM stored_events_log_nodes WHERE idx * (1 << level) + (1 << level) > ?", (size - 1,))
    reopened = CivicLedger(url, plugins=app.plugins)
    try:
        verdict = signing.check(reopened.recorder, note, signer.verifier())
        assert not verdict["ok"] and "removed" in verdict["problems"][0]
    finally:
        reopened.close()


def test_a_note_not_signed_by_the_log_key_is_refused(store):
    app, _, tmp_path = store
    signer = signing.log_key(tmp_path / "log.key")
    note = signing.checkpoint(app.recorder, "tianjin", signer)
    stranger, _ = notes.generate_key("civic-ledger.local")
    with pytest.raises(InvalidInput):
        signing.check(app.recorder, note, stranger.verifier())
    forged = note.replace(b"\n10\n", b"\n11\n") if b"\n10\n" in note else note[:-5] + b"AAAA\n"
    with pytest.raises(InvalidInput):
        signing.check(app.recorder, forged, signer.verifier())


def test_the_commands_sign_and_check(store, monkeypatch):
    app, url, tmp_path = store
    app.close()
    env = {"CIVIC_DATABASE_URL": url, "CIVIC_LOG_KEY_FILE": str(tmp_path / "cli.key")}
    runner = CliRunner()
    key = runner.invoke(cli, ["audit", "log-key"], env=env)
    assert key.exit_code == 0 and key.output.startswith("civic-ledger.local+")
    made = runner.invoke(cli, ["audit", "checkpoint", "--out", str(tmp_path / "cps")], env=env)
    assert made.exit_code == 0, made.output
    checked = runner.invoke(cli, ["audit", "check-checkpoint", str(tmp_path / "cps" / "tianjin.checkpoint"),
                                  "--log-key", key.output.strip(), "--json"], env=env)
    assert checked.exit_code == 0, checked.output
    unknown = runner.invoke(cli, ["audit", "checkpoint", "--tenant", "nowhere"], env=env)
    assert unknown.exit_code == 1 and "nowhere" in unknown.output


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request, tmp_path, plugins):
    url = f"sqlite:///{tmp_path}/civic.sqlite3" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    app = CivicLedger(url, plugins=plugins)
    World(app).setup()
    yield app
    app.close()


def test_a_row_inserted_past_the_platform_is_caught_against_a_later_checkpoint(any_store, tmp_path):
    """An insider with the application role's INSERT appends a forged title award with a
    plain SQL INSERT: the checkpoints signed afterwards still cover only what the platform
    logged, and the check names the forged row."""
    import json
    from uuid import UUID

    from eventsourcing.utils import get_topic

    from core.domain import Community
    from tests.test_chain import insert_event

    app = any_store
    signer = signing.log_key(tmp_path / "log.key")
    community = next(UUID(str(c)) for c in app.tenant(World(app).owner, "tianjin").communities)
    version = app.repository.get(community).version
    state = {"meta": {"actor": {"id": "owner", "role": "city_owner", "org": "市民政局"}, "tenant": "tianjin",
                      "effective": "2020-12-01", "reason": None, "campaign": None, "rubric": None},
             "candidacy_id": "00000000-0000-0000-0000-000000000001", "campaign_id": "00000000-0000-0000-0000-000000000002",
             "level": "meili", "label": "美丽社区", "rubric": "sha256:" + "0" * 64,
             "timestamp": {"_type_": "datetime_iso", "_data_": "2020-12-01T00:00:00+00:00"}}
    insert_event(app, community, version + 1, get_topic(Community.TitleAwarded), json.dumps(state).encode())
    note = signing.checkpoint(app.recorder, "tianjin", signer)  # signed after the forgery
    verdict = signing.check(app.recorder, note, signer.verifier())
    assert not verdict["ok"]
    assert any(f"stream {community} position {version + 1}" in p and "not in the log" in p for p in verdict["problems"]), verdict
