"""The audit routes over HTTP on a decided campaign, on every storage backend: history, time
travel, titles on a date, campaign verification, the export bundle (verified offline from the
downloaded bytes), what-if, and the whole-store checks that only auditors of every tenant
reach. Then the selection and progress routes (awards, rankings, progress records).
Reading never records anything; a rejected write records nothing."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from uuid import UUID

import pytest

from core.actors import Actor, Role
from core.bundle import verify_bundle
from core.domain.selection import TIE_BREAK
from tests.api_support import ApiWorld
from tests.helpers import evidence, notification_count
from tests.test_lifecycle import run_to_decision

ALL_TENANTS_AUDITOR = Actor(id="auditor-all", role=Role.AUDITOR, organisation="审计署", tenant="*")
PROBLEM = "application/problem+json"


@pytest.fixture
def world(app) -> ApiWorld:
    return ApiWorld(app)


@pytest.fixture
def decided(world) -> dict[str, str]:
    """The lifecycle campaign, decided: c1 and c1p named, c2 (upheld objection) and c3 (72.5) not."""
    ids = run_to_decision(world)
    world.app.decide(world.owner, ids["campaign"], on="2020-11-20")
    issue_tokens(world)
    return ids


def issue_tokens(world: ApiWorld) -> None:
    """Every token the tests use, issued up front (issuing one records an event)."""
    for person in [*everyone(world), world.stranger(), world.stranger(Role.AUDITOR), world.stranger(Role.DISTRICT_OFFICER),
                   ALL_TENANTS_AUDITOR]:
        world.auth(person)


@pytest.fixture
def export_dir(tmp_path, monkeypatch):
    """The temporary folder the export route writes its files to (empty again after every download)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def revoke_c1(world: ApiWorld, ids: dict[str, str]) -> None:
    """A supervision visit whose rectification fails, then the revocation of c1's 美丽社区 title."""
    app = world.app
    revisit = app.conduct_inspection(world.inspector, ids["c1"], "unannounced", "2021-03-01", ["甲"], purpose="supervision")
    finding = app.record_finding(world.inspector, revisit, "41", "私装地锁", "major", "拆除地锁", "2021-04-01")
    app.complete_rectification(world.community, revisit, finding, "已拆除", evidence(), on="2021-03-20")
    app.verify_rectification(world.inspector, revisit, finding, False, "复查仍有地锁", on="2021-04-02")
    app.revoke(world.owner, ids["c1"], "整改不合格", [f"{revisit}/{finding}"], on="2021-04-10")


def everyone(world: ApiWorld) -> list[Actor]:
    return [world.owner, world.district, world.street_a, world.community, world.inspector, world.assessors[0],
            world.resident, world.auditor]


def assert_problem(response, status: int, **fields) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    for key, value in fields.items():
        assert body[key] == value, (key, body)
    return body


# -- history ----------------------------------------------------------------------------------


def test_history_is_the_command_lines_rows_for_every_role_of_the_tenant_but_residents(world, decided):
    app = world.app
    expected = json.loads(json.dumps(app.history(ALL_TENANTS_AUDITOR, decided["campaign"]), ensure_ascii=False, default=str))
    before = notification_count(app)
    for person in everyone(world):
        response = world.http.get(f"/streams/{decided['campaign']}/history", headers=world.auth(person))
        if person.role is Role.RESIDENT:  # residents read public notices only
            body = assert_problem(response, 403)
            assert sorted(body["allowed_roles"]) == sorted(r.value for r in Role if r is not Role.RESIDENT)
            continue
        assert response.status_code == 200, (person.role, response.text)
        assert response.json() == expected
    assert notification_count(app) == before
    # a campaign's history carries its candidacies and inspections, who did what and why
    events = [row["event"] for row in expected]
    assert events[0] == "Campaign.Created" and "Candidacy.Decided" in events and "Inspection.FindingRecorded" in events
    resolved = next(row for row in expected if row["event"] == "Candidacy.ObjectionResolved")
    assert (resolved["reason"], resolved["actor"]["id"], resolved["effective"]) == ("核查属实", "owner", "2020-11-06")
    # one candidacy alone
    rows = world.http.get(f"/streams/{decided['c1']}/history", headers=world.auth(world.auditor)).json()
    assert [r["event"] for r in rows][:2] == ["Candidacy.Applied", "Candidacy.Reviewed"]
    assert {r["stream"] for r in rows} == {decided["c1"]}


