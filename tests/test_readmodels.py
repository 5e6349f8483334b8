"""Read models (core.readmodels): the rows equal what the core computes, a rebuild gives the
same rows as catching up step by step, a restart resumes from the stored position, two
catch-ups at once never apply an event twice, rows follow the tenant, and a list read
when nothing is new loads no aggregate. On memory, SQLite and PostgreSQL."""

from __future__ import annotations

import math
import threading
from collections import Counter
from decimal import Decimal
from fractions import Fraction

import pytest

from core.actors import Actor, Role
from core.errors import InvalidInput, NotFound
from core.exact import published
from core.readmodels import POSITIONS, ReadModels, read_models
from core.services import CivicLedger
from plugins.tianjin_meili.demo import DEMO, Cast
from tests.helpers import TENANT, World, counting_loads, evidence, sheet
from tests.test_lifecycle import run_to_decision

OWNER = Cast().owner
EVERYWHERE = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")
STRANGER = Actor(id="bj-owner", role=Role.CITY_OWNER, organisation="北京市民政局", tenant="beijing")


def relevant(app: CivicLedger, rm: ReadModels, name: str, after: int = 0) -> int:
    """How many notifications after ``after`` the model follows."""
    return len(app.recorder.select_notifications(start=after + 1, limit=100_000, topics=list(rm.models[name].topics)))


def build_demo(app: CivicLedger, rm: ReadModels) -> tuple[str, list[dict[str, int]]]:
    """The Tianjin demo, catching up after every stage."""
    rounds: list[dict[str, int]] = []
    campaign = DEMO.build(app, lambda _stage: rounds.append(rm.catch_up()))
    rounds.append(rm.catch_up())
    return campaign, rounds


def average(totals: list[str]) -> str | None:
    """The mean of exact totals (canonical fractions), rounded once to 2 places, half up
    (the mean of the published figures could round differently)."""
    if not totals:
        return None
    value = sum((Fraction(t) for t in totals), Fraction(0)) / len(totals)
    hundredths = math.floor(value * 100 + Fraction(1, 2))  # totals are never negative
    return f"{hundredths // 100}.{hundredths % 100:02d}"


# -- the rows equal the core's figures ----------------------------------------------------------------


