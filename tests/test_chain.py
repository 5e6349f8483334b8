"""The hash chain: every recorded event is linked; an updated, deleted, reordered or
inserted event row is found and named, on every store, by the same check."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from uuid import UUID

import pytest

from core import chain
from core.actors import Actor, Role
from core.chain import GENESIS, ChainRow, link
from core.errors import InvalidInput, PermissionDenied, StoreTampered
from eventsourcing.persistence import StoredEvent
from tests.helpers import World
from tests.test_lifecycle import run_to_decision

AUDITOR = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")
TENANT_AUDITOR = Actor(id="auditor-tj", role=Role.AUDITOR, organisation="审计", tenant="tianjin-dongli")


@pytest.fixture
def decided(app):
    world = World(app)
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-20")
    return world, ids


# -- tampering helpers: each edits the store behind the platform's back -------------------------


def _sql(app, statement: str, params: tuple) -> None:
    if app.store.kind == "sqlite":
        with sqlite3.connect(app.recorder.datastore.pool.db_name) as conn:
            conn.execute(statement.replace("%s", "?"), params)
    else:
        import psycopg

        schema = app.recorder.datastore.schema
        with psycopg.connect(app.store.url.split("?", 1)[0], autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute("SET session_replication_role = replica")  # raw rows: no trigger fires
            conn.execute(statement, params)


def _key(app, stream: UUID):
    return stream.hex if app.store.kind == "sqlite" else stream


def update_state(app, stream: UUID, version: int, old: bytes, new: bytes) -> None:
    if app.store.kind == "memory":
        events = app.recorder._stored_events
        i = app.recorder._stored_events_index[str(stream)][version]
        events[i] = replace(events[i], state=events[i].state.replace(old, new, 1))
        return
    table = app.recorder.events_table_name
    _sql(app, f"UPDATE {table} SET state = %s WHERE originator_id = %s AND originator_version = %s",
         (_read_state(app, stream, version).replace(old, new, 1), _key(app, stream), version))


def _read_state(app, stream: UUID, version: int) -> bytes:
    (event,) = app.recorder.select_events(stream, gt=version - 1, lte=version)
    return event.state


def delete_event(app, stream: UUID, version: int) -> None:
    if app.store.kind == "memory":
        del app.recorder._stored_events_index[str(stream)][version]
        return
    _sql(app, f"DELETE FROM {app.recorder.events_table_name} WHERE originator_id = %s AND originator_version = %s",
         (_key(app, stream), version))


def swap_events(app, stream: UUID, a: int, b: int) -> None:
    if app.store.kind == "memory":
        index = app.recorder._stored_events_index[str(stream)]
        events = app.recorder._stored_events
        ia, ib = index[a], index[b]
        events[ia], events[ib] = replace(events[ib], originator_version=a), replace(events[ia], originator_version=b)
        return
    table = app.recorder.events_table_name
    for version, to in ((a, -1), (b, a), (-1, b)):
        _sql(app, f"UPDATE {table} SET originator_version = %s WHERE originator_id = %s AND originator_version = %s",
             (to, _key(app, stream), version))


def insert_event(app, stream: UUID, version: int, topic: str, state: bytes) -> None:
    if app.store.kind == "memory":
        recorder = app.recorder
        recorder._stored_events.append(StoredEvent(stream, version, topic, state))
        recorder._stored_events_index[str(stream)][version] = len(recorder._stored_events) - 1
        return
    _sql(app, f"INSERT INTO {app.recorder.events_table_name} (originator_id, originator_version, topic, state) "
              "VALUES (%s, %s, %s, %s)", (_key(app, stream), version, topic, state))


def _revisit(world, ids) -> str:
    """A supervision visit: writes to the candidacy's stream after its decision."""
    return world.app.conduct_inspection(world.inspector, ids["c1"], "unannounced", "2021-03-01", ["甲"], purpose="supervision")


# -- the chain itself --------------------------------------------------------------------------


def test_every_event_is_linked_and_an_untouched_store_verifies(decided):
    world, ids = decided
    app = world.app
    report = app.verify_chains(AUDITOR)
    assert report.intact, report.breaks
    assert report.events == app.recorder.max_notification_id() or app.store.kind == "postgres"
    # the links are exactly core.chain.link over the stored events, stream by stream
    stream = UUID(ids["c1"])
    prev = GENESIS
    for event in app.recorder.select_events(stream):
        prev = link(prev, stream, event.originator_version, event.topic, event.state)
    assert report.heads[str(stream)] == (len(app.recorder.select_events(stream)), prev.hex())
    assert report.root.startswith("sha256:") and len(report.root) == 71


def test_a_changed_event_is_named(decided):
    world, ids = decided
    app = world.app
    stream = UUID(ids["c1"])
    state = _read_state(app, stream, 3)
    assert b'"' in state
    update_state(app, stream, 3, b'"', b"'")
    report = app.verify_chains(AUDITOR)
    assert [(b.stream, b.version, b.problem) for b in report.breaks] == [(str(stream), 3, "changed")]


