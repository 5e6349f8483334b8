"""The eventsourcing library's own recorder test cases, run against the project's stores.

Each case below subclasses a test case that the library installs with itself
(``eventsourcing.tests.persistence``) and builds its recorders as the application does: the
storage URL is parsed (:func:`core.storage.parse_url`), the library's infrastructure factory
is constructed from the URL's settings alone under the application's name (so
``ChainedPOPOFactory``, ``ChainedSQLiteFactory`` or ``ChainedPostgresFactory``), and the
factory builds the recorder. Memory is ``memory://``, SQLite a fresh file, PostgreSQL a
fresh schema of ``CIVIC_TEST_POSTGRES_URL``, dropped afterwards (skipped only when that is
unset and CIVIC_REQUIRE_POSTGRES is not 1; an unreachable server fails).

Where the library asserts something the project deliberately does otherwise, the one test
method is overridden to assert the project's behaviour (README, "Storage", "The library's
recorder contract"):

* streams start at position 1: a stream the library writes from position 0 is recorded
  one position later (:class:`FromPositionOne`), and position 0 itself is refused
  (``test_positions_start_at_1``);
* the factories build no process recorder (``test_create_process_recorder``), and the
  PostgreSQL event store refuses the library's database-function insert;
* run as an aggregate recorder, the event store is still an application recorder: its
  inserts return notification ids where the library's aggregate recorder test expects None.

The library's ``pycryptodome``-backed cipher is needed to import its test cases (a ``dev``
dependency).

After the library's checks, every case that wrote events also checks what the project adds
in the same transaction: every event linked in its stream's chain, and each tenant's log
holding exactly the tenant's events in notification order (:func:`assert_store_intact`).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, StoredEvent
from eventsourcing.popo import POPOAggregateRecorder, POPOTrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.tests import persistence as lib  # a module: its abstract cases are not collected here
from eventsourcing.utils import Environment

from core import chain, merkle, tlog
from core.chained_stores import (
    CHAIN_BROKEN,
    NO_PROCESS_RECORDER,
    ChainedPOPOApplicationRecorder,
    ChainedPOPOFactory,
    ChainedPostgresApplicationRecorder,
    ChainedPostgresFactory,
    ChainedRecorder,
    ChainedSQLiteApplicationRecorder,
    ChainedSQLiteFactory,
)
from core.services.base import LedgerBase
from core.storage import parse_url
from tests.conftest import postgres_url


# -- the project's stores ------------------------------------------------------------------


class ProjectStore:
    """Builds recorders the way the application does, on a store of its own per test."""

    def store_url(self) -> str:
        raise NotImplementedError

    def store_env(self) -> Environment:
        # as LedgerBase.construct_env: only the storage URL's settings configure the store
        return Environment(LedgerBase.name, dict(parse_url(self.store_url()).env))

    def open_factory(self) -> Any:
        factory = InfrastructureFactory.construct(self.store_env())
        self.addCleanup(factory.close)
        return factory


class MemoryStore(ProjectStore):
    def store_url(self) -> str:
        return "memory://"


class SQLiteStore(ProjectStore):
    def setUp(self) -> None:
        folder = tempfile.mkdtemp(prefix="civic-contract-")
        self.addCleanup(shutil.rmtree, folder, True)
        self._url = f"sqlite:///{folder}/civic.sqlite3"
        super().setUp()

    def store_url(self) -> str:
        return self._url


class PostgresStore(ProjectStore):
    pytestmark = [pytest.mark.postgres]
    #: URL options beyond the schema (the defaults of the URL: a pool of 5 and 10 more)
    options = ""

    def setUp(self) -> None:
        base = postgres_url()  # skips when unset, fails when unset and CIVIC_REQUIRE_POSTGRES=1
        schema = f"civic_test_{uuid.uuid4().hex[:12]}"
        self._url = f"{base}{'&' if '?' in base else '?'}schema={schema}{self.options}"
        parse_url(self._url)  # an unreachable server fails here, naming the URL; creates the schema
        # registered first, so it runs after every factory of the test is closed
        self.addCleanup(_drop_schema, base, schema)
        super().setUp()

    def store_url(self) -> str:
        return self._url


def _drop_schema(base: str, schema: str) -> None:
    with psycopg.connect(base.split("?", 1)[0], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- what the project adds ------------------------------------------------------------------


class FromPositionOne:
    """The project's recorder as seen by a library test that writes each stream from
    position 0: every event it inserts is recorded one position later. Reads are the
    recorder's own."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        return self.recorder.insert_events([later(e) for e in stored_events], **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.recorder, name)


