"""Cross-stream meaning checks (core.meaning): a forged title award, a removed decision, a
dropped inspection or a changed decisions summary is refused and located, on every
store, while an honest campaign (with a revocation) passes; titles are answered only
from what a verified decision backs."""

from __future__ import annotations

import copy
import functools
import gzip
import json
import random
import shutil
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from core import meaning
from core.actors import Actor, Role
from core.cli import app as cli
from core.domain import Campaign, Community
from core.plugins import PluginHost
from core.services import CivicLedger
from tests.helpers import TENANT, World, evidence
from tests.test_chain import delete_event
from tests.test_lifecycle import run_to_decision

AUDITOR = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")
LEGACY_STORE = Path(__file__).resolve().parent / "fixtures" / "decisions-v1.sqlite3.gz"


# -- building and forging histories ----------------------------------------------------------------


def supervise_and_revoke(world: World, candidacy: str) -> str:
    """A supervision visit whose rectification is rejected, then the revocation; returns the visit."""
    app = world.app
    revisit = app.conduct_inspection(world.inspector, candidacy, "unannounced", "2021-03-01", ["甲"], purpose="supervision")
    finding = app.record_finding(world.inspector, revisit, "41", "私装地锁", "major", "拆除地锁", "2021-04-01")
    app.complete_rectification(world.community_for(candidacy), revisit, finding, "已拆除", evidence(), on="2021-03-20")
    app.verify_rectification(world.inspector, revisit, finding, False, "复查仍有地锁", on="2021-04-02")
    app.revoke(world.owner, candidacy, "整改不合格", [f"{revisit}/{finding}"], on="2021-04-10")
    return revisit


@pytest.fixture
def decided(app) -> tuple[World, dict[str, str]]:
    """The lifecycle campaign decided (c1 and c1p named, c2 and c3 not), then c1's 美丽社区
    revoked after a failed supervision visit."""
    world = World(app)
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-20")
    ids["revisit"] = supervise_and_revoke(world, ids["c1"])
    ids["visit"] = app.candidacy(world.owner, ids["c2"]).inspections[0]
    return world, ids


def forge(app: CivicLedger, stream: str, method: str, effective: str, **fields: Any) -> int:
    """Append one event to ``stream`` behind the platform's back, as an insider allowed to
    INSERT into the event table: the event comes from the aggregate's own method, the
    application's mapper stores it and the store's recorder inserts it, so it is linked
    into the chain like any other. Returns its position."""
    aggregate = app.repository.get(UUID(stream))
    meta = {"actor": {"id": "insider", "role": "city_owner", "org": "天津市民政局"}, "tenant": TENANT,
            "effective": effective, "reason": None, "campaign": fields.get("campaign_id"), "rubric": fields.get("rubric")}
    getattr(aggregate, method)(meta=meta, **fields)
    (event,) = aggregate.collect_events()
    app.recorder.insert_events([app.mapper.to_stored_event(event)])
    return event.originator_version


def events_at(app: CivicLedger, stream: str, topic_end: str) -> list[int]:
    return [e[1] for e in app.stored_events([UUID(stream)]) if e[2].endswith(topic_end)]


def located(report: meaning.MeaningReport) -> set[tuple[str, int | None, str]]:
    return {(p.stream, p.version, p.what) for p in report.problems}


def whole(app: CivicLedger) -> list[meaning.Event]:
    return list(app.stored_events(None))


def without(events: list[meaning.Event], drop: Any) -> list[meaning.Event]:
    return [e for e in events if not drop(e)]


# -- an honest campaign ----------------------------------------------------------------------------


