"""Tenants, communities, rubrics and plugins over HTTP (api/routes/tenants.py and
api/routes/rubrics.py), on every storage backend.

Every refusal goes through ``refused``: the status, a problem document naming what was
wrong (field, allowed values or roles) and an unchanged event store.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.actors import Actor, Role
from core.cli import app as cli
from core.domain import AccessToken, ids
from core.services.tokens import TOKEN_PREFIX, token_digest
from tests.api_support import ApiWorld
from tests.helpers import TENANT, notification_count

PROBLEM = "application/problem+json"
DOC = Path(__file__).resolve().parents[1] / "docs" / "rubric-files.md"
EXAMPLE = re.search(r"### Example.*?```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)


@pytest.fixture
def world(app) -> ApiWorld:
    return ApiWorld(app)


def refused(world: ApiWorld, method: str, path: str, status: int, headers: dict[str, str], **request: Any) -> dict[str, Any]:
    """The request is answered ``status`` with a problem document, and records nothing."""
    before = notification_count(world.app)
    answer = world.http.request(method, path, headers=headers, **request)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM), answer.headers["content-type"]
    body = answer.json()
    assert body["status"] == status and body["detail"], body
    assert notification_count(world.app) == before, f"refused request recorded events: {body}"
    return body


def invalid(world: ApiWorld, method: str, path: str, headers: dict[str, str], field: str, **request: Any) -> dict[str, Any]:
    body = refused(world, method, path, 422, headers, **request)
    assert body["field"] == field, body
    return body


def forbidden(world: ApiWorld, method: str, path: str, headers: dict[str, str], roles: list[str], **request: Any) -> dict[str, Any]:
    body = refused(world, method, path, 403, headers, **request)
    assert body["allowed_roles"] == roles, body
    for role in roles:
        assert role in body["detail"]
    return body


def bootstrap_owner_token(world: ApiWorld, person: Actor) -> None:
    """A city-owner token for a tenant code not registered yet. ``civic token create``
    issues tokens only for registered tenants, so the test records the token the way
    ``issue_token`` does, minus that check; ``world.auth(person)`` then uses it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = AccessToken(
        meta=world.app.operator_meta("tests", person.tenant, "bootstrap token for tenant registration"),
        digest=token_digest(token), tenant=person.tenant, role=person.role.value, name=person.id,
        organisation=person.organisation,
    )
    world.app.save_all(record)
    world.tokens[(person.tenant, person.role.value, person.id)] = token


def register_communities(world: ApiWorld) -> dict[str, str]:
    """The cast's three communities, registered over HTTP by the district officer."""
    world.auth(world.owner)  # registers the tenant (tests.api_support) unless it exists
    ids_by_code = {}
    for code, name, street in [("c1", "詹滨里社区", "张贵庄街道"), ("c2", "新立花园社区", "张贵庄街道"), ("c3", "丰年里社区", "丰年村街道")]:
        answer = world.http.post(
            f"/tenants/{TENANT}/communities", headers=world.auth(world.district),
            json={"code": code, "name": name, "district": "东丽区", "street": street,
                  "households": 1200, "population": 3000, "on": "2020-03-01"},
        )
        assert answer.status_code == 201, answer.text
        ids_by_code[code] = answer.json()["id"]
    world.communities.update(ids_by_code)
    return ids_by_code


def jingpin_file(world: ApiWorld, version: str = "2017-jingpin.1", min_total: int = 95) -> str:
    """A JSON rubric file derived from tianjin-meili@2017 with the municipality's own 精品 level."""
    data = world.rubric.model_dump(mode="json")
    data["version"] = version
    data["derived_from"] = "tianjin-meili@2017"
    jingpin = next(lv for lv in data["levels"] if lv["id"] == "jingpin")
    jingpin.update(label="精品美丽社区", provisional=False, note="", rules={"min_total": min_total, "requires_level": "meili"})
    return json.dumps(data, ensure_ascii=False, indent=2)


# --------------------------------------------------------------------------------------
# Tenants
# --------------------------------------------------------------------------------------