def later(event: StoredEvent) -> StoredEvent:
    return dataclasses.replace(event, originator_version=event.originator_version + 1)


def assert_store_intact(recorder: ChainedRecorder, events: int | None = None) -> None:
    """Every recorded event is linked in its stream's chain (no link without its event), and
    each tenant's log holds exactly the tenant's events, in notification order, with the
    root those leaves give."""
    report = chain.check(recorder.select_chain())
    assert report.intact, report.breaks
    assert recorder.select_orphans() == []
    notifications = recorder.select_notifications(None, limit=10**7)
    assert report.events == len(notifications)
    if events is not None:
        assert len(notifications) == events
    by_tenant: dict[str, list[Any]] = {}
    for n in notifications:
        by_tenant.setdefault(tlog.tenant_of(n.state), []).append(n)
    assert recorder.log_tenants() == sorted(by_tenant)
    for tenant, ns in by_tenant.items():
        expected = [(uuid.UUID(str(n.originator_id)), n.originator_version) for n in ns]
        assert [(s, v) for _, s, v in recorder.log_leaves(tenant)] == expected
        leaves = [tlog.leaf(s, v, n.topic, n.state) for (s, v), n in zip(expected, ns)]
        assert recorder.log_root(tenant) == (len(ns), merkle.root(leaves))


# -- application recorder: the event store ------------------------------------------------------


class EventStoreContract:
    """The library's application recorder test case on the project's event store."""

    #: the library writes streams from position 0 in its concurrency tests
    from_position_one = False

    def create_recorder(self) -> Any:
        self.recorder = self.open_factory().application_recorder()
        assert isinstance(self.recorder, ChainedRecorder)
        return FromPositionOne(self.recorder) if self.from_position_one else self.recorder

    def test_insert_select(self) -> None:
        super().test_insert_select()
        assert_store_intact(self.recorder, events=3)  # the refused duplicate left nothing behind

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.from_position_one = True
        super().test_concurrent_no_conflicts(initial_position)
        assert_store_intact(self.recorder)

    def test_concurrent_throughput(self) -> None:
        self.from_position_one = True
        super().test_concurrent_throughput()
        assert_store_intact(self.recorder)

    def test_positions_start_at_1(self) -> None:
        """Position 0 has no predecessor in a chain: a stream starting there is refused like an
        event whose predecessor has no link, and nothing of the insert is recorded."""
        recorder = self.create_recorder()
        stream = uuid.uuid4()
        events = [StoredEvent(stream, version, "topic", b"{}") for version in (0, 1)]
        with self.assertRaises(Exception) as refused:
            recorder.insert_events(events)
        self.assertNotIsInstance(refused.exception, IntegrityError)  # not a lost race
        self.assertIn(CHAIN_BROKEN, str(refused.exception))
        self.assertEqual(recorder.select_events(stream), [])
        self.assertIsNone(recorder.max_notification_id())
        assert_store_intact(recorder, events=0)
        self.assertEqual(len(recorder.insert_events(events[1:])), 1)
        assert_store_intact(recorder, events=1)


class TestMemoryEventStore(EventStoreContract, MemoryStore, lib.ApplicationRecorderTestCase):
    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestSQLiteEventStore(EventStoreContract, SQLiteStore, lib.ApplicationRecorderTestCase):
    pass  # SQLite has no subscriptions (the library's recorder raises NotImplementedError)


class TestPostgresEventStore(EventStoreContract, PostgresStore, lib.ApplicationRecorderTestCase):
    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestPostgresEventStoreOnOneConnection(EventStoreContract, PostgresStore, lib.ApplicationRecorderTestCase):
    """A pool of exactly one connection opens the store and carries every case, the
    concurrent writers and readers included (not a subscription: it holds a connection of
    the pool for as long as it lasts)."""

    options = "&pool_size=1&max_overflow=0"


# -- aggregate recorders ------------------------------------------------------------------------


