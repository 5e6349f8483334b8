"""Every scenario runs on each storage backend: memory, a SQLite file and PostgreSQL.

PostgreSQL tests carry the ``postgres`` marker and read ``CIVIC_TEST_POSTGRES_URL``; they
are skipped only when it is unset. Each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest

from core.plugins import PluginHost
from core.services import CivicLedger

POSTGRES_ENV = "CIVIC_TEST_POSTGRES_URL"

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        if os.environ.get("CIVIC_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{POSTGRES_ENV} is not set but CIVIC_REQUIRE_POSTGRES=1 (CI) demands PostgreSQL")
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return url


@pytest.fixture
def pg_schema_url():
    """A PostgreSQL URL with a fresh schema of its own; the schema is dropped afterwards."""
    import psycopg

    base = postgres_url()
    schema = f"civic_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}schema={schema}"
    with psycopg.connect(base.split("?", 1)[0], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path):
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/civic.sqlite3"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture(scope="session", autouse=True)
def log_key_file(tmp_path_factory):
    """The log signing key of the session's tests (``CIVIC_LOG_KEY_FILE``, unless it is set):
    nothing signs with, or writes, a key beside the project."""
    if os.environ.get("CIVIC_LOG_KEY_FILE", "").strip():
        yield os.environ["CIVIC_LOG_KEY_FILE"]
        return
    path = str(tmp_path_factory.mktemp("log-key") / "log-signing.key")
    os.environ["CIVIC_LOG_KEY_FILE"] = path
    yield path
    os.environ.pop("CIVIC_LOG_KEY_FILE", None)


@pytest.fixture(scope="session")
def plugins() -> PluginHost:
    """The installed plugins, found through the civic.plugins entry points."""
    return PluginHost.discover()


@pytest.fixture
def app(store_url, plugins) -> CivicLedger:
    ledger = CivicLedger(store_url, plugins=plugins)
    yield ledger
    ledger.close()
