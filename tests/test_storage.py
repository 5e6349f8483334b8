"""CIVIC_DATABASE_URL: parsing, refusals that name the setting (never the password), and the
guarantee that the application writes to the store it was given, never silently to memory."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from core import storage
from core.chained_stores import (
    ChainedPOPOApplicationRecorder,
    ChainedPostgresApplicationRecorder,
    ChainedSQLiteApplicationRecorder,
    ChainedSQLiteFactory,
)
from core.actors import Role
from core.errors import ConfigurationError
from core.plugins import PluginHost
from core.services import CivicLedger
from core.storage import DEFAULT_SQLITE_PATH, ENV_VAR, StoreConfig, configured_url, parse_url
from tests.helpers import actor

SECRET = "s3cr3t-pw"
OWNER = actor(Role.CITY_OWNER, "owner", "天津市民政局")


@pytest.fixture
def host() -> PluginHost:
    """Storage needs no plugins; an empty host keeps these tests about storage."""
    return PluginHost()


# --------------------------------------------------------------------------------------
# Accepted URLs
# --------------------------------------------------------------------------------------


def test_memory_url():
    for url in ("memory://", " memory:// "):
        config = parse_url(url)
        assert config.kind == "memory"
        assert config.env == {"PERSISTENCE_MODULE": "core.chained_stores:ChainedPOPOFactory"}


def test_sqlite_relative_path_is_relative_to_the_working_folder_and_its_folder_is_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = parse_url("sqlite:///var/ledger/civic.sqlite3")
    assert config.kind == "sqlite"
    assert config.env["PERSISTENCE_MODULE"] == "core.chained_stores:ChainedSQLiteFactory"
    assert config.env["SQLITE_DBNAME"] == "var/ledger/civic.sqlite3"
    assert (tmp_path / "var" / "ledger").is_dir()
    assert not (tmp_path / "var" / "ledger" / "civic.sqlite3").exists()  # created by the store on first use


def test_sqlite_absolute_path_creates_its_folder(tmp_path):
    target = tmp_path / "deep" / "er" / "civic.sqlite3"
    url = f"sqlite:///{target}"
    assert url.startswith("sqlite:////")
    config = parse_url(url)
    assert config.kind == "sqlite"
    assert config.env["SQLITE_DBNAME"] == str(target)
    assert target.parent.is_dir()


def test_display_hides_the_password():
    config = StoreConfig(f"postgresql://civic:{SECRET}@db.example:5433/ledger?schema=x", "postgres", {})
    assert config.display == "postgresql://civic:***@db.example:5433/ledger?schema=x"
    assert StoreConfig("sqlite:////tmp/x.sqlite3", "sqlite", {}).display == "sqlite:////tmp/x.sqlite3"


@pytest.mark.postgres
def test_postgresql_url_with_schema_option(pg_schema_url):
    import psycopg

    config = parse_url(pg_schema_url)
    schema = pg_schema_url.rsplit("schema=", 1)[1]
    assert config.kind == "postgres"
    env = config.env
    assert env["PERSISTENCE_MODULE"] == "core.chained_stores:ChainedPostgresFactory"
    assert (env["POSTGRES_HOST"], env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]) == (
        psycopg.conninfo.conninfo_to_dict(pg_schema_url.split("?", 1)[0])["host"],
        pg_schema_url.split("?", 1)[0].rsplit("/", 1)[1],
        schema,
    )
    # the schema is created up front
    with psycopg.connect(pg_schema_url.split("?", 1)[0]) as conn:
        found = conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)).fetchone()
    assert found is not None


@pytest.mark.postgres
def test_postgresql_pool_options_are_passed_on(pg_schema_url):
    config = parse_url(f"{pg_schema_url}&pool_size=2&max_overflow=3")
    assert (config.env["POSTGRES_POOL_SIZE"], config.env["POSTGRES_MAX_OVERFLOW"]) == ("2", "3")


# --------------------------------------------------------------------------------------
# Refused URLs: each message names the setting and the URL, never the password
# --------------------------------------------------------------------------------------


def refused(url: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse_url(url)
    message = str(caught.value)
    assert ENV_VAR in message
    assert SECRET not in message
    return message


@pytest.mark.parametrize("url", ["", "   "])
def test_empty_url_is_refused(url):
    assert "is empty" in refused(url)


def test_unknown_scheme_is_refused_naming_the_url_without_its_password():
    message = refused(f"mysql://root:{SECRET}@db.example/ledger")
    assert "unknown storage" in message and "mysql://root:***@db.example/ledger" in message
    assert "no-scheme-at-all" in refused("no-scheme-at-all")


@pytest.mark.parametrize("url", ["memory://somewhere", "memory:///tmp/x"])
def test_memory_url_with_a_path_is_refused(url):
    assert url in refused(url)


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///data/", "sqlite://civic.sqlite3", "sqlite:civic.sqlite3"])
def test_sqlite_url_without_a_file_is_refused(url):
    message = refused(url)
    assert url in message
    assert "names no file" in message or "sqlite:///relative/path" in message


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///:memory:",
        "sqlite:///%3Amemory%3A",  # the same, percent-encoded
        "sqlite:///file::memory:?cache=shared",
        "sqlite:///file:civic?mode=memory&cache=shared",
        "sqlite:///file:/tmp/civic.sqlite3",  # a URI: not a plain database file either
        "sqlite:///FILE:civic?mode=memory",
    ],
)
def test_sqlite_in_memory_database_is_refused_in_favour_of_memory_url(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = refused(url)
    assert url in message and "use memory:// for an in-memory store" in message
    assert list(tmp_path.iterdir()) == []  # no "file:" folder made on the way


def test_sqlite_in_memory_setting_never_gives_a_ledger_in_memory(monkeypatch, host):
    monkeypatch.setenv(ENV_VAR, "sqlite:///:memory:")
    with pytest.raises(ConfigurationError, match="use memory:// for an in-memory store"):
        CivicLedger(plugins=host)


def test_sqlite_folder_that_cannot_be_created_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    message = refused(f"sqlite:///{blocker}/civic.sqlite3")
    assert "cannot create folder" in message and str(blocker) in message


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://civic:{SECRET}@db.example:5432/",  # no database
        f"postgresql://:{SECRET}@db.example:5432/ledger",  # no user
        f"postgresql://civic:{SECRET}@:5432/ledger",  # no host
        "postgresql:///ledger",
    ],
)
def test_postgresql_url_without_db_user_or_host_is_refused(url):
    message = refused(url)
    assert "must name a user, a host and a database" in message
    assert storage._hide(url) in message


@pytest.mark.parametrize("port", ["five432", "99999"])
def test_postgresql_bad_port_is_refused_without_the_password(port):
    message = refused(f"postgresql://civic:{SECRET}@db.example:{port}/ledger")
    assert f"postgresql://civic:***@db.example:{port}/ledger" in message and "port" in message.lower()


def test_postgresql_unknown_query_option_is_refused():
    message = refused(f"postgresql://civic:{SECRET}@db.example/ledger?sslmode=require&schema=x")
    assert "['sslmode']" in message and "allowed: schema, pool_size, max_overflow" in message
    assert "postgresql://civic:***@db.example/ledger?sslmode=require&schema=x" in message


def test_postgresql_bad_schema_name_is_refused():
    message = refused('postgresql://civic@db.example/ledger?schema=x";drop')
    assert "schema" in message and "letters, digits and '_'" in message


def test_unreachable_postgresql_is_refused_naming_the_url_without_its_password():
    # nothing listens on port 1: the connection is refused at once
    message = refused(f"postgresql://civic:{SECRET}@127.0.0.1:1/ledger")
    assert "cannot use PostgreSQL at 'postgresql://civic:***@127.0.0.1:1/ledger'" in message


# --------------------------------------------------------------------------------------
# The default and the application's store
# --------------------------------------------------------------------------------------


def test_default_is_the_sqlite_file_beside_the_project(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert configured_url() == f"sqlite:///{DEFAULT_SQLITE_PATH}"
    assert DEFAULT_SQLITE_PATH == Path(storage.__file__).resolve().parent.parent / "data" / "civic.sqlite3"
    monkeypatch.setenv(ENV_VAR, "   ")
    assert configured_url() == f"sqlite:///{DEFAULT_SQLITE_PATH}"
    monkeypatch.setenv(ENV_VAR, " memory:// ")
    assert configured_url() == "memory://"


def _stored_events(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]


def test_ledger_writes_to_the_sqlite_file_named_by_the_setting(tmp_path, monkeypatch, host):
    path = tmp_path / "store" / "civic.sqlite3"
    monkeypatch.setenv(ENV_VAR, f"sqlite:///{path}")

    app = CivicLedger(plugins=host)  # no store given: the setting decides
    try:
        assert app.store.kind == "sqlite"
        assert type(app.recorder) is ChainedSQLiteApplicationRecorder
        app.register_tenant(OWNER, "tianjin", "天津市")
        assert _stored_events(path) == 1
        app.register_community(actor(Role.DISTRICT_OFFICER, "d", "东丽区民政局"), "c1", "詹滨里社区", "东丽区",
                               "张贵庄街道", 1200, 3000)
        assert _stored_events(path) == 3  # the community and the tenant's list of communities
    finally:
        app.close()

    again = CivicLedger(plugins=host)
    try:
        tenant = again.tenant(OWNER, "tianjin")
        assert (tenant.name, len(tenant.communities)) == ("天津市", 1)
    finally:
        again.close()


def test_stray_library_variables_cannot_redirect_the_store(tmp_path, monkeypatch, host):
    # eventsourcing would read <APP NAME>_* and plain settings from the process environment;
    # the ledger takes its store from CIVIC_DATABASE_URL alone, so these change nothing
    monkeypatch.setenv("CIVICLEDGER_PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("CIVICLEDGER_SQLITE_DBNAME", ":memory:")
    monkeypatch.setenv("POSTGRES_SCHEMA", "elsewhere")
    path = tmp_path / "civic.sqlite3"
    app = CivicLedger(f"sqlite:///{path}", plugins=host)
    try:
        assert type(app.factory) is ChainedSQLiteFactory
        app.register_tenant(OWNER, "tianjin", "天津市")
    finally:
        app.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0] == 1


def test_memory_store_is_used_only_when_asked_for(monkeypatch, host):
    monkeypatch.setenv(ENV_VAR, "memory://")
    app = CivicLedger(plugins=host)
    try:
        assert (app.store.kind, type(app.recorder)) == ("memory", ChainedPOPOApplicationRecorder)
    finally:
        app.close()


def test_ledger_with_an_unreachable_store_is_a_configuration_error(monkeypatch, host):
    monkeypatch.setenv(ENV_VAR, f"postgresql://civic:{SECRET}@127.0.0.1:1/ledger")
    with pytest.raises(ConfigurationError) as caught:
        CivicLedger(plugins=host)
    assert ENV_VAR in str(caught.value) and SECRET not in str(caught.value)


def test_ledger_that_cannot_open_its_store_is_a_configuration_error_naming_it(tmp_path, host):
    folder = tmp_path / "civic.sqlite3"
    folder.mkdir()  # a folder where the database file should be
    url = f"sqlite:///{folder}"
    with pytest.raises(ConfigurationError, match="cannot open the event store at") as caught:
        CivicLedger(url, plugins=host)
    assert url in str(caught.value)


@pytest.mark.postgres
def test_ledger_writes_to_the_postgresql_schema_named_by_the_setting(pg_schema_url, monkeypatch, host):
    import psycopg

    monkeypatch.setenv(ENV_VAR, pg_schema_url)
    schema = pg_schema_url.rsplit("schema=", 1)[1]
    app = CivicLedger(plugins=host)
    try:
        assert type(app.recorder) is ChainedPostgresApplicationRecorder
        assert app.recorder.datastore.schema == schema
        table = app.recorder.events_table_name
        app.register_tenant(OWNER, "tianjin", "天津市")
    finally:
        app.close()
    with psycopg.connect(pg_schema_url.split("?", 1)[0]) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        assert (table,) in tables
        rows = conn.execute(f'SELECT COUNT(*) FROM "{schema}"."{table}"').fetchone()[0]
    assert rows == 1

    again = CivicLedger(plugins=host)
    try:
        assert again.tenant(OWNER, "tianjin").name == "天津市"
    finally:
        again.close()


@pytest.mark.postgres
def test_two_schemas_on_one_database_do_not_see_each_other(pg_schema_url, host):
    import psycopg

    other = f"civic_test_{uuid.uuid4().hex[:12]}"
    other_url = pg_schema_url.rsplit("schema=", 1)[0] + f"schema={other}"
    try:
        first = CivicLedger(pg_schema_url, plugins=host)
        try:
            first.register_tenant(OWNER, "tianjin", "天津市")
        finally:
            first.close()
        second = CivicLedger(other_url, plugins=host)
        try:
            assert (second.recorder.max_notification_id() or 0) == 0
        finally:
            second.close()
    finally:
        with psycopg.connect(pg_schema_url.split("?", 1)[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{other}" CASCADE')