def test_history_of_another_tenant_or_of_nothing_is_not_found(world, decided):
    for person in (world.stranger(), world.stranger(Role.AUDITOR)):
        body = assert_problem(world.http.get(f"/streams/{decided['c1']}/history", headers=world.auth(person)), 404)
        assert body["detail"] == f"stream {decided['c1']} not found"
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(world.http.get(f"/streams/{missing}/history", headers=world.auth(world.owner)), 404)
    assert_problem(world.http.get("/streams/not-a-uuid/history", headers=world.auth(world.owner)), 422,
                   field="stream_id", value="not-a-uuid")
    assert_problem(world.http.get(f"/streams/{decided['c1']}/history"), 401)


def test_access_token_streams_are_not_part_of_the_record(world):
    world.setup()
    token_id, _ = world.app.issue_token("tests", "tianjin", "city_owner", "someone")
    for path in (f"/streams/{token_id}/history", f"/streams/{token_id}?version=1"):
        body = assert_problem(world.http.get(path, headers=world.auth(world.owner)), 404)
        assert "digest" not in json.dumps(body)


# -- time travel and titles -----------------------------------------------------------------------


def test_time_travel_and_titles_around_a_revocation(world, decided):
    app = world.app
    revoke_c1(world, decided)
    headers = world.auth(world.auditor)
    community = world.communities["c1"]

    def levels(day: str) -> list[tuple[str, str]]:
        response = world.http.get(f"/communities/{community}/titles", params={"on": day}, headers=headers)
        assert response.status_code == 200, response.text
        return [(t["level"], t["candidacy_id"]) for t in response.json()]

    assert levels("2020-11-19") == []
    assert levels("2020-11-20") == [("jingpin", decided["c1p"]), ("meili", decided["c1"])]
    assert levels("2021-04-09") == [("jingpin", decided["c1p"]), ("meili", decided["c1"])]
    assert levels("2021-04-10") == [("jingpin", decided["c1p"])]
    today = world.http.get(f"/communities/{community}/titles", headers=headers).json()  # default: today
    assert [t["level"] for t in today] == ["jingpin"]
    held = world.http.get(f"/communities/{community}/titles?on=2021-01-01", headers=headers).json()
    # held then, with the later revocation shown
    assert [(t["label"], t["awarded"], t["revoked"]) for t in held] == [
        ("精品美丽社区（暂行标准）", "2020-11-20", None), ("美丽社区", "2020-11-20", "2021-04-10")
    ]
    assert_problem(world.http.get(f"/communities/{community}/titles?on=2021-13-01", headers=headers), 422,
                   field="on", value="2021-13-01", allowed="an ISO date YYYY-MM-DD")

    # the candidacy by event position: named at the decision, revoked now
    decided_at = app.candidacy(world.owner, decided["c1"]).decision["derivation"]["positions"]["candidacy"][1] + 1
    response = world.http.get(f"/streams/{decided['c1']}", params={"version": decided_at}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["kind"], body["version"]) == (decided["c1"], "Candidacy", decided_at)
    assert body["state"]["status"] == "named" and body["state"]["revocation"] is None
    assert body["state"]["decision"]["derivation"]["outcome"]["total"] == {"exact": "92", "published": "92.00"}
    last = world.http.get(f"/streams/{decided['c1']}", params={"version": 10**6}, headers=headers).json()
    assert last["state"]["status"] == "revoked" and last["state"]["revocation"]["reason"] == "整改不合格"
    first = world.http.get(f"/streams/{decided['c1']}?version=1", headers=headers).json()
    assert (first["version"], first["state"]["status"]) == (1, "applied")

    # by recorded time: before anything was recorded there is nothing; now it is revoked
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    by_now = world.http.get(f"/streams/{decided['c1']}", params={"recorded_by": now}, headers=headers).json()
    assert by_now["state"]["status"] == "revoked"
    assert_problem(world.http.get(f"/streams/{decided['c1']}", params={"recorded_by": "2000-01-01T00:00:00+00:00"},
                                  headers=headers), 404)
    assert_problem(world.http.get(f"/streams/{decided['c1']}", params={"recorded_by": "yesterday"}, headers=headers),
                   422, field="recorded_by")
    # exactly one of the two
    assert_problem(world.http.get(f"/streams/{decided['c1']}", headers=headers), 422, field="version/recorded_by")
    assert_problem(world.http.get(f"/streams/{decided['c1']}", params={"version": 2, "recorded_by": now}, headers=headers),
                   422, field="version/recorded_by")
    for bad in ("0", "-1", "x", str(10**30)):
        assert_problem(world.http.get(f"/streams/{decided['c1']}", params={"version": bad}, headers=headers), 422)
    # another tenant sees nothing, at any time
    for person in (world.stranger(), world.stranger(Role.AUDITOR)):
        assert_problem(world.http.get(f"/streams/{decided['c1']}?version=1", headers=world.auth(person)), 404)
        assert_problem(world.http.get(f"/communities/{community}/titles?on=2021-01-01", headers=world.auth(person)), 404)


