"""Lists served from the read models over HTTP (api/routes/lists.py and the candidacy list of
api/routes/campaigns.py), on every storage backend: the figures equal the core's, residents
read only the public notice list, another tenant gets 404, a list request records nothing
and, when nothing is new, replays no candidacy or inspection."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from core.actors import Actor, Role
from core.readmodels import read_models
from plugins.tianjin_meili.demo import DEMO, Cast
from tests.api_support import ApiWorld
from tests.helpers import counting_loads, evidence, notification_count
from tests.test_api_registry import invalid, refused
from tests.test_lifecycle import run_to_decision

STAFF = sorted(r.value for r in Role if r is not Role.RESIDENT)
RESIDENTS_READ = "/notice/list"
CAST = Cast()


@pytest.fixture
def world(app) -> ApiWorld:
    return ApiWorld(app)


def lists(campaign: str) -> list[str]:
    return [f"/campaigns/{campaign}/candidacies", f"/campaigns/{campaign}/findings/overdue",
            f"/campaigns/{campaign}/streets/progress", f"/campaigns/{campaign}/notice/list"]


def staff_only(world: ApiWorld, path: str, resident: Actor = CAST.resident) -> None:
    """A resident's token is refused (403, naming every other role) and nothing is recorded."""
    body = refused(world, "GET", path, 403, world.auth(resident))
    assert sorted(body["allowed_roles"]) == STAFF, body


def ok(world: ApiWorld, path: str, person: Actor) -> object:
    answer = world.http.get(path, headers=world.auth(person))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_lists_of_the_demo_campaign(world):
    app = world.app
    campaign = DEMO.build(app, lambda _: None)
    everywhere = Actor(id="city-audit", role=Role.AUDITOR, organisation="审计局", tenant="*")
    people = [CAST.owner, CAST.inspector, CAST.resident, everywhere, world.stranger(), world.stranger(Role.AUDITOR),
              world.stranger(Role.RESIDENT)]
    for person in people:
        world.auth(person)  # tokens first: issuing one records events
    before = notification_count(app)

    # the candidacy list keeps its shape; detail and ranking come from the same rows
    core = app.candidacies_of(CAST.owner, campaign)
    outcome = {r["candidacy_id"]: r for r in app.outcome_table(CAST.owner, campaign)}
    path = f"/campaigns/{campaign}/candidacies"
    assert ok(world, path, CAST.owner) == [
        {"id": str(c.id), "community_id": c.community_id, "level": c.level, "status": c.status,
         "named": c.decision["named"], "version": c.version} for c in core]
    detailed = ok(world, path + "?detail=true", CAST.inspector)
    assert [r["id"] for r in detailed] == [str(c.id) for c in core]
    for row in detailed:
        expected = outcome[row["id"]]
        assert (row["community"], row["street"], row["official_total"], row["satisfaction_rate"], row["revoked"]) == (
            expected["community"], expected["street"], expected["total"], expected["satisfaction_rate"],
            expected["revocation"] is not None)
        assert {k: row["objections"][k] for k in ("open", "upheld", "dismissed")} == expected["objections"]
    ranking = ok(world, path + "?order=ranking&detail=true", CAST.owner)
    totals = [Decimal(r["official_total"]) for r in ranking]
    assert totals == sorted(totals, reverse=True) and sorted(r["id"] for r in ranking) == sorted(outcome)
    assert invalid(world, "GET", path + "?order=best", world.auth(CAST.owner), "order")["allowed"] == "applied, ranking"
    staff_only(world, path)

    # overdue findings: today, and on the day after the campaign's rectification deadline
    overdue = ok(world, f"/campaigns/{campaign}/findings/overdue", CAST.inspector)
    expected = [f for f in app.findings(CAST.owner, campaign) if f["overdue"]]
    assert overdue["as_of"] == app.today() and overdue["count"] == len(expected) == 2
    assert sorted((f["inspection_id"], f["finding_id"], f["status"]) for f in overdue["findings"]) == sorted(
        (f["inspection_id"], f["finding_id"], f["status"]) for f in expected)
    early = ok(world, f"/campaigns/{campaign}/findings/overdue?on=2020-09-01", CAST.owner)
    assert [(f["community"], f["street"], f["status"], f["days_overdue"]) for f in early["findings"]] == [
        ("德馨苑社区", "金桥街道", "planned", 1)]
    invalid(world, "GET", f"/campaigns/{campaign}/findings/overdue?on=2020-13-45", world.auth(CAST.owner), "on")
    staff_only(world, f"/campaigns/{campaign}/findings/overdue")

    # every street's progress
    progress = ok(world, f"/campaigns/{campaign}/streets/progress?on=2020-09-01", CAST.owner)
    streets = {s["street"]: s for s in progress["streets"]}
    assert sorted(streets) == sorted({"东湖街道", "新华街道", "金桥街道", "丰泽街道"}) and progress["as_of"] == "2020-09-01"
    assert sum(s["candidacies"]["total"] for s in streets.values()) == len(core)
    assert sum(s["inspections"]["done"] for s in streets.values()) == sum(len(c.inspections) for c in core)
    assert [name for name, s in streets.items() if s["findings"]["overdue"]] == ["金桥街道"]
    assert streets["东湖街道"]["candidacies"]["by_status"]["revoked"] == 1
    jingqiao = [Decimal(outcome[str(c.id)]["total"]) for c in core if outcome[str(c.id)]["street"] == "金桥街道"]
    assert Decimal(streets["金桥街道"]["official_total"]["average"]) == round(sum(jingqiao) / len(jingqiao), 2)
    staff_only(world, f"/campaigns/{campaign}/streets/progress")

    # the public notice list: residents read the listed candidates, staff see the others too
    notice = app.campaign(CAST.owner, campaign).notice
    public = ok(world, f"/campaigns/{campaign}/notice/list", CAST.resident)
    assert [c["candidacy_id"] for c in public["candidates"]] == notice["candidacy_ids"]
    assert all(c["listed"] and c["total"] == outcome[c["candidacy_id"]]["total"] for c in public["candidates"])
    assert (public["start"], public["end"], public["closed"], public["decided"]) == (notice["start"], notice["end"], True, True)
    objections = Counter()
    for c in public["candidates"]:
        objections.update({k: v for k, v in c["objections"].items() if k in ("upheld", "dismissed")})
    assert objections == Counter(upheld=1, dismissed=1)
    staff = ok(world, f"/campaigns/{campaign}/notice/list", CAST.owner)
    assert [c["candidacy_id"] for c in staff["candidates"] if c["listed"]] == notice["candidacy_ids"]
    assert {c["candidacy_id"] for c in staff["candidates"] if not c["listed"]} == set(notice["preliminary"]) - set(notice["candidacy_ids"])

    # another tenant: 404 on every list (a resident's token may be refused before anything is
    # looked up where residents read nothing); an all-tenant auditor reads them
    for person in people[-3:]:
        for list_path in lists(campaign):
            if person.role is Role.RESIDENT and not list_path.endswith(RESIDENTS_READ):
                assert sorted(refused(world, "GET", list_path, 403, world.auth(person))["allowed_roles"]) == STAFF
            else:
                refused(world, "GET", list_path, 404, world.auth(person))
    for list_path in lists(campaign):
        assert ok(world, list_path, everywhere) == ok(world, list_path, CAST.owner)
    assert notification_count(app) == before  # reading records nothing