def test_an_honest_campaign_with_a_revocation_passes(decided):
    world, ids = decided
    app = world.app
    report = app.verify_meaning(AUDITOR)
    assert report.ok, report.problems
    assert report.campaigns == [ids["campaign"]]
    c1 = world.communities["c1"]
    titles = {t.level: t for t in report.titles_of(c1)}
    assert set(titles) == {"meili", "jingpin"} and report.left_out == []
    assert (titles["meili"].awarded, titles["meili"].revoked) == ("2020-11-20", "2021-04-10")
    assert titles["jingpin"].revoked is None
    # the campaign's record with everything it names, and the same check over exactly those events
    scoped = app.verify_meaning(AUDITOR, app.campaign_streams(AUDITOR, ids["campaign"]))
    assert scoped.ok and scoped.campaigns == [ids["campaign"]]
    assert meaning.check(reversed(whole(app))).problems == []
    # the answers are as before
    assert [(t["level"], t["revoked"]) for t in app.titles_on(AUDITOR, c1, "2021-01-01")] == [
        ("jingpin", None), ("meili", "2021-04-10")]
    later = app.titles_on(AUDITOR, c1, "2021-04-10")
    assert [t["level"] for t in later] == ["jingpin"] and later.left_out == []


def test_an_award_and_a_revocation_name_the_events_behind_them(decided):
    world, ids = decided
    app = world.app
    c1 = world.communities["c1"]
    states = {(e[2].rsplit(".", 1)[1], e[3]["candidacy_id"]): e[3] for e in app.stored_events([UUID(c1)])
              if e[2].endswith(("TitleAwarded", "TitleRevoked"))}
    (decided_at,) = events_at(app, ids["c1"], "Candidacy.Decided")
    (revoked_at,) = events_at(app, ids["c1"], "Candidacy.Revoked")
    assert states[("TitleAwarded", ids["c1"])]["decision"] == [ids["c1"], decided_at]
    assert states[("TitleRevoked", ids["c1"])]["revocation"] == [ids["c1"], revoked_at]
    title = next(t for t in app.verify_meaning(AUDITOR).titles_of(c1) if t.candidacy_id == ids["c1"])
    assert title.decision == (ids["c1"], decided_at) and title.revocation == (ids["c1"], revoked_at)


# -- forged title awards ----------------------------------------------------------------------------


def _forged_award(world: World, ids: dict[str, str], case: str) -> tuple[str, dict[str, Any], str]:
    """(community, TitleAwarded fields, effective date) of a forgery."""
    rubric = world.rubric.content_hash
    base = {"campaign_id": ids["campaign"], "level": "meili", "label": "美丽社区", "rubric": rubric}
    c1, c3 = world.communities["c1"], world.communities["c3"]
    decided_at = events_at(world.app, ids["c1"], "Candidacy.Decided")[0]
    if case == "a decision that did not name it":
        return c3, {**base, "candidacy_id": ids["c3"]}, "2020-11-20"
    if case == "another community's decision":
        return c3, {**base, "candidacy_id": ids["c1"]}, "2020-11-20"
    if case == "the revoked title once more":
        return c1, {**base, "candidacy_id": ids["c1"], "decision": [ids["c1"], decided_at]}, "2020-11-20"
    if case == "a candidacy that does not exist":
        return c3, {**base, "candidacy_id": str(uuid4())}, "2020-11-20"
    assert case == "another candidacy's decision position"
    return c3, {**base, "candidacy_id": ids["c3"], "decision": [ids["c1"], decided_at]}, "2020-11-20"


FORGERIES = {
    "a decision that did not name it": "disagrees",
    "another community's decision": "disagrees",
    "the revoked title once more": "duplicate",
    "a candidacy that does not exist": "not_present",
    "another candidacy's decision position": "disagrees",
}