def test_rows_equal_the_core_figures_on_the_demo(app):
    rm = ReadModels(app, batch=7)  # small batches: many transactions per catch-up
    campaign, rounds = build_demo(app, rm)
    assert sum(r["candidacies"] for r in rounds) == relevant(app, rm, "candidacies")
    assert rm.catch_up() == {"communities": 0, "candidacies": 0, "findings": 0, "notice": 0}

    # candidacies: outcome_table, candidacies_of and the recorded derivations
    rows = rm.candidacies(OWNER, campaign)
    outcome = {r["candidacy_id"]: r for r in app.outcome_table(OWNER, campaign)}
    core = app.candidacies_of(OWNER, campaign)
    assert [r["candidacy_id"] for r in rows] == [str(c.id) for c in core] == list(outcome)
    for row, candidacy in zip(rows, core):
        expected = outcome[row["candidacy_id"]]
        derivation = candidacy.decision["derivation"]["outcome"]
        assert (row["community"], row["district"], row["street"], row["level"], row["status"]) == (
            expected["community"], expected["district"], expected["street"], expected["level"], expected["status"])
        assert (row["official_total"], row["satisfaction_rate"]) == (expected["total"], expected["satisfaction_rate"])
        assert {k: row["objections"][k] for k in ("open", "upheld", "dismissed")} == expected["objections"]
        assert row["objections"]["filed"] == len(candidacy.objections)
        assert (row["community_id"], row["version"], row["named"]) == (
            candidacy.community_id, candidacy.version, candidacy.decision["named"])
        assert (row["revoked"], row["revoked_on"]) == (
            expected["revocation"] is not None, (expected["revocation"] or {}).get("effective"))
        assert (row["self_total"], row["mock_total"]) == (
            derivation["self_total"]["published"], derivation["mock_total"]["published"])
        assert row["assessors"] == len(candidacy.scores["official"]) == 3
        assert row["decided_on"] == candidacy.decision["effective"]
    statuses = Counter(r["status"] for r in rows)
    assert statuses["revoked"] == 1 and statuses["named"] >= 1 and statuses["not_named"] >= 1
    assert sum(r["objections"]["upheld"] for r in rows) == sum(r["objections"]["dismissed"] for r in rows) == 1

    ranking = rm.candidacies(OWNER, campaign, order="ranking")
    totals = [Decimal(r["official_total"]) for r in ranking]
    assert totals == sorted(totals, reverse=True) and len(ranking) == len(rows)
    # the summary (no detail) is the same rows' summary fields, in both orders
    summary = ("candidacy_id", "community_id", "level", "status", "version", "named", "official_total")
    for order, detailed in (("applied", rows), ("ranking", ranking)):
        assert rm.candidacies(OWNER, campaign, order=order, detail=False) == [
            {k: r[k] for k in summary} for r in detailed]
    assert rm.candidacies(STRANGER, campaign, detail=False) == []
    with pytest.raises(InvalidInput) as refused:
        rm.candidacies(OWNER, campaign, order="best")
    assert refused.value.field == "order" and refused.value.allowed == "applied, ranking"

    # findings: the core's findings() on several days
    keys = ("inspection_id", "finding_id", "candidacy_id", "community_id", "kind", "purpose", "visit_date", "item",
            "severity", "deadline", "status", "overdue", "accepted")
    for day in ("2020-08-31", "2020-09-01", "2021-06-01", None):
        mine = sorted(tuple(r[k] for k in keys) for r in rm.findings(OWNER, campaign, on=day))
        theirs = sorted(tuple(r[k] for k in keys) for r in app.findings(OWNER, campaign, on=day))
        assert mine == theirs and mine, day
        overdue = rm.findings(OWNER, campaign, on=day, overdue_only=True)
        assert sorted(tuple(r[k] for k in keys) for r in overdue) == [t for t in theirs if t[keys.index("overdue")]]
        assert [r["deadline"] for r in overdue] == sorted(r["deadline"] for r in overdue)
    late = rm.findings(OWNER, campaign, overdue_only=True)  # today: the planned one and the rejected supervision one
    assert sorted((r["status"], r["purpose"]) for r in late) == [("planned", "campaign"), ("rejected", "supervision")]
    assert all(r["days_overdue"] > 0 for r in late)
    assert rm.findings(OWNER, campaign, on="2020-09-01", overdue_only=True)[0]["days_overdue"] == 1

    # a street's progress: the same figures counted from the core
    communities = {str(c.community_id): app.community(OWNER, c.community_id) for c in core}
    street_of = {cid: (com.district, com.street) for cid, com in communities.items()}
    findings = app.findings(OWNER, campaign, on="2020-09-01")
    inspections = [app.inspection(OWNER, i) for c in core for i in c.inspections]
    progress = rm.street_progress(OWNER, campaign, on="2020-09-01")
    assert [(p["district"], p["street"]) for p in progress] == sorted(set(street_of.values()))
    for p in progress:
        here = (p["district"], p["street"])
        mine = [c for c in core if street_of[c.community_id] == here]
        assert p["candidacies"] == {"total": len(mine), "by_status": dict(sorted(Counter(c.status for c in mine).items()))}
        visits = [i for i in inspections if street_of[i.community_id] == here]
        assert p["inspections"] == {"done": len(visits), "unannounced": sum(i.kind == "unannounced" for i in visits),
                                    "supervision": sum(i.purpose == "supervision" for i in visits)}
        found = [f for f in findings if street_of[f["community_id"]] == here]
        assert p["findings"] == {"total": len(found), "open": sum(not f["accepted"] for f in found),
                                 "overdue": sum(f["overdue"] for f in found), "verified": sum(f["accepted"] for f in found),
                                 "rejected": sum(f["status"] == "rejected" for f in found)}
        scored = [c.decision["derivation"]["outcome"]["total"]["exact"] for c in mine]
        assert p["official_total"] == {"scored": len(scored), "average": average(scored)}
    assert sum(p["findings"]["overdue"] for p in progress) == 1

    # the public notice: the campaign's notice with the candidacies' figures
    notice = app.campaign(OWNER, campaign).notice
    rubric = app.rubric_of(app.campaign(OWNER, campaign))
    listed = rm.notice_list(OWNER, campaign, listed_only=True)
    everything = rm.notice_list(OWNER, campaign, listed_only=False)
    assert (listed["start"], listed["end"], listed["closed"], listed["decided"]) == (notice["start"], notice["end"], True, True)
    assert [c["candidacy_id"] for c in listed["candidates"]] == notice["candidacy_ids"]
    assert [c["candidacy_id"] for c in everything["candidates"]] == notice["candidacy_ids"] + [
        cid for cid in notice["preliminary"] if cid not in notice["candidacy_ids"]]
    assert len(everything["candidates"]) > len(listed["candidates"])
    for entry in everything["candidates"]:
        expected = outcome[entry["candidacy_id"]]
        assert entry["listed"] is (entry["candidacy_id"] in notice["candidacy_ids"])
        assert (entry["community"], entry["street"], entry["level"], entry["total"]) == (
            expected["community"], expected["street"], expected["level"], expected["total"])
        assert entry["reasons"] == notice["preliminary"][entry["candidacy_id"]]["reasons"]
        assert entry["named"] is (expected["status"] in ("named", "revoked"))
        assert entry["level_label"] == rubric.level(entry["level"]).label