# -- verification -----------------------------------------------------------------------------------


def test_a_campaign_verifies_for_every_reader_of_its_tenant(world, decided):
    app = world.app
    before = notification_count(app)
    for person in (world.auditor, world.owner, world.community):
        response = world.http.get(f"/campaigns/{decided['campaign']}/verification", headers=world.auth(person))
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"scope", "intact", "streams", "events", "root", "breaks", "decisions", "meaning", "verified"}
        assert body["meaning"]["ok"] and body["meaning"]["problems"] == [] and body["meaning"]["left_out"] == []
        assert body["meaning"]["campaigns"] == [decided["campaign"]] and body["meaning"]["titles"] == 2
        assert body["scope"] == {"campaign": decided["campaign"], "tenant": None, "anchor": None}
        assert body["verified"] and body["intact"] and body["breaks"] == []
        assert {d["candidacy_id"]: d["status"] for d in body["decisions"]} == {
            decided[k]: "confirmed" for k in ("c1", "c2", "c3", "c1p")
        }
        assert all(d["campaign_id"] == decided["campaign"] for d in body["decisions"])
        # campaign, 4 candidacies, 3 communities, 1 inspection, 1 rubric version
        assert body["streams"] == 10 and body["root"].startswith("sha256:")
    assert notification_count(app) == before
    for person in (world.stranger(), world.stranger(Role.AUDITOR)):
        assert_problem(world.http.get(f"/campaigns/{decided['campaign']}/verification", headers=world.auth(person)), 404)


def test_residents_read_none_of_the_audit_routes(world, decided):
    campaign, community = decided["campaign"], world.communities["c1"]
    for path in (f"/streams/{campaign}/history", f"/streams/{campaign}?version=1", f"/communities/{community}/titles",
                 f"/campaigns/{campaign}/verification", f"/campaigns/{campaign}/bundle",
                 f"/campaigns/{campaign}/whatif?rubric=tianjin-meili@2017", "/audit/verification", "/audit/anchor"):
        body = assert_problem(world.http.get(path, headers=world.auth(world.resident)), 403)
        assert "resident" in body["detail"] and campaign not in json.dumps(body["allowed_roles"])


def test_an_undecided_campaign_verifies_its_chains(world):
    campaign = world.setup()
    body = world.http.get(f"/campaigns/{campaign}/verification", headers=world.auth(world.owner)).json()
    assert body["verified"] and body["decisions"] == []


