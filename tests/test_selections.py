"""Selections (person awards, department rankings) and campaign progress records, on every
storage backend. Rejections record nothing."""

from __future__ import annotations

import pytest

from core.actors import Role
from core.domain.selection import TIE_BREAK
from core.errors import AlreadyExists, CivicError, InvalidInput, NotFound, PermissionDenied, RuleViolation
from tests.helpers import TENANT, World, actor, notification_count


def rejected(app, error, call):
    before = notification_count(app)
    with pytest.raises(CivicError) as info:
        call()
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}: {info.value}"
    assert notification_count(app) == before
    return info.value


@pytest.fixture
def world(app) -> World:
    w = World(app)
    app.register_tenant(w.owner, TENANT, "天津市")
    return w


def test_a_person_award_selects_ten_of_twelve_with_the_boundary_tie_broken_by_nomination_order(world):
    app = world.app
    award = app.open_selection(world.owner, "workers-2020", "十佳评选", 2020, "person", "score", places=10,
                               max_score=100, step="0.5", on="2020-01-05")
    assert app.selection_by_code(world.owner, "workers-2020").id == app.selection(world.owner, award).id
    # means: n01..n09 = 95 … 87; n10, n11, n12 tie at 85 (ranks 10–12); nominated in order n01 … n12
    totals = {f"n{k:02d}": [96 - k, 96 - k, 96 - k] for k in range(1, 10)}
    totals.update({"n10": [85, 84.5, 85.5], "n11": [85, 85, 85], "n12": [86, 84, 85]})
    for k, nominee in enumerate(totals, start=1):
        officer = world.district if k % 2 else world.street_a
        app.nominate(officer, award, nominee, f"候选人{k}", "某社区居委会", "服务居民成绩突出", on="2020-02-01")
    for nominee, points in totals.items():
        for assessor, p in zip(world.assessors, points):
            app.record_score(assessor, award, nominee, p, on="2020-03-01")
    ranking = app.select(world.owner, award, on="2020-03-10")
    assert [r["nominee_id"] for r in ranking] == [f"n{k:02d}" for k in range(1, 13)]
    assert [r["rank"] for r in ranking] == list(range(1, 13))
    assert [r["figure"] for r in ranking[9:]] == ["85.00"] * 3 and all(r["tied"] for r in ranking[9:])
    assert [r["exact"] for r in ranking[9:]] == ["85"] * 3  # the exact means tie, not just the published ones
    assert not ranking[8]["tied"] and ranking[0]["figure"] == "95.00" and ranking[0]["assessors"] == 3
    assert ranking[0]["exact"] == "95"
    assert [r["selected"] for r in ranking] == [True] * 10 + [False] * 2
    stored = app.selection(world.auditor, award)
    assert stored.ranking == ranking and stored.tie_break == TIE_BREAK
    assert "nomination order" in TIE_BREAK
    rejected(app, RuleViolation, lambda: app.select(world.owner, award))  # only once
    rejected(app, RuleViolation, lambda: app.nominate(world.district, award, "n13", "迟到", "某社区", "事迹"))


def test_a_votes_award_ranks_by_vote_count(world):
    app = world.app
    award = app.open_selection(world.owner, "aunties-2020", "最美评选", 2020, "person", "votes", places=2)
    for k, name in enumerate(["甲", "乙", "丙"], start=1):
        app.nominate(world.street_b, award, f"v{k}", name, "丰年里社区", "热心公益")
    for nominee, votes in {"v1": 120, "v2": 340, "v3": 120}.items():
        app.record_votes(world.owner, award, nominee, votes)
    ranking = app.select(world.owner, award)
    assert [(r["nominee_id"], r["figure"], r["selected"]) for r in ranking] == [
        ("v2", "340", True), ("v1", "120", True), ("v3", "120", False)
    ]
    assert [r["exact"] for r in ranking] == ["340", "120", "120"]
    assert app.selection(world.owner, award).max_score is None


def test_a_department_ranking_ranks_everyone(world):
    app = world.app
    ranking_id = app.open_selection(world.owner, "depts-2020", "成员单位年度绩效排名", 2020, "department", "score")
    for k in range(1, 11):
        app.nominate(world.district, ranking_id, f"d{k}", f"成员单位{k}", f"成员单位{k}", "年度绩效考核")
        for n, assessor in enumerate(world.assessors):
            app.record_score(assessor, ranking_id, f"d{k}", 70 + (k * 7) % 30 + n)
    ranking = app.select(world.owner, ranking_id)
    assert len(ranking) == 10 and all(r["selected"] for r in ranking)
    figures = [float(r["figure"]) for r in ranking]
    assert figures == sorted(figures, reverse=True)
    stored = app.selection(world.owner, ranking_id)
    assert stored.places is None and stored.subject == "department"