def test_a_city_owner_registers_its_tenant_and_reads_it(world):
    bootstrap_owner_token(world, world.owner)
    owner = world.auth(world.owner)
    invalid(world, "POST", "/tenants", owner, "name", json={"code": TENANT, "name": "  "})
    invalid(world, "POST", "/tenants", owner, "name", json={"code": TENANT})
    invalid(world, "POST", "/tenants", owner, "code", json={"code": 12, "name": "天津市"})
    invalid(world, "POST", "/tenants", owner, "motto", json={"code": TENANT, "name": "天津市", "motto": "x"})
    refused(world, "POST", "/tenants", 422, {**owner, "Content-Type": "application/json"}, content=b"{not json")
    refused(world, "POST", "/tenants", 404, owner, json={"code": "beijing", "name": "北京市"})  # not its own code

    answer = world.http.post("/tenants", headers=owner, json={"code": TENANT, "name": "天津市"})
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"id": str(ids.tenant_id(TENANT)), "code": TENANT}
    assert answer.headers["Location"] == f"/tenants/{TENANT}"

    got = world.http.get(f"/tenants/{TENANT}", headers=world.auth(world.auditor))
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    assert got.json() == {"id": str(ids.tenant_id(TENANT)), "code": TENANT, "name": "天津市", "communities": [],
                          "campaigns": [], "rubrics": {}, "version": 1}

    assert refused(world, "POST", "/tenants", 409, owner, json={"code": TENANT, "name": "天津市"})["type"].endswith("already_exists")
    forbidden(world, "POST", "/tenants", world.auth(world.district), ["city_owner"], json={"code": TENANT, "name": "天津市"})
    forbidden(world, "POST", "/tenants", world.auth(world.resident), ["city_owner"], json={"code": TENANT, "name": "天津市"})


def test_another_tenant_and_no_token_see_nothing(world):
    world.auth(world.owner)
    stranger = world.auth(world.stranger())
    refused(world, "GET", f"/tenants/{TENANT}", 404, stranger)
    refused(world, "GET", "/tenants/nowhere", 404, world.auth(world.owner))
    refused(world, "GET", f"/tenants/{TENANT}", 401, {})
    refused(world, "GET", "/rubrics", 401, {"Authorization": "Bearer civic_nonsense"})


# --------------------------------------------------------------------------------------
# Communities
# --------------------------------------------------------------------------------------


def test_register_list_and_read_communities(world):
    communities = register_communities(world)
    c1 = communities["c1"]
    assert c1 == str(ids.community_id(TENANT, "c1"))

    auditor = world.auth(world.auditor)
    got = world.http.get(f"/communities/{c1}", headers=auditor)
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    assert got.json() == {
        "id": c1, "tenant": TENANT, "code": "c1", "name": "詹滨里社区", "district": "东丽区", "street": "张贵庄街道",
        "households": 1200, "population": 3000, "held": [], "titles": [], "version": 1,
    }
    by_code = world.http.get(f"/tenants/{TENANT}/communities/by-code/c1", headers=auditor)
    assert by_code.status_code == 200 and by_code.json()["id"] == c1
    listed = world.http.get(f"/tenants/{TENANT}/communities", headers=auditor).json()
    assert [row["code"] for row in listed] == ["c1", "c2", "c3"]
    tenant = world.http.get(f"/tenants/{TENANT}", headers=auditor).json()
    assert tenant["communities"] == [communities[c] for c in ("c1", "c2", "c3")]

    refused(world, "GET", f"/tenants/{TENANT}/communities/by-code/c9", 404, auditor)
    refused(world, "GET", "/communities/not-a-uuid", 422, auditor)


def test_community_registration_rejections(world):
    world.auth(world.owner)
    district = world.auth(world.district)
    path = f"/tenants/{TENANT}/communities"
    good = {"code": "c1", "name": "詹滨里社区", "district": "东丽区", "street": "张贵庄街道", "households": 1200, "population": 3000}
    body = invalid(world, "POST", path, district, "households", json={**good, "households": -1})
    assert body["value"] == -1 and ">= 0" in body["allowed"]
    invalid(world, "POST", path, district, "households", json={**good, "households": "many"})
    invalid(world, "POST", path, district, "population", json={**good, "population": 2.5})
    invalid(world, "POST", path, district, "street", json={k: v for k, v in good.items() if k != "street"})
    invalid(world, "POST", path, district, "name", json={**good, "name": ""})
    invalid(world, "POST", path, district, "on", json={**good, "on": "2999-01-01"})
    invalid(world, "POST", path, district, "on", json={**good, "on": "1 March"})
    forbidden(world, "POST", path, world.auth(world.resident), ["city_owner", "district_officer"], json=good)
    refused(world, "POST", path, 404, world.auth(world.stranger(Role.DISTRICT_OFFICER)), json=good)

    assert world.http.post(path, headers=district, json=good).status_code == 201
    # a street officer's token names a registered community's street: issued once c1 is registered
    forbidden(world, "POST", path, world.auth(world.street_a), ["city_owner", "district_officer"], json=good)
    assert refused(world, "POST", path, 409, district, json=good)["type"].endswith("already_exists")