def test_rows_follow_every_step_of_a_campaign(app):
    """Catching up after each step gives what the core says at that step."""
    world = World(app)
    rm = ReadModels(app)
    campaign = world.setup()
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    c1 = world.apply(campaign, "c1", self_total=92)
    row = rm.candidacies(world.owner, campaign)[0]
    assert (row["status"], row["version"], row["official_total"], row["named"]) == ("applied", 1, None, None)
    assert Decimal(row["self_total"]) == 92 and row["mock_total"] is None
    app.review(world.district, c1, "approve", on="2020-03-11")
    world.score_official(c1, [90])  # one assessor so far
    row = rm.candidacies(world.owner, campaign)[0]
    assert (row["status"], row["assessors"], row["official_total"]) == ("approved", 1, "90.00")
    app.submit_score_sheet(world.assessors[1], c1, "official", sheet(world.rubric, 93), on="2020-10-15")
    expected = app.evidence(world.rubric, app.candidacy(world.owner, c1), app.community(world.owner, world.communities["c1"]))
    row = rm.candidacies(world.owner, campaign)[0]
    assert expected.total == Fraction(183, 2)  # (90 + 93) / 2
    assert (row["official_total"], row["assessors"]) == (published(expected.total), 2) == ("91.50", 2)

    # a corrected community name shows in every list at once
    app.correct_community(world.district, world.communities["c1"], {"name": "詹滨里新社区"}, "更名")
    assert rm.candidacies(world.owner, campaign)[0]["community"] == "詹滨里新社区"

    # a finding goes through its rectification states
    visit = app.conduct_inspection(world.inspector, c1, "announced", "2020-05-20", ["巡查员甲"])
    finding = app.record_finding(world.inspector, visit, "38", "楼道堆物", "minor", "清理", "2020-06-30", evidence())
    states = [rm.findings(world.owner, campaign, on="2020-07-01")[0]]
    app.plan_rectification(world.community, visit, finding, "组织清理", on="2020-06-01")
    states.append(rm.findings(world.owner, campaign, on="2020-07-01")[0])
    app.complete_rectification(world.community, visit, finding, "已清理", evidence("after.jpg"), on="2020-06-20")
    states.append(rm.findings(world.owner, campaign, on="2020-07-01")[0])
    app.verify_rectification(world.inspector, visit, finding, False, "仍有堆物", on="2020-06-25")
    states.append(rm.findings(world.owner, campaign, on="2020-07-01")[0])
    assert [(s["status"], s["overdue"]) for s in states] == [
        ("open", True), ("planned", True), ("completed", True), ("rejected", True)]
    assert states[-1]["completed_on"] == "2020-06-20" and states[-1]["verified_on"] == "2020-06-25"
    assert rm.findings(world.owner, campaign, on="2020-06-30", overdue_only=True) == []
    assert states[0]["community"] == "詹滨里新社区" and states[0]["street"] == "张贵庄街道"
    with pytest.raises(InvalidInput):
        rm.findings(world.owner, campaign, on="2020-02-30")


# -- rebuild, restart and concurrency --------------------------------------------------------------------