def test_a_changed_event_shows_as_a_break_and_blocks_the_export(world, decided, export_dir):
    from tests.test_chain import update_state

    app = world.app
    update_state(app, UUID(decided["c3"]), 1, b'"street-b"', b'"street-x"')  # who applied, rewritten
    response = world.http.get(f"/campaigns/{decided['campaign']}/verification", headers=world.auth(world.auditor))
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["verified"] and not body["intact"]
    assert [(b["stream"], b["version"], b["problem"]) for b in body["breaks"]] == [(decided["c3"], 1, "changed")]
    assert_problem(world.http.get(f"/campaigns/{decided['campaign']}/bundle", headers=world.auth(world.auditor)), 409)
    assert list(export_dir.iterdir()) == []


# -- export bundle ------------------------------------------------------------------------------


def test_the_downloaded_bundle_verifies_offline(world, decided, tmp_path, export_dir):
    app = world.app
    before = notification_count(app)
    response = world.http.get(f"/campaigns/{decided['campaign']}/bundle", headers=world.auth(world.auditor))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-civic-bundle"
    assert response.headers["content-disposition"] == f'attachment; filename="campaign-{decided["campaign"]}.civic-bundle"'
    assert response.content.startswith(b"civic-ledger-bundle 2\n")
    path = tmp_path / "downloaded.civic-bundle"
    path.write_bytes(response.content)
    report = verify_bundle(path)
    assert report.intact and report.verified, [str(p) for p in report.problems]
    assert {v["candidacy_id"]: v["status"] for v in report.verdicts} == {
        decided[k]: "confirmed" for k in ("c1", "c2", "c3", "c1p")
    }
    assert report.manifest["scope"] == {"campaign": decided["campaign"], "tenant": "tianjin"}
    assert report.manifest["exported_by"] == {"id": "auditor", "role": "auditor", "org": "审计"}
    assert response.headers["x-civic-bundle-logs"] == ", ".join(f"{k}={v}" for k, v in report.manifest["logs"].items())
    # the temporary file is gone and nothing was recorded
    assert list(export_dir.iterdir()) == []
    assert notification_count(app) == before
    # one changed byte in the download is found offline
    data = bytearray(response.content)
    data[data.index(b"Candidacy.Decided") + 3] ^= 0x01
    path.write_bytes(bytes(data))
    assert not verify_bundle(path).verified


def test_another_tenant_cannot_download_the_bundle(world, decided, export_dir):
    for person in (world.stranger(), world.stranger(Role.AUDITOR)):
        body = assert_problem(world.http.get(f"/campaigns/{decided['campaign']}/bundle", headers=world.auth(person)), 404)
        assert body["detail"] == f"campaign {decided['campaign']} not found"
    assert_problem(world.http.get("/campaigns/not-a-uuid/bundle", headers=world.auth(world.owner)), 422, field="campaign_id")
    assert list(export_dir.iterdir()) == []


# -- what-if --------------------------------------------------------------------------------------


def test_whatif_under_a_raised_pass_line_unnames_c1_and_records_nothing(world, decided):
    app = world.app
    app.configure_rubric(world.owner, "tianjin-meili@2017", "2017-line93",
                         {"levels": {"meili": {"rules": {"min_total": 93}}}}, "提高分数线")
    before = notification_count(app)
    response = world.http.get(f"/campaigns/{decided['campaign']}/whatif", params={"rubric": "tianjin-meili@2017-line93"},
                              headers=world.auth(world.auditor))
    assert response.status_code == 200, response.text
    body = response.json()
    assert notification_count(app) == before
    assert (body["campaign_id"], body["tenant"], body["recorded_rubric"], body["rubric"], body["provided_by"]) == (
        decided["campaign"], "tianjin", "tianjin-meili@2017", "tianjin-meili@2017-line93", "tenant tianjin"
    )
    rows = {d["candidacy_id"]: d for d in body["decisions"]}
    assert {cid for cid, d in rows.items() if d["status"] == "changed"} == {decided["c1"], decided["c1p"]}
    c1 = rows[decided["c1"]]
    assert (c1["recorded_named"], c1["whatif_named"]) == (True, False)
    assert c1["reasons"] == ["综合得分 92.00 低于 93 分 (official total 92.00 is below 93)"]
    assert 'outcome.rules.min_total: "80" -> "93"' in c1["differences"]
    # the same as the command line's JSON
    assert body == json.loads(json.dumps(app.whatif(world.auditor, decided["campaign"], "tianjin-meili@2017-line93").as_dict()))


