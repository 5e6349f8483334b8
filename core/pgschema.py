"""What a PostgreSQL store is made of, whether it is in place, and who may do what with it.

Two roles work on a PostgreSQL store. Its *owner* creates the schema, the tables, the
type, the functions and the trigger (``civic store init``); the *application role* the
platform runs as may only read and append the history and use the tables beside it
(:func:`grants`, printed by ``civic store grants``). An insider holding the application's
credentials can then neither change nor delete a recorded event, link, snapshot or log
row: PostgreSQL refuses every UPDATE, DELETE and TRUNCATE on them.

So the application never needs DDL rights: before any ``CREATE`` every store first checks
in the catalogue whether what it would create is in place (:func:`missing`: tables,
indexes, the composite type, columns, the trigger, and each function with exactly the
body this version defines), and runs its DDL only for what is not. A role without the
rights to create what is missing is told to have the owner run ``civic store init``
(:class:`NotInitialised`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresAggregateRecorder

from core.errors import ConfigurationError

#: One identifier as PostgreSQL reads it: quoted (``"a""b"``) or bare (folded to lower case).
NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
QNAME = rf"(?:{NAME}\.)?{NAME}"
ROLE_SHAPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
SCHEMA_SHAPE = re.compile(r"^[A-Za-z0-9_]{1,63}$")
INIT_COMMAND = "civic store init"


class NotInitialised(ConfigurationError):
    """The store lacks objects this role may not create: its owner runs ``civic store init``."""

    def __init__(self, schema: str, absent: Sequence[str], cause: BaseException | None = None) -> None:
        reason = _first_line(cause) if cause is not None else ""
        super().__init__(
            f"数据库结构未就绪，请由属主运行 `{INIT_COMMAND}`: the PostgreSQL schema {schema!r} lacks "
            f"{', '.join(absent)}, which this role may not create"
            + (f" ({reason})" if reason else "")
            + f"; its owner creates them with `{INIT_COMMAND}` (CIVIC_DATABASE_URL naming the owner), "
            "then grants this role what `civic store grants` prints",
            schema=schema, absent=list(absent),
        )
        self.absent = list(absent)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unquoted(token: str) -> str:
    """An identifier as the catalogue spells it."""
    if token.startswith('"'):
        return token[1:-1].replace('""', '"')
    return token.lower()


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _split(qname: str, schema: str) -> tuple[str, str]:
    parts = re.findall(NAME, qname)
    if len(parts) == 2:
        return unquoted(parts[0]), unquoted(parts[1])
    return schema, unquoted(parts[0])


def refused(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an error it was raised from) is PostgreSQL refusing a privilege."""
    import psycopg

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


# -- what a statement creates, and the catalogue query that finds it -----------------------------------


@dataclass(frozen=True)
class Check:
    """One object a DDL statement creates: its label and a query that returns one row
    when it is in place."""

    label: str
    sql: str
    params: tuple[Any, ...]


_RELATION = ("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE n.nspname = %s AND c.relname = %s AND c.relkind = ANY(%s)")


