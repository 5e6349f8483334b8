"""Event stores that link every event into its stream's hash chain (see :mod:`core.chain`).

The event rows stay exactly as the eventsourcing library writes them; each store keeps
the links in a table beside the events (``<events table>_chain``: stream id, position,
32-byte link) written in the same transaction as the events:

* memory: the recorder computes the links under its lock;
* SQLite: the recorder computes the links in Python inside the insert transaction;
* PostgreSQL: a ``BEFORE INSERT`` trigger computes them with the server's ``sha256()``,
  so every insert path (pipelined statements or the library's database function) is
  linked, with no extra round trip.

A store opened for the first time by this version whose events have no links yet gets
them computed once, in position order, when the link table is created.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory
import psycopg
from psycopg.errors import DuplicateObject
from psycopg.sql import SQL, Identifier, Literal

from core import merkle, pgschema, tlog
from core.chain import GENESIS, ChainRow, link
from core.fences import FENCE, sqlite_mark, written_lines

FETCH = 5000
#: Part of the message of every refusal to link onto a broken chain.
CHAIN_BROKEN = "has no link at position"
#: Why the factories build no process recorder: the library's would record events without
#: their log leaves (and, in memory and SQLite, without their links).
NO_PROCESS_RECORDER = "the hash-chained stores record events only through their application recorder"


class ChainBroken(RuntimeError):
    """A new event cannot be linked: its predecessor has no link (the store was altered)."""


def _links_for(stored_events: Sequence[StoredEvent], previous) -> list[tuple[UUID, int, bytes]]:
    """Links of a batch; ``previous(stream, version)`` gives a stored link or None."""
    heads: dict[UUID, tuple[int, bytes]] = {}
    out = []
    for s in stored_events:
        stream = s.originator_id if isinstance(s.originator_id, UUID) else UUID(str(s.originator_id))
        head = heads.get(stream)
        if head is not None and head[0] == s.originator_version - 1:
            prev = head[1]
        elif s.originator_version == 1:
            prev = GENESIS
        else:
            prev = previous(stream, s.originator_version - 1)
            if prev is None:
                raise ChainBroken(
                    f"stream {stream} has no link at position {s.originator_version - 1}: "
                    "the store was altered; run `civic audit verify` (链条断裂，请运行审计核验)"
                )
        digest = link(prev, stream, s.originator_version, s.topic, s.state)
        heads[stream] = (s.originator_version, digest)
        out.append((stream, s.originator_version, digest))
    return out


def _bytes(value: Any) -> bytes:
    """A column as the bytes it holds; a column whose type was changed behind the
    platform's back still gives bytes, and so a link that does not match."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return bytes(value)


def _links_of_existing(rows: Sequence[StoredEvent]) -> list[tuple[UUID, int, bytes]]:
    """Links for events recorded before links existed (grouped by stream, in order): each
    stream is linked from position 1 up to its first gap; the rest stays unlinked, for
    `civic audit verify` to report."""
    out: list[tuple[UUID, int, bytes]] = []
    stream: UUID | None = None
    prev, expected = GENESIS, 1
    for s in rows:
        uid = s.originator_id if isinstance(s.originator_id, UUID) else UUID(str(s.originator_id))
        if uid != stream:
            stream, prev, expected = uid, GENESIS, 1
        if s.originator_version != expected:
            expected = -1  # gap: link nothing more of this stream
            continue
        prev = link(prev, uid, s.originator_version, s.topic, _bytes(s.state))
        out.append((uid, s.originator_version, prev))
        expected += 1
    return out


class ChainedRecorder(tlog.LogView):
    """What the audit reads from every chained store: the chains and the tenants' logs
    (:mod:`core.tlog`)."""

    def select_chain(self, streams: Sequence[UUID] | None = None) -> Iterator[ChainRow]:
        """Every event with its link, grouped by stream in position order (only
        ``streams`` when given); links whose event is gone come from :meth:`select_orphans`."""
        raise NotImplementedError

    def select_orphans(self, streams: Sequence[UUID] | None = None) -> list[ChainRow]:
        raise NotImplementedError