@pytest.mark.parametrize("case", sorted(FORGERIES))
def test_a_forged_title_award_is_refused_and_located(decided, case):
    world, ids = decided
    app = world.app
    community, fields, effective = _forged_award(world, ids, case)
    at = forge(app, community, "award_title", effective, **fields)
    # the bytes are whole: the insider's event is linked like any other, and the
    # community's recorded state holds the title
    assert app.verify_chains(AUDITOR).intact
    assert app.community(world.owner, community).titles[fields["candidacy_id"]]["revoked"] is None
    report = app.verify_meaning(AUDITOR)
    assert (community, at, FORGERIES[case]) in located(report), report.problems
    assert {p.stream for p in report.problems} == {community}
    (left_out,) = report.left_out
    assert (left_out.community_id, left_out.version, left_out.candidacy_id) == (community, at, fields["candidacy_id"])
    assert left_out.reasons and all("(" in r for r in left_out.reasons)  # Chinese, then English in parentheses
    # titles on a date answer only what a verified decision backs, and say what was left out
    answered = app.titles_on(AUDITOR, community, "2021-06-01")
    assert [t["candidacy_id"] for t in answered] == ([ids["c1p"]] if community == world.communities["c1"] else [])
    assert [(t["stream"], t["version"]) for t in answered.left_out] == [(community, at)]
    # the campaign's verification finds it too: the community is one of its streams
    scoped = app.verify_meaning(AUDITOR, app.campaign_streams(AUDITOR, ids["campaign"]))
    assert (community, at, FORGERIES[case]) in located(scoped)


def test_a_forged_revocation_leaves_the_title_out(decided):
    world, ids = decided
    app = world.app
    c1 = world.communities["c1"]
    at = forge(app, c1, "revoke_title", "2021-01-01", candidacy_id=ids["c1p"])
    report = app.verify_meaning(AUDITOR)
    assert (c1, at, "not_present") in located(report)
    assert [t.candidacy_id for t in report.titles_of(c1)] == [ids["c1"]]
    (left_out,) = report.left_out_of(c1)
    assert left_out.candidacy_id == ids["c1p"] and left_out.revoked == "2021-01-01"
    assert any("revocation" in r for r in left_out.reasons)
    assert [t["level"] for t in app.titles_on(AUDITOR, c1, "2020-12-01")] == ["meili"]


# -- a removed decision, a dropped inspection, a changed summary -----------------------------------


def test_a_removed_decision_is_refused_and_located(decided):
    world, ids = decided
    app = world.app
    c1 = world.communities["c1"]
    (decided_at,) = events_at(app, ids["c1p"], "Candidacy.Decided")
    (summary_at,) = events_at(app, ids["campaign"], "Campaign.DecisionsRecorded")
    award_at = next(e[1] for e in app.stored_events([UUID(c1)])
                    if e[2].endswith("TitleAwarded") and e[3]["candidacy_id"] == ids["c1p"])
    # from a set of events, as an exporter leaving it out would
    report = meaning.check(without(whole(app), lambda e: (str(e[0]), e[1]) == (ids["c1p"], decided_at)))
    assert {(ids["campaign"], summary_at, "not_present"), (c1, award_at, "not_present")} <= located(report)
    assert [t.candidacy_id for t in report.left_out] == [ids["c1p"]]
    # from the store: the chain names the gap, the meaning check what it took away
    delete_event(app, UUID(ids["c1p"]), decided_at)
    assert [(b.stream, b.version, b.problem) for b in app.verify_chains(AUDITOR).breaks] == [(ids["c1p"], decided_at, "missing")]
    report = app.verify_meaning(AUDITOR)
    assert {(ids["campaign"], summary_at, "not_present"), (c1, award_at, "not_present")} <= located(report)
    answered = app.titles_on(AUDITOR, c1, "2021-01-01")
    assert [t["level"] for t in answered] == ["meili"]
    assert [t["candidacy_id"] for t in answered.left_out] == [ids["c1p"]]


def test_a_dropped_inspection_is_refused_and_located(decided):
    world, ids = decided
    app = world.app
    events = list(app.meaning_events(app.campaign_streams(AUDITOR, ids["campaign"])))
    linked = {str(e[0]): e[1] for e in events if e[2].endswith("InspectionLinked")
              and e[3]["inspection_id"] in (ids["visit"], ids["revisit"]) and str(e[0]) in (ids["c1"], ids["c2"])}
    (revoked_at,) = events_at(app, ids["c1"], "Candidacy.Revoked")
    report = meaning.check(without(events, lambda e: str(e[0]) in (ids["visit"], ids["revisit"])))
    assert {(ids["c2"], linked[ids["c2"]], "not_present"), (ids["c1"], linked[ids["c1"]], "not_present"),
            (ids["c1"], revoked_at, "not_present")} <= located(report)
    assert all(p.what == "not_present" for p in report.problems)
    # the revocation's title rests on the revocation, which still stands: the titles are unchanged
    assert len(report.titles) == 2 and report.left_out == []


