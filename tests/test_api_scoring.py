"""HTTP routes of inspections, findings, rectification, sealed visit plans, score sheets,
corrections, vetoes, surveys, public notice, objections, decisions, the outcome table,
putting forward and revocation: each route's happy path and its refusals (422 naming the
field, 403 naming the allowed roles, 404 for another tenant, 409 on a stale If-Match), and
that a refused request records nothing. Runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from core.actors import Role
from core.services.visits import visit_commitment
from tests.api_support import ApiWorld
from tests.helpers import DIGEST, actor, notification_count, sheet

NONCE = "7f3a9c0144bea2d0-随机"
EVIDENCE = [{"name": "photo.jpg", "sha256": DIGEST}]


@pytest.fixture
def world(app) -> ApiWorld:
    return ApiWorld(app)


def heads(world: ApiWorld) -> SimpleNamespace:
    """Every person's headers, issued up front (issuing a token records an event)."""
    people = {
        "owner": world.owner, "district": world.district, "street_a": world.street_a, "street_b": world.street_b,
        "community": world.community, "inspector": world.inspector, "a1": world.assessors[0],
        "a2": world.assessors[1], "a3": world.assessors[2], "resident": world.resident, "auditor": world.auditor,
        "resident2": actor(Role.RESIDENT, "resident-2", "居民"),
        "stranger": world.stranger(), "stranger_inspector": world.stranger(Role.INSPECTOR),
        "stranger_assessor": world.stranger(Role.ASSESSOR), "stranger_resident": world.stranger(Role.RESIDENT),
    }
    return SimpleNamespace(**{name: world.auth(person) for name, person in people.items()})


def approved(
    world: ApiWorld, codes: tuple[str, ...] = ("c1", "c2"), totals: dict[str, float] | None = None,
) -> tuple[str, dict[str, str]]:
    """A campaign (set up through the core) with approved candidacies for ``codes``."""
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    ids = {code: world.apply(campaign, code, self_total=(totals or {}).get(code, 90)) for code in codes}
    for cid in ids.values():
        app.review(world.district, cid, "approve", on="2020-03-11")
    return campaign, ids


def problem(response: Any, status: int, **expected: Any) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    for key, value in expected.items():
        assert body.get(key) == value, (key, body)
    return body


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


@contextmanager
def records_nothing(world: ApiWorld) -> Iterator[None]:
    before = notification_count(world.app)
    yield
    assert notification_count(world.app) == before


def not_for_residents(body: dict[str, Any]) -> None:
    assert "resident" not in body["allowed_roles"] and "city_owner" in body["allowed_roles"]


# -- inspections, findings, rectification -----------------------------------------------------


def test_an_inspection_with_findings_and_rectification(world):
    campaign, ids = approved(world)
    h, http, c1 = heads(world), world.http, ids["c1"]

    r = http.post(f"/candidacies/{c1}/inspections", headers=h.inspector,
                  json={"kind": "unannounced", "visit_date": "2020-05-20", "inspectors": ["巡查员甲", "巡查员乙"]})
    visit = ok(r, 201)["id"]
    assert r.headers["location"] == f"/inspections/{visit}" and r.json()["version"] == 1

    r = http.post(f"/inspections/{visit}/findings", headers=h.inspector, json={
        "item": "38", "description": "楼道堆物", "severity": "major", "countermeasure": "清理楼道杂物",
        "deadline": "2020-08-31", "evidence": EVIDENCE,
    })
    assert ok(r, 201) == {"id": "F1", "inspection_id": visit, "version": 2}
    assert r.headers["location"] == f"/inspections/{visit}/findings/F1"
    f2 = ok(http.post(f"/inspections/{visit}/findings", headers=h.inspector, json={
        "item": "1", "description": "党组织未延伸到楼栋", "severity": "minor", "countermeasure": "建立楼栋党小组",
        "deadline": "2020-06-30",
    }), 201)["id"]
    assert f2 == "F2"

    assert ok(http.post(f"/inspections/{visit}/findings/F1/plan", headers=h.community,
                        json={"plan": "组织清理", "on": "2020-06-01"})) == {"id": visit, "version": 4, "finding_id": "F1"}
    ok(http.post(f"/inspections/{visit}/findings/F1/complete", headers=h.street_a,
                 json={"summary": "已清理", "evidence": [{"name": "after.jpg", "sha256": DIGEST}], "on": "2020-08-20"}))
    assert ok(http.post(f"/inspections/{visit}/findings/F1/verify", headers=h.inspector,
                        json={"accepted": True, "reason": "现场复核通过", "on": "2020-09-01"}))["version"] == 6

    r = http.get(f"/inspections/{visit}", params={"on": "2020-09-01"}, headers=h.owner)
    view = ok(r)
    assert r.headers["etag"] == '"6"'
    assert (view["kind"], view["purpose"], view["visit_date"], view["candidacy_id"]) == ("unannounced", "campaign", "2020-05-20", c1)
    assert view["inspectors"] == ["巡查员甲", "巡查员乙"]
    f1_view, f2_view = view["findings"]
    assert (f1_view["status"], f1_view["overdue"], f1_view["plan"]) == ("accepted", False, "组织清理")
    assert f1_view["completion"]["evidence"] == [{"name": "after.jpg", "sha256": DIGEST}]
    assert f1_view["verifications"][0]["accepted"] is True and f1_view["verifications"][0]["by"] == "inspector"
    assert (f2_view["status"], f2_view["overdue"], f2_view["failed"]) == ("open", True, True)

    r = http.get(f"/inspections/{visit}/findings/F2", params={"on": "2020-06-15"}, headers=h.community)
    assert ok(r)["overdue"] is False and r.headers["etag"] == '"6"'

    rows = ok(http.get(f"/campaigns/{campaign}/findings", params={"on": "2020-09-01", "overdue": "true"}, headers=h.district))
    assert [(f["inspection_id"], f["finding_id"]) for f in rows["findings"]] == [(visit, "F2")]
    rows = ok(http.get(f"/candidacies/{c1}/findings", params={"on": "2020-06-01"}, headers=h.auditor))["findings"]
    assert [(f["finding_id"], f["status"], f["overdue"]) for f in rows] == [("F1", "accepted", False), ("F2", "open", False)]
    assert ok(http.get(f"/candidacies/{ids['c2']}/findings", headers=h.owner))["findings"] == []


