"""The transparency log kept by every store: one Merkle tree per tenant over its events in
recorded order, written in the events' own transaction (core/tlog.py, core/merkle.py)."""

from __future__ import annotations

import sqlite3
import threading
from uuid import UUID

import pytest

from core import merkle, tlog
from core.errors import ConcurrentChange, VersionConflict
from core.services import CivicLedger
from tests.helpers import World, actor
from core.actors import Role


def _uuid(value) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def expected_logs(app: CivicLedger) -> dict[str, list[tuple[UUID, int, bytes]]]:
    """Every tenant's leaves recomputed from the events alone, in notification order."""
    out: dict[str, list[tuple[UUID, int, bytes]]] = {}
    for n in app.recorder.select_notifications(start=1, limit=10**7):
        stream = _uuid(n.originator_id)
        out.setdefault(tlog.tenant_of(n.state), []).append(
            (stream, n.originator_version, tlog.leaf(stream, n.originator_version, n.topic, n.state)))
    return out


def assert_logs_match(app: CivicLedger) -> dict[str, list[tuple[UUID, int, bytes]]]:
    recorder = app.recorder
    expected = expected_logs(app)
    assert recorder.log_tenants() == sorted(expected)
    for tenant, leaves in expected.items():
        size, root = recorder.log_root(tenant)
        assert size == len(leaves)
        assert root == merkle.root([h for _, _, h in leaves])
        assert [(s, v) for _, s, v in recorder.log_leaves(tenant)] == [(s, v) for s, v, _ in leaves]
    return expected


@pytest.fixture
def world(app) -> World:
    w = World(app)
    w.campaign = w.setup()
    return w


def test_each_tenant_has_one_tree_over_its_events_in_recorded_order(world):
    app = world.app
    app.open_campaign(world.owner, world.campaign)
    world.apply(world.campaign, "c1")
    other = actor(Role.CITY_OWNER, "bj-owner", "北京市民政局", "beijing")
    app.register_tenant(other, "beijing", "北京市")
    logs = assert_logs_match(app)
    assert set(logs) == {"tianjin", "beijing"}


def test_roots_and_proofs_for_every_past_size_verify(world):
    app = world.app
    app.open_campaign(world.owner, world.campaign)
    for code in ("c1", "c2", "c3"):
        world.apply(world.campaign, code)
    recorder = app.recorder
    leaves = assert_logs_match(app)["tianjin"]
    size, root = recorder.log_root("tianjin")
    roots = [merkle.root([h for _, _, h in leaves[:m]]) for m in range(size + 1)]
    for m in range(size + 1):
        assert recorder.log_root("tianjin", m) == (m, roots[m])
        assert merkle.verify_consistency(m, size, roots[m], root, recorder.consistency_proof("tianjin", m, size))
    for index in range(size):
        for at in (index + 1, size):
            proof = recorder.inclusion_proof("tianjin", index, at)
            assert merkle.verify_inclusion(leaves[index][2], index, at, proof, roots[at])
    with pytest.raises(ValueError):
        recorder.log_root("tianjin", size + 1)


def test_a_refused_write_adds_no_leaf(world):
    app = world.app
    before = app.recorder.log_root("tianjin")
    with pytest.raises((ConcurrentChange, VersionConflict)):
        with app.expecting(world.communities["c1"], 99):
            app.correct_community(world.district, world.communities["c1"], {"population": 1}, "普查")
    assert app.recorder.log_root("tianjin") == before
    assert_logs_match(app)


def test_a_store_recorded_before_the_log_existed_gets_its_leaves_on_opening(tmp_path, plugins):
    url = f"sqlite:///{tmp_path}/civic.sqlite3"
    app = CivicLedger(url, plugins=plugins)
    World(app).setup()
    before = {t: app.recorder.log_root(t) for t in app.recorder.log_tenants()}
    app.close()
    with sqlite3.connect(tmp_path / "civic.sqlite3") as db:
        for table in ("leaves", "nodes"):
            db.execute(f"DROP TABLE stored_events_log_{table}")
    reopened = CivicLedger(url, plugins=plugins)
    try:
        assert {t: reopened.recorder.log_root(t) for t in reopened.recorder.log_tenants()} == before
        assert_logs_match(reopened)
    finally:
        reopened.close()


@pytest.mark.postgres
def test_concurrent_writers_of_two_tenants_keep_both_trees_exact(pg_schema_url, plugins):
    app = CivicLedger(pg_schema_url, plugins=plugins)
    try:
        World(app).setup()
        other = actor(Role.CITY_OWNER, "bj-owner", "北京市民政局", "beijing")
        app.register_tenant(other, "beijing", "北京市")
        district = actor(Role.DISTRICT_OFFICER, "district", "东丽区民政局", "tianjin")
        bj_district = actor(Role.DISTRICT_OFFICER, "bj-district", "朝阳区民政局", "beijing")
        errors: list[BaseException] = []

        def write(who, prefix: str) -> None:
            for n in range(6):
                for attempt in range(20):
                    try:
                        app.register_community(who, f"{prefix}{n}", f"{prefix}社区{n}", "区", "街道", households=1, population=1)
                        break
                    except (ConcurrentChange, VersionConflict):
                        continue
                    except BaseException as exc:  # pragma: no cover - reported below
                        errors.append(exc)
                        return

        threads = [threading.Thread(target=write, args=(who, f"{who.tenant[:2]}{t}-"))
                   for t in range(4) for who in (district, bj_district)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        logs = assert_logs_match(app)
        assert len(logs["beijing"]) >= 1 + 24 * 2  # the tenant, and each community with its listing
    finally:
        app.close()


@pytest.mark.postgres
def test_a_store_opens_on_a_pool_of_one_connection(pg_schema_url):
    app = CivicLedger(f"{pg_schema_url}&pool_size=1&max_overflow=0")
    try:
        assert app.recorder.log_tenants() == []
    finally:
        app.close()


def _open_store(url, barrier, results) -> None:
    barrier.wait()
    try:
        CivicLedger(url).close()
        results.put("ok")
    except Exception as exc:  # reported by the test
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.postgres
def test_processes_creating_one_fresh_store_at_once_all_open_it(pg_schema_url):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_open_store, args=(pg_schema_url, barrier, results)) for _ in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
    assert [results.get(timeout=5) for _ in processes] == ["ok"] * 4