def test_the_decisions_and_their_campaigns_summary_agree_both_ways(decided):
    world, ids = decided
    app = world.app
    events = whole(app)
    (summary_at,) = events_at(app, ids["campaign"], "Campaign.DecisionsRecorded")
    (c3_decided,) = events_at(app, ids["c3"], "Candidacy.Decided")

    def with_summary(change):
        out = []
        for stream, version, topic, state in events:
            if (str(stream), version) == (ids["campaign"], summary_at):
                state = copy.deepcopy(state)
                change(state["outcomes"])
            out.append((stream, version, topic, state))
        return out

    flipped = meaning.check(with_summary(lambda o: o[ids["c2"]].update(named=True)))
    assert located(flipped) == {(ids["campaign"], summary_at, "summary")}
    assert "命名" in flipped.problems[0].message and "named" in flipped.problems[0].message
    dropped = meaning.check(with_summary(lambda o: o.pop(ids["c3"])))
    assert located(dropped) == {(ids["c3"], c3_decided, "unrecorded")}
    unnamed = meaning.check(with_summary(lambda o: o[ids["c1p"]].update(named=False)))
    assert (ids["campaign"], summary_at, "summary") in located(unnamed)
    assert [t.candidacy_id for t in unnamed.left_out] == [ids["c1p"]]


def test_the_campaign_list_is_derived_from_the_events(decided):
    world, ids = decided
    app = world.app
    other = app.create_campaign(world.owner, "meili-2021", "2021年美丽社区创建", 2021, "tianjin-meili", on="2021-03-09")
    report = app.verify_meaning(AUDITOR)
    assert report.ok and report.campaigns == sorted([ids["campaign"], other])
    # a set without the campaign's own events lists no campaign, and says what is missing
    gone = meaning.check(without(whole(app), lambda e: str(e[0]) == ids["campaign"]))
    assert ids["campaign"] not in gone.campaigns
    for key in ("c1", "c2", "c3", "c1p"):
        assert (ids[key], 1, "not_present") in located(gone)


def test_a_campaigns_check_takes_in_what_its_record_names_elsewhere(decided):
    world, ids = decided
    app = world.app
    later = app.create_campaign(world.owner, "meili-2021", "2021年美丽社区创建", 2021, "tianjin-meili", on="2021-03-09")
    app.open_campaign(world.owner, later, on="2021-03-09")
    world.apply(later, "c2", on="2021-03-10")
    world.apply(later, "c1", level="jingpin", on="2021-03-10")
    streams = app.campaign_streams(AUDITOR, later)
    assert UUID(ids["c1p"]) not in streams  # c1's titles come from the 2020 campaign
    assert app.verify_meaning(AUDITOR, streams).ok
    alone = meaning.check(app.stored_events(streams))
    assert {p.what for p in alone.problems} == {"not_present"}
    assert any(ids["c1p"] in p.message for p in alone.problems)


def test_decisions_recorded_before_awards_named_them_verify(tmp_path, plugins):
    target = tmp_path / "v1.sqlite3"
    with gzip.open(LEGACY_STORE) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out)
    app = CivicLedger(f"sqlite:///{target}", plugins=plugins)
    try:
        report = app.verify_meaning(AUDITOR)
        assert report.ok, report.problems[:5]
        assert len(report.campaigns) == 4 and len(report.titles) == 34 and report.left_out == []
        assert sum(t.revoked is not None for t in report.titles) == 1
    finally:
        app.close()


# -- the command line and HTTP ----------------------------------------------------------------------