def test_inspection_requests_that_break_a_rule_are_refused_and_record_nothing(world):
    app = world.app
    campaign, ids = approved(world)
    c1 = ids["c1"]
    visit = app.conduct_inspection(world.inspector, c1, "announced", "2020-05-01", ["甲"])
    app.record_finding(world.inspector, visit, "1", "问题", "minor", "整改", "2020-08-31")
    h, http = heads(world), world.http
    good_visit = {"kind": "announced", "visit_date": "2020-05-01", "inspectors": ["甲"]}
    good_finding = {"item": "2", "description": "记录缺失", "severity": "minor", "countermeasure": "补齐",
                    "deadline": "2020-08-31"}

    with records_nothing(world):
        post = lambda path, body, who=h.inspector, **kw: http.post(path, json=body, headers={**who, **kw})  # noqa: E731
        problem(post(f"/candidacies/{c1}/inspections", {**good_visit, "kind": "secret"}), 422, field="kind",
                allowed="announced, unannounced")
        problem(post(f"/candidacies/{c1}/inspections", {**good_visit, "purpose": "fun"}), 422, field="purpose")
        problem(post(f"/candidacies/{c1}/inspections", {**good_visit, "inspectors": "甲"}), 422, field="inspectors")
        problem(post(f"/candidacies/{c1}/inspections", {**good_visit, "inspectors": []}), 422, field="inspectors")
        problem(post(f"/candidacies/{c1}/inspections", {**good_visit, "visit_date": "2020-13-01"}), 422, field="visit_date")
        problem(post(f"/candidacies/{c1}/inspections", {"kind": "announced"}), 422, field="visit_date")
        problem(post(f"/candidacies/{c1}/inspections", {**good_visit, "bogus": 1}), 422, field="bogus")
        problem(post(f"/candidacies/{c1}/inspections", good_visit, h.district), 403, allowed_roles=["inspector"])
        problem(post(f"/candidacies/{c1}/inspections", good_visit, h.stranger_inspector), 404)
        problem(post(f"/candidacies/{c1}/inspections", {**good_visit, "purpose": "supervision"}), 409)
        problem(post("/candidacies/not-a-uuid/inspections", good_visit), 422, field="candidacy_id")

        problem(post(f"/inspections/{visit}/findings", {**good_finding, "severity": "huge"}), 422, field="severity",
                allowed="minor, major, critical")
        problem(post(f"/inspections/{visit}/findings", {**good_finding, "item": "999"}), 422, field="item", value="999")
        problem(post(f"/inspections/{visit}/findings", {**good_finding, "deadline": "2020-04-01"}), 422, field="deadline")
        problem(post(f"/inspections/{visit}/findings", {**good_finding, "description": " "}), 422, field="description")
        problem(post(f"/inspections/{visit}/findings", {**good_finding, "evidence": [{"name": "a.jpg", "sha256": "xyz"}]}),
                422, field="evidence[0].sha256")
        problem(post(f"/inspections/{visit}/findings", good_finding, h.community), 403, allowed_roles=["inspector"])
        problem(post(f"/inspections/{visit}/findings", good_finding, h.stranger_inspector), 404)

        problem(post(f"/inspections/{visit}/findings/F9/plan", {"plan": "p"}, h.community), 422, field="finding_id")
        problem(post(f"/inspections/{visit}/findings/F1/plan", {"plan": "p"}, h.street_b), 403)  # not its street
        problem(post(f"/inspections/{visit}/findings/F1/plan", {"plan": "p"}, h.inspector), 403,
                allowed_roles=["community", "street_officer"])
        problem(post(f"/inspections/{visit}/findings/F1/plan", {"plan": "p"}, h.community, **{"If-Match": '"1"'}), 409,
                expected=1, actual=2)
        problem(post(f"/inspections/{visit}/findings/F1/plan", {"plan": "p"}, h.community, **{"If-Match": "soon"}), 422,
                field="If-Match")
        problem(post(f"/inspections/{visit}/findings/F1/complete", {"summary": "done", "evidence": []}, h.community),
                422, field="evidence")
        problem(post(f"/inspections/{visit}/findings/F1/complete", {"summary": "done"}, h.community), 422, field="evidence")
        problem(post(f"/inspections/{visit}/findings/F1/verify", {"accepted": "yes", "reason": "ok"}), 422, field="accepted")
        problem(post(f"/inspections/{visit}/findings/F1/verify", {"accepted": True, "reason": "ok"}), 409)  # not completed

        for path in (f"/inspections/{visit}", f"/inspections/{visit}/findings/F1", f"/campaigns/{campaign}/findings",
                     f"/candidacies/{c1}/findings"):
            problem(http.get(path, headers=h.stranger_inspector), 404)
            problem(http.get(path, headers=h.stranger), 404)
            not_for_residents(problem(http.get(path, headers=h.resident), 403))
        problem(http.get(f"/inspections/{visit}/findings/F9", headers=h.owner), 404)
        problem(http.get(f"/inspections/{visit}", params={"on": "someday"}, headers=h.owner), 422, field="on")

    r = http.post(f"/inspections/{visit}/findings/F1/plan", json={"plan": "p"}, headers={**h.community, "If-Match": '"2"'})
    assert ok(r)["version"] == 3


