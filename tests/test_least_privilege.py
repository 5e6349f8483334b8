"""Least privilege on PostgreSQL (README, "Least privilege on PostgreSQL").

The owner creates the store up front (``civic store init``) and grants a fresh login role
exactly what ``civic store grants`` prints. The application, connected as that role, runs
a whole campaign through the application layer, over HTTP (a write with an
``Idempotency-Key``, the read-model lists, a refused token) and on the command line
without creating anything, while PostgreSQL refuses that role every UPDATE, DELETE and
TRUNCATE of the history; the chains and the transparency log still verify.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import httpx
import psycopg
import pytest
from psycopg.sql import SQL, Identifier, Literal
from typer.testing import CliRunner

from core import pgschema
from core.actors import Actor, Role
from core.cli import app as cli
from core.readmodels import read_models
from core.services import CivicLedger
from tests.api_support import ApiWorld
from tests.conftest import postgres_url
from tests.test_crash_postgres import _civic, _free_port
from tests.test_lifecycle import run_to_decision
from tests.test_tlog import assert_logs_match

ROOT = Path(__file__).resolve().parent.parent
AUDITOR = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")
runner = CliRunner()


@dataclass(frozen=True)
class Store:
    """A fresh schema, a fresh owner role (it may create schemas in the database) and a
    fresh application role, with their URLs; ``admin`` is the test server's own URL."""

    admin: str
    owner: str
    app: str
    schema: str
    role: str
    database: str
    owner_role: str

    def without_schema(self, url: str) -> str:
        return url.split("?", 1)[0]


@pytest.fixture
def store():
    admin = postgres_url().split("?", 1)[0]
    tag = uuid.uuid4().hex[:10]
    schema, owner, role = f"civic_lp_{tag}", f"civic_own_{tag}", f"civic_app_{tag}"
    parts = urlsplit(admin)
    database = parts.path.lstrip("/")
    urls = {}
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (owner, role):
            password = secrets.token_hex(16)
            conn.execute(SQL("CREATE ROLE {0} LOGIN PASSWORD {1}").format(Identifier(name), Literal(password)))
            netloc = f"{name}:{password}@{parts.hostname}:{parts.port or 5432}"
            urls[name] = f"{urlunsplit(parts._replace(netloc=netloc))}?schema={schema}"
        conn.execute(SQL("GRANT CREATE ON DATABASE {0} TO {1}").format(Identifier(database), Identifier(owner)))
    try:
        yield Store(admin, urls[owner], urls[role], schema, role, database, owner)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN (%s, %s)",
                         (owner, role))
            conn.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(schema)))
            for name in (role, owner):
                conn.execute(SQL("DROP OWNED BY {0}").format(Identifier(name)))
                conn.execute(SQL("DROP ROLE IF EXISTS {0}").format(Identifier(name)))


def civic(*args: str, url: str) -> str:
    result = runner.invoke(cli, list(args), env={"CIVIC_DATABASE_URL": url, "COLUMNS": "200"})
    assert result.exit_code == 0, f"civic {' '.join(args)}: {result.output}"
    return result.output


def catalogue(store: Store) -> list[tuple[str, str, str]]:
    """Every relation, type and function of the schema, with its owner."""
    with psycopg.connect(store.admin, autocommit=True) as conn:
        return conn.execute(
            "SELECT 'rel', c.relname || ':' || c.relkind::text, pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s "
            "UNION ALL SELECT 'proc', p.proname || ':' || md5(p.prosrc), pg_get_userbyid(p.proowner) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(s)s "
            "UNION ALL SELECT 'trigger', t.tgname || ':' || t.tgenabled::text, '' FROM pg_trigger t JOIN pg_class c "
            "ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %(s)s AND NOT t.tgisinternal ORDER BY 1, 2", {"s": store.schema}).fetchall()


def as_role(store: Store) -> psycopg.Connection:
    return psycopg.connect(store.without_schema(store.app), autocommit=True)


def initialise(store: Store) -> list[str]:
    """As the owner: ``civic store init``, then what ``civic store grants`` prints (the
    functions' EXECUTE taken from PUBLIC first: only what is granted counts)."""
    created = civic("store", "init", url=store.owner)
    assert f"已创建 created: table {store.schema}.civicledger_events\n" in created
    again = civic("store", "init", url=store.owner)
    assert "已就绪 everything was in place; nothing created" in again and "已创建" not in again
    grants = civic("store", "grants", "--role", store.role, "--schema", store.schema, url=store.owner)
    statements = [line for line in grants.splitlines() if line and not line.startswith("--")]
    with psycopg.connect(store.without_schema(store.owner), autocommit=True) as conn:
        conn.execute(SQL("REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA {0} FROM PUBLIC").format(Identifier(store.schema)))
        for statement in statements:
            conn.execute(statement)
    return statements