def test_cli_verify_and_titles_refuse_a_forged_award(tmp_path):
    from plugins.tianjin_meili import demo

    runner = CliRunner()
    env = {"CIVIC_DATABASE_URL": f"sqlite:///{tmp_path}/demo.sqlite3"}
    assert runner.invoke(cli, ["demo", "tianjin-dongli-2020"], env=env).exit_code == 0
    app = CivicLedger(env["CIVIC_DATABASE_URL"])
    try:
        (campaign,) = app.campaigns_of(AUDITOR, demo.TENANT)
        record = app.campaign(AUDITOR, campaign["id"])
        refused = next(
            cid for cid in record.candidacies
            if (decision := app.candidacy(AUDITOR, cid).decision) is not None and not decision["named"]
            and not app.community(AUDITOR, app.candidacy(AUDITOR, cid).community_id).titles
        )
        community = app.candidacy(AUDITOR, refused).community_id
        label = app.rubric_of(record).levels[0].label
        meta_tenant = record.tenant
        aggregate = app.repository.get(UUID(community))
        aggregate.award_title(
            meta={"actor": {"id": "insider", "role": "city_owner", "org": "-"}, "tenant": meta_tenant,
                  "effective": "2020-11-30", "reason": None, "campaign": campaign["id"], "rubric": record.rubric["hash"]},
            candidacy_id=refused, campaign_id=campaign["id"], level=record.levels[0], label=label,
            rubric=record.rubric["hash"])
        (event,) = aggregate.collect_events()
        app.recorder.insert_events([app.mapper.to_stored_event(event)])
        at = event.originator_version
    finally:
        app.close()
    result = runner.invoke(cli, ["audit", "verify", "--json"], env=env)
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["intact"] and not body["verified"] and {d["status"] for d in body["decisions"]} == {"confirmed"}
    problems = body["meaning"]["problems"]
    assert (community, at) in {(p["stream"], p["version"]) for p in problems}
    assert [(t["stream"], t["version"]) for t in body["meaning"]["left_out"]] == [(community, at)]
    text = runner.invoke(cli, ["audit", "verify", "--campaign", campaign["id"]], env=env)
    assert text.exit_code == 1 and "含义问题" in text.stdout and str(community) in text.stdout
    titles = runner.invoke(cli, ["audit", "titles", community, "--on", "2021-01-01", "--json"], env=env)
    assert titles.exit_code == 0 and json.loads(titles.stdout) == []
    assert "left out 1 recorded title" in titles.stderr
    shown = runner.invoke(cli, ["audit", "titles", community, "--on", "2021-01-01"], env=env)
    assert "无 none" in shown.stdout and "left out 1 recorded title" in shown.stdout


def test_http_titles_say_what_they_left_out(decided):
    from tests.api_support import ApiWorld

    world, ids = decided
    api = ApiWorld(world.app)
    headers = api.auth(api.auditor)
    c3 = world.communities["c3"]
    honest = api.http.get(f"/communities/{c3}/titles", params={"on": "2021-01-01"}, headers=headers)
    assert honest.status_code == 200 and honest.json() == [] and honest.headers["X-Civic-Titles-Left-Out"] == "0"
    assert "X-Civic-Titles-Left-Out-Reasons" not in honest.headers
    community, fields, effective = _forged_award(world, ids, "a decision that did not name it")
    at = forge(world.app, community, "award_title", effective, **fields)
    forged = api.http.get(f"/communities/{c3}/titles", params={"on": "2021-01-01"}, headers=headers)
    assert forged.status_code == 200 and forged.json() == [] and forged.headers["X-Civic-Titles-Left-Out"] == "1"
    (reason,) = json.loads(forged.headers["X-Civic-Titles-Left-Out-Reasons"])
    assert (reason["stream"], reason["version"], reason["candidacy_id"]) == (c3, at, ids["c3"]) and reason["reasons"]
    verification = api.http.get(f"/campaigns/{ids['campaign']}/verification", headers=headers).json()
    assert verification["intact"] and not verification["verified"] and not verification["meaning"]["ok"]
    assert (c3, at) in {(p["stream"], p["version"]) for p in verification["meaning"]["problems"]}


