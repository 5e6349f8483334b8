"""Auditors recompute recorded decisions from the events and ask what titles were held when."""

from __future__ import annotations

import pytest

from core.actors import Actor, Role
from tests.helpers import World, evidence
from tests.test_lifecycle import run_to_decision

AUDITOR = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")


@pytest.fixture
def world(app) -> World:
    return World(app)


def test_every_recorded_decision_is_confirmed_by_recomputation(world):
    ids = run_to_decision(world)
    world.app.decide(world.owner, ids["campaign"], on="2020-11-20")
    verdicts = world.app.verify_decisions(AUDITOR, ids["campaign"])
    assert {v.candidacy_id: v.status for v in verdicts} == {ids[k]: "confirmed" for k in ("c1", "c2", "c3", "c1p")}
    assert all(v.differences == [] for v in verdicts)


def test_a_changed_rule_or_record_shows_as_a_mismatch_with_the_differing_lines(world, monkeypatch):
    app = world.app
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-20")
    # an auditor running a style whose pass line silently moved to 90 sees exactly what differs
    style = app.plugins.style("threshold")
    original = style.rules

    def stricter(rubric, level):
        rules = original(rubric, level)
        return rules.model_copy(update={"min_total": rules.min_total + 5}) if level == "meili" else rules

    monkeypatch.setattr(style, "rules", stricter)
    verdicts = {v.candidacy_id: v for v in app.verify_decisions(AUDITOR, ids["campaign"])}
    c1 = verdicts[ids["c1"]]
    assert c1.status == "mismatched"
    assert any(line.startswith("-") and '"min_total"' in line for line in c1.differences)
    assert any(line.startswith("+") and '"85"' in line for line in c1.differences)


def test_titles_on_a_date_follow_naming_and_revocation(world):
    app = world.app
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-20")
    community = world.communities["c1"]
    revisit = app.conduct_inspection(world.inspector, ids["c1"], "unannounced", "2021-03-01", ["甲"], purpose="supervision")
    finding = app.record_finding(world.inspector, revisit, "41", "私装地锁", "major", "拆除地锁", "2021-04-01")
    app.complete_rectification(world.community, revisit, finding, "已拆除", evidence(), on="2021-03-20")
    app.verify_rectification(world.inspector, revisit, finding, False, "复查仍有地锁", on="2021-04-02")
    app.revoke(world.owner, ids["c1"], "整改不合格", [f"{revisit}/{finding}"], on="2021-04-10")

    def levels(day):
        return [(t["level"], t["candidacy_id"]) for t in app.titles_on(AUDITOR, community, day)]

    assert levels("2020-11-19") == []
    assert levels("2020-11-20") == [("jingpin", ids["c1p"]), ("meili", ids["c1"])]
    assert levels("2021-04-09") == [("jingpin", ids["c1p"]), ("meili", ids["c1"])]
    assert levels("2021-04-10") == [("jingpin", ids["c1p"])]
    # the candidacy as it stood at the decision, by event position
    decided_at = app.candidacy(world.owner, ids["c1"]).decision["derivation"]["positions"]["candidacy"][1] + 1
    assert app.stream_at(AUDITOR, ids["c1"], decided_at).status == "named"
    assert app.candidacy(world.owner, ids["c1"]).status == "revoked"


def test_audit_commands_on_the_demo(tmp_path):
    import json

    from typer.testing import CliRunner

    from core.cli import app as cli
    from plugins.tianjin_meili import demo

    env = {"CIVIC_DATABASE_URL": f"sqlite:///{tmp_path}/demo.sqlite3"}
    runner = CliRunner()
    assert runner.invoke(cli, ["demo", "tianjin-dongli-2020"], env=env).exit_code == 0
    verified = runner.invoke(cli, ["audit", "verify", "--tenant", demo.TENANT, "--json"], env=env)
    assert verified.exit_code == 0, verified.output
    rows = json.loads(verified.stdout)["decisions"]
    assert len(rows) == 15 and {r["status"] for r in rows} == {"confirmed"}
    revoked = next(r for r in rows if r["community"] == "和畅园社区")
    listed = json.loads(runner.invoke(cli, ["campaigns", demo.TENANT, "--json"], env=env).output)
    from core.services import CivicLedger

    app = CivicLedger(env["CIVIC_DATABASE_URL"])
    try:
        community_id = app.candidacy(demo.DEMO.reader, revoked["candidacy_id"]).community_id
    finally:
        app.close()
    before = json.loads(runner.invoke(cli, ["audit", "titles", community_id, "--on", "2021-01-01", "--json"], env=env).output)
    after = json.loads(runner.invoke(cli, ["audit", "titles", community_id, "--on", "2021-07-01", "--json"], env=env).output)
    assert [t["label"] for t in before] == ["美丽社区"] and after == []
    assert listed[0]["decided"] is True
    bad = runner.invoke(cli, ["audit", "verify", "--tenant", demo.TENANT, "--campaign", listed[0]["id"]], env=env)
    assert bad.exit_code == 1 and "at most one of" in bad.output
    assert runner.invoke(cli, ["audit", "--help"]).exit_code == 0


def test_time_travel_by_recorded_time(world):
    import datetime as dt

    from core.errors import InvalidInput

    app = world.app
    campaign = world.setup()
    before_open = dt.datetime.now(dt.timezone.utc).isoformat()
    app.open_campaign(world.owner, campaign)
    assert app.stream_at(AUDITOR, campaign, recorded_by=before_open).status == "draft"
    assert app.stream_at(AUDITOR, campaign, recorded_by=dt.datetime.now(dt.timezone.utc).isoformat()).status == "open"
    with pytest.raises(InvalidInput):
        app.stream_at(AUDITOR, campaign, version=1, recorded_by=before_open)
    with pytest.raises(InvalidInput):
        app.stream_at(AUDITOR, campaign, recorded_by="yesterday")


def test_a_decision_whose_rubric_version_is_missing_is_reported_as_such(tmp_path, plugins):
    import sqlite3

    from core.services import CivicLedger

    url = f"sqlite:///{tmp_path}/civic.sqlite3"
    app = CivicLedger(url, plugins=plugins)
    world = World(app)
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-20")
    app.close()
    with sqlite3.connect(tmp_path / "civic.sqlite3") as conn:
        conn.execute("DELETE FROM stored_events WHERE topic LIKE '%RubricRecord.Recorded'")
    again = CivicLedger(url, plugins=plugins)
    try:
        verdicts = again.verify_decisions(AUDITOR, ids["campaign"])
        assert len(verdicts) == 4 and {v.status for v in verdicts} == {"unverifiable"}
        assert "is not in the store" in verdicts[0].differences[0]
    finally:
        again.close()