def test_a_sealed_visit_plan_is_hidden_from_the_inspected_side_until_revealed(world):
    campaign, ids = approved(world)
    h, http, c1 = heads(world), world.http, ids["c1"]
    commitment = visit_commitment(c1, "2020-06-01", NONCE)

    with records_nothing(world):
        problem(http.post(f"/campaigns/{campaign}/visit-plans", json={"commitment": "not-a-hash"}, headers=h.inspector),
                422, field="commitment")
        problem(http.post(f"/campaigns/{campaign}/visit-plans", json={"commitment": commitment}, headers=h.community),
                403, allowed_roles=["inspector"])
        problem(http.post(f"/campaigns/{campaign}/visit-plans", json={"commitment": commitment},
                          headers=h.stranger_inspector), 404)

    r = http.post(f"/campaigns/{campaign}/visit-plans", json={"commitment": commitment, "on": "2020-05-20"},
                  headers=h.inspector)
    plan = ok(r, 201)["id"]
    assert r.headers["location"] == f"/visit-plans/{plan}"

    reveal = {"candidacy_id": c1, "visit_date": "2020-06-01", "nonce": NONCE}
    with records_nothing(world):
        for inspected in (h.community, h.street_a):
            problem(http.get(f"/visit-plans/{plan}", headers=inspected), 404)
            problem(http.get(f"/visit-plans/{plan}/audit", headers=inspected), 404)
            problem(http.post(f"/visit-plans/{plan}/reveal", json={**reveal, "inspection_id": plan}, headers=inspected), 404)
        for other in (h.stranger, h.stranger_inspector):
            problem(http.get(f"/visit-plans/{plan}", headers=other), 404)
        not_for_residents(problem(http.get(f"/visit-plans/{plan}", headers=h.resident), 403))
    sealed = ok(http.get(f"/visit-plans/{plan}", headers=h.auditor))
    assert sealed["commitment"] == commitment and sealed["revealed"] is None and c1 not in str(sealed)
    assert ok(http.get(f"/visit-plans/{plan}/audit", headers=h.owner))["fixed_in_advance"] is None

    visit = ok(http.post(f"/candidacies/{c1}/inspections", headers=h.inspector,
                         json={"kind": "unannounced", "visit_date": "2020-06-01", "inspectors": ["甲"]}), 201)["id"]
    with records_nothing(world):
        problem(http.post(f"/visit-plans/{plan}/reveal", json={**reveal, "visit_date": "2020-06-02", "inspection_id": visit},
                          headers=h.inspector), 409)
        problem(http.post(f"/visit-plans/{plan}/reveal", json={**reveal, "nonce": "short", "inspection_id": visit},
                          headers=h.inspector), 422, field="nonce")
        problem(http.post(f"/visit-plans/{plan}/reveal", json={**reveal, "inspection_id": visit},
                          headers={**h.inspector, "If-Match": '"2"'}), 409)
    r = http.post(f"/visit-plans/{plan}/reveal", json={**reveal, "inspection_id": visit, "on": "2020-06-02"},
                  headers={**h.inspector, "If-Match": '"1"'})
    assert ok(r) == {"id": plan, "version": 2}
    r = http.get(f"/visit-plans/{plan}", headers=h.community)
    assert ok(r)["revealed"]["inspection_id"] == visit and r.headers["etag"] == '"2"'
    proof = ok(http.get(f"/visit-plans/{plan}/audit", headers=h.street_a))
    assert proof["commitment_matches"] and proof["fixed_in_advance"] is True
    problem(http.post(f"/visit-plans/{plan}/reveal", json={**reveal, "inspection_id": visit}, headers=h.community),
            403, allowed_roles=["inspector"])