def checks(statement: str, schema: str) -> list[Check]:
    """What ``statement`` (the text PostgreSQL receives) creates, as catalogue checks; a
    statement of another shape is one check that always fails, so that it is run."""
    text = " ".join(statement.split()) if "$" not in statement else statement.strip()
    m = re.match(rf"CREATE TABLE IF NOT EXISTS ({QNAME}) ?\(", text, re.I)
    if m:
        nsp, name = _split(m[1], schema)
        return [Check(f"table {nsp}.{name}", _RELATION, (nsp, name, ["r", "p"]))]
    m = re.match(rf"CREATE (?:UNIQUE )?INDEX IF NOT EXISTS ({NAME}) ON ({QNAME})", text, re.I)
    if m:
        nsp, _ = _split(m[2], schema)
        name = unquoted(m[1])
        return [Check(f"index {nsp}.{name}", _RELATION, (nsp, name, ["i"]))]
    m = re.match(rf"CREATE TYPE ({QNAME}) AS", text, re.I)
    if m:
        nsp, name = _split(m[1], schema)
        return [Check(f"type {nsp}.{name}", "SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                      "WHERE n.nspname = %s AND t.typname = %s", (nsp, name))]
    m = re.match(rf"ALTER TABLE ({QNAME}) ADD COLUMN IF NOT EXISTS ({NAME}) ", text, re.I)
    if m:
        nsp, table = _split(m[1], schema)
        column = unquoted(m[2])
        return [Check(f"column {nsp}.{table}.{column}",
                      "SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s "
                      "AND a.attname = %s AND NOT a.attisdropped", (nsp, table, column))]
    m = re.match(rf"CREATE (?:OR REPLACE )?FUNCTION ({QNAME}) ?\(.*?\$(\w*)\$(.*)\$\2\$", text, re.I | re.S)
    if m:
        nsp, name = _split(m[1], schema)
        return [Check(f"function {nsp}.{name} (as this version defines it)",
                      "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                      "WHERE n.nspname = %s AND p.proname = %s AND p.prosrc = %s", (nsp, name, m[3]))]
    m = re.match(rf"CREATE (?:OR REPLACE )?TRIGGER ({NAME}) .*? ON ({QNAME}) .*?EXECUTE (?:FUNCTION|PROCEDURE) "
                 rf"({QNAME}) ?\(", text, re.I | re.S)
    if m:
        nsp, table = _split(m[2], schema)
        fnsp, function = _split(m[3], schema)
        trigger = unquoted(m[1])
        return [Check(f"trigger {trigger} on {nsp}.{table} (enabled)",
                      "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid "
                      "JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE n.nspname = %s AND c.relname = %s "
                      "AND t.tgname = %s AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND pn.nspname = %s "
                      "AND p.proname = %s", (nsp, table, trigger, fnsp, function))]
    return [Check(f"statement {text[:80]!r}", "SELECT 1 WHERE false", ())]


def missing(conn: Any, statements: Sequence[Any], schema: str,
            then: Sequence[tuple[str, Any]] = ()) -> list[str]:
    """The labels of what ``statements`` create that is not in place (nothing: all of it
    is); ``then`` holds (label, query returning one boolean) checked once every object is
    there. Only the catalogue is read (and, for ``then``, the tables it names)."""
    absent: list[str] = []
    with conn.cursor() as curs:
        for statement in statements:
            text = statement if isinstance(statement, str) else statement.as_string(conn)
            for check in checks(text, schema):
                curs.execute(check.sql, check.params)
                if curs.fetchone() is None:
                    absent.append(check.label)
        if absent:
            return absent
        for label, query in then:
            curs.execute(query)
            row = curs.fetchone()
            if not (row[0] if isinstance(row, tuple) else next(iter(row.values()))):
                absent.append(label)
    return absent


# -- what was created (for `civic store init`) ------------------------------------------------------

_CREATED: ContextVar[list[str] | None] = ContextVar("civic_created", default=None)


@contextlib.contextmanager
def noting_created() -> Iterator[list[str]]:
    """Within this block, the labels of everything a store had to create are collected."""
    created: list[str] = []
    token = _CREATED.set(created)
    try:
        yield created
    finally:
        _CREATED.reset(token)


def note_created(labels: Sequence[str]) -> None:
    found = _CREATED.get()
    if found is not None:
        found.extend(label for label in labels if label not in found)


def ensure(recorder: Any, create: Callable[[], None], then: Sequence[tuple[str, Any]] = ()) -> None:
    """Run ``create`` (the recorder's DDL) only if something it creates is not in place;
    a refusal to create it is :class:`NotInitialised`."""
    datastore = recorder.datastore
    with datastore.get_connection() as conn:
        absent = missing(conn, recorder.sql_create_statements, datastore.schema, then)
    if not absent:
        datastore.register_type_adapters()
        return
    try:
        create()
    except Exception as exc:
        if refused(exc):
            raise NotInitialised(datastore.schema, absent, exc) from exc
        raise
    note_created(absent)


class CheckedAggregateRecorder(PostgresAggregateRecorder):
    """The library's aggregate recorder (the snapshots), creating only what is not in place."""

    def create_table(self) -> None:
        ensure(self, super().create_table)


# -- the application role's privileges ------------------------------------------------------------


def history_tables(events: str) -> list[str]:
    """The tables of the history, read and appended only: events, snapshots, links, log."""
    prefix = events.removesuffix("_events")
    return [events, f"{prefix}_snapshots", f"{events}_chain", f"{events}_log_leaves", f"{events}_log_nodes"]


def grants(role: str, schema: str = "public", database: str | None = None) -> list[str]:
    """The statements (run by the owner) that give ``role`` exactly what the platform needs
    in ``schema``, one object a line: everything the role held in the schema is revoked
    first, so running them again (after an upgrade) leaves exactly this."""
    from api import idempotency, throttle
    from api.routes import log as log_routes
    from core import readmodels, witness
    from core.services import CivicLedger

    if not ROLE_SHAPE.match(role or ""):
        raise ConfigurationError(f"角色名无效 --role: {role!r} is not allowed; allowed: letters, digits and '_', "
                                 "starting with a letter or '_', at most 63")
    if not SCHEMA_SHAPE.match(schema or ""):
        raise ConfigurationError(f"模式名无效 --schema: {schema!r} is not allowed; allowed: letters, digits and '_', "
                                 "at most 63")
    if database is not None and not SCHEMA_SHAPE.match(database):
        raise ConfigurationError(f"数据库名无效 --database: {database!r} is not allowed; allowed: letters, digits and "
                                 "'_', at most 63")
    events = f"{CivicLedger.name.lower()}_events"
    nsp, who = quoted(schema), quoted(role)

    def q(name: str) -> str:
        return f"{nsp}.{quoted(name)}"

    rows = [m.table(logical) for m in readmodels.models().values() for logical in m.tables]
    out = [f"GRANT CONNECT ON DATABASE {quoted(database)} TO {who};"] if database is not None else []
    out += [
        f"REVOKE ALL ON SCHEMA {nsp} FROM {who};",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {nsp} FROM {who};",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {nsp} FROM {who};",
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {nsp} FROM {who};",
        f"GRANT USAGE ON SCHEMA {nsp} TO {who};",
        "-- the history: read and append only",
        *(f"GRANT SELECT, INSERT ON TABLE {q(t)} TO {who};" for t in history_tables(events)),
        f"GRANT USAGE ON SEQUENCE {q(events + '_notification_id_seq')} TO {who};",
        f"GRANT EXECUTE ON FUNCTION {q(events + '_log_append')}(text, uuid[], bigint[], bytea[]) TO {who};",
        "-- beside the history: the request log, the throttle's windows, the read models",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {q(idempotency.TABLE)} TO {who};",
        f"GRANT EXECUTE ON FUNCTION {q(idempotency.FUNCTION)}(text, text, text, text) TO {who};",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {q(throttle.TABLE)} TO {who};",
        f"GRANT SELECT, INSERT, UPDATE ON TABLE {q(readmodels.POSITIONS)} TO {who};",
        f"GRANT SELECT, INSERT, DELETE ON TABLE {q(readmodels.PROBLEMS)} TO {who};",
        *(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {q(t)} TO {who};" for t in rows),
        "-- beside the history: the log's leaf index and the witnesses' cosignatures",
        f"GRANT SELECT, INSERT ON TABLE {q(log_routes.LEAF_INDEX_TABLE)} TO {who};",
        f"GRANT SELECT, INSERT ON TABLE {q(witness.CHECKPOINTS_TABLE)} TO {who};",
        f"GRANT SELECT, INSERT, UPDATE ON TABLE {q(witness.COSIGNATURES_TABLE)} TO {who};",
    ]
    return out


# -- the owner's set-up -------------------------------------------------------------------------------


def init_store(store: Any, plugins: Any = None) -> list[str]:
    """Create everything the platform keeps in the PostgreSQL store ``store`` (a URL or a
    parsed :class:`core.storage.StoreConfig`), as it would be created on first use: the
    schema, the history's tables, type, functions and trigger, the request log and its
    function, the throttle's table, every read model's tables, the log's leaf index and
    the witnesses' cosignature tables. Run as the store's
    owner (parsing the URL creates the schema if it is missing); returns the labels of what
    was created (nothing: everything was in place)."""
    from api.idempotency import RequestLog
    from api.routes.log import LeafIndex
    from api.throttle import SideStoreStorage
    from core.readmodels import read_models
    from core.witness import CosignatureStore
    from core.services import CivicLedger
    from core.storage import StoreConfig, parse_url

    config = store if isinstance(store, StoreConfig) else parse_url(store)
    if config.kind != "postgres":
        raise ConfigurationError(
            f"仅用于 PostgreSQL 存储: `{INIT_COMMAND}` sets up a PostgreSQL store; {config.display!r} is a "
            f"{config.kind} store, which the application creates on first use"
        )
    with noting_created() as created:
        ledger = CivicLedger(config, plugins=plugins)
        try:
            RequestLog(ledger.side)
            SideStoreStorage(ledger.side)
            read_models(ledger)
            LeafIndex(ledger.side, ledger.recorder)
            CosignatureStore(ledger.side)
        finally:
            ledger.close()
    return created
