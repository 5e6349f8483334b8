"""``civic readmodels status / catch-up / rebuild`` on a SQLite file and on PostgreSQL: the
positions move with the log, a rebuild gives the rows incremental catch-ups gave, and bad
model names are refused with nothing changed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from core.cli import app as cli
from core.plugins import PluginHost
from core.readmodels import models, read_models
from core.services import CivicLedger

runner = CliRunner()


def invoke(*args: str, env: dict[str, str]):
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request, tmp_path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path}/civic.sqlite3" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    env = {"CIVIC_DATABASE_URL": url}
    assert invoke("demo", "tianjin-dongli-2020", env=env).exit_code == 0
    return env


def status(env: dict[str, str]) -> dict[str, dict]:
    result = invoke("readmodels", "status", "--json", env=env)
    assert result.exit_code == 0, result.output
    return {row["model"]: row for row in json.loads(result.stdout)}


def dumps(env: dict[str, str]) -> dict[str, dict]:
    ledger = CivicLedger(env["CIVIC_DATABASE_URL"], plugins=PluginHost.discover())
    try:
        rm = read_models(ledger)
        return {name: rm.dump(name) for name in models()}
    finally:
        ledger.close()


def test_catch_up_then_rebuild_gives_the_same_rows(env):
    before = status(env)
    assert set(before) == set(models())
    log = next(iter(before.values()))["log"]
    assert log > 0 and all(row["position"] == 0 and not row["up_to_date"] for row in before.values())

    result = invoke("readmodels", "catch-up", env=env)
    assert result.exit_code == 0 and "155 notifications applied" in result.output, result.output
    caught_up = status(env)
    assert all(row["position"] == log and row["up_to_date"] for row in caught_up.values())
    assert caught_up["candidacies"]["rows"] == {"candidacies": 15}
    incremental = dumps(env)
    assert invoke("readmodels", "catch-up", "candidacies", env=env).output.count("0 notifications applied") == 1

    result = invoke("readmodels", "rebuild", "candidacies", "notice", env=env)
    assert result.exit_code == 0 and "rebuilt from 155 notifications" in result.output, result.output
    assert invoke("readmodels", "rebuild", "--all", env=env).exit_code == 0
    assert dumps(env) == incremental
    assert status(env) == caught_up


def test_bad_model_names_are_refused_and_change_nothing(env):
    assert invoke("readmodels", "catch-up", env=env).exit_code == 0
    rows = dumps(env)
    for args, said in (
        (("rebuild",), "one or more of communities, candidacies, findings, notice, or --all"),
        (("rebuild", "nosuch"), "'nosuch' is not allowed; allowed: communities, candidacies"),
        (("rebuild", "--all", "notice"), "either model names or --all, not both"),
        (("catch-up", "candidacy"), "'candidacy' is not allowed"),
    ):
        result = invoke("readmodels", *args, env=env)
        assert result.exit_code == 1 and said in result.output, (args, result.output)
    assert dumps(env) == rows
    assert all(row["up_to_date"] for row in status(env).values())