# -- score sheets and corrections ---------------------------------------------------------------


def test_each_write_answers_the_version_it_gave_the_stream(world):
    _, ids = approved(world)
    h, http, c1 = heads(world), world.http, ids["c1"]
    path = f"/candidacies/{c1}/score-sheets"
    writes = ((h.a1, "official", 90), (h.a2, "official", 86), (h.district, "mock", 84))  # whole sheets
    for n, (who, kind, total) in enumerate(writes):
        items = sheet(world.rubric, total)
        answer = ok(http.post(path, json={"kind": kind, "scores": items, "on": "2020-10-15"}, headers=who), 201)
        stored = world.app.candidacy(world.owner, c1).version
        assert answer["version"] == stored == 3 + n
        assert http.get(f"/candidacies/{c1}/assessments", headers=h.owner).headers["etag"] == f'"{stored}"'
    survey = {"respondents": 20, "households": 18, "satisfied": 16, "basically_satisfied": 3, "dissatisfied": 1,
              "on": "2020-10-15"}
    answer = ok(http.post(f"/candidacies/{c1}/survey", json=survey, headers=h.owner))
    assert answer["version"] == world.app.candidacy(world.owner, c1).version == 6


def test_a_score_sheet_is_recorded_whole_or_not_at_all(world):
    _, ids = approved(world)
    h, http, c1 = heads(world), world.http, ids["c1"]
    full = sheet(world.rubric, 88)
    path = f"/candidacies/{c1}/score-sheets"

    def submit(scores: Any, who: dict[str, str] = h.a1, kind: str = "official", **headers: str) -> Any:
        return http.post(path, json={"kind": kind, "scores": scores, "on": "2020-10-15"}, headers={**who, **headers})

    with records_nothing(world):
        body = problem(submit({**full, "38": "99"}), 422, field="scores[38]", value="99")
        assert "0 to" in body["allowed"] and "item 38" in body["allowed"]
        problem(submit({**full, "999": "1"}), 422, field="scores", value="999")
        problem(submit({**full, "1": "0.3"}), 422, field="scores[1]")
        problem(submit({**full, "2": True}), 422, field="scores[2]")
        problem(submit({**full, "3": [1]}), 422, field="scores[3]")
        problem(submit([["1", "1"]]), 422, field="scores")
        problem(submit({}), 422, field="scores")
        problem(submit(full, kind="final"), 422, field="kind", allowed="self, mock, official")
        problem(http.post(path, json={"kind": "official"}, headers=h.a1), 422, field="scores")
        problem(submit(full, kind="self"), 403, allowed_roles=["community"])
        problem(submit(full, who=h.district), 403, allowed_roles=["assessor"])
        problem(submit(full, who=h.stranger_assessor), 404)
        problem(submit(full, **{"If-Match": '"1"'}), 409, expected=1, actual=2)
    assert ok(http.get(f"/candidacies/{c1}/assessments", headers=h.owner))["score_sheets"]["official"] == []

    r = submit(full, **{"If-Match": '"2"'})
    assert ok(r, 201) == {"id": c1, "version": 3, "kind": "official", "assessor": "assessor-1", "items": 60}
    assert r.headers["location"] == f"/candidacies/{c1}/assessments"
    with records_nothing(world):
        body = problem(submit(sheet(world.rubric, 80)), 409)
        assert "already scored item(s) 1, 2, 3" in body["detail"]
        # official and mock sheets cover every item of the rubric
        problem(submit({"1": "1"}, who=h.a2), 422, field="scores", value="1 items")
        body = problem(submit({"2": 2.5, "3": 1}, who=h.a2), 422, field="scores", value="2 items")
        assert "missing: 1, 4-60" in body["allowed"]
        problem(submit({k: v for k, v in full.items() if k != "60"}, who=h.district, kind="mock"), 422, field="scores")
    assert ok(submit({**full, "1": "1", "2": 2.5, "3": 1}, who=h.a2), 201)["items"] == 60
    ok(submit(full, who=h.community, kind="self"), 201)
    ok(submit(sheet(world.rubric, 86), who=h.district, kind="mock"), 201)

    r = http.get(f"/candidacies/{c1}/assessments", headers=h.district)
    view = ok(r)
    assert r.headers["etag"] == f'"{view["version"]}"' and view["version"] == 6
    official = {s["assessor"]: s for s in view["score_sheets"]["official"]}
    assert Decimal(official["assessor-1"]["sum"]) == 88 and official["assessor-1"]["items"] == 60
    assert official["assessor-2"]["points"] == {**full, "1": "1", "2": "2.5", "3": "1"}
    assert official["assessor-2"]["items"] == 60
    assert [s["assessor"] for s in view["score_sheets"]["self"]] == ["juweihui"]
    assert Decimal(view["score_sheets"]["mock"][0]["sum"]) == 86
    not_for_residents(problem(http.get(f"/candidacies/{c1}/assessments", headers=h.resident), 403))
    problem(http.get(f"/candidacies/{c1}/assessments", headers=h.stranger), 404)

    # correcting one item score
    correction = {"kind": "official", "item": "1", "points": "0.5", "reason": "录入错误", "on": "2020-10-16"}
    with records_nothing(world):
        problem(http.post(f"/candidacies/{c1}/correct-score", json={**correction, "points": 7}, headers=h.a1), 422,
                field="points[1]", value=7)
        problem(http.post(f"/candidacies/{c1}/correct-score", json={**correction, "item": "999"}, headers=h.a1), 422,
                field="points", value="999")
        problem(http.post(f"/candidacies/{c1}/correct-score", json={**correction, "reason": ""}, headers=h.a1), 422,
                field="reason")
        problem(http.post(f"/candidacies/{c1}/correct-score", json=correction, headers=h.a3), 409)  # nothing to correct
        problem(http.post(f"/candidacies/{c1}/correct-score", json=correction, headers=h.community), 403,
                allowed_roles=["assessor"])
        problem(http.post(f"/candidacies/{c1}/correct-score", json=correction, headers={**h.a1, "If-Match": '"3"'}), 409)
        problem(http.post(f"/candidacies/{c1}/correct-score", json=correction, headers=h.stranger_assessor), 404)
    assert ok(http.post(f"/candidacies/{c1}/correct-score", json=correction, headers={**h.a1, "If-Match": '"6"'})) == {
        "id": c1, "version": 7}
    sheets = ok(http.get(f"/candidacies/{c1}/assessments", headers=h.owner))["score_sheets"]["official"]
    assert sheets[0]["points"]["1"] == "0.5"
    corrected = [e for e in world.app.history(world.owner, c1) if e["event"] == "Candidacy.ItemScoreCorrected"]
    assert corrected[0]["reason"] == "录入错误" and corrected[0]["actor"]["id"] == "assessor-1"