def test_a_list_request_replays_no_candidacy_when_nothing_is_new(world, monkeypatch):
    app = world.app
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-30")
    world.auth(world.owner)
    first = {path: ok(world, path, world.owner) for path in lists(ids["campaign"])}
    rm = read_models(app)
    applied = Counter(rm.applied)
    candidacies = {ids[k] for k in ("c1", "c2", "c3", "c1p")}
    inspections = {i for k in ("c1", "c2", "c3", "c1p") for i in app.candidacy(world.owner, ids[k]).inspections}
    assert inspections
    loaded = counting_loads(app, monkeypatch)
    for path, answer in first.items():
        loaded.clear()
        assert ok(world, path, world.owner) == answer
        streams = Counter(loaded)
        assert streams[ids["campaign"]] == 1, (path, loaded)  # the campaign, for the tenant check
        assert not (set(loaded) & (candidacies | inspections)), (path, loaded)
    assert rm.applied == applied  # nothing was new: no notification applied


def test_lists_follow_new_events(world):
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    path = f"/campaigns/{campaign}/candidacies"
    assert ok(world, path, world.district) == []
    refused(world, "GET", f"/campaigns/{campaign}/notice/list", 404, world.auth(world.resident))
    c1 = world.apply(campaign, "c1", self_total=92)
    c3 = world.apply(campaign, "c3", self_total=88)
    assert [(r["id"], r["status"], r["version"]) for r in ok(world, path, world.district)] == [(c1, "applied", 1), (c3, "applied", 1)]
    app.review(world.district, c1, "approve", on="2020-03-11")
    app.review(world.district, c3, "reject", "不符合条件", on="2020-03-11")
    assert [(r["status"], r["version"]) for r in ok(world, path, world.district)] == [("approved", 2), ("rejected", 2)]

    visit = app.conduct_inspection(world.inspector, c1, "unannounced", "2020-05-20", ["巡查员甲"])
    finding = app.record_finding(world.inspector, visit, "38", "楼道堆物", "major", "清理楼道杂物", "2020-06-30", evidence())
    overdue = f"/campaigns/{campaign}/findings/overdue?on=2020-07-01"
    assert [(f["finding_id"], f["status"]) for f in ok(world, overdue, world.street_a)["findings"]] == [(finding, "open")]
    progress = ok(world, f"/campaigns/{campaign}/streets/progress?on=2020-07-01", world.owner)["streets"]
    assert [(s["street"], s["candidacies"]["by_status"], s["inspections"]["done"], s["findings"]["overdue"]) for s in progress] == [
        ("丰年村街道", {"rejected": 1}, 0, 0), ("张贵庄街道", {"approved": 1}, 1, 1)]
    app.complete_rectification(world.community, visit, finding, "已清理", evidence("after.jpg"), on="2020-06-20")
    app.verify_rectification(world.inspector, visit, finding, True, "复核通过", on="2020-06-25")
    assert ok(world, overdue, world.street_a)["findings"] == []
    progress = ok(world, f"/campaigns/{campaign}/streets/progress?on=2020-07-01", world.owner)["streets"]
    assert progress[1]["findings"] == {"total": 1, "open": 0, "overdue": 0, "verified": 1, "rejected": 0}