@pytest.mark.postgres
def test_the_application_role_runs_a_campaign_and_may_not_change_the_history(store, plugins, tmp_path, monkeypatch):
    statements = initialise(store)
    history = pgschema.history_tables("civicledger_events")
    with psycopg.connect(store.admin, autocommit=True) as conn:
        # every table of the store is granted, the history only SELECT and INSERT; no CREATE anywhere
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (store.schema,))}
        granted = {r[0]: set(r[1].split(", ")) for r in conn.execute(
            "SELECT table_name, string_agg(privilege_type, ', ') FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND table_schema = %s GROUP BY table_name", (store.role, store.schema))}
        assert set(granted) == tables and set(history) <= tables
        assert all(granted[t] == {"SELECT", "INSERT"} for t in history), granted
        assert all("TRUNCATE" not in p for p in granted.values()), granted
        sequence = conn.execute("SELECT pg_get_serial_sequence(%s, 'notification_id')",
                                (f'"{store.schema}"."civicledger_events"',)).fetchone()[0]
        assert sequence == f"{store.schema}.civicledger_events_notification_id_seq"
        assert f'GRANT USAGE ON SEQUENCE "{store.schema}"."civicledger_events_notification_id_seq" TO "{store.role}";' \
            in statements
        assert conn.execute("SELECT has_schema_privilege(%s, %s, 'CREATE'), has_database_privilege(%s, %s, 'CREATE')",
                            (store.role, store.schema, store.role, store.database)).fetchone() == (False, False)
    before = catalogue(store)
    assert {who for _, _, who in before if who} == {store.owner_role}

    # the application as the role: a campaign to its decisions, then over HTTP and on the command line
    app = CivicLedger(store.app, plugins=plugins)
    try:
        world = ApiWorld(app)
        ids = run_to_decision(world)
        assert app.decide(world.owner, ids["campaign"], on="2020-11-20")[ids["c1"]] is True
        campaign = ids["campaign"]

        headers = world.auth(world.district, **{"Idempotency-Key": "lp-register-c9"})
        body = {"code": "c9", "name": "最小权限社区", "district": "东丽区", "street": "张贵庄街道",
                "households": 800, "population": 2000}
        first = world.http.post("/tenants/tianjin/communities", json=body, headers=headers)
        assert first.status_code == 201, first.text
        recorded = app.recorder.max_notification_id()
        again = world.http.post("/tenants/tianjin/communities", json=body, headers=headers)
        assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (201, first.json(), "true")
        assert app.recorder.max_notification_id() == recorded
        for path in (f"/campaigns/{campaign}/candidacies?detail=true", f"/campaigns/{campaign}/findings/overdue",
                     f"/campaigns/{campaign}/streets/progress", f"/campaigns/{campaign}/notice/list"):
            answer = world.http.get(path, headers=world.auth(world.owner))
            assert answer.status_code == 200, (path, answer.text)
        listed = world.http.get(f"/campaigns/{campaign}/candidacies", headers=world.auth(world.owner)).json()
        assert {row["id"] for row in listed} == {ids[k] for k in ("c1", "c2", "c3", "c1p")}
        assert world.http.get(f"/campaigns/{campaign}/candidacies",
                              headers={"Authorization": "Bearer not-a-token"}).status_code == 401  # counted
        with psycopg.connect(store.admin, autocommit=True) as conn:
            assert conn.execute(SQL("SELECT count(*) FROM {0}.civic_api_throttle").format(
                Identifier(store.schema))).fetchone()[0] >= 1
        assert read_models(app).rebuild("candidacies") > 0  # DELETE on a read model's rows

        monkeypatch.setenv("CIVIC_LOG_KEY_FILE", str(tmp_path / "log.key"))
        assert '"up_to_date": true' in civic("readmodels", "status", "--json", url=store.app)
        civic("readmodels", "rebuild", "--all", url=store.app)
        civic("campaigns", "tianjin", url=store.app)
        civic("history", campaign, url=store.app)
        # the log's routes: the leaf index and a witness's cosignature, kept beside the events
        from core import notes

        version = app.repository.get(UUID(campaign)).version
        inclusion = world.http.get(f"/tenants/tianjin/log/inclusion?stream={campaign}&version={version}"
                                   f"&size={app.recorder.log_size('tianjin')}", headers=world.auth(world.auditor))
        assert inclusion.status_code == 200, inclusion.text
        checkpoint = world.http.get("/tenants/tianjin/log/checkpoint")
        assert checkpoint.status_code == 200, checkpoint.text
        witness, _ = notes.generate_key("witness.example")
        cosigned = world.http.post("/tenants/tianjin/log/cosignatures", headers=world.auth(world.auditor),
                                   json={"checkpoint": notes.cosign(checkpoint.content, witness).decode(),
                                         "witness_key": str(witness.cosignature_verifier())})
        assert cosigned.status_code == 201, cosigned.text
        civic("token", "create", "--tenant", "tianjin", "--role", "inspector", "--name", "最小权限", url=store.app)
        civic("audit", "verify", url=store.app)
        civic("audit", "anchor", "--out", str(tmp_path / "anchor.json"), url=store.app)
        civic("audit", "checkpoint", "--tenant", "tianjin", "--out", str(tmp_path / "checkpoints"), url=store.app)
        civic("audit", "check-checkpoint", str(tmp_path / "checkpoints" / "tianjin.checkpoint"), url=store.app)
        served(store.app)

        # what the role may not do to the history: PostgreSQL refuses it
        with as_role(store) as conn:
            for table in history:
                name = SQL("{0}.{1}").format(Identifier(store.schema), Identifier(table))
                column = conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
                                      (f'"{store.schema}"."{table}"',)).fetchone()[0]
                for attempt in (SQL("UPDATE {0} SET {1} = {1}").format(name, Identifier(column)),
                                SQL("DELETE FROM {0}").format(name), SQL("TRUNCATE {0}").format(name)):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"permission denied for table {table}"):
                        conn.execute(attempt)
                for attempt in (SQL("ALTER TABLE {0} DISABLE TRIGGER ALL").format(name),
                                SQL("DROP TABLE {0}").format(name)):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"must be owner of table {table}"):
                        conn.execute(attempt)
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for sequence"):
                conn.execute("SELECT setval(%s, 1)", (sequence,))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(SQL("CREATE OR REPLACE FUNCTION {0}.civicledger_events_log_append(p_tenant text, "
                                 "p_streams uuid[], p_versions bigint[], p_leaves bytea[]) RETURNS void LANGUAGE sql "
                                 "AS 'SELECT'").format(Identifier(store.schema)))

        report = app.verify_chains(AUDITOR)
        assert report.intact, report.breaks
        with psycopg.connect(store.admin, autocommit=True) as conn:
            assert report.events == conn.execute(SQL("SELECT count(*) FROM {0}.civicledger_events").format(
                Identifier(store.schema))).fetchone()[0] > 0
        logs = assert_logs_match(app)
        roots = {tenant: app.recorder.log_root(tenant) for tenant in logs}
        assert roots["tianjin"][0] == len(logs["tianjin"])
    finally:
        app.close()

    assert catalogue(store) == before, "the application role created or replaced something"
    owner = CivicLedger(store.owner, plugins=plugins)  # the owner reads the same chains and log
    try:
        assert owner.verify_chains(AUDITOR).root == report.root
        assert {tenant: owner.recorder.log_root(tenant) for tenant in roots} == roots
    finally:
        owner.close()