def test_whatif_under_the_recorded_version_changes_nothing(world, decided):
    body = world.http.get(f"/campaigns/{decided['campaign']}/whatif?rubric=tianjin-meili@2017",
                          headers=world.auth(world.owner)).json()
    assert {d["status"] for d in body["decisions"]} == {"unchanged"} and len(body["decisions"]) == 4


def test_whatif_names_the_versions_the_tenant_can_use(world, decided):
    before = notification_count(world.app)
    for query in ("", "?rubric=nope@1", "?rubric="):
        body = assert_problem(world.http.get(f"/campaigns/{decided['campaign']}/whatif{query}", headers=world.auth(world.owner)),
                              422, field="rubric")
        assert "tianjin-meili@2017" in body["allowed"]
    for person in (world.stranger(), world.stranger(Role.AUDITOR)):
        assert_problem(world.http.get(f"/campaigns/{decided['campaign']}/whatif?rubric=tianjin-meili@2017",
                                      headers=world.auth(person)), 404)
    undecided = world.app.create_campaign(world.owner, "meili-2021", "2021年美丽社区创建", 2021, "tianjin-meili", on="2020-03-09")
    assert_problem(world.http.get(f"/campaigns/{undecided}/whatif?rubric=tianjin-meili@2017", headers=world.auth(world.owner)), 404)
    assert notification_count(world.app) == before + 2  # the campaign created above (campaign + tenant)


# -- the whole store ----------------------------------------------------------------------------


def test_whole_store_checks_are_for_auditors_of_every_tenant_only(world, decided):
    for person in (world.owner, world.auditor, world.stranger(Role.AUDITOR)):
        for path in ("/audit/verification", "/audit/anchor"):
            body = assert_problem(world.http.get(path, headers=world.auth(person)), 403)
            assert body["allowed_roles"] == ["auditor (all tenants, 全部租户审计员)"]
    headers = world.auth(ALL_TENANTS_AUDITOR)
    verified = world.http.get("/audit/verification", headers=headers)
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["verified"] and body["scope"] == {"campaign": None, "tenant": None, "anchor": None}
    assert {d["candidacy_id"] for d in body["decisions"]} == {decided[k] for k in ("c1", "c2", "c3", "c1p")}
    anchor = world.http.get("/audit/anchor", headers=headers).json()
    assert anchor["format"] == "civic-ledger-anchor" and anchor["intact"]
    assert anchor["root"] == body["root"] and decided["campaign"] in anchor["heads"]


# -- selections and progress records ----------------------------------------------------------------


def open_award(world: ApiWorld, **changes) -> str:
    world.register()  # the tenant, and the communities its street and community tokens act for
    issue_tokens(world)
    body = {"code": "workers-2020", "title": "十佳社区工作者", "year": 2020, "subject": "person", "method": "score",
            "places": 2, "max_score": 100, "step": "0.5", "on": "2020-01-05", **changes}
    response = world.http.post("/tenants/tianjin/selections", json=body, headers=world.auth(world.owner))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/selections/{response.json()['id']}"
    assert response.json()["code"] == body["code"]
    return response.json()["id"]


