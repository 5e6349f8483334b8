"""The HTTP interface's foundations: tokens, problem documents, safe retries, If-Match."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from core.actors import Role
from core.cli import app as cli
from core.errors import InvalidInput, NotFound, RuleViolation
from core.services import CivicLedger
from core.services.tokens import token_digest
from tests.api_support import ApiWorld
from tests.helpers import notification_count

COMMUNITY = {"code": "c9", "name": "新社区", "district": "东丽区", "street": "张贵庄街道", "households": 10, "population": 20}


@pytest.fixture
def world(app) -> ApiWorld:
    w = ApiWorld(app)
    w.setup()
    return w


# -- tokens ------------------------------------------------------------------------------------


def test_a_token_acts_as_its_person_and_only_its_hash_is_recorded(world):
    app = world.app
    token_id, token = app.issue_token("ops", "tianjin", "assessor", "评估员甲", "市评估组")
    me = world.http.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json() == {"id": "评估员甲", "role": "assessor", "role_label": "评估组", "organisation": "市评估组", "tenant": "tianjin"}
    stored = b"".join(bytes(e.state) for e in app.recorder.select_events(__import__("uuid").UUID(token_id)))
    assert token.encode() not in stored and token_digest(token).encode() in stored
    app.revoke_token("ops", token_id, "调离")
    assert world.http.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with pytest.raises(RuleViolation):
        app.revoke_token("ops", token_id, "again")


def test_a_token_revoked_elsewhere_is_refused_on_the_next_request(world, store_url, plugins):
    """Two servers on one store (two worker processes): each keeps the token's record in
    its aggregate cache, and a revocation through one is refused by the other at once."""
    if store_url == "memory://":
        pytest.skip("a memory store is not shared between ledgers")
    other = CivicLedger(store_url, plugins=plugins)
    try:
        second = TestClient(create_app(other), raise_server_exceptions=False)
        token_id, token = world.app.issue_token("ops", "tianjin", "assessor", "评估员乙", "市评估组")
        bearer = {"Authorization": f"Bearer {token}"}
        for _ in range(2):  # the second answer comes from each server's cached record
            assert world.http.get("/me", headers=bearer).status_code == 200
            assert second.get("/me", headers=bearer).status_code == 200
        other.revoke_token("ops", token_id, "调离")
        assert second.get("/me", headers=bearer).status_code == 401
        assert world.http.get("/me", headers=bearer).status_code == 401
        assert world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=bearer).status_code == 401
    finally:
        other.close()


def test_token_requests_are_checked_and_record_nothing_when_refused(world):
    app = world.app
    before = notification_count(app)
    with pytest.raises(InvalidInput, match="role"):
        app.issue_token("ops", "tianjin", "mayor", "x")
    with pytest.raises(InvalidInput, match="auditors only"):
        app.issue_token("ops", "*", "city_owner", "x")
    with pytest.raises(NotFound):
        app.issue_token("ops", "nowhere", "assessor", "x")
    # a new municipality starts with its city owner's token
    _, first = app.issue_token("ops", "nowhere", "city_owner", "新市主任")
    assert app.actor_for_token(first).tenant == "nowhere"
    before = notification_count(app)
    with pytest.raises(InvalidInput, match="name"):
        app.issue_token("ops", "tianjin", "assessor", "  ")
    assert notification_count(app) == before
    registered = world.http.post("/tenants", json={"code": "nowhere", "name": "新市"},
                                 headers={"Authorization": f"Bearer {first}"})
    assert registered.status_code == 201, registered.text
    _, all_tenants = app.issue_token("ops", "*", "auditor", "总审计")
    assert app.actor_for_token(all_tenants).tenant == "*"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "Bearer civic_" + "x" * 43])
def test_missing_or_bad_tokens_get_401_problems(world, header):
    headers = {"Authorization": header} if header is not None else {}
    answer = world.http.get("/me", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/unauthenticated") and "WWW-Authenticate" in answer.headers


def test_token_cli_creates_lists_and_revokes(tmp_path):
    env = {"CIVIC_DATABASE_URL": f"sqlite:///{tmp_path}/t.sqlite3"}
    runner = CliRunner()
    assert runner.invoke(cli, ["demo", "bazhong-2020"], env=env).exit_code == 0
    created = runner.invoke(cli, ["token", "create", "--tenant", "demo-bazhong", "--role", "assessor", "--name", "甲", "--json"], env=env)
    assert created.exit_code == 0, created.output
    data = json.loads(created.stdout)
    assert data["token"].startswith("civic_")
    listed = json.loads(runner.invoke(cli, ["token", "list", "--tenant", "demo-bazhong", "--json"], env=env).stdout)
    assert [(t["id"], t["name"], t["revoked"]) for t in listed] == [(data["id"], "甲", None)]
    assert data["token"] not in json.dumps(listed)
    bad = runner.invoke(cli, ["token", "create", "--tenant", "demo-bazhong", "--role", "king", "--name", "x"], env=env)
    assert bad.exit_code == 1 and "role" in bad.output
    assert runner.invoke(cli, ["token", "revoke", data["id"], "--reason", "离职"], env=env).exit_code == 0
    listed = json.loads(runner.invoke(cli, ["token", "list", "--tenant", "demo-bazhong", "--json"], env=env).stdout)
    assert listed[0]["revoked"]["reason"] == "离职"


# -- problems ------------------------------------------------------------------------------------


def test_unknown_paths_and_methods_are_problem_documents(world):
    for answer in (world.http.get("/no/such/path"), world.http.put("/health")):
        assert answer.status_code in (404, 405)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == answer.status_code


def _request_schemas(spec: dict) -> set[str]:
    """The names of the component schemas a request body uses (directly or nested)."""
    found: set[str] = set()
    pending = [op["requestBody"] for ops in spec["paths"].values() for op in ops.values() if "requestBody" in op]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] not in found:
                found.add(ref.rsplit("/", 1)[1])
                pending.append(spec["components"]["schemas"][ref.rsplit("/", 1)[1]])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def test_openapi_describes_every_request_field_in_chinese_and_english(world):
    spec = world.http.get("/openapi.json").json()
    assert spec["info"]["title"].startswith("Civic Ledger")
    undescribed = []
    requests = _request_schemas(spec)
    assert {"CampaignCreation", "ScoreSheetIn", "EvidenceRef"} <= requests
    for name, schema in spec["components"]["schemas"].items():
        if name not in requests or "properties" not in schema:
            continue
        for field, prop in schema["properties"].items():
            text = prop.get("description", "")
            if not text or not any("\u4e00" <= ch <= "\u9fff" for ch in text) or not any(ch.isascii() and ch.isalpha() for ch in text):
                undescribed.append(f"{name}.{field}")
            if "examples" not in prop and "example" not in prop:
                undescribed.append(f"{name}.{field} (no example)")
    assert undescribed == []
    assert world.http.get("/docs").status_code == 200


# -- safe retries -----------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_answer_and_records_nothing(world):
    headers = world.auth(world.district, **{"Idempotency-Key": "reg-c9"})
    first = world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=headers)
    assert first.status_code == 201, first.text
    recorded = notification_count(world.app)
    again = world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert notification_count(world.app) == recorded
    changed = world.http.post("/tenants/tianjin/communities", json={**COMMUNITY, "name": "别的社区"}, headers=headers)
    assert changed.status_code == 422 and changed.json()["field"] == "Idempotency-Key"
    assert notification_count(world.app) == recorded
    # without a key, the same request is a new one (and here refused: the code exists)
    assert world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=world.auth(world.district)).status_code == 409


def test_keys_are_per_token_and_a_refused_first_answer_is_replayed_too(world):
    key = {"Idempotency-Key": "k-1"}
    refused = world.http.post("/tenants/tianjin/communities", json={**COMMUNITY, "households": -1},
                              headers=world.auth(world.district, **key))
    assert refused.status_code == 422
    replay = world.http.post("/tenants/tianjin/communities", json={**COMMUNITY, "households": -1},
                             headers=world.auth(world.district, **key))
    assert (replay.status_code, replay.json()) == (422, refused.json())
    owner = world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=world.auth(world.owner, **key))
    assert owner.status_code == 201  # another token: another key space
    bad_key = world.http.post("/tenants/tianjin/communities", json=COMMUNITY,
                              headers=world.auth(world.owner, **{"Idempotency-Key": "has space"}))
    assert bad_key.status_code == 422 and bad_key.json()["field"] == "Idempotency-Key"


# -- If-Match --------------------------------------------------------------------------------------


def test_if_match_guards_a_write_and_a_stale_version_records_nothing(world):
    community = world.communities["c1"]
    got = world.http.get(f"/communities/{community}", headers=world.auth(world.district))
    assert got.status_code == 200
    version = int(got.headers["ETag"].strip('"'))
    body = {"changes": {"population": 3100}, "reason": "人口普查"}
    stale = world.http.post(f"/communities/{community}/corrections", json=body,
                            headers=world.auth(world.district, **{"If-Match": f'"{version + 5}"'}))
    assert stale.status_code == 409 and stale.json()["type"].endswith("/version_conflict")
    assert world.app.community(world.district, community).version == version
    ok = world.http.post(f"/communities/{community}/corrections", json=body,
                         headers=world.auth(world.district, **{"If-Match": f'"{version}"'}))
    assert ok.status_code == 200, ok.text
    garbage = world.http.post(f"/communities/{community}/corrections", json=body,
                              headers=world.auth(world.district, **{"If-Match": "yesterday"}))
    assert garbage.status_code == 422 and garbage.json()["field"] == "If-Match"


def test_an_auditor_token_reads_but_cannot_write(world):
    answer = world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=world.auth(world.auditor))
    assert answer.status_code == 403
    assert "district_officer" in answer.json()["detail"] and answer.json()["allowed_roles"]
    assert world.http.get(f"/communities/{world.communities['c1']}", headers=world.auth(world.auditor)).status_code == 200
    assert Role.AUDITOR.value == "auditor"