def test_a_changed_score_in_a_decided_candidacy_is_named_in_the_campaign_check(decided):
    world, ids = decided
    app = world.app
    stream = UUID(ids["c2"])
    events = app.recorder.select_events(stream)
    official = next(e for e in events if b'"official"' in e.state)
    update_state(app, stream, official.originator_version, b'"official"', b'"officia1"')
    report = app.verify_chains(AUDITOR, app.campaign_streams(AUDITOR, ids["campaign"]))
    assert [(b.stream, b.version, b.problem) for b in report.breaks] == [(str(stream), official.originator_version, "changed")]


def test_a_deleted_event_is_named(decided):
    world, ids = decided
    app = world.app
    stream = UUID(ids["c1"])
    last = len(app.recorder.select_events(stream))
    delete_event(app, stream, last)  # the last one: no later event would notice
    report = app.verify_chains(AUDITOR)
    assert [(b.stream, b.version, b.problem) for b in report.breaks] == [(str(stream), last, "missing")]
    delete_event(app, stream, 2)
    report = app.verify_chains(AUDITOR)
    assert [(b.stream, b.version, b.problem) for b in report.breaks] == [(str(stream), 2, "missing")]


def test_reordered_events_are_named_at_the_first_moved_position(decided):
    world, ids = decided
    app = world.app
    stream = UUID(ids["c3"])
    swap_events(app, stream, 2, 4)
    report = app.verify_chains(AUDITOR)
    assert [(b.stream, b.version, b.problem) for b in report.breaks] == [(str(stream), 2, "changed")]


def test_an_appended_row_is_named(decided):
    world, ids = decided
    app = world.app
    stream = UUID(ids["c1"])
    events = app.recorder.select_events(stream)
    forged = events[-1]
    insert_event(app, stream, len(events) + 1, forged.topic, forged.state)
    report = app.verify_chains(AUDITOR)
    assert [(b.stream, b.version, b.problem) for b in report.breaks] == [(str(stream), len(events) + 1, "unchained")]


def test_an_event_inserted_between_others_is_named(decided):
    world, ids = decided
    app = world.app
    stream = UUID(ids["c1"])
    events = app.recorder.select_events(stream)
    for e in reversed(events[2:]):  # make room at position 3
        if app.store.kind == "memory":
            index = app.recorder._stored_events_index[str(stream)]
            i = index.pop(e.originator_version)
            app.recorder._stored_events[i] = replace(e, originator_version=e.originator_version + 1)
            index[e.originator_version + 1] = i
        else:
            _sql(app, f"UPDATE {app.recorder.events_table_name} SET originator_version = %s "
                      "WHERE originator_id = %s AND originator_version = %s",
                 (e.originator_version + 1, _key(app, stream), e.originator_version))
    insert_event(app, stream, 3, events[1].topic, events[1].state)
    report = app.verify_chains(AUDITOR)
    assert [(b.stream, b.version, b.problem) for b in report.breaks] == [(str(stream), 3, "changed")]


def test_writing_after_the_check_keeps_the_chain_whole(decided):
    world, ids = decided
    app = world.app
    _revisit(world, ids)
    assert app.verify_chains(AUDITOR).intact


def test_a_write_to_a_stream_whose_last_link_was_removed_is_refused_and_records_nothing(decided):
    world, ids = decided
    app = world.app
    if app.store.kind == "memory":
        app.recorder.links.pop((ids["c1"], len(app.recorder.select_events(UUID(ids["c1"])))))
    else:
        stream = UUID(ids["c1"])
        table = app.recorder.chain_table_name
        last = len(app.recorder.select_events(stream))
        _sql(app, f"DELETE FROM {table} WHERE originator_id = %s AND originator_version = %s", (_key(app, stream), last))
    before = len(app.recorder.select_events(UUID(ids["c1"])))
    with pytest.raises(StoreTampered, match="no link at position"):
        _revisit(world, ids)
    assert len(app.recorder.select_events(UUID(ids["c1"]))) == before


# -- anchors -------------------------------------------------------------------------------------


def test_an_anchor_catches_history_rewritten_with_recomputed_links(decided):
    world, ids = decided
    app = world.app
    anchor = app.anchor(AUDITOR)
    assert anchor["intact"] and anchor["heads"][ids["c1"]][0] >= 3
    # later events do not disturb the anchor
    _revisit(world, ids)
    assert app.verify_chains(AUDITOR, anchor=anchor).intact
    # rewrite version 2 and relink everything after it, as an insider with write access could
    stream = UUID(ids["c1"])
    update_state(app, stream, 2, b'"', b"'")
    _relink(app, stream)
    assert app.verify_chains(AUDITOR).intact  # the chain alone cannot tell
    report = app.verify_chains(AUDITOR, anchor=anchor)
    assert [(b.stream, b.problem) for b in report.breaks] == [(str(stream), "anchor")]