def test_a_rebuild_gives_exactly_the_rows_of_incremental_catch_ups(app):
    rm = ReadModels(app, batch=5)
    build_demo(app, rm)
    incremental = {name: rm.dump(name) for name in rm.models}
    assert all(incremental[name] for name in rm.models)
    for name in rm.models:
        assert rm.rebuild(name) == relevant(app, rm, name)
        assert rm.dump(name) == incremental[name], name
        assert rm.position(name) == app.recorder.max_notification_id()
    other = ReadModels(app, batch=1000)  # another batch size, one transaction per model
    for name in rm.models:
        other.rebuild(name)
        assert other.dump(name) == incremental[name], name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def durable_url(request, tmp_path):
    """The stores that outlive the process (a memory store has nothing to resume)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/civic.sqlite3"
    return request.getfixturevalue("pg_schema_url")


def test_a_restart_resumes_from_the_stored_position(durable_url, plugins):
    first = CivicLedger(durable_url, plugins=plugins)
    world = World(first)
    campaign = world.setup()
    first.open_campaign(world.owner, campaign, on="2020-03-09")
    c1 = world.apply(campaign, "c1")
    rm = ReadModels(first)
    applied = rm.catch_up()
    assert applied["candidacies"] == relevant(first, rm, "candidacies") == 1
    stored = {name: rm.position(name) for name in rm.models}
    # more events, not caught up before the "crash"
    c2 = world.apply(campaign, "c2")
    first.review(world.district, c1, "approve", on="2020-03-11")
    first.close()

    second = CivicLedger(durable_url, plugins=plugins)
    try:
        again = ReadModels(second)
        assert {name: again.position(name) for name in again.models} == stored
        resumed = again.catch_up()
        assert resumed["candidacies"] == relevant(second, again, "candidacies", after=stored["candidacies"]) == 2
        assert resumed["communities"] == 0
        rows = again.candidacies(world.owner, campaign)
        assert [(r["candidacy_id"], r["status"], r["version"]) for r in rows] == [(c1, "approved", 2), (c2, "applied", 1)]
        incremental = {name: again.dump(name) for name in again.models}
        for name in again.models:
            again.rebuild(name)
            assert again.dump(name) == incremental[name]
    finally:
        second.close()


def test_two_catch_ups_at_once_apply_every_event_once(app, monkeypatch):
    world = World(app)
    ids = run_to_decision(world)
    expected = relevant(app, ReadModels(app), "candidacies")
    recorder_select = app.recorder.select_notifications
    both_fetched = threading.Barrier(2, timeout=30)
    first_call: set[int] = set()

    def select(*args, **kwargs):
        rows = recorder_select(*args, **kwargs)
        if threading.get_ident() not in first_call:
            first_call.add(threading.get_ident())
            both_fetched.wait()  # both have read position 0 and fetched the same batch
        return rows

    monkeypatch.setattr(app.recorder, "select_notifications", select)
    models = [ReadModels(app), ReadModels(app)]  # like two worker processes
    applied: list[int] = []
    errors: list[BaseException] = []

    def run(rm: ReadModels) -> None:
        try:
            applied.append(rm.catch_up("candidacies")["candidacies"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(rm,)) for rm in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(applied) == [0, expected]
    assert sum(rm.applied["candidacies"] for rm in models) == expected
    monkeypatch.undo()
    rows = models[0].dump("candidacies")
    models[0].rebuild("candidacies")
    assert models[0].dump("candidacies") == rows
    assert {r["candidacy_id"] for r in models[1].candidacies(world.owner, ids["campaign"])} == {
        ids["c1"], ids["c2"], ids["c3"], ids["c1p"]}


def test_many_concurrent_readers_agree(app):
    world = World(app)
    ids = run_to_decision(world)
    rm = read_models(app)
    results: list[list[dict]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            results.append(rm.candidacies(world.owner, ids["campaign"]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(results) == 6 and all(r == results[0] for r in results)
    assert rm.applied["candidacies"] == relevant(app, rm, "candidacies")


# -- tenants and cost ------------------------------------------------------------------------------------


def test_rows_carry_the_tenant_and_queries_filter_by_it(app):
    world = World(app)
    ids = run_to_decision(world)
    rm = ReadModels(app)
    campaign = ids["campaign"]
    assert len(rm.candidacies(world.owner, campaign)) == 4
    assert rm.candidacies(STRANGER, campaign) == []
    assert rm.findings(STRANGER, campaign) == []
    assert rm.street_progress(STRANGER, campaign) == []
    with pytest.raises(NotFound):
        rm.notice_list(STRANGER, campaign, listed_only=False)
    assert rm.candidacies(EVERYWHERE, campaign) == rm.candidacies(world.auditor, campaign)
    tenants = {row[1] for row in rm.dump("candidacies")["candidacies"]}
    assert tenants == {TENANT}


def test_a_read_when_nothing_is_new_loads_no_aggregate(app, monkeypatch):
    world = World(app)
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-30")
    rm = ReadModels(app)
    reads = lambda: (rm.candidacies(world.owner, ids["campaign"]), rm.findings(world.owner, ids["campaign"]),  # noqa: E731
                     rm.street_progress(world.owner, ids["campaign"]), rm.notice_list(world.owner, ids["campaign"], listed_only=False))
    first = reads()
    loaded = counting_loads(app, monkeypatch)
    before = Counter(rm.applied)
    assert reads() == first
    assert loaded == [] and rm.applied == before
    assert rm.catch_up() == {name: 0 for name in rm.models}

    # one new event: only its own candidacy is loaded, once
    app.put_forward(world.owner, ids["c1"], "省级示范社区候选", "推荐", on="2020-12-01")
    loaded.clear()
    assert rm.catch_up("candidacies") == {"candidacies": 1}
    assert set(loaded) == {ids["c1"]}
    assert [r["version"] for r in rm.candidacies(world.owner, ids["campaign"]) if r["candidacy_id"] == ids["c1"]] == [
        app.candidacy(world.owner, ids["c1"]).version]


def test_the_tracking_table_holds_one_position_per_model(app):
    rm = read_models(app)
    assert read_models(app) is rm
    world = World(app)
    world.setup()
    rm.catch_up()
    with app.side.transaction() as c:
        rows = dict(c.query(f"SELECT model, position FROM {app.side.table(POSITIONS)}"))
    assert rows == {m.key: app.recorder.max_notification_id() for m in rm.models.values()}
    with pytest.raises(InvalidInput) as refused:
        rm.catch_up("everything")
    assert refused.value.field == "model"