def test_other_tenant_gets_404_on_communities(world):
    c1 = register_communities(world)["c1"]
    stranger = world.auth(world.stranger())
    refused(world, "GET", f"/communities/{c1}", 404, stranger)
    refused(world, "GET", f"/tenants/{TENANT}/communities", 404, stranger)
    refused(world, "GET", f"/tenants/{TENANT}/communities/by-code/c1", 404, stranger)
    refused(world, "POST", f"/communities/{c1}/corrections", 404, stranger,
            json={"changes": {"households": 1}, "reason": "越权"})


def test_correcting_a_community_with_if_match(world):
    c1 = register_communities(world)["c1"]
    district = world.auth(world.district)
    path = f"/communities/{c1}/corrections"

    answer = world.http.post(path, headers=district, json={"changes": {"households": 1250}, "reason": "人口普查更新"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": c1, "version": 2}
    got = world.http.get(f"/communities/{c1}", headers=district)
    assert got.json()["households"] == 1250 and got.headers["ETag"] == '"2"'

    conflict = refused(world, "POST", path, 409, {**district, "If-Match": '"1"'},
                       json={"changes": {"population": 3100}, "reason": "更正"})
    assert conflict["type"].endswith("version_conflict") and (conflict["expected"], conflict["actual"]) == (1, 2)
    invalid(world, "POST", path, {**district, "If-Match": "latest"}, "If-Match",
            json={"changes": {"population": 3100}, "reason": "更正"})
    matched = world.http.post(path, headers={**district, "If-Match": got.headers["ETag"]},
                              json={"changes": {"population": 3100}, "reason": "更正"})
    assert matched.status_code == 200 and matched.json()["version"] == 3
    assert world.app.community(world.owner, c1).population == 3100

    invalid(world, "POST", path, district, "changes.area", json={"changes": {"area": 5}, "reason": "更正"})
    invalid(world, "POST", path, district, "changes", json={"changes": {}, "reason": "更正"})
    invalid(world, "POST", path, district, "changes.households", json={"changes": {"households": -5}, "reason": "更正"})
    invalid(world, "POST", path, district, "reason", json={"changes": {"households": 1}, "reason": " "})
    invalid(world, "POST", path, district, "changes", json={"changes": [1], "reason": "更正"})
    forbidden(world, "POST", path, world.auth(world.street_a), ["city_owner", "district_officer"],
              json={"changes": {"households": 1}, "reason": "更正"})


# --------------------------------------------------------------------------------------
# Rubrics: configuration, listing, files, versions, lineage
# --------------------------------------------------------------------------------------

HEXI = {
    "levels": {"jingpin": {"provisional": False, "label": "精品美丽社区", "rules": {"min_total": 92}}},
    "veto_items": [{"id": "V1", "text": "发生重大刑事案件"}],
}


def test_configuring_a_tenant_rubric_version(world):
    owner = world.auth(world.owner)
    path = f"/tenants/{TENANT}/rubrics/tianjin-meili/versions"
    body = {"base_version": "2017", "version": "2017-hexi.1", "changes": HEXI, "reason": "区级精品标准"}

    invalid(world, "POST", path, owner, "changes.levels", json={**body, "changes": {"levels": {"gold": {}}}})
    invalid(world, "POST", path, owner, "changes.colour", json={**body, "changes": {"colour": "red"}})
    invalid(world, "POST", path, owner, "reason", json={**body, "reason": ""})
    invalid(world, "POST", path, owner, "version", json={k: v for k, v in body.items() if k != "version"})
    refused(world, "POST", f"/tenants/{TENANT}/rubrics/no-such-rubric/versions", 404, owner, json=body)
    forbidden(world, "POST", path, world.auth(world.district), ["city_owner"], json=body)
    refused(world, "POST", path, 404, world.auth(world.stranger()), json=body)

    answer = world.http.post(path, headers=owner, json=body)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["ref"] == "tianjin-meili@2017-hexi.1"
    assert created["id"] == str(ids.rubric_record_id(created["hash"]))
    assert answer.headers["Location"] == "/rubrics/tianjin-meili?version=2017-hexi.1"
    refused(world, "POST", path, 409, owner, json=body)

    shown = world.http.get(answer.headers["Location"], headers=world.auth(world.district)).json()
    assert shown["hash"] == created["hash"] and shown["provided_by"] == f"tenant {TENANT}"
    jingpin = next(lv for lv in shown["levels"] if lv["id"] == "jingpin")
    assert jingpin["provisional"] is False and jingpin["rules"]["min_total"] == 92
    assert shown["veto_items"] == [{"id": "V1", "text": "发生重大刑事案件"}]
    assert world.http.get(f"/tenants/{TENANT}", headers=owner).json()["rubrics"] == {"tianjin-meili@2017-hexi.1": created["hash"]}

    stranger = world.auth(world.stranger())
    refused(world, "GET", "/rubrics/tianjin-meili?version=2017-hexi.1", 404, stranger)
    assert "tianjin-meili@2017-hexi.1" not in [row["ref"] for row in world.http.get("/rubrics", headers=stranger).json()]


def test_listing_and_showing_rubrics(world, plugins):
    world.register()  # the community the reader's token names
    reader = world.auth(world.community)
    rows = world.http.get("/rubrics", headers=reader).json()
    assert {row["ref"] for row in rows} == {p.rubric.ref for p in plugins.rubrics()}
    tianjin = next(row for row in rows if row["ref"] == "tianjin-meili@2017")
    assert (tianjin["items"], tianjin["points"], tianjin["provided_by"]) == (60, "100", "plugin tianjin_meili")
    assert tianjin["provisional"] is True  # the provisional 精品 level

    shown = world.http.get("/rubrics/tianjin-meili", headers=reader)
    assert shown.status_code == 200
    data = shown.json()
    assert data["hash"] == world.rubric.content_hash and data["version"] == "2017"
    assert sum(len(c["items"]) for c in data["categories"]) == 60
    assert world.http.get("/rubrics/tianjin-meili?version=2017", headers=reader).json()["hash"] == data["hash"]
    missing = refused(world, "GET", "/rubrics/tianjin-meili?version=1999", 404, reader)
    assert "tianjin-meili@2017" in missing["detail"]  # names the known versions
    refused(world, "GET", "/rubrics/nothing-here", 404, reader)

    everyone = world.auth(Actor(id="cross", role=Role.AUDITOR, organisation="审计署", tenant="*"))
    assert world.http.get("/rubrics/tianjin-meili", headers=everyone).json()["hash"] == data["hash"]


def test_validating_a_rubric_file_records_nothing(world):
    headers = world.auth(world.district)
    before = notification_count(world.app)
    yaml_answer = world.http.post("/rubrics/validate", headers={**headers, "Content-Type": "application/yaml"},
                                  content=EXAMPLE.encode("utf-8"))
    assert yaml_answer.status_code == 200, yaml_answer.text
    summary = yaml_answer.json()
    assert (summary["ref"], summary["categories"], summary["items"], summary["points"]) == ("xinqu-hexie@2021.1", 2, 4, "10.5")
    assert summary["provisional"] is True and summary["file"] == "rubric.yaml"

    json_answer = world.http.post("/rubrics/validate?filename=jingpin.json", headers=headers,
                                  content=jingpin_file(world).encode("utf-8"))
    assert json_answer.status_code == 200, json_answer.text
    assert json_answer.json()["derived_from"] == "tianjin-meili@2017" and json_answer.json()["file"] == "jingpin.json"
    assert notification_count(world.app) == before


def test_a_broken_rubric_file_lists_every_problem_by_line_and_field(world):
    headers = {**world.auth(world.owner), "Content-Type": "application/yaml"}
    broken = (EXAMPLE.replace("    max_points: 4.5\n", "    max_points: 5\n")
                     .replace("style: threshold", "style: nonexistent-style")
                     .replace("  - id: jingpin\n", "  - id: hexie\n"))
    body = refused(world, "POST", "/rubrics/validate", 422, headers, content=broken.encode("utf-8"))
    fields = {p["field"]: p for p in body["problems"]}
    assert fields["categories[1].max_points"]["line"] == broken.splitlines().index("    max_points: 5") + 1
    assert fields["levels[1].id"]["message_zh"]
    assert body["field"] == body["problems"][0]["field"]
    assert all(p["file"] == "rubric.yaml" for p in body["problems"])

    unusable = EXAMPLE.replace("style: threshold", "style: nonexistent-style")
    body = refused(world, "POST", "/rubrics/validate", 422, headers, content=unusable.encode("utf-8"))
    assert [p["field"] for p in body["problems"]] == ["style"] and "nonexistent-style" in body["problems"][0]["message"]

    syntax = refused(world, "POST", "/rubrics/validate", 422, {**headers, "Content-Type": "application/json"},
                     content=b'{\n  "id": "x",\n  "version": \n}')
    assert syntax["problems"][0]["line"] == 4 and "JSON" in syntax["problems"][0]["message"]
    refused(world, "POST", "/rubrics/validate", 422, headers, content=b"")
    refused(world, "POST", "/rubrics/validate", 422, headers, content="标题: [".encode("utf-8"))
    refused(world, "POST", "/rubrics/validate", 422, headers, content=b"\xff\xfe not utf-8")
    refused(world, "POST", "/rubrics/validate?filename=rubric.txt", 422, headers, content=EXAMPLE.encode("utf-8"))


def test_importing_a_rubric_file_and_reading_versions_and_lineage(world):
    owner = world.auth(world.owner)
    path = f"/tenants/{TENANT}/rubrics"
    text = jingpin_file(world).encode("utf-8")

    forbidden(world, "POST", path, world.auth(world.district), ["city_owner"], content=b"not even a rubric")
    refused(world, "POST", path, 404, world.auth(world.stranger()), content=text)
    refused(world, "POST", path, 422, owner, content=text.replace(b'"max_points": 2', b'"max_points": 2.3', 1))
    refused(world, "POST", path, 422, owner, content=jingpin_file(world, version="").encode("utf-8"))

    answer = world.http.post(f"{path}?reason=区民政局发布", headers={**owner, "Content-Type": "application/json"}, content=text)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert (created["ref"], created["derived_from"]) == ("tianjin-meili@2017-jingpin.1", "tianjin-meili@2017")
    assert answer.headers["Location"] == "/rubrics/tianjin-meili?version=2017-jingpin.1"
    assert refused(world, "POST", path, 409, owner, content=text)["type"].endswith("already_exists")

    versions = world.http.get(f"/tenants/{TENANT}/rubrics/tianjin-meili/versions", headers=world.auth(world.auditor))
    assert versions.status_code == 200
    rows = {row["ref"]: row for row in versions.json()}
    own = rows["tianjin-meili@2017-jingpin.1"]
    assert own["provided_by"] == f"tenant {TENANT}" and own["reason"] == "区民政局发布"
    assert own["recorded_by"]["id"] == world.owner.id and own["derived_from"] == ["tianjin-meili@2017"]
    assert rows["tianjin-meili@2017"]["provided_by"] == "plugin tianjin_meili"

    lineage = world.http.get(f"/tenants/{TENANT}/rubrics/tianjin-meili/versions/2017-jingpin.1/lineage", headers=owner)
    assert lineage.status_code == 200
    assert [step["ref"] for step in lineage.json()] == ["tianjin-meili@2017-jingpin.1", "tianjin-meili@2017"]
    assert lineage.json()[0]["hash"] == created["hash"]

    stranger = world.auth(world.stranger())
    refused(world, "GET", f"/tenants/{TENANT}/rubrics/tianjin-meili/versions", 404, stranger)
    theirs = world.http.get("/tenants/beijing/rubrics/tianjin-meili/versions", headers=stranger).json()
    assert [row["ref"] for row in theirs] == ["tianjin-meili@2017"]
    refused(world, "GET", "/tenants/beijing/rubrics/tianjin-meili/versions/2017-jingpin.1/lineage", 404, stranger)
    refused(world, "GET", f"/tenants/{TENANT}/rubrics/no-such/versions", 404, owner)

    everyone = world.auth(Actor(id="cross", role=Role.AUDITOR, organisation="审计署", tenant="*"))
    across = world.http.get(f"/tenants/{TENANT}/rubrics/tianjin-meili/versions", headers=everyone).json()
    assert "tianjin-meili@2017-jingpin.1" in [row["ref"] for row in across]
    forbidden(world, "POST", path, everyone, ["city_owner"], content=text)


def test_plugins_are_the_same_data_as_the_command_line(world):
    answer = world.http.get("/plugins", headers=world.auth(world.auditor))
    assert answer.status_code == 200
    # a resident's token reaches public notices and objections only
    assert world.http.get("/plugins", headers=world.auth(world.resident)).status_code == 403
    listed = CliRunner().invoke(cli, ["plugins", "--json"])
    assert listed.exit_code == 0, listed.output
    assert answer.json() == json.loads(listed.output)
    names = [row["name"] for row in answer.json()["plugins"]]
    assert {"core", "tianjin_meili"} <= set(names)