# -- properties over generated honest histories ------------------------------------------------------

PLUGINS = PluginHost.discover()

#: the event types another event names (the rules' targets); any other event, if it is the
#: last of its stream, names nothing and is named by nothing: only the chain heads know it
NAMED_TYPES = {
    "Tenant.Registered", "Community.Registered", "Campaign.Created", "Candidacy.Applied", "Inspection.Conducted",
    "RubricRecord.Recorded", "Candidacy.Decided", "Candidacy.Revoked", "Candidacy.InspectionLinked",
    "Campaign.CandidacyListed", "Campaign.DecisionsRecorded", "Community.TitleAwarded", "Community.TitleRevoked",
    "Tenant.CommunityListed", "Tenant.CampaignListed",
}


@functools.lru_cache(maxsize=None)
def history(totals: tuple[float, ...], premium: bool, inspected: frozenset[int], revoke: bool) -> tuple[meaning.Event, ...]:
    """An honest campaign: communities c1.. officially scored ``totals`` (c1 also for the
    premium level), campaign inspections of the ``inspected`` ones, decided, and (``revoke``)
    the first named 美丽社区 revoked after a failed supervision visit."""
    app = CivicLedger("memory://", plugins=PLUGINS)
    try:
        world = World(app)
        campaign = world.setup()
        app.open_campaign(world.owner, campaign, on="2020-03-09")
        codes = ["c1", "c2", "c3"][:len(totals)]
        cids = {code: world.apply(campaign, code) for code in codes}
        scored = dict(zip(codes, totals))
        if premium:
            cids["c1p"] = world.apply(campaign, "c1", level="jingpin", self_total=92)
            scored["c1p"] = totals[0]
        for cid in cids.values():
            app.review(world.district, cid, "approve", on="2020-03-11")
        for n in sorted(inspected):
            if n < len(codes):
                visit = app.conduct_inspection(world.inspector, cids[codes[n]], "announced", "2020-05-20", ["乙"])
                app.record_finding(world.inspector, visit, "38", "楼道堆物", "minor", "清理", "2020-08-31")
        for key, cid in cids.items():
            world.score_official(cid, [scored[key]] * 3)
            world.survey(cid)
        app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07", on="2020-11-01")
        app.close_public_notice(world.owner, campaign, on="2020-11-08")
        results = app.decide(world.owner, campaign, on="2020-11-20")
        named = [cids[c] for c in codes if results[cids[c]]]
        if revoke and named:
            supervise_and_revoke(world, named[0])
        return tuple(app.stored_events(None))
    finally:
        app.close()


histories = st.builds(
    history,
    st.lists(st.sampled_from([72.5, 84, 92]), min_size=1, max_size=3).map(tuple),
    st.booleans(),
    st.frozensets(st.integers(0, 2), max_size=2),
    st.booleans(),
)
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _kind(topic: str) -> str:
    return topic.split(":", 1)[1]


@PROPERTY
@given(histories)
def test_honest_histories_pass_and_every_standing_named_decision_backs_a_title(events):
    report = meaning.check(events)
    assert report.ok, report.problems
    named = {str(e[0]) for e in events if _kind(e[2]) == "Candidacy.Decided" and e[3]["named"]}
    assert {t.candidacy_id for t in report.titles} == named and report.left_out == []
    revoked = {str(e[0]) for e in events if _kind(e[2]) == "Candidacy.Revoked"}
    assert {t.candidacy_id for t in report.titles if t.revoked} == revoked


@PROPERTY
@given(histories, st.data())
def test_dropping_any_event_another_names_is_reported(events, data):
    i = data.draw(st.integers(0, len(events) - 1))
    stream, version, topic, _ = events[i]
    last = max(e[1] for e in events if e[0] == stream)
    report = meaning.check(events[:i] + events[i + 1:])
    if version != last:
        assert (str(stream), version, "positions") in located(report)
    if version != last or _kind(topic) in NAMED_TYPES:
        assert not report.ok, (_kind(topic), version, last)
    else:  # the last event of a stream that nothing names: only the chain heads know it
        assert report.ok


