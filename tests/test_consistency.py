"""Two application instances on one store: caches catch up, and concurrent writers conflict
instead of overwriting each other."""

from __future__ import annotations

import pytest

from core.errors import ConcurrentChange, VersionConflict
from core.services import CivicLedger
from tests.helpers import World, notification_count, sheet


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.sqlite3"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def two_apps(shared_url, plugins):
    first, second = CivicLedger(shared_url, plugins=plugins), CivicLedger(shared_url, plugins=plugins)
    yield first, second
    first.close()
    second.close()


def approved_candidacy(world: World) -> str:
    campaign = world.setup()
    world.app.open_campaign(world.owner, campaign)
    cid = world.apply(campaign, "c1")
    world.app.review(world.district, cid, "approve", on="2020-03-11")
    return cid


def test_a_cached_aggregate_catches_up_with_another_writer(two_apps):
    first, second = two_apps
    world = World(first)
    cid = approved_candidacy(world)
    assert first.candidacy(world.owner, cid).scores["official"] == {}  # now cached in `first`
    second.submit_score_sheet(world.assessors[0], cid, "official", sheet(world.rubric, 90), on="2020-10-15")
    seen = first.candidacy(world.owner, cid)
    assert list(seen.scores["official"]) == ["assessor-1"]
    assert seen.version == second.candidacy(world.owner, cid).version


def test_concurrent_writers_conflict_and_the_loser_records_nothing(two_apps):
    first, second = two_apps
    world = World(first)
    cid = approved_candidacy(world)
    version = first.candidacy(world.owner, cid).version
    second.submit_score_sheet(world.assessors[0], cid, "official", sheet(world.rubric, 90), on="2020-10-15")
    before = notification_count(first)
    # the first writer still believes the stream is at `version`
    with pytest.raises(VersionConflict):
        first.submit_score_sheet(world.assessors[1], cid, "official", sheet(world.rubric, 85), expected_version=version)
    assert notification_count(first) == before


def test_a_stale_copy_loses_the_race_at_the_store(two_apps):
    first, second = two_apps
    world = World(first)
    cid = approved_candidacy(world)
    stale = first.candidacy(world.owner, cid)  # a slower process loaded it before the other write
    second.submit_score_sheet(world.assessors[0], cid, "official", sheet(world.rubric, 90), on="2020-10-15")
    campaign = first.campaign(world.owner, stale.campaign_id)
    stale.submit_sheet(
        meta=first.campaign_meta(world.assessors[1], campaign), kind="official", assessor="assessor-2",
        points=sheet(world.rubric, 85),
    )
    before = notification_count(first)
    with pytest.raises(ConcurrentChange, match="another change was recorded"):
        first.save_all(stale)
    assert notification_count(first) == before
    assert list(second.candidacy(world.owner, cid).scores["official"]) == ["assessor-1"]


def test_long_streams_are_snapshotted_and_load_the_same_as_a_full_replay(shared_url, plugins):
    from eventsourcing.application import Repository

    app = CivicLedger(shared_url, plugins=plugins)
    try:
        world = World(app)
        cid = approved_candidacy(world)
        app.submit_score_sheet(world.assessors[0], cid, "official", sheet(world.rubric, 90), on="2020-10-15")
        for n in range(120):
            item = world.rubric.items()[n % 60]
            app.correct_score(world.assessors[0], cid, "official", item.id, str(item.max_points if n % 2 else 0),
                              f"复核第{n}次", on="2020-10-16")
        uid = app.candidacy(world.owner, cid).id
        snapshots = list(app.snapshots.get(uid))
        assert [s.originator_version for s in snapshots] == [100]
        from_snapshot = Repository(app.events, snapshot_store=app.snapshots).get(uid)
        replayed = Repository(app.events).get(uid)
        assert from_snapshot.version == replayed.version == 123
        assert from_snapshot.scores == replayed.scores and from_snapshot.status == replayed.status
    finally:
        app.close()