# -- vetoes and the survey ----------------------------------------------------------------------


def test_vetoes_and_the_satisfaction_survey(world):
    app = world.app
    world.setup()
    app.configure_rubric(world.owner, "tianjin-meili", "2017-veto", {"veto_items": [{"id": "V1", "text": "发生重大安全责任事故"}]},
                         "增加一票否决项")
    campaign = app.create_campaign(world.owner, "veto-2020", "2020年（含否决项）", 2020, "tianjin-meili",
                                   rubric_version="2017-veto", on="2020-03-09")
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    cid = world.apply(campaign, "c1")
    app.review(world.district, cid, "approve", on="2020-03-11")
    h, http = heads(world), world.http
    veto = {"veto_id": "V1", "reason": "发生安全事故", "evidence": EVIDENCE, "on": "2020-10-20"}

    with records_nothing(world):
        problem(http.post(f"/candidacies/{cid}/vetoes", json={**veto, "veto_id": "V9"}, headers=h.a1), 422,
                field="veto_id", value="V9")
        problem(http.post(f"/candidacies/{cid}/vetoes", json={**veto, "reason": ""}, headers=h.a1), 422, field="reason")
        problem(http.post(f"/candidacies/{cid}/vetoes", json=veto, headers=h.district), 403,
                allowed_roles=["assessor", "inspector"])
        problem(http.post(f"/candidacies/{cid}/vetoes", json=veto, headers=h.stranger_assessor), 404)
    r = http.post(f"/candidacies/{cid}/vetoes", json=veto, headers=h.inspector)
    assert ok(r, 201) == {"id": "V1", "candidacy_id": cid, "version": 3}
    assert r.headers["location"] == f"/candidacies/{cid}/vetoes/V1"
    recorded = ok(http.get(f"/candidacies/{cid}/vetoes/V1", headers=h.owner))
    assert recorded["by"] == "inspector" and recorded["reason"] == "发生安全事故" and recorded["evidence"] == EVIDENCE
    with records_nothing(world):
        problem(http.post(f"/candidacies/{cid}/vetoes", json=veto, headers=h.a1), 409)
        problem(http.post(f"/candidacies/{cid}/vetoes/V1/withdraw", json={"reason": "误报"}, headers=h.district), 403,
                allowed_roles=["assessor", "city_owner", "inspector"])
        problem(http.post(f"/candidacies/{cid}/vetoes/V2/withdraw", json={"reason": "误报"}, headers=h.owner), 422,
                field="veto_id")
        problem(http.post(f"/candidacies/{cid}/vetoes/V1/withdraw", json={"reason": "误报"},
                          headers={**h.owner, "If-Match": '"2"'}), 409)
    assert ok(http.post(f"/candidacies/{cid}/vetoes/V1/withdraw", json={"reason": "经核实系误报"},
                        headers={**h.owner, "If-Match": '"3"'})) == {"id": cid, "version": 4, "veto_id": "V1"}
    problem(http.get(f"/candidacies/{cid}/vetoes/V1", headers=h.owner), 404)

    survey = {"respondents": 200, "households": 180, "satisfied": 168, "basically_satisfied": 26, "dissatisfied": 6,
              "on": "2020-11-05"}
    with records_nothing(world):
        problem(http.post(f"/candidacies/{cid}/survey", json={**survey, "satisfied": 100}, headers=h.owner), 422,
                field="respondents")
        problem(http.post(f"/candidacies/{cid}/survey", json={**survey, "households": 201}, headers=h.owner), 422,
                field="households")
        problem(http.post(f"/candidacies/{cid}/survey", json={**survey, "dissatisfied": -1, "satisfied": 175}, headers=h.owner),
                422, field="dissatisfied")
        problem(http.post(f"/candidacies/{cid}/survey", json={**survey, "respondents": "200"}, headers=h.owner), 422,
                field="respondents")
        problem(http.post(f"/candidacies/{cid}/survey", json={**survey, "satisfied": True}, headers=h.owner), 422,
                field="satisfied")
        problem(http.post(f"/candidacies/{cid}/survey", json=survey, headers=h.community), 403,
                allowed_roles=["assessor", "city_owner"])
        problem(http.post(f"/candidacies/{cid}/survey", json=survey, headers=h.resident), 403,
                allowed_roles=["assessor", "city_owner"])
        problem(http.post(f"/candidacies/{cid}/survey", json=survey, headers=h.stranger), 404)
    assert ok(http.post(f"/candidacies/{cid}/survey", json=survey, headers=h.a2)) == {"id": cid, "version": 5}
    with records_nothing(world):
        problem(http.post(f"/candidacies/{cid}/survey", json=survey, headers=h.owner), 422, field="reason")
    ok(http.post(f"/candidacies/{cid}/survey", json={**survey, "satisfied": 170, "dissatisfied": 4, "reason": "补录问卷"},
                 headers=h.owner))
    assert ok(http.get(f"/candidacies/{cid}/assessments", headers=h.a1))["survey"] == {
        "respondents": 200, "households": 180, "satisfied": 170, "basically_satisfied": 26, "dissatisfied": 4}