class EventStoreAsAggregateRecorder:
    """The library's aggregate recorder test case on the event store: what the application's
    repository reads (``select_events`` with ``gt``, ``lte``, ``desc``, ``limit``)."""

    def create_recorder(self) -> Any:
        self.recorder = self.open_factory().application_recorder()
        return self.recorder

    def test_insert_and_select(self) -> None:
        """The library's steps with two differences: an insert returns the new events'
        notification ids (an application recorder's; the library's aggregate recorders return
        None), and the second stream starts at position 1, not 0."""
        recorder = self.create_recorder()

        def insert(events: list[StoredEvent]) -> None:
            ids = recorder.insert_events(events)
            found = recorder.select_notifications(ids[0], limit=len(events))
            self.assertEqual([(n.id, n.originator_id, n.originator_version) for n in found],
                             [(i, e.originator_id, e.originator_version) for i, e in zip(ids, events)])

        self.assertFalse(recorder.insert_events([]))  # no ids (None or [], as the library's recorder gives)
        stream1 = self.new_originator_id()
        self.assertEqual(recorder.select_events(stream1, desc=True, limit=1), [])
        event1 = StoredEvent(stream1, 1, "topic1", b"state1")
        insert([event1])
        selected = recorder.select_events(stream1)
        self.assertEqual(selected, [event1])
        self.assertIsInstance(selected[0].state, bytes)
        with self.assertRaises(IntegrityError):
            recorder.insert_events([event1])
        event2 = StoredEvent(stream1, 2, "topic2", b"state2")
        with self.assertRaises(IntegrityError):  # atomic: event2 is not recorded either
            recorder.insert_events([event1, event2])
        with self.assertRaises(IntegrityError):
            recorder.insert_events([event2, event2])
        self.assertEqual(recorder.select_events(stream1), [event1])
        event3 = StoredEvent(stream1, 3, "topic3", b"state3")
        insert([event2, event3])
        self.assertEqual(recorder.select_events(stream1), [event1, event2, event3])
        self.assertEqual(recorder.select_events(stream1, desc=True, limit=1), [event3])
        self.assertEqual(recorder.select_events(stream1, lte=2, desc=True, limit=1), [event2])
        self.assertEqual(recorder.select_events(stream1, gt=1, lte=2), [event2])
        stream2 = self.new_originator_id()
        self.assertEqual(recorder.select_events(stream2), [])
        event4 = StoredEvent(stream2, 1, "topic4", b"state4")
        insert([event4])
        self.assertEqual(recorder.select_events(stream2), [event4])
        assert_store_intact(recorder, events=4)  # the refused inserts left no link and no leaf


class SnapshotStore:
    """The library's aggregate recorder test case on the snapshot store, the factory's
    ``aggregate_recorder("snapshots")`` as the application builds it (snapshots are not
    chained: ``civic audit verify`` checks them against the events)."""

    def create_recorder(self) -> Any:
        return self.open_factory().aggregate_recorder("snapshots")


class TestMemoryEventStoreAsAggregateRecorder(EventStoreAsAggregateRecorder, MemoryStore, lib.AggregateRecorderTestCase):
    pass


class TestSQLiteEventStoreAsAggregateRecorder(EventStoreAsAggregateRecorder, SQLiteStore, lib.AggregateRecorderTestCase):
    pass


class TestPostgresEventStoreAsAggregateRecorder(EventStoreAsAggregateRecorder, PostgresStore,
                                                lib.AggregateRecorderTestCase):
    pass


class TestMemorySnapshotStore(SnapshotStore, MemoryStore, lib.AggregateRecorderTestCase):
    pass


class TestSQLiteSnapshotStore(SnapshotStore, SQLiteStore, lib.AggregateRecorderTestCase):
    pass


class TestPostgresSnapshotStore(SnapshotStore, PostgresStore, lib.AggregateRecorderTestCase):
    pass


# -- notification ids of concurrent inserts do not interleave ----------------------------------------


class NonInterleaving:
    def create_recorder(self) -> Any:
        self.recorder = self.open_factory().application_recorder()
        return self.recorder

    def create_stack(self, originator_id: Any) -> Sequence[StoredEvent]:
        # the library's stack is positions 0 .. insert_num - 1; the project's streams start at 1
        return [later(e) for e in super().create_stack(originator_id)]

    def test(self) -> None:
        super().test()
        assert_store_intact(self.recorder, events=2 * self.insert_num)


class TestMemoryNonInterleaving(NonInterleaving, MemoryStore, lib.NonInterleavingNotificationIDsBaseCase):
    pass