def served(url: str) -> None:
    """``civic serve`` starts as the role and answers."""
    port = _free_port()
    env = {**os.environ, "CIVIC_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_civic() + ["serve", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while True:
                assert proc.poll() is None, proc.stdout.read().decode("utf-8", "replace")
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "civic serve did not start"
                time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
        proc.stdout.close()


@pytest.mark.postgres
def test_a_store_its_owner_has_not_initialised_is_refused_naming_the_command(store, plugins):
    with psycopg.connect(store.admin, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA {0}").format(Identifier(store.schema)))
        conn.execute(SQL("GRANT USAGE ON SCHEMA {0} TO {1}").format(Identifier(store.schema), Identifier(store.role)))
    before = catalogue(store)
    with pytest.raises(pgschema.NotInitialised, match="civic store init") as refused:
        CivicLedger(store.app, plugins=plugins)
    assert str(refused.value).startswith("数据库结构未就绪")
    assert f"table {store.schema}.civicledger_events" in refused.value.absent
    assert catalogue(store) == before == []
    result = runner.invoke(cli, ["readmodels", "status"], env={"CIVIC_DATABASE_URL": store.app, "COLUMNS": "200"})
    assert result.exit_code == 1 and "civic store init" in result.output


@pytest.mark.postgres
def test_a_schema_the_role_may_not_create_is_refused_naming_the_command(store):
    result = runner.invoke(cli, ["campaigns", "tianjin"], env={"CIVIC_DATABASE_URL": store.app, "COLUMNS": "200"})
    assert result.exit_code == 1 and "civic store init" in result.output and store.schema in result.output


@pytest.mark.parametrize("args", [["--role", "app; DROP TABLE x"], ["--role", "civic_app", "--schema", "a.b"],
                                  ["--role", "civic_app", "--database", "x y"]])
def test_grants_refuse_names_they_cannot_print(args):
    result = runner.invoke(cli, ["store", "grants", *args])
    assert result.exit_code == 1 and "is not allowed; allowed:" in result.output


def test_grants_name_the_database_when_asked():
    result = runner.invoke(cli, ["store", "grants", "--role", "civic_app", "--schema", "civic", "--database", "civic"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == 'GRANT CONNECT ON DATABASE "civic" TO "civic_app";'
    assert 'GRANT SELECT, INSERT ON TABLE "civic"."civicledger_events" TO "civic_app";' in result.output.splitlines()


def test_init_is_for_postgresql_only(tmp_path):
    result = runner.invoke(cli, ["store", "init"], env={"CIVIC_DATABASE_URL": f"sqlite:///{tmp_path}/civic.sqlite3"})
    assert result.exit_code == 1 and "仅用于 PostgreSQL" in result.output