# -- public notice, objections, decision, outcome, put forward, revocation ------------------------


def scored(world: ApiWorld) -> tuple[str, dict[str, str]]:
    """Three approved candidacies with official scores and surveys (recorded through the core)."""
    campaign, ids = approved(world, ("c1", "c2", "c3"), {"c1": 92, "c2": 85, "c3": 88})
    world.score_official(ids["c1"], [93, 91, 92])
    world.score_official(ids["c2"], [84, 86, 85])
    world.score_official(ids["c3"], [70, 75, 72.5])
    for cid in ids.values():
        world.survey(cid)
    return campaign, ids


def test_public_notice_objections_decision_and_outcome(world):
    campaign, ids = scored(world)
    h, http = heads(world), world.http
    c1, c2, c3 = ids["c1"], ids["c2"], ids["c3"]
    window = {"start": "2020-11-01", "end": "2020-11-07", "on": "2020-11-01"}

    with records_nothing(world):
        problem(http.post(f"/campaigns/{campaign}/notice", json={**window, "end": "2020-10-01"}, headers=h.owner), 422,
                field="end")
        problem(http.post(f"/campaigns/{campaign}/notice", json={"start": "2020-11-01"}, headers=h.owner), 422, field="end")
        problem(http.post(f"/campaigns/{campaign}/notice", json=window, headers=h.district), 403, allowed_roles=["city_owner"])
        problem(http.post(f"/campaigns/{campaign}/notice", json=window, headers=h.stranger), 404)
        problem(http.post(f"/campaigns/{campaign}/notice", json=window, headers={**h.owner, "If-Match": '"1"'}), 409)
        problem(http.get(f"/campaigns/{campaign}/notice", headers=h.resident), 404)  # no notice yet
    version = world.app.campaign(world.owner, campaign).version
    r = http.post(f"/campaigns/{campaign}/notice", json=window, headers={**h.owner, "If-Match": f'"{version}"'})
    opened = ok(r, 201)
    assert sorted(opened["listed"]) == sorted([c1, c2]) and opened["version"] == version + 1
    assert opened["left_off"] == [{
        "candidacy_id": c3, "community_id": world.communities["c3"], "community": "丰年里社区", "level": "meili",
        "reasons": ["综合得分 72.50 低于 80 分 (official total 72.50 is below 80)"],
    }]
    assert r.headers["location"] == f"/campaigns/{campaign}/notice"

    r = http.get(f"/campaigns/{campaign}/notice", headers=h.resident)
    public = ok(r)
    assert r.headers["etag"] == f'"{version + 1}"'
    assert (public["start"], public["end"], public["closed"]) == ("2020-11-01", "2020-11-07", False)
    assert {c["candidacy_id"]: c["community"] for c in public["candidates"]} == {c1: "詹滨里社区", c2: "新立花园社区"}
    assert "not_listed" not in public and public["candidates"][0]["level_label"]
    internal = ok(http.get(f"/campaigns/{campaign}/notice", headers=h.owner))
    assert [c["candidacy_id"] for c in internal["not_listed"]] == [c3] and internal["not_listed"][0]["reasons"]
    problem(http.get(f"/campaigns/{campaign}/notice", headers=h.stranger_resident), 404)

    objection = {"text": "公示材料与实际不符", "items": ["38"], "on": "2020-11-03"}
    with records_nothing(world):
        body = problem(http.post(f"/candidacies/{c3}/score-sheets",
                                 json={"kind": "official", "scores": sheet(world.rubric, 90)}, headers=h.a1),
                       409)  # scores are fixed once the notice opened
        assert "fixed since the preliminary list went on public notice" in body["detail"]
        survey = {"respondents": 200, "households": 200, "satisfied": 190, "basically_satisfied": 10, "dissatisfied": 0}
        body = problem(http.post(f"/candidacies/{c3}/survey", json={**survey, "reason": "重测"}, headers=h.owner),
                       409)  # and so are the surveys
        assert "the survey of campaign meili-2020 is fixed" in body["detail"]
        problem(http.post(f"/campaigns/{campaign}/notice", json=window, headers=h.owner), 409)
        problem(http.post(f"/candidacies/{c2}/objections", json=objection, headers=h.owner), 403, allowed_roles=["resident"])
        problem(http.post(f"/candidacies/{c3}/objections", json=objection, headers=h.resident), 409)  # not on the list
        problem(http.post(f"/candidacies/{c2}/objections", json={**objection, "items": ["999"]}, headers=h.resident), 422,
                field="items", value="999")
        problem(http.post(f"/candidacies/{c2}/objections", json={**objection, "items": "38"}, headers=h.resident), 422,
                field="items")
        problem(http.post(f"/candidacies/{c2}/objections", json={**objection, "text": ""}, headers=h.resident), 422,
                field="text")
        problem(http.post(f"/candidacies/{c2}/objections", json={**objection, "on": "2020-10-30"}, headers=h.resident), 409)
        problem(http.post(f"/candidacies/{c2}/objections", json=objection, headers=h.stranger_resident), 404)
    r = http.post(f"/candidacies/{c2}/objections", json=objection, headers=h.resident)
    filed = ok(r, 201)
    oid = filed["id"]
    assert filed["candidacy_id"] == c2 and r.headers["location"] == f"/candidacies/{c2}/objections/{oid}"
    assert ok(http.get(f"/candidacies/{c2}/objections/{oid}", headers=h.resident))["status"] == "open"
    not_for_residents(problem(http.get(f"/candidacies/{c2}/objections/{oid}", headers=h.resident2), 403))
    problem(http.get(f"/candidacies/{c2}/objections/nope", headers=h.owner), 404)
    notice = ok(http.get(f"/campaigns/{campaign}/notice", headers=h.resident2))
    assert {c["candidacy_id"]: c["objections"]["open"] for c in notice["candidates"]} == {c1: 0, c2: 1}

    with records_nothing(world):
        problem(http.post(f"/candidacies/{c2}/objections/{oid}/resolve", json={"upheld": "yes", "reason": "属实"},
                          headers=h.owner), 422, field="upheld")
        problem(http.post(f"/candidacies/{c2}/objections/nope/resolve", json={"upheld": True, "reason": "属实"},
                          headers=h.owner), 422, field="objection_id")
        problem(http.post(f"/candidacies/{c2}/objections/{oid}/resolve", json={"upheld": True, "reason": "属实"},
                          headers=h.district), 403, allowed_roles=["city_owner"])
        problem(http.post(f"/campaigns/{campaign}/notice/close", json={"on": "2020-11-05"}, headers=h.owner), 409)
        problem(http.post(f"/campaigns/{campaign}/decisions", json={"on": "2020-11-20"}, headers=h.owner), 409)
    assert ok(http.post(f"/candidacies/{c2}/objections/{oid}/resolve",
                        json={"upheld": True, "reason": "核查属实", "on": "2020-11-06"}, headers=h.owner))["objection_id"] == oid
    resolved = ok(http.get(f"/candidacies/{c2}/objections/{oid}", headers=h.owner))
    assert (resolved["status"], resolved["resolution"]) == ("upheld", "核查属实")
    problem(http.post(f"/candidacies/{c2}/objections/{oid}/resolve", json={"upheld": False, "reason": "x"},
                      headers=h.owner), 409)
    ok(http.post(f"/campaigns/{campaign}/notice/close", json={"on": "2020-11-08"}, headers=h.owner))
    assert ok(http.get(f"/campaigns/{campaign}/notice", headers=h.resident))["closed"] is True

    with records_nothing(world):
        problem(http.post(f"/campaigns/{campaign}/decisions", json={"on": "2020-11-20"}, headers=h.district), 403,
                allowed_roles=["city_owner"])
        problem(http.post(f"/campaigns/{campaign}/decisions", json={"on": "2020-11-20"},
                          headers={**h.owner, "If-Match": '"2"'}), 409)
        problem(http.post(f"/campaigns/{campaign}/decisions", json={"on": "tomorrow"}, headers=h.owner), 422, field="on")
        problem(http.post(f"/campaigns/{campaign}/decisions", json={"on": 20201120}, headers=h.owner), 422, field="on")
        problem(http.post(f"/campaigns/{campaign}/decisions", headers=h.stranger), 404)
    r = http.post(f"/campaigns/{campaign}/decisions", json={"on": "2020-11-20"}, headers=h.owner)
    assert ok(r, 201)["named"] == {c1: True, c2: False, c3: False}
    assert r.headers["location"] == f"/campaigns/{campaign}/outcome"
    problem(http.post(f"/campaigns/{campaign}/decisions", headers=h.owner), 409)

    table = ok(http.get(f"/campaigns/{campaign}/outcome", headers=h.district))
    assert table["decided"] is True
    rows = {row["candidacy_id"]: row for row in table["rows"]}
    assert (rows[c1]["status"], rows[c1]["total"], rows[c1]["satisfaction_rate"]) == ("named", "92.00", "97.50%")
    assert rows[c2]["status"] == "not_named" and rows[c2]["objections"] == {"open": 0, "upheld": 1, "dismissed": 0}
    assert rows[c3]["reasons"] == [
        "综合得分 72.50 低于 80 分 (official total 72.50 is below 80)", "未列入公示名单 (not on the public notice list)"]
    not_for_residents(problem(http.get(f"/campaigns/{campaign}/outcome", headers=h.resident), 403))
    problem(http.get(f"/campaigns/{campaign}/outcome", headers=h.stranger), 404)

    forward = {"to": "市级精品社区候选", "reason": "创建成效突出", "on": "2020-12-01"}
    with records_nothing(world):
        problem(http.post(f"/candidacies/{c2}/put-forward", json=forward, headers=h.owner), 409)  # not named
        problem(http.post(f"/candidacies/{c1}/put-forward", json={**forward, "to": " "}, headers=h.owner), 422, field="to")
        problem(http.post(f"/candidacies/{c1}/put-forward", json=forward, headers=h.district), 403,
                allowed_roles=["city_owner"])
        problem(http.post(f"/candidacies/{c1}/revoke", json={"reason": "整改不合格", "findings": []}, headers=h.owner), 422,
                field="findings")
        problem(http.post(f"/candidacies/{c1}/revoke", json={"reason": "整改不合格", "findings": "x"}, headers=h.owner), 422,
                field="findings")
        problem(http.post(f"/candidacies/{c1}/revoke", json={"reason": "整改不合格", "findings": ["x/F1"]},
                          headers=h.district), 403, allowed_roles=["city_owner"])
        problem(http.post(f"/candidacies/{c1}/revoke", json={"reason": "整改不合格", "findings": ["x/F1"]},
                          headers=h.stranger), 404)
    version = ok(http.get(f"/candidacies/{c1}/assessments", headers=h.owner))["version"]
    assert ok(http.post(f"/candidacies/{c1}/put-forward", json=forward, headers={**h.owner, "If-Match": f'"{version}"'})) == {
        "id": c1, "version": version + 1}
    problem(http.post(f"/candidacies/{c1}/put-forward", json=forward, headers=h.owner), 409)  # once per selection