# -- memory ----------------------------------------------------------------------------------


class MappedState:
    """A stored state left where it lies, as a view of a mapped file: the library's JSON
    transcoder only calls ``decode`` on a state, which reads the view straight into text
    (one copy, made when the event is read, instead of two)."""

    __slots__ = ("view",)

    def __init__(self, view: memoryview) -> None:
        self.view = view

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return str(self.view, encoding, errors)


class ChainedPOPOApplicationRecorder(POPOApplicationRecorder, ChainedRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.links: dict[tuple[str, int], bytes] = {}
        self._log_nodes: dict[str, dict[merkle.Node, bytes]] = {}
        self._log_leaves: dict[str, list[tuple[UUID, int]]] = {}

    def _update_table(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        new = _links_for(stored_events, lambda stream, version: self.links.get((str(stream), version)))
        logged = tlog.grouped(stored_events)
        fence = FENCE.get()
        if fence is not None and fence.mark is not None:  # uniqueness is checked before this method runs
            fence.mark(stored_events)
        ids = super()._update_table(stored_events, **kwargs)
        for stream, version, digest in new:
            self.links[(str(stream), version)] = digest
        for tenant, leaves in logged.items():
            nodes = self._log_nodes.setdefault(tenant, {})
            rows = self._log_leaves.setdefault(tenant, [])
            _, records = tlog.appended(len(rows), nodes, leaves)
            nodes.update(((level, index), value) for level, index, value in records)
            rows.extend((stream, version) for stream, version, _ in leaves)
        return ids

    def log_size(self, tenant: str) -> int:
        with self._database_lock:
            return len(self._log_leaves.get(tenant, ()))

    def log_nodes(self, tenant: str, keys: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
        with self._database_lock:
            nodes = self._log_nodes.get(tenant, {})
            return {key: nodes[key] for key in keys if key in nodes}

    def log_leaves(self, tenant: str, start: int = 0, stop: int | None = None) -> list[tuple[int, UUID, int]]:
        with self._database_lock:
            rows = self._log_leaves.get(tenant, [])
            return [(start + n, stream, version) for n, (stream, version) in enumerate(rows[start:stop])]

    def log_tenants(self) -> list[str]:
        with self._database_lock:
            return sorted(self._log_leaves)

    def insert_checked(self, rows: Iterable[ChainRow], topics: Mapping[bytes, str]) -> None:
        """Hold the events of an exported bundle whose chains were checked, to replay them.

        The rows come grouped by stream, each stream's positions 1, 2, … (what a chain
        check passed); a stream that comes again is refused (IntegrityError). No links are
        kept (nothing reads them here), and a state that is a view of the mapped file stays
        there (:class:`MappedState`) instead of being copied: a large bundle's states are
        gigabytes.
        """
        with self._database_lock:
            events = self._stored_events
            index = self._stored_events_index
            current: UUID | None = None
            positions: dict[int, int] = {}
            for r in rows:
                if r.stream is not current and r.stream != current:
                    current = r.stream
                    positions = index[str(current)]
                    if positions:
                        raise IntegrityError(f"stream {current} comes twice")
                positions[r.version] = len(events)
                state = r.state
                events.append(StoredEvent(r.stream, r.version, topics[r.topic],
                                          MappedState(state) if type(state) is memoryview else state))


    def select_chain(self, streams: Sequence[UUID] | None = None) -> Iterator[ChainRow]:
        with self._database_lock:
            index = {k: dict(v) for k, v in self._stored_events_index.items() if v}
            events = list(self._stored_events)
            links = dict(self.links)
        wanted = sorted(index) if streams is None else sorted({str(s) for s in streams} & set(index))
        for stream in wanted:
            uid = UUID(stream)
            for version in sorted(index[stream]):
                s = events[index[stream][version]]
                yield ChainRow(uid, version, s.topic.encode("utf-8"), s.state, links.get((stream, version)))

    def select_orphans(self, streams: Sequence[UUID] | None = None) -> list[ChainRow]:
        with self._database_lock:
            wanted = None if streams is None else {str(s) for s in streams}
            return [
                ChainRow(UUID(stream), version, None, None, digest)
                for (stream, version), digest in self.links.items()
                if (wanted is None or stream in wanted) and version not in self._stored_events_index.get(stream, {})
            ]


class ChainedPOPOFactory(POPOFactory):
    def application_recorder(self) -> ChainedPOPOApplicationRecorder:
        return ChainedPOPOApplicationRecorder()

    def process_recorder(self) -> Any:
        raise NotImplementedError(NO_PROCESS_RECORDER)


# -- SQLite ----------------------------------------------------------------------------------


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder, ChainedRecorder):
    def __init__(self, datastore: Any, events_table_name: str = "stored_events") -> None:
        self.chain_table_name = f"{events_table_name}_chain"
        self.log_table = f"{events_table_name}_log"
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table_name} ("
            "originator_id TEXT, originator_version INTEGER, link BLOB NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.log_table}_leaves (tenant TEXT NOT NULL, leaf INTEGER NOT NULL, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, PRIMARY KEY (tenant, leaf)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.log_table}_nodes (tenant TEXT NOT NULL, level INTEGER NOT NULL, "
            "idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (tenant, level, idx)) WITHOUT ROWID",
        ]

    def _create_table(self, c: Any) -> None:
        c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (self.chain_table_name,))
        new = c.fetchone() is None
        c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (f"{self.log_table}_leaves",))
        new_log = c.fetchone() is None
        super()._create_table(c)
        if new:
            self._link_existing(c)
        if new_log:
            c.execute(f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name} "
                      "ORDER BY rowid")
            rows = [StoredEvent(UUID(r[0]), r[1], r[2], bytes(r[3])) for r in c.fetchall()]
            if rows:
                self._log_append(c, rows)

    def _log_append(self, c: Any, stored_events: Sequence[StoredEvent]) -> None:
        for tenant, leaves in sorted(tlog.grouped(stored_events).items()):
            c.execute(f"SELECT coalesce(max(leaf) + 1, 0) FROM {self.log_table}_leaves WHERE tenant = ?", (tenant,))
            size = int(c.fetchone()[0])
            keys = merkle.frontier(size)
            frontier: dict[merkle.Node, bytes] = {}
            for level, index in keys:
                c.execute(f"SELECT hash FROM {self.log_table}_nodes WHERE tenant = ? AND level = ? AND idx = ?",
                          (tenant, level, index))
                found = c.fetchone()
                if found is None:
                    raise ChainBroken(f"the log of {tenant!r} {CHAIN_BROKEN} {size}: node ({level}, {index}) is missing; "
                                      "the store was altered; run `civic audit verify` (日志被改动，请运行审计核验)")
                frontier[(level, index)] = bytes(found[0])
            rows, nodes = tlog.appended(size, frontier, leaves)
            c.executemany(f"INSERT INTO {self.log_table}_leaves VALUES (?, ?, ?, ?)",
                          [(tenant, n, stream.hex, version) for n, stream, version in rows])
            c.executemany(f"INSERT INTO {self.log_table}_nodes VALUES (?, ?, ?, ?)",
                          [(tenant, level, index, value) for level, index, value in nodes])

    def log_size(self, tenant: str) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT coalesce(max(leaf) + 1, 0) FROM {self.log_table}_leaves WHERE tenant = ?", (tenant,))
            return int(c.fetchone()[0])

    def log_nodes(self, tenant: str, keys: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
        out: dict[merkle.Node, bytes] = {}
        with self.datastore.transaction(commit=False) as c:
            for level, index in keys:
                c.execute(f"SELECT hash FROM {self.log_table}_nodes WHERE tenant = ? AND level = ? AND idx = ?",
                          (tenant, level, index))
                row = c.fetchone()
                if row is not None:
                    out[(level, index)] = bytes(row[0])
        return out

    def log_leaves(self, tenant: str, start: int = 0, stop: int | None = None) -> list[tuple[int, UUID, int]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT leaf, originator_id, originator_version FROM {self.log_table}_leaves "
                      "WHERE tenant = ? AND leaf >= ? AND leaf < ? ORDER BY leaf",
                      (tenant, start, stop if stop is not None else 2**62))
            return [(int(r[0]), UUID(r[1]), int(r[2])) for r in c.fetchall()]

    def log_tenants(self) -> list[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT DISTINCT tenant FROM {self.log_table}_leaves ORDER BY tenant")
            return [r[0] for r in c.fetchall()]

    def _link_existing(self, c: Any) -> None:
        c.execute(f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name} "
                  "ORDER BY originator_id, originator_version")
        rows = [StoredEvent(r[0], r[1], r[2], r[3]) for r in c.fetchall()]
        if rows:
            c.executemany(
                f"INSERT INTO {self.chain_table_name} VALUES (?,?,?)",
                [(s.hex, v, d) for s, v, d in _links_of_existing(rows)],
            )

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)

        def previous(stream: UUID, version: int) -> bytes | None:
            c.execute(
                f"SELECT link FROM {self.chain_table_name} WHERE originator_id=? AND originator_version=?",
                (stream.hex, version),
            )
            row = c.fetchone()
            return None if row is None else bytes(row[0])

        c.executemany(
            f"INSERT INTO {self.chain_table_name} VALUES (?,?,?)",
            [(s.hex, v, d) for s, v, d in _links_for(stored_events, previous)],
        )
        self._log_append(c, stored_events)
        fence = FENCE.get()
        if fence is not None:
            sqlite_mark(c, fence, stored_events)
        return ids

    def _where(self, alias: str, streams: Sequence[UUID] | None) -> tuple[str, list[str]]:
        if streams is None:
            return "", []
        hexes = [UUID(str(s)).hex for s in streams]
        return f" WHERE {alias}.originator_id IN ({','.join('?' * len(hexes))})", hexes

    def select_chain(self, streams: Sequence[UUID] | None = None) -> Iterator[ChainRow]:
        where, params = self._where("e", streams)
        statement = (
            f"SELECT e.originator_id, e.originator_version, CAST(e.topic AS BLOB), e.state, h.link "
            f"FROM {self.events_table_name} e LEFT JOIN {self.chain_table_name} h "
            "ON h.originator_id = e.originator_id AND h.originator_version = e.originator_version"
            f"{where} ORDER BY lower(e.originator_id), e.originator_version"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            uid_of: dict[Any, UUID] = {}
            while batch := c.sqlite_cursor.fetchmany(FETCH):
                for r in batch:
                    uid = uid_of.get(r[0])
                    if uid is None:
                        try:
                            uid = UUID(str(r[0]))
                        except ValueError:
                            uid = UUID(int=0)
                        uid_of[r[0]] = uid
                    link = r[4]
                    if r[0] != uid.hex or not isinstance(r[1], int):
                        # a re-spelled stream id or position: the platform cannot find this event
                        link = None if link is None else b"\x00" * 32
                    yield ChainRow(uid, r[1] if isinstance(r[1], int) else -1, _bytes(r[2]), _bytes(r[3]),
                                   None if link is None else _bytes(link))

    def select_orphans(self, streams: Sequence[UUID] | None = None) -> list[ChainRow]:
        where, params = self._where("h", streams)
        statement = (
            f"SELECT h.originator_id, h.originator_version, h.link FROM {self.chain_table_name} h"
            f"{where}{' AND' if where else ' WHERE'} NOT EXISTS (SELECT 1 FROM {self.events_table_name} e "
            "WHERE e.originator_id = h.originator_id AND e.originator_version = h.originator_version)"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [ChainRow(UUID(r[0]), r[1], None, None, bytes(r[2])) for r in c.fetchall()]


class ChainedSQLiteFactory(SQLiteFactory):
    application_recorder_class = ChainedSQLiteApplicationRecorder

    def process_recorder(self) -> Any:
        raise NotImplementedError(NO_PROCESS_RECORDER)


# -- PostgreSQL ------------------------------------------------------------------------------


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder, ChainedRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        if datastore.enable_db_functions:
            # the library would then insert through its database function alone: linked by
            # the trigger, but without the log's leaves and the write fence
            raise OSError("POSTGRES_ENABLE_DB_FUNCTIONS is refused: the hash-chained store records every "
                          "event with its log leaves in one transaction, which the library's database "
                          "function insert does not")
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain_table_name = f"{events_table_name}_chain"
        self.check_identifier_length(self.chain_table_name)
        schema = Identifier(self.datastore.schema)
        chain = Identifier(self.chain_table_name)
        function = Identifier(f"{self.chain_table_name}_link")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{chain} ("
                "originator_id uuid NOT NULL, originator_version bigint NOT NULL, link bytea NOT NULL, "
                "PRIMARY KEY (originator_id, originator_version))"
            ).format(schema=schema, chain=chain)
        )
        # The link is computed exactly as core.chain.link computes it.
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}() RETURNS trigger LANGUAGE plpgsql AS $BODY$ "
                "DECLARE prev bytea; "
                "BEGIN "
                "IF NEW.originator_version = 1 THEN prev := decode({genesis}, 'hex'); "
                "ELSE SELECT link INTO prev FROM {schema}.{chain} "
                "WHERE originator_id = NEW.originator_id AND originator_version = NEW.originator_version - 1; "
                "IF prev IS NULL THEN RAISE EXCEPTION 'stream % has no link at position %: the store was altered; "
                "run civic audit verify', NEW.originator_id, NEW.originator_version - 1; END IF; "
                "END IF; "
                "INSERT INTO {schema}.{chain} VALUES (NEW.originator_id, NEW.originator_version, "
                "sha256(prev || uuid_send(NEW.originator_id) || int8send(NEW.originator_version) "
                "|| convert_to(NEW.topic, 'UTF8') || decode('00', 'hex') || NEW.state)); "
                "RETURN NEW; "
                "END $BODY$"
            ).format(schema=schema, function=function, chain=chain, genesis=Literal(GENESIS.hex()))
        )
        self.log_table = f"{events_table_name}_log"
        self.check_identifier_length(f"{self.log_table}_leaves")
        leaves, nodes = (Identifier(f"{self.log_table}_{t}") for t in ("leaves", "nodes"))
        self.log_function = Identifier(f"{self.log_table}_append")
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {schema}.{leaves} (tenant text NOT NULL, leaf bigint NOT NULL, "
                "originator_id uuid NOT NULL, originator_version bigint NOT NULL, PRIMARY KEY (tenant, leaf))").format(
                schema=schema, leaves=leaves))
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {schema}.{nodes} (tenant text NOT NULL, level integer NOT NULL, "
                "idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (tenant, level, idx))").format(
                schema=schema, nodes=nodes))
        # Appending leaves exactly as core.merkle.extend does, one writer per tenant at a time
        # (an advisory lock held to the end of the transaction: no row is ever updated).
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(p_tenant text, p_streams uuid[], p_versions bigint[], "
                "p_leaves bytea[]) RETURNS void LANGUAGE plpgsql AS $BODY$ "
                "DECLARE n bigint; v bytea; l bytea; lvl integer; i bigint; k integer; "
                "BEGIN "
                "PERFORM pg_advisory_xact_lock(hashtextextended('civic-log:' || p_tenant, 0)); "
                "SELECT coalesce(max(leaf) + 1, 0) INTO n FROM {schema}.{leaves} WHERE tenant = p_tenant; "
                "FOR k IN 1 .. coalesce(array_length(p_leaves, 1), 0) LOOP "
                "v := p_leaves[k]; "
                "INSERT INTO {schema}.{leaves} VALUES (p_tenant, n, p_streams[k], p_versions[k]); "
                "INSERT INTO {schema}.{nodes} VALUES (p_tenant, 0, n, v); "
                "lvl := 0; i := n; "
                "WHILE i % 2 = 1 LOOP "
                "SELECT hash INTO l FROM {schema}.{nodes} WHERE tenant = p_tenant AND level = lvl AND idx = i - 1; "
                "IF l IS NULL THEN RAISE EXCEPTION 'the log of % has no link at position % (node %, %): the store was "
                "altered; run civic audit verify', p_tenant, n, lvl, i - 1; END IF; "
                "v := sha256(decode('01', 'hex') || l || v); lvl := lvl + 1; i := i / 2; "
                "INSERT INTO {schema}.{nodes} VALUES (p_tenant, lvl, i, v); "
                "END LOOP; "
                "n := n + 1; "
                "END LOOP; "
                "END $BODY$"
            ).format(schema=schema, function=self.log_function, leaves=leaves, nodes=nodes)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE TRIGGER {trigger} BEFORE INSERT ON {schema}.{events} "
                "FOR EACH ROW EXECUTE FUNCTION {schema}.{function}()"
            ).format(
                trigger=Identifier(f"{self.chain_table_name}_link"), schema=schema,
                events=Identifier(self.events_table_name), function=function,
            )
        )
        # Inserts one at a time, as the library's EXCLUSIVE table lock made them (commit order
        # is notification order), by a transaction-level advisory lock: LOCK TABLE … EXCLUSIVE
        # needs UPDATE, DELETE or TRUNCATE, which the application role does not have.
        key = int.from_bytes(hashlib.sha256(f"civic-insert:{self.datastore.schema}.{events_table_name}".encode())
                             .digest()[:8], "big", signed=True)
        self.lock_table_statements = [*self.lock_table_statements[:-1], SQL("SELECT pg_advisory_xact_lock({0})").format(
            Literal(key))]

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        # pipelined before the events' insert: the tenants' logs are locked in tenant order
        for tenant, leaves in sorted(tlog.grouped(stored_events).items()):
            curs.execute(self._log_append_sql, (tenant, [s for s, _, _ in leaves], [v for _, v, _ in leaves],
                                                [h for _, _, h in leaves]))
        fence = FENCE.get()
        if fence is not None and fence.function is not None:
            # pipelined with the events' insert; the function raises when the claim is lost
            curs.execute(SQL("SELECT {0}(%s, %s, %s, %s)").format(SQL(fence.function)),
                         (fence.scope, fence.key, fence.holder, written_lines(stored_events)))

    @property
    def _lock_key(self) -> int:
        return int.from_bytes(hashlib.sha256(f"civic-chain:{self.datastore.schema}".encode()).digest()[:8], "big", signed=True)

    def create_table(self) -> None:
        """Nothing when every object is in place and every event linked and logged (the
        catalogue says so, :mod:`core.pgschema`): the application role opens the store
        without DDL rights. Else what :meth:`_create_all` creates."""
        pgschema.ensure(self, self._create_all, self._done_checks())

    def _done_checks(self) -> list[tuple[str, Any]]:
        schema, events = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        return [
            ("links of the events recorded before the chain", SQL(
                "SELECT EXISTS (SELECT 1 FROM {0}.{1}) OR NOT EXISTS (SELECT 1 FROM {0}.{2})").format(
                schema, Identifier(self.chain_table_name), events)),
            ("log leaves of the events recorded before the log", SQL(
                "SELECT EXISTS (SELECT 1 FROM {0}) OR NOT EXISTS (SELECT 1 FROM {1}.{2})").format(
                self._log_table("leaves"), schema, events)),
        ]

    def _create_all(self) -> None:
        """Types, tables, functions and trigger, one process at a time (replacing a trigger
        while another process does the same deadlocks; two processes creating one type
        collide): every transaction here first takes a transaction-level advisory lock, so
        no connection is held beyond the one working (a pool of one connection suffices).
        Then links and leaves for events recorded before they existed."""
        for statement in self.sql_create_statements:
            if "CREATE TYPE" in statement.as_string():
                with self.datastore.transaction(commit=True) as curs, contextlib.suppress(DuplicateObject):
                    curs.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                    curs.execute(statement, prepare=False)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            self._create_table(curs)
        self.datastore.register_type_adapters()
        self._link_existing()
        self._log_existing()

    def _link_existing(self) -> None:
        schema = Identifier(self.datastore.schema)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            curs.execute(SQL("SELECT EXISTS (SELECT 1 FROM {0}.{1}) AS linked, EXISTS (SELECT 1 FROM {0}.{2}) AS recorded").format(
                schema, Identifier(self.chain_table_name), Identifier(self.events_table_name)))
            row = curs.fetchone()
            if row["linked"] or not row["recorded"]:
                return
            curs.execute(SQL("LOCK TABLE {0}.{1} IN EXCLUSIVE MODE").format(schema, Identifier(self.events_table_name)))
            curs.execute(
                SQL("SELECT originator_id, originator_version, topic, state FROM {0}.{1} "
                    "ORDER BY originator_id, originator_version").format(schema, Identifier(self.events_table_name))
            )
            rows = [StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"])) for r in curs.fetchall()]
            curs.executemany(
                SQL("INSERT INTO {0}.{1} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING").format(schema, Identifier(self.chain_table_name)),
                _links_of_existing(rows),
            )

    @property
    def _log_append_sql(self) -> Any:
        sql = getattr(self, "_log_append_statement", None)
        if sql is None:
            sql = self._log_append_statement = SQL("SELECT {0}.{1}(%s, %s::uuid[], %s::bigint[], %s::bytea[])").format(
                Identifier(self.datastore.schema), self.log_function)
        return sql

    def _log_table(self, name: str) -> Any:
        return SQL("{0}.{1}").format(Identifier(self.datastore.schema), Identifier(f"{self.log_table}_{name}"))

    def _log_existing(self) -> None:
        """Leaves for events recorded before the log existed, in notification order."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            curs.execute(SQL("SELECT EXISTS (SELECT 1 FROM {0}) AS logged, EXISTS (SELECT 1 FROM {1}.{2}) AS recorded").format(
                self._log_table("leaves"), Identifier(self.datastore.schema), Identifier(self.events_table_name)))
            row = curs.fetchone()
            if row["logged"] or not row["recorded"]:
                return
            curs.execute(SQL("LOCK TABLE {0}.{1} IN EXCLUSIVE MODE").format(
                Identifier(self.datastore.schema), Identifier(self.events_table_name)))
            curs.execute(SQL("SELECT originator_id, originator_version, topic, state FROM {0}.{1} "
                             "ORDER BY notification_id").format(Identifier(self.datastore.schema),
                                                                Identifier(self.events_table_name)))
            rows = [StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                    for r in curs.fetchall()]
            for tenant, leaves in sorted(tlog.grouped(rows).items()):
                curs.execute(self._log_append_sql, (tenant, [s for s, _, _ in leaves], [v for _, v, _ in leaves],
                                                    [h for _, _, h in leaves]))

    def log_size(self, tenant: str) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT coalesce(max(leaf) + 1, 0) AS size FROM {0} WHERE tenant = %s").format(
                self._log_table("leaves")), (tenant,))
            return int(curs.fetchone()["size"])

    def log_nodes(self, tenant: str, keys: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
        if not keys:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT level, idx, hash FROM {0} WHERE tenant = %s AND (level, idx) IN "
                             "(SELECT * FROM unnest(%s::integer[], %s::bigint[]))").format(self._log_table("nodes")),
                         (tenant, [k[0] for k in keys], [k[1] for k in keys]))
            return {(r["level"], r["idx"]): bytes(r["hash"]) for r in curs.fetchall()}

    def log_leaves(self, tenant: str, start: int = 0, stop: int | None = None) -> list[tuple[int, UUID, int]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT leaf, originator_id, originator_version FROM {0} WHERE tenant = %s "
                             "AND leaf >= %s AND leaf < %s ORDER BY leaf").format(self._log_table("leaves")),
                         (tenant, start, stop if stop is not None else 2**62))
            return [(int(r["leaf"]), r["originator_id"], int(r["originator_version"])) for r in curs.fetchall()]

    def log_tenants(self) -> list[str]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT DISTINCT tenant FROM {0} ORDER BY tenant").format(self._log_table("leaves")))
            return [r["tenant"] for r in curs.fetchall()]

    def _where(self, alias: str, streams: Sequence[UUID] | None) -> tuple[SQL, list[Any]]:
        if streams is None:
            return SQL(""), []
        return SQL(" WHERE {0}.originator_id = ANY(%s)").format(Identifier(alias)), [[UUID(str(s)) for s in streams]]

    def select_chain(self, streams: Sequence[UUID] | None = None) -> Iterator[ChainRow]:
        where, params = self._where("e", streams)
        statement = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state, h.link "
            "FROM {schema}.{events} e LEFT JOIN {schema}.{chain} h "
            "ON h.originator_id = e.originator_id AND h.originator_version = e.originator_version"
            "{where} ORDER BY e.originator_id, e.originator_version"
        ).format(
            schema=Identifier(self.datastore.schema), events=Identifier(self.events_table_name),
            chain=Identifier(self.chain_table_name), where=where,
        )
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor(name="civic_chain") as curs:
                curs.itersize = FETCH
                curs.execute(statement, params)
                for r in curs:
                    yield ChainRow(
                        r["originator_id"], r["originator_version"], _bytes(r["topic"]), _bytes(r["state"]),
                        None if r["link"] is None else _bytes(r["link"]),
                    )

    def select_orphans(self, streams: Sequence[UUID] | None = None) -> list[ChainRow]:
        where, params = self._where("h", streams)
        statement = SQL(
            "SELECT h.originator_id, h.originator_version, h.link FROM {schema}.{chain} h{where}{conj} "
            "NOT EXISTS (SELECT 1 FROM {schema}.{events} e "
            "WHERE e.originator_id = h.originator_id AND e.originator_version = h.originator_version)"
        ).format(
            schema=Identifier(self.datastore.schema), events=Identifier(self.events_table_name),
            chain=Identifier(self.chain_table_name), where=where, conj=SQL(" AND" if params else " WHERE"),
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return [ChainRow(r["originator_id"], r["originator_version"], None, None, bytes(r["link"])) for r in curs.fetchall()]


@contextlib.contextmanager
def schema_lock(datastore: Any) -> Iterator[None]:
    """One process at a time creates a schema's types and tables (two processes creating
    one type or table at once collide in PostgreSQL's catalogue): a session-level advisory
    lock on a connection of its own, outside the pool, so that a pool of one connection
    still has it free for the work."""
    pool = datastore.pool
    kwargs = {k: v for k, v in pool._resolve_kwargs().items()
              if k in ("dbname", "host", "port", "connect_timeout", "password", "user")}
    key = int.from_bytes(hashlib.sha256(f"civic-schema:{datastore.schema}".encode()).digest()[:8], "big", signed=True)
    with psycopg.connect(pool._resolve_conninfo(), autocommit=True, **kwargs) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        yield  # closing the connection releases the lock


class ChainedPostgresFactory(PostgresFactory):
    application_recorder_class = ChainedPostgresApplicationRecorder
    aggregate_recorder_class = pgschema.CheckedAggregateRecorder

    def aggregate_recorder(self, purpose: str = "events") -> Any:
        with schema_lock(self.datastore) if self.env_create_table() else contextlib.nullcontext():
            return super().aggregate_recorder(purpose)

    def application_recorder(self) -> Any:
        with schema_lock(self.datastore) if self.env_create_table() else contextlib.nullcontext():
            return super().application_recorder()

    def process_recorder(self) -> Any:
        raise NotImplementedError(NO_PROCESS_RECORDER)