def test_progress_records_at_each_cadence(world):
    app = world.app
    campaign = app.create_campaign(world.owner, "meili-2020", "2020年美丽社区创建", 2020, "tianjin-meili", on="2020-01-05")
    app.record_progress(world.district, campaign, "monthly", "2020-01", "张贵庄街道", "每月碰头", {"visits": 3}, on="2020-01-31")
    app.record_progress(world.district, campaign, "monthly", "2020-02", "张贵庄街道", "每月碰头", on="2020-02-28")
    app.record_progress(world.owner, campaign, "quarterly", "2020-Q1", "all", "季度推进", {"rate": 0.75}, on="2020-03-31")
    app.record_progress(world.owner, campaign, "yearly", "2020", "all", "年终总结", {"communities": 3, "rate": "0.90"},
                        on="2020-12-31")
    records = app.progress(world.auditor, campaign)
    assert [(p["cadence"], p["period"], p["subject"]) for p in records] == [
        ("monthly", "2020-01", "张贵庄街道"), ("monthly", "2020-02", "张贵庄街道"), ("quarterly", "2020-Q1", "all"),
        ("yearly", "2020", "all"),
    ]
    assert records[0]["figures"] == {"visits": "3"} and records[3]["figures"] == {"communities": "3", "rate": "0.9"}
    assert records[2]["by"] == "owner" and records[2]["effective"] == "2020-03-31"
    # the same (cadence, period, subject) is refused; another subject is a new record
    rejected(app, AlreadyExists, lambda: app.record_progress(world.district, campaign, "monthly", "2020-01", "张贵庄街道", "重复"))
    app.record_progress(world.district, campaign, "monthly", "2020-01", "丰年村街道", "每月碰头", on="2020-01-31")
    assert len(app.progress(world.owner, campaign)) == 5


def test_progress_rejections_record_nothing(world):
    app = world.app
    campaign = app.create_campaign(world.owner, "meili-2020", "2020年美丽社区创建", 2020, "tianjin-meili", on="2020-01-05")
    call = app.record_progress
    for cadence, period in [("monthly", "2020-13"), ("monthly", "2020-Q1"), ("quarterly", "2020-Q5"),
                            ("quarterly", "2020-03"), ("yearly", "20"), ("yearly", 2020)]:
        err = rejected(app, InvalidInput, lambda: call(world.owner, campaign, cadence, period, "all", "x"))
        assert err.field == "period"
    assert rejected(app, InvalidInput, lambda: call(world.owner, campaign, "weekly", "2020-01", "all", "x")).field == "cadence"
    assert rejected(app, InvalidInput, lambda: call(world.owner, campaign, "monthly", "2020-01", "", "x")).field == "subject"
    assert rejected(app, InvalidInput, lambda: call(world.owner, campaign, "monthly", "2020-01", "all", " ")).field == "summary"
    err = rejected(app, InvalidInput, lambda: call(world.owner, campaign, "monthly", "2020-01", "all", "x", {"n": "many"}))
    assert err.field == "figures[n]"
    rejected(app, InvalidInput, lambda: call(world.owner, campaign, "monthly", "2020-01", "all", "x", {"n": True}))
    rejected(app, InvalidInput, lambda: call(world.owner, campaign, "monthly", "2020-01", "all", "x", [1]))
    # a period that has not begun by the effective date
    err = rejected(app, InvalidInput, lambda: call(world.owner, campaign, "quarterly", "2020-Q2", "all", "x", on="2020-03-31"))
    assert "2020-03-31" in err.allowed
    rejected(app, PermissionDenied, lambda: call(world.street_a, campaign, "monthly", "2020-01", "all", "x"))
    rejected(app, NotFound, lambda: call(actor(Role.CITY_OWNER, "o", "o", tenant="beijing"), campaign, "monthly",
                                         "2020-01", "all", "x"))
    app.cancel_campaign(world.owner, campaign, "取消")
    rejected(app, RuleViolation, lambda: call(world.owner, campaign, "monthly", "2020-01", "all", "x", on="2020-01-31"))
    assert app.progress(world.owner, campaign) == []


