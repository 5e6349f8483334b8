"""Whole campaigns over HTTP only, on memory, SQLite and PostgreSQL: Tianjin's 美丽社区
(threshold style) from the register to a revocation, a small Bazhong 示范 campaign
(checklist-by-type) and a small brand-community selection (quota-ranking).

The only core calls are the ones ``ApiWorld.auth`` makes to issue tokens (which needs the
tenant registered); everything a person does goes through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from core.actors import Actor, Role
from core.rubric import sheet_for_total
from core.services.visits import visit_commitment
from plugins.bazhong_demo.rubric import checklist_sheet
from tests.api_support import ApiWorld
from tests.helpers import DIGEST, actor, sheet

EVIDENCE = [{"name": "photo.jpg", "sha256": DIGEST}]
NONCE = "c0ffee-1234-5678-9abc-随机数"


@pytest.fixture
def world(app) -> ApiWorld:
    return ApiWorld(app)


@dataclass
class Client:
    """Requests as a person: ``as_(person).post(path, body)`` asserting the status."""

    world: ApiWorld

    def post(self, who: Actor, path: str, body: dict[str, Any] | None = None, status: int = 200,
             **headers: str) -> dict[str, Any]:
        r = self.world.http.post(path, json=body, headers=self.world.auth(who, **headers))
        assert r.status_code == status, f"POST {path} as {who.id}: {r.status_code} {r.text}"
        return r.json()

    def get(self, who: Actor, path: str, status: int = 200, **params: str) -> dict[str, Any]:
        r = self.world.http.get(path, params=params, headers=self.world.auth(who))
        assert r.status_code == status, f"GET {path} as {who.id}: {r.status_code} {r.text}"
        return r.json()


def register(c: Client, who: Actor, tenant: str, communities: list[tuple[str, str, str, str, int]], on: str) -> dict[str, str]:
    return {
        code: c.post(who, f"/tenants/{tenant}/communities", {
            "code": code, "name": name, "district": district, "street": street, "households": households,
            "population": households * 3, "on": on,
        }, 201)["id"]
        for code, name, district, street, households in communities
    }


def test_a_tianjin_campaign_from_the_register_to_a_revocation(world):
    c = Client(world)
    owner, district, community, inspector, resident = (
        world.owner, world.district, world.community, world.inspector, world.resident)
    assessors = world.assessors
    rubric = world.rubric

    # register, campaign, applications, review (the campaigns engineer's routes)
    communities = register(c, district, "tianjin", [
        ("c1", "詹滨里社区", "东丽区", "张贵庄街道", 1200),
        ("c2", "新立花园社区", "东丽区", "张贵庄街道", 1200),
        ("c3", "丰年里社区", "东丽区", "丰年村街道", 1200),
    ], on="2020-03-01")
    campaign = c.post(owner, "/tenants/tianjin/campaigns", {
        "code": "meili-2020", "title": "2020年美丽社区创建", "year": 2020, "rubric_id": "tianjin-meili", "on": "2020-03-09",
    }, 201)["id"]
    c.post(owner, f"/campaigns/{campaign}/open", {"on": "2020-03-09"})

    def apply(code: str, level: str, total: float) -> str:
        street = world.street_b if code == "c3" else world.street_a
        return c.post(street, f"/campaigns/{campaign}/candidacies", {
            "community_id": communities[code], "level": level, "self_scores": sheet(rubric, total), "on": "2020-03-10",
        }, 201)["id"]

    ids = {"c1": apply("c1", "meili", 92), "c2": apply("c2", "meili", 85), "c3": apply("c3", "meili", 88),
           "c1p": apply("c1", "jingpin", 92)}
    for cid in ids.values():
        c.post(district, f"/candidacies/{cid}/review", {"outcome": "approve", "on": "2020-03-11"})
    c.post(district, f"/campaigns/{campaign}/freeze", {"on": "2020-03-12"})

    # a sealed unannounced visit with a finding whose rectification is accepted
    c2 = ids["c2"]
    plan = c.post(inspector, f"/campaigns/{campaign}/visit-plans",
                  {"commitment": visit_commitment(c2, "2020-05-20", NONCE), "on": "2020-05-10"}, 201)["id"]
    c.get(community, f"/visit-plans/{plan}", status=404)
    visit = c.post(inspector, f"/candidacies/{c2}/inspections",
                   {"kind": "unannounced", "visit_date": "2020-05-20", "inspectors": ["巡查员甲", "巡查员乙"]}, 201)["id"]
    c.post(inspector, f"/visit-plans/{plan}/reveal", {
        "candidacy_id": c2, "visit_date": "2020-05-20", "nonce": NONCE, "inspection_id": visit, "on": "2020-05-21"})
    assert c.get(world.auditor, f"/visit-plans/{plan}/audit")["fixed_in_advance"] is True
    finding = c.post(inspector, f"/inspections/{visit}/findings", {
        "item": "38", "description": "楼道堆物", "severity": "major", "countermeasure": "清理楼道杂物",
        "deadline": "2020-08-31", "evidence": EVIDENCE}, 201)["id"]
    c.post(world.community_for(visit), f"/inspections/{visit}/findings/{finding}/plan", {"plan": "组织清理", "on": "2020-06-01"})
    assert c.get(owner, f"/campaigns/{campaign}/findings", on="2020-09-01", overdue="true")["findings"][0]["finding_id"] == finding
    c.post(world.community_for(visit), f"/inspections/{visit}/findings/{finding}/complete",
           {"summary": "已清理", "evidence": [{"name": "after.jpg", "sha256": DIGEST}], "on": "2020-08-20"})
    c.post(inspector, f"/inspections/{visit}/findings/{finding}/verify",
           {"accepted": True, "reason": "现场复核通过", "on": "2020-09-01"})
    assert c.get(owner, f"/campaigns/{campaign}/findings", on="2020-09-01", overdue="true")["findings"] == []
    assert c.get(district, f"/inspections/{visit}")["findings"][0]["status"] == "accepted"

    # the three kinds of score sheets, a correction, surveys
    official = {"c1": [93, 91, 92], "c1p": [93, 91, 92], "c2": [84, 86, 85], "c3": [70, 75, 72.5]}
    for key, cid in ids.items():
        c.post(world.community_for(cid), f"/candidacies/{cid}/score-sheets", {"kind": "self", "scores": sheet(rubric, 90), "on": "2020-09-10"}, 201)
        c.post(district, f"/candidacies/{cid}/score-sheets", {"kind": "mock", "scores": sheet(rubric, 86), "on": "2020-09-20"}, 201)
        for assessor, total in zip(assessors, official[key]):
            c.post(assessor, f"/candidacies/{cid}/score-sheets",
                   {"kind": "official", "scores": sheet(rubric, total), "on": "2020-10-15"}, 201)
    c3_sheet = sheet(rubric, 70)
    item, value = next((i, v) for i, v in c3_sheet.items() if v != "0")
    c.post(assessors[0], f"/candidacies/{ids['c3']}/correct-score",
           {"kind": "official", "item": item, "points": "0", "reason": "复核扣分", "on": "2020-10-16"})
    for cid in ids.values():
        c.post(owner, f"/candidacies/{cid}/survey", {
            "respondents": 200, "households": 200, "satisfied": 180, "basically_satisfied": 15, "dissatisfied": 5,
            "on": "2020-11-05"})

    # public notice, an upheld objection, decision
    listed = c.post(owner, f"/campaigns/{campaign}/notice", {"start": "2020-11-01", "end": "2020-11-07", "on": "2020-11-01"}, 201)
    assert set(listed["listed"]) == {ids["c1"], c2, ids["c1p"]}
    [left_off] = listed["left_off"]
    assert (left_off["candidacy_id"], left_off["community_id"], left_off["level"]) == (ids["c3"], communities["c3"], "meili")
    assert [r.split(" ")[0] for r in left_off["reasons"]] == ["综合得分"] and "is below 80" in left_off["reasons"][0]
    notice = c.get(resident, f"/campaigns/{campaign}/notice")
    assert {e["candidacy_id"] for e in notice["candidates"]} == set(listed["listed"])
    objection = c.post(resident, f"/candidacies/{c2}/objections",
                       {"text": "公示材料与实际不符", "items": ["38"], "on": "2020-11-03"}, 201)["id"]
    c.post(owner, f"/candidacies/{c2}/objections/{objection}/resolve", {"upheld": True, "reason": "核查属实", "on": "2020-11-06"})
    c.post(owner, f"/campaigns/{campaign}/notice/close", {"on": "2020-11-08"})
    decided = c.post(owner, f"/campaigns/{campaign}/decisions", {"on": "2020-11-20"}, 201)
    assert decided["named"] == {ids["c1"]: True, c2: False, ids["c3"]: False, ids["c1p"]: True}

    rows = {r["candidacy_id"]: r for r in c.get(district, f"/campaigns/{campaign}/outcome")["rows"]}
    assert (rows[ids["c1"]]["status"], rows[ids["c1"]]["total"], rows[ids["c1"]]["satisfaction_rate"]) == ("named", "92.00", "97.50%")
    assert rows[c2]["objections"]["upheld"] == 1 and rows[c2]["status"] == "not_named"
    assert rows[ids["c3"]]["status"] == "not_named"
    assert c.get(owner, f"/communities/{communities['c1']}")["held"] == ["jingpin", "meili"]

    # supervision a year later: rectification rejected, the basic title is revoked
    c1 = ids["c1"]
    revisit = c.post(inspector, f"/candidacies/{c1}/inspections", {
        "kind": "unannounced", "visit_date": "2021-03-01", "inspectors": ["巡查员甲"], "purpose": "supervision"}, 201)["id"]
    f = c.post(inspector, f"/inspections/{revisit}/findings", {
        "item": "41", "description": "私装地锁", "severity": "major", "countermeasure": "拆除地锁", "deadline": "2021-04-01"}, 201)["id"]
    c.post(world.street_a, f"/inspections/{revisit}/findings/{f}/complete",
           {"summary": "已拆除", "evidence": EVIDENCE, "on": "2021-03-20"})
    c.post(inspector, f"/inspections/{revisit}/findings/{f}/verify", {"accepted": False, "reason": "复查仍有地锁", "on": "2021-04-02"})
    assert c.get(owner, f"/candidacies/{c1}/findings", on="2021-04-02")["findings"][-1]["status"] == "rejected"
    c.post(owner, f"/candidacies/{c1}/revoke",
           {"reason": "整改不合格，取消美丽社区称号", "findings": [f"{revisit}/{f}"], "on": "2021-04-10"})
    row = next(r for r in c.get(owner, f"/campaigns/{campaign}/outcome")["rows"] if r["candidacy_id"] == c1)
    assert row["status"] == "revoked" and row["revocation"]["findings"] == [f"{revisit}/{f}"]
    assert c.get(owner, f"/communities/{communities['c1']}")["held"] == ["jingpin"]
    c.post(owner, f"/candidacies/{ids['c1p']}/put-forward", {"to": "市级示范社区候选", "reason": "创建成效突出", "on": "2021-04-11"})


def test_a_bazhong_checklist_campaign_over_http(world):
    c = Client(world)
    tenant = "bazhong"
    owner = actor(Role.CITY_OWNER, "bz-owner", "巴中市民政局", tenant)
    county = actor(Role.DISTRICT_OFFICER, "bz-county", "巴州区民政局", tenant)
    street = actor(Role.STREET_OFFICER, "bz-street", "宕梁街道", tenant)
    assessors = [actor(Role.ASSESSOR, f"bz-assessor-{n}", "市级评估验收组", tenant) for n in (1, 2, 3)]
    resident = actor(Role.RESIDENT, "bz-resident", "居民", tenant)
    world.auth(owner)  # the tenant, registered when its first token is issued

    communities = register(c, county, tenant, [("hongyan", "红岩社区", "巴州区", "宕梁街道", 3260)], on="2020-05-15")
    campaign = c.post(owner, f"/tenants/{tenant}/campaigns", {
        "code": "bazhong-2020", "title": "2020年城乡社区示范创建", "year": 2020, "rubric_id": "bazhong-demonstration",
        "on": "2020-05-18"}, 201)
    rubric = world.app.rubric_by_hash(campaign["rubric"]["hash"])
    campaign = campaign["id"]
    c.post(owner, f"/campaigns/{campaign}/open", {"on": "2020-05-18"})
    facts = {"professional_social_workers": 2, "registered_community_social_organisations": 3,
             "organisations_undertaking_purchased_services": 2}
    ids = {
        level: c.post(street, f"/campaigns/{campaign}/candidacies", {
            "community_id": communities["hongyan"], "level": level, "self_scores": checklist_sheet(rubric, [level]),
            "facts": level_facts, "on": "2020-05-20"}, 201)["id"]
        for level, level_facts in (("convenience", None), ("social-organisations", facts))
    }
    for cid in ids.values():
        c.post(county, f"/candidacies/{cid}/review", {"outcome": "approve", "on": "2020-05-27"})
    for level, cid in ids.items():
        for n, assessor in enumerate(assessors, start=1):
            unmet = ["B4"] if level == "convenience" and n == 2 else []  # one assessor: 优化实施服务项目 not met
            c.post(assessor, f"/candidacies/{cid}/score-sheets",
                   {"kind": "official", "scores": checklist_sheet(rubric, [level], unmet), "on": "2020-11-20"}, 201)
        c.post(owner, f"/candidacies/{cid}/survey", {"respondents": 200, "households": 180, "satisfied": 168,
                                                    "basically_satisfied": 26, "dissatisfied": 6, "on": "2020-11-25"})
    notice = c.post(owner, f"/campaigns/{campaign}/notice", {"start": "2020-12-01", "end": "2020-12-07", "on": "2020-12-01"}, 201)
    assert notice["listed"] == [ids["social-organisations"]]
    assert [e["candidacy_id"] for e in notice["left_off"]] == [ids["convenience"]] and notice["left_off"][0]["reasons"]
    objection = c.post(resident, f"/candidacies/{ids['social-organisations']}/objections",
                       {"text": "社会组织活动未开展", "on": "2020-12-03"}, 201)["id"]
    c.post(owner, f"/candidacies/{ids['social-organisations']}/objections/{objection}/resolve",
           {"upheld": False, "reason": "经核查，异议不成立", "on": "2020-12-06"})
    c.post(owner, f"/campaigns/{campaign}/notice/close", {"on": "2020-12-08"})
    assert c.post(owner, f"/campaigns/{campaign}/decisions", {"on": "2020-12-15"}, 201)["named"] == {
        ids["convenience"]: False, ids["social-organisations"]: True}
    c.post(owner, f"/candidacies/{ids['social-organisations']}/put-forward",
           {"to": "省级示范社区候选", "reason": "创建成效突出", "on": "2020-12-20"})
    rows = {r["level"]: r for r in c.get(owner, f"/campaigns/{campaign}/outcome")["rows"]}
    assert rows["social-organisations"]["status"] == "named" and rows["convenience"]["status"] == "not_named"
    assert rows["social-organisations"]["objections"] == {"open": 0, "upheld": 0, "dismissed": 1}


def test_a_brand_community_quota_selection_over_http(world):
    c = Client(world)
    tenant = "yunchuan"
    owner = actor(Role.CITY_OWNER, "yc-owner", "云川区民政局", tenant)
    district = actor(Role.DISTRICT_OFFICER, "yc-district", "创建办", tenant)
    street = actor(Role.STREET_OFFICER, "yc-street", "北岸街道", tenant)
    assessors = [actor(Role.ASSESSOR, f"yc-assessor-{n}", "区考评组", tenant) for n in (1, 2, 3)]
    resident = actor(Role.RESIDENT, "yc-resident", "居民", tenant)
    world.auth(owner)

    communities = register(c, district, tenant, [
        (f"y{n}", f"{name}社区", "云川区", "北岸街道", 1500) for n, name in enumerate(["青溪苑", "枫湖里", "柳山园"], start=1)
    ], on="2019-01-05")
    campaign = c.post(owner, f"/tenants/{tenant}/campaigns", {
        "code": "brand-2019", "title": "2019年品牌社区评选", "year": 2019, "rubric_id": "brand-community", "quota": 2,
        "on": "2019-01-10"}, 201)
    rubric = world.app.rubric_by_hash(campaign["rubric"]["hash"])
    campaign = campaign["id"]
    c.post(owner, f"/campaigns/{campaign}/open", {"on": "2019-01-10"})
    totals = {"y1": 110, "y2": 105, "y3": 100}
    ids = {
        code: c.post(street, f"/campaigns/{campaign}/candidacies", {
            "community_id": communities[code], "level": "brand", "self_scores": sheet_for_total(rubric, total),
            "facts": {"type": "便民服务型"}, "on": "2019-02-15"}, 201)["id"]
        for code, total in totals.items()
    }
    for code, cid in ids.items():
        c.post(district, f"/candidacies/{cid}/review", {"outcome": "approve", "on": "2019-02-25"})
        for assessor, delta in zip(assessors, (1, -1, 0)):
            c.post(assessor, f"/candidacies/{cid}/score-sheets",
                   {"kind": "official", "scores": sheet_for_total(rubric, totals[code] + delta), "on": "2019-11-20"}, 201)
        c.post(owner, f"/candidacies/{cid}/survey", {"respondents": 200, "households": 180, "satisfied": 170,
                                                    "basically_satisfied": 20, "dissatisfied": 10, "on": "2019-11-28"})
    notice = c.post(owner, f"/campaigns/{campaign}/notice", {"start": "2019-12-01", "end": "2019-12-07", "on": "2019-12-01"}, 201)
    assert set(notice["listed"]) == set(ids.values()) and notice["left_off"] == []  # two places and a reserve
    objection = c.post(resident, f"/candidacies/{ids['y1']}/objections",
                       {"text": "社区养老服务中心长期闭门", "items": ["10"], "on": "2019-12-03"}, 201)["id"]
    c.post(owner, f"/candidacies/{ids['y1']}/objections/{objection}/resolve",
           {"upheld": True, "reason": "经核查，异议属实", "on": "2019-12-05"})
    c.post(owner, f"/campaigns/{campaign}/notice/close", {"on": "2019-12-08"})
    assert c.post(owner, f"/campaigns/{campaign}/decisions", {"on": "2019-12-20"}, 201)["named"] == {
        ids["y1"]: False, ids["y2"]: True, ids["y3"]: True}
    rows = {r["candidacy_id"]: r for r in c.get(owner, f"/campaigns/{campaign}/outcome")["rows"]}
    assert [rows[ids[k]]["status"] for k in ("y1", "y2", "y3")] == ["not_named", "named", "named"]
    assert rows[ids["y2"]]["total"] == "105.00"