def test_a_person_award_is_nominated_scored_and_selected_over_http(world):
    app = world.app
    award = open_award(world)
    for k, officer in enumerate((world.district, world.street_a, world.district), start=1):
        response = world.http.post(f"/selections/{award}/nominations", headers=world.auth(officer), json={
            "nominee_id": f"n{k}", "name": f"候选人{k}", "organisation": "某社区居委会", "reason": "服务居民成绩突出",
            "community_id": None, "on": "2020-02-01",
        })
        assert response.status_code == 200, response.text
        assert response.json() == {"id": award, "version": k + 1, "nominee_id": f"n{k}"}
    points = {"n1": ["90", 91.5, 92], "n2": [95, "95", 95], "n3": [91, 91.5, 91]}  # n1 and n3 tie at exactly 547/6 (91.17)
    for nominee, given in points.items():
        for assessor, p in zip(world.assessors, given):
            response = world.http.post(f"/selections/{award}/scores", headers=world.auth(assessor),
                                       json={"nominee_id": nominee, "points": p, "on": "2020-03-01"})
            assert response.status_code == 200, response.text
    assert_problem(world.http.get(f"/selections/{award}", headers=world.auth(world.resident)), 403)
    view = world.http.get(f"/selections/{award}", headers=world.auth(world.street_b))
    assert view.status_code == 200 and view.headers["etag"] == f'"{view.json()["version"]}"'
    nominees = {n["nominee_id"]: n for n in view.json()["nominees"]}
    assert nominees["n1"]["scores"] == {"assessor-1": "90", "assessor-2": "91.5", "assessor-3": "92"}
    # read models show the published figure (2 places, half up), as the ranking rows do
    assert nominees["n1"]["figure"] == "91.17" and nominees["n2"]["nominated_by"] == "street-a"
    assert view.json()["ranking"] is None and not view.json()["selected"]

    # If-Match: a stale version is refused, the current one accepted
    stale = world.http.post(f"/selections/{award}/select", json={"on": "2020-03-10"},
                            headers=world.auth(world.owner, **{"If-Match": '"2"'}))
    assert_problem(stale, 409)
    made = world.http.post(f"/selections/{award}/select", json={"on": "2020-03-10"},
                           headers=world.auth(world.owner, **{"If-Match": view.headers["etag"]}))
    assert made.status_code == 200, made.text
    ranking = made.json()["ranking"]
    assert [(r["nominee_id"], r["figure"], r["selected"], r["tied"]) for r in ranking] == [
        ("n2", "95.00", True, False), ("n1", "91.17", True, True), ("n3", "91.17", False, True)
    ]
    assert [r["exact"] for r in ranking] == ["95", "547/6", "547/6"]
    assert made.json()["tie_break"] == TIE_BREAK
    assert world.http.get(f"/selections/{award}", headers=world.auth(world.auditor)).json()["ranking"] == ranking
    # made once; afterwards nothing changes
    before = notification_count(app)
    assert_problem(world.http.post(f"/selections/{award}/select", json={}, headers=world.auth(world.owner)), 409)
    assert notification_count(app) == before


def test_a_votes_ranking_and_the_core_messages_for_bad_values(world):
    app = world.app
    award = open_award(world, code="aunties-2020", method="votes", places=1)
    world.http.post(f"/selections/{award}/nominations", headers=world.auth(world.street_b),
                    json={"nominee_id": "v1", "name": "甲", "organisation": "丰年里社区", "reason": "热心公益"})
    before = notification_count(app)
    owner = world.auth(world.owner)
    assert_problem(world.http.post(f"/selections/{award}/votes", json={"nominee_id": "v1", "votes": -1}, headers=owner),
                   422, field="votes", value=-1)
    assert_problem(world.http.post(f"/selections/{award}/votes", json={"nominee_id": "v9", "votes": 3}, headers=owner),
                   422, field="nominee_id", allowed="v1")
    assert_problem(world.http.post(f"/selections/{award}/votes", json={"nominee_id": "v1", "votes": "3"}, headers=owner),
                   422, field="votes")
    assert_problem(world.http.post(f"/selections/{award}/votes", json={"nominee_id": "v1", "votes": 3, "x": 1}, headers=owner),
                   422, field="x")
    assert_problem(world.http.post(f"/selections/{award}/scores", json={"nominee_id": "v1", "points": 3},
                                   headers=world.auth(world.assessors[0])), 409)
    assert_problem(world.http.post(f"/selections/{award}/votes", json={"nominee_id": "v1", "votes": 3},
                                   headers=world.auth(world.auditor)), 403, allowed_roles=["city_owner"])
    assert_problem(world.http.post("/tenants/tianjin/selections", headers=owner, json={
        "code": "x", "title": "x", "year": 2020, "subject": "team", "method": "score"}), 422, field="subject")
    assert_problem(world.http.post("/tenants/tianjin/selections", headers=owner, json={
        "code": "x", "title": "x", "year": 2020, "subject": "person", "method": "score", "step": "0.3"}), 422, field="step")
    assert_problem(world.http.post("/tenants/tianjin/selections", headers=world.auth(world.district), json={
        "code": "x", "title": "x", "year": 2020, "subject": "person", "method": "score"}), 403)
    assert notification_count(app) == before
    response = world.http.post(f"/selections/{award}/votes", json={"nominee_id": "v1", "votes": 12}, headers=owner)
    assert response.status_code == 200, response.text
    ranking = world.http.post(f"/selections/{award}/select", json={}, headers=owner).json()["ranking"]
    assert [(r["nominee_id"], r["figure"], r["selected"]) for r in ranking] == [("v1", "12", True)]


