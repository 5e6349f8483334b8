"""End-to-end through the ``civic`` command line on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from plugins.tianjin_meili import demo
from core.cli import app as cli
from core.plugins import PluginHost
from core.services import CivicLedger
from tests.helpers import notification_count

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
    return result


def _commands(group=None, path=()):
    """Every command and group of the ``civic`` application, found by walking it."""
    import typer

    group = group or typer.main.get_command(cli)
    yield list(path)
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            yield from _commands(command, (*path, name))


@pytest.mark.parametrize("command", list(_commands()), ids=lambda c: " ".join(c) or "civic")
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output and "--help" in result.output


def test_rubric_show_json_has_the_documented_shape():
    result = invoke("rubric", "show", "tianjin-meili", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert {"id", "version", "hash", "title", "rules", "categories", "levels"} <= set(data)
    assert data["hash"] == PluginHost.discover().rubric("tianjin-meili").rubric.content_hash
    items = [item for cat in data["categories"] for item in cat["items"]]
    assert len(items) == 60 and set(items[0]) == {"id", "text", "max_points"}
    assert sum(item["max_points"] for item in items) == 100
    jingpin = next(lv for lv in data["levels"] if lv["id"] == "jingpin")
    assert jingpin["provisional"] is True and "暂行" in jingpin["label"]


def test_rubric_show_unknown_id_is_a_clear_error():
    result = invoke("rubric", "show", "no-such-rubric")
    assert result.exit_code == 1
    assert "no-such-rubric" in result.output and "tianjin-meili@2017" in result.output


def test_plugins_json_lists_the_tianjin_plugin():
    data = json.loads(invoke("plugins", "--json").output)
    tianjin = next(p for p in data["plugins"] if p["name"] == "tianjin_meili")
    assert tianjin["rubrics"] == ["tianjin-meili@2017"]
    assert "civic_rubrics" in tianjin["hooks"] and "entry point" in tianjin["source"]


def run_demo_twice(url: str) -> None:
    env = {"CIVIC_DATABASE_URL": url}
    first = invoke("demo", env=env)
    assert first.exit_code == 0, first.output
    assert "已摘牌" in first.output and "已命名" in first.output and "未命名" in first.output
    assert "暂行" in first.output  # the provisional premium standard is labelled as such
    app = CivicLedger(url, plugins=PluginHost.discover())
    try:
        before = notification_count(app)
        second = invoke("demo", env=env)
        assert second.exit_code == 0
        assert notification_count(app) == before  # a second run records nothing
        campaign_id = str(app.campaign_by_code(demo.DEMO.reader, demo.CAMPAIGN_CODE).id)
        rows = app.outcome_table(demo.DEMO.reader, campaign_id)
        statuses = [r["status"] for r in rows]
        assert statuses.count("revoked") == 1
        assert sum(r["objections"]["upheld"] for r in rows) == 1
        assert len({r["community"] for r in rows}) >= 12 and len({r["street"] for r in rows}) == 4
        overdue = [f for f in app.findings(demo.DEMO.reader, campaign_id, on="2020-09-30") if f["overdue"]]
        assert len(overdue) == 1
        kinds = {k for cid in app.campaign(demo.DEMO.reader, campaign_id).candidacies
                 for k, sheets in app.candidacy(demo.DEMO.reader, cid).scores.items() if sheets}
        assert kinds == {"self", "mock", "official"}
    finally:
        app.close()
    listed = json.loads(invoke("campaigns", demo.TENANT, "--json", env=env).output)
    assert [(c["id"], c["code"], c["decided"]) for c in listed] == [(campaign_id, demo.CAMPAIGN_CODE, True)]
    unknown = invoke("campaigns", "no-such-tenant", env=env)
    assert unknown.exit_code == 1 and "no-such-tenant" in unknown.output
    history = invoke("history", campaign_id, "--json", env=env)
    events = json.loads(history.output)
    assert events[0]["event"] == "Campaign.Created"
    assert any(e["event"] == "Candidacy.Revoked" and e["reason"] for e in events)


def test_demo_on_sqlite_file_is_complete_and_rerunnable(tmp_path):
    run_demo_twice(f"sqlite:///{tmp_path}/demo.sqlite3")


@pytest.mark.postgres
def test_demo_on_postgres_is_complete_and_rerunnable(pg_schema_url):
    run_demo_twice(pg_schema_url)


def test_bad_database_url_is_reported_without_traceback():
    result = invoke("demo", env={"CIVIC_DATABASE_URL": "mysql://x/y"})
    assert result.exit_code == 1
    assert "CIVIC_DATABASE_URL" in result.output and "mysql://x/y" in result.output
