"""One setting chooses the event store: ``CIVIC_DATABASE_URL``.

- ``sqlite:///relative/or/absolute/path.sqlite3`` (default: ``data/civic.sqlite3`` beside
  the project) — the embedded store; the file and its folder are created on first use;
- ``postgresql://user[:password]@host[:port]/dbname[?schema=name]`` — PostgreSQL through a
  connection pool; tables (and the schema) are created on first start by a role that may
  create them, or up front by their owner (``civic store init``, :mod:`core.pgschema`);
- ``memory://`` — in-process storage that is gone when the process ends (tests only);
  ``sqlite:///:memory:`` and ``sqlite:///file:…`` URIs are refused in its favour, so an
  in-memory store is always asked for by name.

The eventsourcing library falls back to in-memory storage when it is not configured.
This module never lets that happen: every URL is translated into an explicit
``PERSISTENCE_MODULE`` and anything missing, malformed or unreachable is a
:class:`~core.errors.ConfigurationError` that names the URL.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from core.errors import ConfigurationError

ENV_VAR = "CIVIC_DATABASE_URL"

#: The event stores (eventsourcing factories) that link every event into its stream's
#: hash chain; see core.chained_stores.
MEMORY_FACTORY = "core.chained_stores:ChainedPOPOFactory"
SQLITE_FACTORY = "core.chained_stores:ChainedSQLiteFactory"
POSTGRES_FACTORY = "core.chained_stores:ChainedPostgresFactory"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "data" / "civic.sqlite3"


@dataclass(frozen=True)
class StoreConfig:
    """A parsed storage URL and the eventsourcing environment it becomes."""

    url: str
    kind: str  # "sqlite" | "postgres" | "memory"
    env: dict[str, str]

    @property
    def display(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url


def default_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def configured_url() -> str:
    """The URL from ``CIVIC_DATABASE_URL``, or the default SQLite file."""
    url = os.environ.get(ENV_VAR, "").strip()
    return url or default_url()


def parse_url(url: str) -> StoreConfig:
    """Translate a storage URL into eventsourcing settings, or raise ConfigurationError."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"{ENV_VAR} is empty; expected sqlite:///PATH, postgresql://… or memory://")
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "memory":
        if url not in ("memory://", "memory:"):
            raise ConfigurationError(f"{ENV_VAR}={url!r}: the memory store takes no path; use 'memory://'")
        return StoreConfig(url, "memory", {"PERSISTENCE_MODULE": MEMORY_FACTORY})
    if scheme == "sqlite":
        return _sqlite(url)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url)
    raise ConfigurationError(
        f"{ENV_VAR}={_hide(url)!r}: unknown storage; expected sqlite:///PATH, "
        "postgresql://USER@HOST:PORT/DBNAME or memory://"
    )


def _sqlite(url: str) -> StoreConfig:
    if not url.startswith("sqlite:///"):
        raise ConfigurationError(
            f"{ENV_VAR}={url!r}: a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path"
        )
    raw = unquote(url[len("sqlite:///"):])
    if not raw or raw.endswith("/"):
        raise ConfigurationError(f"{ENV_VAR}={url!r}: the SQLite URL names no file")
    if raw == ":memory:" or raw.lower().startswith("file:"):
        # SQLite would keep such a database in memory (or open a URI the store cannot
        # vouch for): the platform would run without persistence and nobody would notice.
        raise ConfigurationError(
            f"{ENV_VAR}={url!r}: an in-memory SQLite database (':memory:' or a 'file:' URI) is not "
            "allowed; use memory:// for an in-memory store, or sqlite:///PATH for a database file"
        )
    path = Path(raw)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"{ENV_VAR}={url!r}: cannot create folder {path.parent}: {exc}") from exc
    return StoreConfig(
        url,
        "sqlite",
        {
            "PERSISTENCE_MODULE": SQLITE_FACTORY,
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "10",
        },
    )


def _postgres(url: str) -> StoreConfig:
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError as exc:
        raise ConfigurationError(f"{ENV_VAR}: {_hide(url)!r} is not a valid URL (host or port): {exc}") from exc
    dbname = parts.path.lstrip("/")
    if not parts.hostname or not dbname or not parts.username:
        raise ConfigurationError(
            f"{ENV_VAR}: {_hide(url)!r} must name a user, a host and a database: "
            "postgresql://USER@HOST:PORT/DBNAME"
        )
    query = parse_qs(parts.query)
    unknown = set(query) - {"schema", "pool_size", "max_overflow"}
    if unknown:
        raise ConfigurationError(
            f"{ENV_VAR}: unknown option(s) {sorted(unknown)} in {_hide(url)!r}; "
            "allowed: schema, pool_size, max_overflow"
        )
    schema = query.get("schema", [""])[0]
    if schema and not schema.replace("_", "").isalnum():
        raise ConfigurationError(f"{ENV_VAR}: schema {schema!r} must be letters, digits and '_'")
    env = {
        "PERSISTENCE_MODULE": POSTGRES_FACTORY,
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": unquote(parts.username),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_POOL_SIZE": query.get("pool_size", ["5"])[0],
        "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", ["10"])[0],
    }
    if schema:
        env["POSTGRES_SCHEMA"] = schema
    config = StoreConfig(url, "postgres", env)
    _check_postgres(config, schema)
    return config


def _hide(url: str) -> str:
    try:
        return StoreConfig(url, "", {}).display
    except ValueError:  # not even parseable: mask anything between "user:" and "@"
        return re.sub(r"(//[^/:@]*:)[^/]*@", r"\1***@", url)


def _check_postgres(config: StoreConfig, schema: str) -> None:
    """Connect once up front so an unreachable server is reported with its URL."""
    import psycopg

    env = config.env
    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=5,
            autocommit=True,
        ) as conn:
            # a schema in place is not created again: the application role may not create one
            if schema and conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None:
                try:
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
                    pass  # another process created it at the same moment
                except psycopg.errors.InsufficientPrivilege as exc:
                    raise ConfigurationError(
                        f"数据库模式不存在，请由属主运行 `civic store init`: {ENV_VAR}: the schema {schema!r} does not exist "
                        f"at {config.display!r} and this role may not create it ({str(exc).strip().splitlines()[0]}); "
                        "its owner creates it with `civic store init`"
                    ) from exc
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigurationError(
            f"{ENV_VAR}: cannot use PostgreSQL at {config.display!r}: {first_line}"
        ) from exc