@PROPERTY
@given(histories, st.data())
def test_any_forged_award_is_refused_and_located(events, data):
    communities = sorted({str(e[0]) for e in events if _kind(e[2]) == "Community.Registered"})
    candidacies = sorted({str(e[0]) for e in events if _kind(e[2]) == "Candidacy.Applied"})
    decisions = sorted((str(e[0]), e[1]) for e in events if _kind(e[2]) == "Candidacy.Decided")
    (campaign,) = {str(e[0]) for e in events if _kind(e[2]) == "Campaign.Created"}
    rubric = next(e[3]["content_hash"] for e in events if _kind(e[2]) == "RubricRecord.Recorded")
    community = data.draw(st.sampled_from(communities))
    candidacy = data.draw(st.sampled_from([*candidacies, str(uuid4())]))
    level, label = data.draw(st.sampled_from([("meili", "美丽社区"), ("jingpin", "精品美丽社区（暂行标准）")]))
    position = data.draw(st.none() | st.sampled_from(decisions).map(list))
    at = 1 + max(e[1] for e in events if str(e[0]) == community)
    state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2021-01-01T00:00:00+00:00"},
        "meta": {"actor": {"id": "insider", "role": "city_owner", "org": "-"}, "tenant": TENANT,
                 "effective": data.draw(st.sampled_from(["2020-11-20", "2021-01-01"])), "reason": None,
                 "campaign": campaign, "rubric": rubric},
        "candidacy_id": candidacy, "campaign_id": campaign, "level": level, "label": label, "rubric": rubric,
        **({"decision": position} if position is not None else {}),
    }
    topic = f"{Community.__module__}:Community.TitleAwarded"
    report = meaning.check([*events, (UUID(community), at, topic, state)])
    assert [(t.community_id, t.version) for t in report.left_out] == [(community, at)]
    assert community in {p.stream for p in report.problems if p.version == at}
    assert len(report.titles) == len(meaning.check(events).titles)


@PROPERTY
@given(histories, st.data())
def test_changing_any_outcome_of_the_decisions_summary_is_reported(events, data):
    (i,) = [n for n, e in enumerate(events) if _kind(e[2]) == "Campaign.DecisionsRecorded"]
    stream, version, topic, state = events[i]
    cid = data.draw(st.sampled_from(sorted(state["outcomes"])))
    changed = copy.deepcopy(state)
    changed["outcomes"][cid]["named"] = not changed["outcomes"][cid]["named"]
    report = meaning.check([*events[:i], (stream, version, topic, changed), *events[i + 1:]])
    assert (str(stream), version, "summary") in located(report)


@PROPERTY
@given(histories, st.randoms(use_true_random=False))
def test_the_order_of_the_events_does_not_matter(events, rnd: random.Random):
    shuffled = list(events)
    rnd.shuffle(shuffled)
    a, b = meaning.check(events), meaning.check(shuffled)
    assert (a.problems, a.titles, a.left_out, a.campaigns) == (b.problems, b.titles, b.left_out, b.campaigns)


def test_every_problem_kind_is_explained_in_chinese_then_english():
    assert set(meaning.PROBLEMS) == {"positions", "unknown", "kind", "malformed", "not_present", "disagrees",
                                     "unrecorded", "summary", "duplicate", "hash"}
    for text in meaning.PROBLEMS.values():
        zh, _, en = text.partition(" (")
        assert zh and not zh.isascii() and en.endswith(")") and en.isascii()
    topic = f"{Campaign.__module__}:Campaign.Created"
    odd = meaning.check([("00000000-0000-0000-0000-000000000001", 1, topic, {"meta": {}}),
                         ("00000000-0000-0000-0000-000000000002", 1, "elsewhere:Thing.Happened", {})])
    assert [p.what for p in odd.problems] == ["malformed", "unknown"]
