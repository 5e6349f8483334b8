"""Campaigns and candidacies over HTTP (api/routes/campaigns.py), on every storage backend,
ending with a Tianjin campaign driven entirely over HTTP from tenant registration to
approved candidacies.

Every refusal goes through ``refused``: the status, a problem document naming what was
wrong (field, allowed values or roles) and an unchanged event store.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.actors import Role
from core.domain import ids
from tests.api_support import ApiWorld
from tests.helpers import TENANT, sheet
from tests.test_api_registry import bootstrap_owner_token, forbidden, invalid, refused

YEAR = 2020


@pytest.fixture
def world(app) -> ApiWorld:
    return ApiWorld(app)


def campaign_body(**changes: Any) -> dict[str, Any]:
    return {"code": f"meili-{YEAR}", "title": f"{YEAR}年美丽社区创建", "year": YEAR, "rubric_id": "tianjin-meili",
            "on": f"{YEAR}-03-09", **changes}


def registered(world: ApiWorld) -> None:
    """Tenant and the three communities (through the core: tests/test_api_registry.py covers
    their routes), and a token for everyone who acts below."""
    world.app.register_tenant(world.owner, TENANT, "天津市")
    for code, name, street in [("c1", "詹滨里社区", "张贵庄街道"), ("c2", "新立花园社区", "张贵庄街道"), ("c3", "丰年里社区", "丰年村街道")]:
        world.communities[code] = world.app.register_community(
            world.district, code, name, "东丽区", street, households=1200, population=3000, on=f"{YEAR}-03-01"
        )
    for person in (world.owner, world.district, world.street_a, world.street_b, world.resident, world.auditor,
                   world.community, world.stranger(), world.stranger(Role.STREET_OFFICER), world.stranger(Role.DISTRICT_OFFICER)):
        world.auth(person)


def created_campaign(world: ApiWorld, open_it: bool = True) -> str:
    registered(world)
    answer = world.http.post(f"/tenants/{TENANT}/campaigns", headers=world.auth(world.owner), json=campaign_body())
    assert answer.status_code == 201, answer.text
    campaign = answer.json()["id"]
    if open_it:
        opened = world.http.post(f"/campaigns/{campaign}/open", headers=world.auth(world.owner), json={"on": f"{YEAR}-03-09"})
        assert opened.status_code == 200, opened.text
    return campaign


def application(world: ApiWorld, code: str, level: str = "meili", total: float = 90, on: str = f"{YEAR}-03-10") -> dict[str, Any]:
    return {"community_id": world.communities[code], "level": level, "self_scores": sheet(world.rubric, total), "on": on}


def apply(world: ApiWorld, campaign: str, code: str, **kwargs: Any) -> str:
    answer = world.http.post(f"/campaigns/{campaign}/candidacies", headers=world.auth(world.street_of(code)),
                             json=application(world, code, **kwargs))
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


# --------------------------------------------------------------------------------------
# Campaigns
# --------------------------------------------------------------------------------------


def test_create_list_and_read_a_campaign(world):
    campaign = created_campaign(world, open_it=False)
    assert campaign == str(ids.campaign_id(TENANT, f"meili-{YEAR}"))
    reader = world.auth(world.auditor)

    got = world.http.get(f"/campaigns/{campaign}", headers=reader)
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    data = got.json()
    assert (data["code"], data["title"], data["year"], data["quota"]) == (f"meili-{YEAR}", f"{YEAR}年美丽社区创建", YEAR, None)
    assert data["levels"] == ["meili", "jingpin"]
    assert data["rubric"] == {"id": "tianjin-meili", "version": "2017", "hash": world.rubric.content_hash}
    phases = {phase["id"]: phase for phase in data["schedule"]}
    assert phases["application"] == {"id": "application", "label": "确定创建名单（申报、区级初审）", "kind": "application",
                                     "start": f"{YEAR}-03-01", "end": f"{YEAR}-03-12"}
    assert (data["status"], data["frozen"], data["frozen_today"], data["decided"], data["notice"]) == ("draft", False, True, False, None)
    assert data["candidacies"] == {} and data["version"] == 1

    by_code = world.http.get(f"/tenants/{TENANT}/campaigns/by-code/meili-{YEAR}", headers=reader)
    assert by_code.status_code == 200 and by_code.json()["id"] == campaign
    listed = world.http.get(f"/tenants/{TENANT}/campaigns", headers=reader).json()
    assert [(row["id"], row["status"], row["candidacies"]) for row in listed] == [(campaign, "draft", 0)]
    assert world.http.get(f"/tenants/{TENANT}", headers=reader).json()["campaigns"] == [campaign]

    stranger = world.auth(world.stranger())
    refused(world, "GET", f"/campaigns/{campaign}", 404, stranger)
    refused(world, "GET", f"/tenants/{TENANT}/campaigns", 404, stranger)
    refused(world, "GET", f"/tenants/{TENANT}/campaigns/by-code/meili-{YEAR}", 404, stranger)
    refused(world, "GET", f"/tenants/{TENANT}/campaigns/by-code/meili-1999", 404, reader)


def test_campaign_creation_rejections(world):
    registered(world)
    owner = world.auth(world.owner)
    path = f"/tenants/{TENANT}/campaigns"
    assert invalid(world, "POST", path, owner, "year", json=campaign_body(year=1999))["allowed"] == "a whole number >= 2000"
    invalid(world, "POST", path, owner, "year", json=campaign_body(year="2020"))
    invalid(world, "POST", path, owner, "quota", json=campaign_body(quota=0))
    invalid(world, "POST", path, owner, "code", json=campaign_body(code=" "))
    invalid(world, "POST", path, owner, "title", json={k: v for k, v in campaign_body().items() if k != "title"})
    body = invalid(world, "POST", path, owner, "levels", json=campaign_body(levels=["gold"]))
    assert "meili" in body["allowed"] and body["value"] == "gold"
    invalid(world, "POST", path, owner, "schedule[0].label", json=campaign_body(schedule=[{"id": "a", "start": "2020-03-01", "end": "2020-03-02"}]))
    invalid(world, "POST", path, owner, "schedule[0].kind", json=campaign_body(
        schedule=[{"id": "a", "label": "申报", "kind": "party", "start": "2020-03-01", "end": "2020-03-02"}]))
    invalid(world, "POST", path, owner, "schedule[0].end", json=campaign_body(
        schedule=[{"id": "a", "label": "申报", "kind": "application", "start": "2020-03-05", "end": "2020-03-02"}]))
    invalid(world, "POST", path, owner, "on", json=campaign_body(on="2999-01-01"))
    invalid(world, "POST", path, owner, "colour", json=campaign_body(colour="red"))
    refused(world, "POST", path, 404, owner, json=campaign_body(rubric_id="no-such-rubric"))
    refused(world, "POST", path, 404, owner, json=campaign_body(rubric_version="1999"))
    forbidden(world, "POST", path, world.auth(world.district), ["city_owner"], json=campaign_body())
    forbidden(world, "POST", path, world.auth(world.resident), ["city_owner"], json=campaign_body())
    refused(world, "POST", path, 404, world.auth(world.stranger()), json=campaign_body())

    answer = world.http.post(path, headers=owner, json=campaign_body(levels=["meili"], quota=5))
    assert answer.status_code == 201 and answer.headers["Location"] == f"/campaigns/{answer.json()['id']}"
    assert answer.json()["rubric"]["hash"] == world.rubric.content_hash
    refused(world, "POST", path, 409, owner, json=campaign_body())


def test_a_campaign_on_the_tenants_configured_rubric_version(world):
    registered(world)
    owner = world.auth(world.owner)
    configured = world.http.post(
        f"/tenants/{TENANT}/rubrics/tianjin-meili/versions", headers=owner,
        json={"version": "2017-hexi.1", "changes": {"levels": {"jingpin": {"provisional": False, "rules": {"min_total": 92}}}},
              "reason": "区级精品标准"},
    )
    assert configured.status_code == 201, configured.text
    answer = world.http.post(f"/tenants/{TENANT}/campaigns", headers=owner,
                             json=campaign_body(code="hexi-2020", rubric_version="2017-hexi.1"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["rubric"] == {"id": "tianjin-meili", "version": "2017-hexi.1", "hash": configured.json()["hash"]}


def test_rescheduling_a_phase_with_if_match(world):
    campaign = created_campaign(world)
    owner = world.auth(world.owner)
    path = f"/campaigns/{campaign}/phases/study"
    move = {"start": f"{YEAR}-05-01", "end": f"{YEAR}-05-31", "reason": "疫情防控，顺延一个月", "on": f"{YEAR}-03-20"}

    version = int(world.http.get(f"/campaigns/{campaign}", headers=owner).headers["ETag"].strip('"'))
    conflict = refused(world, "POST", path, 409, {**owner, "If-Match": f'"{version - 1}"'}, json=move)
    assert conflict["type"].endswith("version_conflict")
    answer = world.http.post(path, headers={**owner, "If-Match": f'"{version}"'}, json=move)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": campaign, "version": version + 1}
    study = next(p for p in world.http.get(f"/campaigns/{campaign}", headers=owner).json()["schedule"] if p["id"] == "study")
    assert (study["start"], study["end"]) == (f"{YEAR}-05-01", f"{YEAR}-05-31")

    body = invalid(world, "POST", f"/campaigns/{campaign}/phases/holiday", owner, "phase_id", json=move)
    assert "application" in body["allowed"]
    invalid(world, "POST", path, owner, "end", json={**move, "end": f"{YEAR}-04-01"})
    invalid(world, "POST", path, owner, "start", json={**move, "start": "May"})
    invalid(world, "POST", path, owner, "reason", json={k: v for k, v in move.items() if k != "reason"})
    forbidden(world, "POST", path, world.auth(world.district), ["city_owner"], json=move)
    refused(world, "POST", path, 404, world.auth(world.stranger()), json=move)
    refused(world, "POST", f"/campaigns/{campaign}/phases/application", 409, owner,
            json={**move, "start": f"{YEAR}-03-01"})  # frozen by its end date


def test_open_close_cancel_and_freeze(world):
    campaign = created_campaign(world, open_it=False)
    owner = world.auth(world.owner)

    forbidden(world, "POST", f"/campaigns/{campaign}/open", world.auth(world.district), ["city_owner"])
    refused(world, "POST", f"/campaigns/{campaign}/open", 404, world.auth(world.stranger()))
    refused(world, "POST", f"/campaigns/{campaign}/open", 409, {**owner, "If-Match": '"7"'})
    invalid(world, "POST", f"/campaigns/{campaign}/open", owner, "on", json={"on": "2999-01-01"})
    invalid(world, "POST", f"/campaigns/{campaign}/open", owner, "when", json={"when": "now"})
    opened = world.http.post(f"/campaigns/{campaign}/open", headers={**owner, "If-Match": '"1"'})  # no body at all
    assert opened.status_code == 200, opened.text
    assert opened.json() == {"id": campaign, "version": 2, "status": "open"}
    refused(world, "POST", f"/campaigns/{campaign}/open", 409, owner)
    assert "decide" in refused(world, "POST", f"/campaigns/{campaign}/close", 409, owner)["detail"]
    forbidden(world, "POST", f"/campaigns/{campaign}/close", world.auth(world.auditor), ["city_owner"])

    forbidden(world, "POST", f"/campaigns/{campaign}/freeze", world.auth(world.street_a), ["city_owner", "district_officer"])
    frozen = world.http.post(f"/campaigns/{campaign}/freeze", headers=world.auth(world.district), json={"on": f"{YEAR}-03-12"})
    assert frozen.status_code == 200 and frozen.json() == {"id": campaign, "version": 3, "frozen": True}
    refused(world, "POST", f"/campaigns/{campaign}/freeze", 409, owner)

    invalid(world, "POST", f"/campaigns/{campaign}/cancel", owner, "reason", json={})
    invalid(world, "POST", f"/campaigns/{campaign}/cancel", owner, "reason", json={"reason": ""})
    forbidden(world, "POST", f"/campaigns/{campaign}/cancel", world.auth(world.district), ["city_owner"], json={"reason": "暂停"})
    refused(world, "POST", f"/campaigns/{campaign}/cancel", 404, world.auth(world.stranger()), json={"reason": "暂停"})
    cancelled = world.http.post(f"/campaigns/{campaign}/cancel", headers=owner, json={"reason": "上级通知暂停", "on": f"{YEAR}-04-01"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert world.http.get(f"/campaigns/{campaign}", headers=owner).json()["status"] == "cancelled"
    refused(world, "POST", f"/campaigns/{campaign}/cancel", 409, owner, json={"reason": "再次"})


def test_amending_the_frozen_list_admits_a_late_application(world):
    campaign = created_campaign(world)
    owner = world.auth(world.owner)
    apply(world, campaign, "c1")
    world.http.post(f"/campaigns/{campaign}/freeze", headers=owner, json={"on": f"{YEAR}-03-12"})
    late = application(world, "c3", on=f"{YEAR}-03-15")
    assert "frozen" in refused(world, "POST", f"/campaigns/{campaign}/candidacies", 409, world.auth(world.street_b), json=late)["detail"]

    amendment = {"community_id": world.communities["c3"], "level": "meili", "change": "admit",
                 "justification": "经领导小组研究同意补报", "on": f"{YEAR}-03-14"}
    path = f"/campaigns/{campaign}/amendments"
    assert invalid(world, "POST", path, owner, "change", json={**amendment, "change": "maybe"})["allowed"] == "admit, remove"
    invalid(world, "POST", path, owner, "level", json={**amendment, "level": "gold"})
    invalid(world, "POST", path, owner, "justification", json={**amendment, "justification": ""})
    refused(world, "POST", path, 404, owner, json={**amendment, "community_id": str(ids.community_id(TENANT, "c9"))})
    forbidden(world, "POST", path, world.auth(world.district), ["city_owner"], json=amendment)
    refused(world, "POST", path, 404, world.auth(world.stranger()), json=amendment)

    answer = world.http.post(path, headers=owner, json=amendment)
    assert answer.status_code == 200, answer.text
    admitted = answer.json()["candidacy_id"]
    assert admitted == str(ids.candidacy_id(ids.campaign_id(TENANT, f"meili-{YEAR}"), ids.community_id(TENANT, "c3"), "meili"))
    assert apply(world, campaign, "c3", on=f"{YEAR}-03-15") == admitted
    assert world.http.get(f"/campaigns/{campaign}", headers=owner).json()["amendments"] == [
        {"candidacy_id": admitted, "change": "admit", "reason": "经领导小组研究同意补报"}
    ]


# --------------------------------------------------------------------------------------
# Candidacies
# --------------------------------------------------------------------------------------


def test_apply_and_read_a_candidacy(world):
    campaign = created_campaign(world)
    answer = world.http.post(f"/campaigns/{campaign}/candidacies", headers=world.auth(world.street_a),
                             json={**application(world, "c1", total=92), "facts": {"note": "材料齐全"}})
    assert answer.status_code == 201, answer.text
    candidacy = answer.json()["id"]
    assert answer.json() == {"id": candidacy, "status": "applied", "level": "meili", "version": 1}
    assert answer.headers["Location"] == f"/candidacies/{candidacy}"

    got = world.http.get(f"/candidacies/{candidacy}", headers=world.auth(world.community))
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    data = got.json()
    assert (data["status"], data["level"], data["community_id"], data["campaign_id"]) == (
        "applied", "meili", world.communities["c1"], campaign)
    assert Decimal(data["application"]["self_total"]) == 92
    assert data["application"]["self_scores"] == sheet(world.rubric, 92)
    assert data["application"]["facts"] == {"note": "材料齐全"}
    assert data["scores"] == {"self": {}, "mock": {}, "official": {}}
    assert (data["vetoes"], data["survey"], data["objections"], data["decision"], data["revocation"]) == ({}, None, {}, None, None)

    rows = world.http.get(f"/campaigns/{campaign}/candidacies", headers=world.auth(world.auditor)).json()
    assert rows == [{"id": candidacy, "community_id": world.communities["c1"], "level": "meili", "status": "applied",
                     "named": None, "version": 1}]
    stranger = world.auth(world.stranger())
    refused(world, "GET", f"/candidacies/{candidacy}", 404, stranger)
    refused(world, "GET", f"/campaigns/{campaign}/candidacies", 404, stranger)


def test_application_rejections(world):
    campaign = created_campaign(world)
    street = world.auth(world.street_a)
    path = f"/campaigns/{campaign}/candidacies"
    good = application(world, "c1", total=92)

    partial = dict(list(good["self_scores"].items())[:10])
    body = invalid(world, "POST", path, street, "self_scores", json={**good, "self_scores": partial})
    assert "missing" in body["allowed"]
    body = invalid(world, "POST", path, street, "self_scores[1]", json={**good, "self_scores": {**good["self_scores"], "1": 99}})
    assert "0 to 2" in body["allowed"]
    invalid(world, "POST", path, street, "self_scores", json={**good, "self_scores": [1, 2]})
    invalid(world, "POST", path, street, "self_scores", json={k: v for k, v in good.items() if k != "self_scores"})
    assert "meili" in invalid(world, "POST", path, street, "level", json={**good, "level": "gold"})["allowed"]
    invalid(world, "POST", path, street, "facts.photos", json={**good, "facts": {"photos": [1, 2]}})
    invalid(world, "POST", path, street, "on", json={**good, "on": "2999-01-01"})
    invalid(world, "POST", path, street, "community_id", json={**good, "community_id": "c1"})
    assert "80" in refused(world, "POST", path, 409, street, json=application(world, "c1", total=70))["detail"]
    assert "张贵庄街道" in refused(world, "POST", path, 403, world.auth(world.street_b), json=good)["detail"]
    forbidden(world, "POST", path, world.auth(world.district), ["street_officer"], json=good)
    forbidden(world, "POST", path, world.auth(world.resident), ["street_officer"], json=good)
    refused(world, "POST", path, 404, world.auth(world.stranger(Role.STREET_OFFICER)), json=good)
    refused(world, "POST", path, 409, {**street, "If-Match": '"1"'}, json=good)  # the campaign has moved on

    assert world.http.post(path, headers=street, json=good).status_code == 201
    assert refused(world, "POST", path, 409, street, json=good)["type"].endswith("already_exists")


def test_review_with_if_match_and_its_rejections(world):
    campaign = created_campaign(world)
    candidacy = apply(world, campaign, "c1")
    district = world.auth(world.district)
    path = f"/candidacies/{candidacy}/review"
    approve = {"outcome": "approve", "on": f"{YEAR}-03-11"}

    assert invalid(world, "POST", path, district, "outcome", json={"outcome": "maybe"})["allowed"] == "approve, return, reject"
    invalid(world, "POST", path, district, "reason", json={"outcome": "return"})
    invalid(world, "POST", path, district, "outcome", json={})
    forbidden(world, "POST", path, world.auth(world.street_a), ["district_officer"], json=approve)
    forbidden(world, "POST", path, world.auth(world.resident), ["district_officer"], json=approve)
    refused(world, "POST", path, 404, world.auth(world.stranger(Role.DISTRICT_OFFICER)), json=approve)
    conflict = refused(world, "POST", path, 409, {**district, "If-Match": '"2"'}, json=approve)
    assert (conflict["expected"], conflict["actual"]) == (2, 1)

    etag = world.http.get(f"/candidacies/{candidacy}", headers=district).headers["ETag"]
    answer = world.http.post(path, headers={**district, "If-Match": etag}, json=approve)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": candidacy, "version": 2, "status": "approved"}
    assert world.http.get(f"/candidacies/{candidacy}", headers=district).json()["reviews"] == [
        {"outcome": "approve", "reason": None, "by": world.district.id}
    ]
    refused(world, "POST", path, 409, district, json=approve)  # only a submitted application is reviewed


def test_return_resubmit_and_withdraw(world):
    campaign = created_campaign(world)
    candidacy = apply(world, campaign, "c2", total=85)
    district, street = world.auth(world.district), world.auth(world.street_a)
    resubmission = {"self_scores": sheet(world.rubric, 88), "on": f"{YEAR}-03-11"}

    refused(world, "POST", f"/candidacies/{candidacy}/resubmit", 409, street, json=resubmission)  # not returned
    returned = world.http.post(f"/candidacies/{candidacy}/review", headers=district,
                               json={"outcome": "return", "reason": "自评材料不全", "on": f"{YEAR}-03-11"})
    assert returned.json()["status"] == "returned"

    path = f"/candidacies/{candidacy}/resubmit"
    invalid(world, "POST", path, street, "self_scores", json={**resubmission, "self_scores": {"1": "1"}})
    forbidden(world, "POST", path, district, ["street_officer"], json=resubmission)
    refused(world, "POST", path, 403, world.auth(world.street_b), json=resubmission)  # another street's community
    refused(world, "POST", path, 404, world.auth(world.stranger(Role.STREET_OFFICER)), json=resubmission)
    refused(world, "POST", path, 409, {**street, "If-Match": '"1"'}, json=resubmission)
    answer = world.http.post(path, headers={**street, "If-Match": '"2"'}, json=resubmission)
    assert answer.status_code == 200 and answer.json() == {"id": candidacy, "version": 3, "status": "applied"}
    assert Decimal(world.http.get(f"/candidacies/{candidacy}", headers=street).json()["application"]["self_total"]) == 88

    path = f"/candidacies/{candidacy}/withdraw"
    invalid(world, "POST", path, street, "reason", json={"reason": " ", "on": f"{YEAR}-03-12"})
    forbidden(world, "POST", path, world.auth(world.resident), ["city_owner", "street_officer"], json={"reason": "x"})
    refused(world, "POST", path, 404, world.auth(world.stranger(Role.STREET_OFFICER)), json={"reason": "x"})
    refused(world, "POST", path, 409, street, json={"reason": "社区合并"})  # today: the list is frozen by date
    answer = world.http.post(path, headers=street, json={"reason": "社区合并，不再参评", "on": f"{YEAR}-03-12"})
    assert answer.status_code == 200 and answer.json()["status"] == "withdrawn"
    refused(world, "POST", path, 409, street, json={"reason": "再次", "on": f"{YEAR}-03-12"})


# --------------------------------------------------------------------------------------
# Tianjin over HTTP: tenant registration to approved candidacies
# --------------------------------------------------------------------------------------


def test_tianjin_from_tenant_registration_to_approved_candidacies(world):
    http = world.http
    bootstrap_owner_token(world, world.owner)
    owner = world.auth(world.owner)
    assert http.post("/tenants", headers=owner, json={"code": TENANT, "name": "天津市"}).status_code == 201

    district = world.auth(world.district)
    for code, name, street in [("c1", "詹滨里社区", "张贵庄街道"), ("c2", "新立花园社区", "张贵庄街道"), ("c3", "丰年里社区", "丰年村街道")]:
        answer = http.post(f"/tenants/{TENANT}/communities", headers=district,
                           json={"code": code, "name": name, "district": "东丽区", "street": street,
                                 "households": 1200, "population": 3000, "on": f"{YEAR}-03-01"})
        assert answer.status_code == 201, answer.text
        world.communities[code] = answer.json()["id"]

    rubric = http.get("/rubrics/tianjin-meili", headers=owner).json()
    answer = http.post(f"/tenants/{TENANT}/campaigns", headers=owner, json=campaign_body(rubric_version=rubric["version"]))
    assert answer.status_code == 201, answer.text
    campaign = answer.json()["id"]
    assert answer.json()["rubric"]["hash"] == rubric["hash"]
    etag = http.get(f"/campaigns/{campaign}", headers=owner).headers["ETag"]
    assert http.post(f"/campaigns/{campaign}/open", headers={**owner, "If-Match": etag},
                     json={"on": f"{YEAR}-03-09"}).json()["status"] == "open"

    c1 = apply(world, campaign, "c1", total=92)
    c2 = apply(world, campaign, "c2", total=85)
    c3 = apply(world, campaign, "c3", total=88)
    c1p = apply(world, campaign, "c1", level="jingpin", total=92)

    review = lambda cid, **body: http.post(f"/candidacies/{cid}/review", headers=district,  # noqa: E731
                                           json={"on": f"{YEAR}-03-11", **body})
    assert review(c2, outcome="return", reason="自评表缺少佐证材料").json()["status"] == "returned"
    resubmitted = http.post(f"/candidacies/{c2}/resubmit", headers=world.auth(world.street_a),
                            json={"self_scores": sheet(world.rubric, 86), "on": f"{YEAR}-03-11"})
    assert resubmitted.json()["status"] == "applied"
    for cid in (c1, c2, c3, c1p):
        assert review(cid, outcome="approve").json()["status"] == "approved"
    frozen = http.post(f"/campaigns/{campaign}/freeze", headers=district, json={"on": f"{YEAR}-03-12"})
    assert frozen.json()["frozen"] is True

    rows = http.get(f"/campaigns/{campaign}/candidacies", headers=world.auth(world.auditor)).json()
    assert {row["id"]: row["status"] for row in rows} == {c1: "approved", c2: "approved", c3: "approved", c1p: "approved"}
    assert {(row["community_id"], row["level"]) for row in rows} == {
        (world.communities["c1"], "meili"), (world.communities["c2"], "meili"),
        (world.communities["c3"], "meili"), (world.communities["c1"], "jingpin"),
    }
    c2_view = http.get(f"/candidacies/{c2}", headers=owner).json()
    assert [r["outcome"] for r in c2_view["reviews"]] == ["return", "approve"]
    assert Decimal(c2_view["application"]["self_total"]) == 86

    listed = http.get(f"/tenants/{TENANT}/campaigns", headers=owner).json()
    assert [(row["id"], row["status"], row["candidacies"]) for row in listed] == [(campaign, "open", 4)]
    tenant = http.get(f"/tenants/{TENANT}", headers=owner).json()
    assert tenant["campaigns"] == [campaign] and len(tenant["communities"]) == 3
    history = [event["event"] for event in world.app.history(world.owner, c2)]
    assert history == ["Candidacy.Applied", "Candidacy.Reviewed", "Candidacy.Resubmitted", "Candidacy.Reviewed"]
    actors = {event["actor"]["id"] for event in world.app.history(world.owner, campaign)}
    assert {world.owner.id, world.district.id, world.street_a.id, world.street_b.id} <= actors