def _relink(app, stream: UUID) -> None:
    prev = GENESIS
    for event in app.recorder.select_events(stream):
        prev = link(prev, stream, event.originator_version, event.topic, event.state)
        if app.store.kind == "memory":
            app.recorder.links[(str(stream), event.originator_version)] = prev
        else:
            _sql(app, f"UPDATE {app.recorder.chain_table_name} SET link = %s WHERE originator_id = %s AND originator_version = %s",
                 (prev, _key(app, stream), event.originator_version))


def test_a_malformed_anchor_is_refused(decided):
    world, _ = decided
    with pytest.raises(InvalidInput, match="anchor"):
        world.app.verify_chains(AUDITOR, anchor={"heads": "no"})


def test_only_auditors_of_every_tenant_check_the_whole_store(decided):
    world, ids = decided
    with pytest.raises(PermissionDenied):
        world.app.verify_chains(world.owner)
    with pytest.raises(PermissionDenied):
        world.app.verify_chains(TENANT_AUDITOR)
    # a tenant's auditor checks its own campaigns
    own = Actor(id="a", role=Role.AUDITOR, organisation="审计", tenant=world.owner.tenant)
    assert world.app.verify_chains(own, world.app.campaign_streams(own, ids["campaign"])).intact


def test_a_store_recorded_before_links_existed_is_linked_when_first_opened(tmp_path, plugins):
    from core.services import CivicLedger

    url = f"sqlite:///{tmp_path}/old.sqlite3"
    app = CivicLedger(url, plugins=plugins)
    world = World(app)
    world.setup()
    app.close()
    with sqlite3.connect(tmp_path / "old.sqlite3") as conn:
        conn.execute("DROP TABLE stored_events_chain")
    again = CivicLedger(url, plugins=plugins)
    try:
        report = again.verify_chains(AUDITOR)
        assert report.intact and report.events > 0
    finally:
        again.close()


# -- the check on rows, independent of any store -----------------------------------------------


def _rows(n: int, stream: UUID) -> list[ChainRow]:
    prev, rows = GENESIS, []
    for v in range(1, n + 1):
        state = f'{{"n":{v}}}'.encode()
        prev = link(prev, stream, v, "t", state)
        rows.append(ChainRow(stream, v, b"t", state, prev))
    return rows


def test_check_reports_the_first_break_of_each_stream_once():
    a, b = UUID(int=1), UUID(int=2)
    rows_a, rows_b = _rows(5, a), _rows(3, b)
    rows_a[1] = rows_a[1]._replace(state=b'{"n":9}')
    rows_a[3] = rows_a[3]._replace(state=b'{"n":8}')
    report = chain.check([*rows_a, *rows_b])
    assert [(x.stream, x.version, x.problem) for x in report.breaks] == [(str(a), 2, "changed")]
    assert report.heads[str(b)] == (3, rows_b[-1].stored.hex())
    gap = chain.check([rows_b[0], rows_b[2]])
    assert [(x.version, x.problem) for x in gap.breaks] == [(2, "gap")]


# -- snapshots ---------------------------------------------------------------------------------


def test_a_changed_snapshot_is_named(decided):
    world, ids = decided
    app = world.app
    stream = UUID(world.communities["c1"])
    app.take_snapshot(stream)
    assert app.verify_chains(AUDITOR).intact
    (snapshot,) = app.snapshots.recorder.select_events(stream, desc=True, limit=1)
    assert b'"revoked":null' in snapshot.state or b"TitleAwarded" in snapshot.state or True
    forged = snapshot.state.replace(b'"households":1200', b'"households":9999', 1)
    assert forged != snapshot.state
    if app.store.kind == "memory":
        records = app.snapshots.recorder._stored_events
        i = app.snapshots.recorder._stored_events_index[str(stream)][snapshot.originator_version]
        records[i] = replace(records[i], state=forged)
    else:
        table = app.snapshots.recorder.events_table_name
        _sql(app, f"UPDATE {table} SET state = %s WHERE originator_id = %s AND originator_version = %s",
             (forged, _key(app, stream), snapshot.originator_version))
    report = app.verify_chains(AUDITOR)
    assert [(b.stream, b.version, b.problem) for b in report.breaks] == [(str(stream), snapshot.originator_version, "snapshot")]


def test_a_tenant_check_covers_every_stream_of_the_tenant(decided):
    world, ids = decided
    app = world.app
    tenant = world.owner.tenant
    streams = {str(s) for s in app.tenant_streams(AUDITOR, tenant)}
    assert {ids["campaign"], ids["c1"], world.communities["c3"]} <= streams
    other = Actor(id="o", role=Role.CITY_OWNER, organisation="北京", tenant="beijing")
    app.register_tenant(other, "beijing", "北京市")
    assert str(__import__("core.domain.ids", fromlist=["x"]).tenant_id("beijing")) not in {str(s) for s in app.tenant_streams(AUDITOR, tenant)}