def test_selection_rejections_record_nothing(world):
    app, owner = world.app, world.owner
    op = app.open_selection
    assert rejected(app, InvalidInput, lambda: op(owner, "a", "t", 2020, "team", "score")).field == "subject"
    assert rejected(app, InvalidInput, lambda: op(owner, "a", "t", 2020, "person", "lottery")).field == "method"
    assert rejected(app, InvalidInput, lambda: op(owner, "a", "t", 2020, "person", "score", places=0)).field == "places"
    assert rejected(app, InvalidInput, lambda: op(owner, "a", "t", 2020, "person", "score", max_score=0)).field == "max_score"
    assert rejected(app, InvalidInput, lambda: op(owner, "a", "t", 2020, "person", "score", max_score=10, step=3)).field == "step"
    assert rejected(app, InvalidInput, lambda: op(owner, "a", "t", 1999, "person", "score")).field == "year"
    assert rejected(app, InvalidInput, lambda: op(owner, " ", "t", 2020, "person", "score")).field == "code"
    rejected(app, PermissionDenied, lambda: op(world.district, "a", "t", 2020, "person", "score"))
    award = op(owner, "a", "十佳", 2020, "person", "score", places=1, max_score=10, step="0.5")
    rejected(app, AlreadyExists, lambda: op(owner, "a", "again", 2020, "person", "votes"))
    # nothing to select yet
    assert "no nominees" in str(rejected(app, RuleViolation, lambda: app.select(owner, award)))
    app.nominate(world.street_a, award, "p1", "甲", "某社区", "事迹")
    rejected(app, AlreadyExists, lambda: app.nominate(world.district, award, "p1", "甲", "某社区", "事迹"))
    rejected(app, PermissionDenied, lambda: app.nominate(world.community, award, "p2", "乙", "某社区", "事迹"))
    rejected(app, NotFound, lambda: app.nominate(world.district, award, "p2", "乙", "某社区", "事迹",
                                                  community_id="6f1d4c1e-8a43-5b8e-9c55-1c1e7d0a2b11"))
    assert rejected(app, InvalidInput, lambda: app.nominate(world.district, award, "p2", "", "某社区", "事迹")).field == "name"
    # scores: range, step, nominee, once per assessor, method, role
    a1 = world.assessors[0]
    for bad in (-1, 10.5, "0.3", "x", True):
        assert rejected(app, InvalidInput, lambda: app.record_score(a1, award, "p1", bad)).field == "points"
    assert rejected(app, InvalidInput, lambda: app.record_score(a1, award, "p9", 5)).field == "nominee_id"
    rejected(app, PermissionDenied, lambda: app.record_score(owner, award, "p1", 5))
    rejected(app, RuleViolation, lambda: app.record_votes(owner, award, "p1", 5))
    app.nominate(world.district, award, "p2", "乙", "某社区", "事迹")
    app.record_score(a1, award, "p1", "9.5")
    rejected(app, AlreadyExists, lambda: app.record_score(a1, award, "p1", 8))
    # every nominee needs a figure
    assert "p2" in str(rejected(app, RuleViolation, lambda: app.select(owner, award)))
    rejected(app, PermissionDenied, lambda: app.select(world.district, award))
    # votes: method, count, once
    votes = op(owner, "b", "投票", 2020, "person", "votes")
    app.nominate(world.district, votes, "v1", "丙", "某社区", "事迹")
    rejected(app, RuleViolation, lambda: app.record_score(a1, votes, "v1", 5))
    assert rejected(app, InvalidInput, lambda: app.record_votes(owner, votes, "v1", -1)).field == "votes"
    app.record_votes(owner, votes, "v1", 7)
    rejected(app, AlreadyExists, lambda: app.record_votes(owner, votes, "v1", 8))
    # another tenant sees nothing
    foreign = actor(Role.CITY_OWNER, "bj", "北京", tenant="beijing")
    rejected(app, NotFound, lambda: app.selection(foreign, award))
    rejected(app, NotFound, lambda: app.record_votes(foreign, votes, "v1", 1))
    assert app.selection(owner, award).scores == {"p1": {"assessor-1": "9.5"}}


def test_huge_or_tiny_numbers_are_refused_as_input_errors(app):
    from core.errors import InvalidInput
    from tests.helpers import World, notification_count

    world = World(app)
    campaign = world.setup()
    app.open_campaign(world.owner, campaign)
    before = notification_count(app)
    for max_score, step in (("1e30", "1e-10"), ("1e40", "1"), ("1e25", "1")):
        with pytest.raises(InvalidInput):
            app.open_selection(world.owner, "big", "评选", 2020, "person", "score", places=3, max_score=max_score, step=step)
    for figure in ("1e9999999", "1e999999"):
        with pytest.raises(InvalidInput):
            app.record_progress(world.owner, campaign, "yearly", "2020", "all", "总结", figures={"x": figure}, on="2020-12-31")
    assert notification_count(app) == before