def test_selections_of_another_tenant_are_not_found(world):
    award = open_award(world)
    before = notification_count(world.app)
    for person in (world.stranger(), world.stranger(Role.AUDITOR), world.stranger(Role.DISTRICT_OFFICER)):
        headers = world.auth(person)
        assert_problem(world.http.get(f"/selections/{award}", headers=headers), 404)
        assert_problem(world.http.post(f"/selections/{award}/nominations", headers=headers, json={
            "nominee_id": "x", "name": "x", "organisation": "x", "reason": "x"}), 404)
        assert_problem(world.http.post("/tenants/tianjin/selections", headers=headers, json={
            "code": "bj", "title": "x", "year": 2020, "subject": "person", "method": "votes"}), 404)
        assert notification_count(world.app) == before
    # an auditor of every tenant reads it, and cannot open one anywhere
    assert world.http.get(f"/selections/{award}", headers=world.auth(ALL_TENANTS_AUDITOR)).status_code == 200
    assert_problem(world.http.post("/tenants/tianjin/selections", headers=world.auth(ALL_TENANTS_AUDITOR), json={
        "code": "au", "title": "x", "year": 2020, "subject": "person", "method": "votes"}), 403)


def test_progress_records_of_a_campaign(world):
    app = world.app
    campaign = world.setup()
    issue_tokens(world)
    headers = world.auth(world.district)
    response = world.http.post(f"/campaigns/{campaign}/progress", headers=headers, json={
        "cadence": "quarterly", "period": "2020-Q2", "subject": "东丽区创建推进", "summary": "完成自评",
        "figures": {"communities": 12, "rate": "0.85"}, "on": "2020-04-02",
    })
    assert response.status_code == 200, response.text
    assert response.json() == {"id": campaign, "version": app.campaign(world.owner, campaign).version}
    before = notification_count(app)
    again = {"cadence": "quarterly", "period": "2020-Q2", "subject": "东丽区创建推进", "summary": "重复"}
    assert_problem(world.http.post(f"/campaigns/{campaign}/progress", headers=headers, json=again), 409)
    assert_problem(world.http.post(f"/campaigns/{campaign}/progress", headers=headers,
                                   json={**again, "period": "2020-Q5"}), 422, field="period")
    assert_problem(world.http.post(f"/campaigns/{campaign}/progress", headers=headers,
                                   json={**again, "period": "2020-Q3", "figures": {"a": "many"}}), 422, field="figures[a]")
    assert_problem(world.http.post(f"/campaigns/{campaign}/progress", headers=world.auth(world.street_a), json=again), 403,
                   allowed_roles=["city_owner", "district_officer"])
    assert_problem(world.http.post(f"/campaigns/{campaign}/progress", headers=world.auth(world.stranger()), json=again), 404)
    assert notification_count(app) == before
    listed = world.http.get(f"/campaigns/{campaign}/progress", headers=world.auth(world.auditor))
    assert listed.status_code == 200 and listed.headers["etag"] == f'"{app.campaign(world.owner, campaign).version}"'
    assert listed.json() == [{
        "cadence": "quarterly", "period": "2020-Q2", "subject": "东丽区创建推进", "summary": "完成自评",
        "figures": {"communities": "12", "rate": "0.85"}, "by": "district", "effective": "2020-04-02",
    }]
    assert_problem(world.http.get(f"/campaigns/{campaign}/progress", headers=world.auth(world.stranger())), 404)
