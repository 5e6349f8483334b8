"""Tables beside the event store, in the same database: request records for safe retries
and read models. Never events: nothing here is part of the ledger's history.

One small interface over the three stores: ``execute(sql, params)`` and ``query(sql,
params)`` inside :meth:`SideStore.transaction`, with ``?`` placeholders (translated for
PostgreSQL). The memory store keeps its tables in an in-memory SQLite database that lives
as long as the ledger, like its events.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing import persistence
from psycopg.rows import tuple_row
from psycopg_pool import PoolTimeout

from core.storage import StoreConfig


#: Errors of the store itself (a lost connection, a full pool, a locked file), as opposed
#: to errors of the data in hand: work that meets one stops and is retried later.
TRANSIENT = (
    persistence.OperationalError, persistence.InterfaceError,
    psycopg.OperationalError, psycopg.InterfaceError, sqlite3.OperationalError, PoolTimeout, OSError,
)


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an error of the store rather than of the data (see TRANSIENT)."""
    return isinstance(exc, TRANSIENT) and not isinstance(exc, (persistence.DataError, persistence.IntegrityError))


class SideCursor:
    def __init__(self, raw: Any, postgres: bool) -> None:
        self.raw = raw
        self.postgres = postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = self.raw.execute(self._sql(sql), tuple(params))
        return cursor.rowcount if cursor is not None and cursor.rowcount is not None else 0

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.postgres:
            with self.raw.cursor() as cur:
                cur.executemany(self._sql(sql), [tuple(r) for r in rows])
        else:
            self.raw.executemany(sql, [tuple(r) for r in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
            # the pool's connections make dict rows; tuples are asked for, not converted
            with self.raw.cursor(row_factory=tuple_row) as cursor:
                cursor.execute(self._sql(sql), tuple(params))
                return cursor.fetchall()
        return [tuple(row) for row in self.raw.execute(sql, tuple(params)).fetchall()]


class SideStore:
    """SQL tables in the ledger's own database (see the module docstring)."""

    def __init__(self, store: StoreConfig, recorder: Any) -> None:
        self.kind = store.kind
        self._lock = threading.RLock()
        if store.kind == "memory":
            self._memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        elif store.kind == "sqlite":
            self._path = store.env["SQLITE_DBNAME"]
        else:
            self._datastore = recorder.datastore
            self.schema = recorder.datastore.schema

    def table(self, name: str) -> str:
        """A table name, qualified with the PostgreSQL schema where there is one."""
        return f'"{self.schema}"."{name}"' if self.kind == "postgres" else name

    def create(self, statements: Sequence[str], *, lock: int | None = None) -> None:
        """Run the DDL ``statements`` in one transaction (PostgreSQL: after the advisory
        ``lock``, if given), unless every object they create is already in place
        (PostgreSQL, :func:`core.pgschema.missing`): a role without DDL rights opens the
        tables its owner created (``civic store init``); one that lacks them is
        :class:`core.pgschema.NotInitialised`."""
        if self.kind != "postgres":
            with self.transaction() as c:
                for sql in statements:
                    c.execute(sql)
            return
        from core import pgschema

        # as PostgreSQL receives them: SideCursor.execute passes parameters, so "%%" is "%"
        received = [sql.replace("%%", "%") for sql in statements]
        with self._datastore.get_connection() as conn:
            absent = pgschema.missing(conn, received, self.schema)
        if not absent:
            return
        try:
            with self.transaction() as c:
                if lock is not None:
                    c.execute("SELECT pg_advisory_xact_lock(?)", (lock,))
                for sql in statements:
                    c.execute(sql)
        except Exception as exc:
            if pgschema.refused(exc):
                raise pgschema.NotInitialised(self.schema, absent, exc) from exc
            raise
        pgschema.note_created(absent)

    @contextmanager
    def transaction(self) -> Iterator[SideCursor]:
        if self.kind == "postgres":
            with self._datastore.get_connection() as conn, conn.transaction():
                yield SideCursor(conn, postgres=True)
            return
        with self._lock:
            if self.kind == "memory":
                conn = self._memory
            else:
                conn = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield SideCursor(conn, postgres=False)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                if self.kind == "sqlite":
                    conn.close()