class TestSQLiteNonInterleaving(NonInterleaving, SQLiteStore, lib.NonInterleavingNotificationIDsBaseCase):
    pass


class TestPostgresNonInterleaving(NonInterleaving, PostgresStore, lib.NonInterleavingNotificationIDsBaseCase):
    pass


# -- tracking recorders ------------------------------------------------------------------------


class TrackingStore:
    """The factory's tracking recorder (the library's own, in a table of its own beside the events)."""

    def create_recorder(self) -> Any:
        return self.open_factory().tracking_recorder()


class TestMemoryTrackingRecorder(TrackingStore, MemoryStore, lib.TrackingRecorderTestCase):
    pass


class TestSQLiteTrackingRecorder(TrackingStore, SQLiteStore, lib.TrackingRecorderTestCase):
    pass


class TestPostgresTrackingRecorder(TrackingStore, PostgresStore, lib.TrackingRecorderTestCase):
    pass


# -- the infrastructure factories ------------------------------------------------------------------


class CustomPOPOTrackingRecorder(POPOTrackingRecorder):
    pass


class CustomSQLiteTrackingRecorder(SQLiteTrackingRecorder):
    pass


class CustomPostgresTrackingRecorder(PostgresTrackingRecorder):
    pass


class FactoryContract:
    """The library's infrastructure factory test case on the factory a storage URL names.
    Aggregate and tracking recorders are the factory's (the library's classes, on
    PostgreSQL the factory's own aggregate recorder class); the application recorder is the
    project's chained one; there is no process recorder."""

    classes: tuple[type, ...]

    def setUp(self) -> None:
        self.env = self.store_env()  # the library's setUp constructs the factory from it
        super().setUp()

    def expected_factory_class(self) -> type:
        return self.classes[0]

    def expected_aggregate_recorder_class(self) -> type:
        return self.classes[1]

    def expected_application_recorder_class(self) -> type:
        return self.classes[2]

    def expected_tracking_recorder_class(self) -> type:
        return self.classes[3]

    def tracking_recorder_subclass(self) -> type:
        return self.classes[4]

    def expected_process_recorder_class(self) -> type:
        raise NotImplementedError(NO_PROCESS_RECORDER)

    def test_create_process_recorder(self) -> None:
        """The library's process recorder would record events without their log leaves (and,
        in memory and SQLite, without their links): the factory refuses to build one."""
        for create_table in ("t", "f"):
            self.env["CREATE_TABLE"] = create_table
            with self.assertRaises(NotImplementedError) as refused:
                self.factory.process_recorder()
            self.assertEqual(str(refused.exception), NO_PROCESS_RECORDER)


class TestMemoryFactory(MemoryStore, FactoryContract, lib.InfrastructureFactoryTestCase):
    classes = (ChainedPOPOFactory, POPOAggregateRecorder, ChainedPOPOApplicationRecorder,
               POPOTrackingRecorder, CustomPOPOTrackingRecorder)


class TestSQLiteFactory(SQLiteStore, FactoryContract, lib.InfrastructureFactoryTestCase):
    classes = (ChainedSQLiteFactory, ChainedSQLiteFactory.aggregate_recorder_class, ChainedSQLiteApplicationRecorder,
               SQLiteTrackingRecorder, CustomSQLiteTrackingRecorder)


class TestPostgresFactory(PostgresStore, FactoryContract, lib.InfrastructureFactoryTestCase):
    classes = (ChainedPostgresFactory, ChainedPostgresFactory.aggregate_recorder_class, ChainedPostgresApplicationRecorder,
               PostgresTrackingRecorder, CustomPostgresTrackingRecorder)

    def test_the_library_database_function_insert_is_refused(self) -> None:
        """With POSTGRES_ENABLE_DB_FUNCTIONS the library inserts through its database function
        alone (linked by the trigger, but without log leaves): the event store refuses it."""
        self.env["POSTGRES_ENABLE_DB_FUNCTIONS"] = "y"
        factory = InfrastructureFactory.construct(self.env)
        self.addCleanup(factory.close)
        with self.assertRaises(OSError) as refused:
            factory.application_recorder()
        self.assertIn("POSTGRES_ENABLE_DB_FUNCTIONS", str(refused.exception))


class TestPostgresFactoryOnOneConnection(TestPostgresFactory):
    options = "&pool_size=1&max_overflow=0"
