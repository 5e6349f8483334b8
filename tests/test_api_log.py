"""The transparency log over HTTP (api/routes/log.py): public signed checkpoints, consistency
and inclusion proofs and the leaves (each answer checked with core/merkle.py's verifiers
against the store's own tree), witnesses' cosignatures checked, kept beside the events and
served with their checkpoint, and a witness cosigning online, through a test client and
against a served instance."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from core import merkle, notes, signing, tlog
from core import witness as witnessing
from core.actors import Role
from core.cli import app as cli
from core.services import CivicLedger
from tests.api_support import ApiWorld, serving
from tests.helpers import TENANT, World, notification_count

ORIGIN = f"{signing.DEFAULT_NAME}/{TENANT}"
PROBLEM = "application/problem+json"
LOG = f"/tenants/{TENANT}/log"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.fixture
def world(app):
    w = ApiWorld(app)
    w.setup()
    for person in (w.owner, w.auditor, w.resident, w.inspector, w.stranger(Role.CITY_OWNER)):
        w.auth(person)  # tokens are events of the tenant's log too: issued before any size is taken
    with w.http:
        yield w


@pytest.fixture
def log_key():
    return signing.log_key()  # CIVIC_LOG_KEY_FILE of the test session (tests/conftest.py)


def grow(world: ApiWorld, code: str) -> None:
    world.app.register_community(world.district, code, f"社区{code}", "东丽区", "张贵庄街道", households=1, population=1)


def get(world: ApiWorld, path: str, who=None, **params):
    return world.http.get(path, params=params, headers=world.auth(who or world.auditor))


# -- checkpoints ---------------------------------------------------------------------------------------


def test_the_checkpoint_is_public_and_signed_over_the_current_tree(world, log_key):
    answer = world.http.get(f"{LOG}/checkpoint")  # no token
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    opened = notes.open_checkpoint(answer.content, log_key.verifier(), origin=ORIGIN)
    assert (opened.checkpoint.size, opened.checkpoint.root) == world.app.recorder.log_root(TENANT)
    assert signing.check(world.app.recorder, answer.content, log_key.verifier())["ok"]
    grow(world, "c9")
    later = notes.open_checkpoint(world.http.get(f"{LOG}/checkpoint").content, log_key.verifier()).checkpoint
    assert later.size > opened.checkpoint.size
    nowhere = world.http.get("/tenants/nowhere/log/checkpoint")
    assert nowhere.status_code == 404 and nowhere.headers["content-type"] == PROBLEM
    assert world.http.get(f"{LOG}/checkpoints/{later.size}").status_code == 404  # no witness cosigned it


# -- proofs and leaves ----------------------------------------------------------------------------------


def test_consistency_proofs_verify_between_two_signed_trees(world):
    old_size, old_root = world.app.recorder.log_root(TENANT)
    grow(world, "c9")
    grow(world, "c10")
    new_size, new_root = world.app.recorder.log_root(TENANT)
    answer = get(world, f"{LOG}/consistency", **{"from": old_size, "to": new_size})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["tenant"], body["from"], body["to"]) == (TENANT, old_size, new_size)
    proof = [unb64(h) for h in body["proof"]]
    assert proof and merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
    assert not merkle.verify_consistency(old_size, new_size, new_root, new_root, proof)
    for small in range(1, new_size):
        _, root = world.app.recorder.log_root(TENANT, small)
        hashes = [unb64(h) for h in get(world, f"{LOG}/consistency", **{"from": small, "to": new_size}).json()["proof"]]
        assert merkle.verify_consistency(small, new_size, root, new_root, hashes), small
    same = get(world, f"{LOG}/consistency", **{"from": new_size, "to": new_size}).json()
    assert same["proof"] == []


def stored_leaf(app: CivicLedger, stream: uuid.UUID, version: int) -> bytes:
    (event,) = app.recorder.select_events(stream, gt=version - 1, lte=version)
    return tlog.leaf(stream, version, event.topic, event.state)


def test_inclusion_proofs_of_every_event_verify(world):
    size, root = world.app.recorder.log_root(TENANT)
    for index, stream, version in world.app.recorder.log_leaves(TENANT):
        answer = get(world, f"{LOG}/inclusion", stream=str(stream), version=version, size=size)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        leaf = stored_leaf(world.app, stream, version)
        assert (body["index"], body["stream"], body["version"], body["size"]) == (index, str(stream), version, size)
        assert unb64(body["hash"]) == leaf
        assert merkle.verify_inclusion(leaf, index, size, [unb64(h) for h in body["proof"]], root)
    grow(world, "c9")  # the leaf index follows the log
    index, stream, version = world.app.recorder.log_leaves(TENANT)[-1]
    size, root = world.app.recorder.log_root(TENANT)
    body = get(world, f"{LOG}/inclusion", stream=str(stream), version=version, size=size).json()
    assert body["index"] == index
    assert merkle.verify_inclusion(stored_leaf(world.app, stream, version), index, size,
                                   [unb64(h) for h in body["proof"]], root)
    missing = get(world, f"{LOG}/inclusion", stream=str(uuid.uuid4()), version=1, size=size)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


def test_the_leaves_are_the_log_in_order_and_their_hashes_make_its_root(world):
    size, root = world.app.recorder.log_root(TENANT)
    body = get(world, f"{LOG}/leaves").json()
    assert (body["size"], body["start"], body["stop"]) == (size, 0, size)
    assert [(leaf["index"], leaf["stream"], leaf["version"]) for leaf in body["leaves"]] == [
        (i, str(s), v) for i, s, v in world.app.recorder.log_leaves(TENANT)]
    assert merkle.root([unb64(leaf["hash"]) for leaf in body["leaves"]]) == root
    page = get(world, f"{LOG}/leaves", start=2, stop=4).json()
    assert [leaf["index"] for leaf in page["leaves"]] == [2, 3] and page["leaves"] == body["leaves"][2:4]
    cut = get(world, f"{LOG}/leaves", start=size - 1, stop=size + 10).json()
    assert cut["stop"] == size and len(cut["leaves"]) == 1


@pytest.mark.parametrize("path, query, field", [
    ("consistency", {"from": 3, "to": 2}, "from"),
    ("consistency", {"from": 0, "to": 10**6}, "to"),
    ("consistency", {"from": -1, "to": 2}, "query.from"),
    ("consistency", {"from": "x", "to": 2}, "query.from"),
    ("consistency", {"to": 2}, "query.from"),
    ("inclusion", {"stream": "not-a-uuid", "version": 1, "size": 1}, "query.stream"),
    ("inclusion", {"stream": "LEAF", "version": 1, "size": 10**6}, "size"),
    ("inclusion", {"stream": "LAST", "version": 1, "size": 1}, "size"),
    ("inclusion", {"stream": "LEAF", "version": 0, "size": 1}, "query.version"),
    ("leaves", {"start": 10**6}, "start"),
    ("leaves", {"start": 0, "stop": 1001}, "stop"),
    ("leaves", {"start": 5, "stop": 4}, "stop"),
    ("leaves", {"start": "9" * 40}, "query.start"),
])
def test_bad_query_values_are_422_naming_the_field(world, path, query, field):
    leaves = world.app.recorder.log_leaves(TENANT)
    values = {"LEAF": str(leaves[0][1]), "LAST": str(leaves[-1][1])}
    query = {k: values.get(v, v) if isinstance(v, str) else v for k, v in query.items()}
    if query.get("stream") == values["LAST"]:
        query["version"] = leaves[-1][2]  # a leaf at the end of the log: not below size 1
    answer = get(world, f"{LOG}/{path}", **query)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == PROBLEM and problem["field"] == field
    assert problem["allowed"] and ("value" in problem) == (field.removeprefix("query.") in query)
    if "." not in field:  # the route's own refusals say what is allowed in Chinese and English
        assert chinese(problem["allowed"]) and (" from " in problem["allowed"] or " above " in problem["allowed"])


def test_proofs_need_a_token_that_may_read_the_tenant(world):
    everyone = world.auditor.model_copy(update={"tenant": "*", "id": "auditor-all"})
    for path, query in (("consistency", {"from": 0, "to": 1}), ("inclusion", {"stream": str(uuid.uuid4()), "version": 1, "size": 1}),
                        ("leaves", {})):
        assert world.http.get(f"{LOG}/{path}", params=query).status_code == 401
        assert get(world, f"{LOG}/{path}", world.resident, **query).status_code == 403
        assert get(world, f"{LOG}/{path}", world.stranger(Role.CITY_OWNER), **query).status_code == 404
        for who in (world.owner, world.inspector, everyone):
            assert get(world, f"{LOG}/{path}", who, **query).status_code in (200, 404), who
    assert get(world, f"{LOG}/leaves", everyone).status_code == 200
    assert get(world, "/tenants/*/log/leaves", world.auditor).status_code == 404  # the log `*`: auditors of every tenant


# -- witnesses' cosignatures -------------------------------------------------------------------------------


def post(world: ApiWorld, note: bytes | str, witness_key: str, who=None):
    return world.http.post(f"{LOG}/cosignatures", headers=world.auth(who or world.auditor),
                           json={"checkpoint": note.decode() if isinstance(note, bytes) else note, "witness_key": witness_key})


def side_rows(app: CivicLedger) -> int:
    with app.side.transaction() as c:
        return sum(c.query(f"SELECT count(*) FROM {app.side.table(t)}")[0][0]
                   for t in (witnessing.CHECKPOINTS_TABLE, witnessing.COSIGNATURES_TABLE))


def test_a_witness_cosignature_is_checked_kept_and_served_with_its_checkpoint(world, log_key, tmp_path):
    w1, _ = notes.generate_key("w1.example.org")
    w2, _ = notes.generate_key("w2.example.org")
    vkeys = [str(w1.cosignature_verifier()), str(w2.cosignature_verifier())]
    fresh = world.http.get(f"{LOG}/checkpoint").content
    first = witnessing.witness(fresh, w1, log_key.verifier(), tmp_path / "w1.json").note
    before = notification_count(world.app)
    answer = post(world, first, vkeys[0])
    assert answer.status_code == 201, answer.text
    size, root = world.app.recorder.log_root(TENANT)
    assert answer.headers["location"] == f"{LOG}/checkpoints/{size}"
    body = answer.json()
    assert (body["origin"], body["size"], body["root"], body["witness"]) == (ORIGIN, size, b64(root), "w1.example.org")
    assert (body["recorded"], body["cosignatures"]) == (True, 1)
    assert notification_count(world.app) == before  # kept beside the events, never as one
    served = world.http.get(f"{LOG}/checkpoint").content
    assert notes.open_checkpoint(served, log_key.verifier(), witnesses=vkeys[:1], k=1).cosignatures
    # the second witness cosigns what is served (with the first one's line) and posts it
    second = witnessing.witness(served, w2, log_key.verifier(), tmp_path / "w2.json").note
    assert post(world, second, vkeys[1]).json()["cosignatures"] == 2
    again = post(world, first, vkeys[0])  # an older cosignature by the same key changes nothing
    assert again.status_code == 201 and (again.json()["recorded"], again.json()["cosignatures"]) == (False, 2)
    stored = world.http.get(f"{LOG}/checkpoints/{size}")
    assert stored.status_code == 200 and stored.headers["content-type"] == "text/plain; charset=utf-8"
    assert witnessing.check_cosignatures(stored.content, vkeys)["ok"]
    assert witnessing.check_cosignatures(world.http.get(f"{LOG}/checkpoint").content, vkeys)["ok"]
    grow(world, "c9")  # a new tree: not cosigned yet; the cosigned one is still served by its size
    assert not witnessing.check_cosignatures(world.http.get(f"{LOG}/checkpoint").content, vkeys, 1)["ok"]
    assert world.http.get(f"{LOG}/checkpoints/{size}").content == stored.content


def test_bad_submissions_are_422_naming_the_field_and_nothing_is_kept(world, log_key, plugins, tmp_path):
    witness_signer, _ = notes.generate_key("w1.example.org")
    vkey = str(witness_signer.cosignature_verifier())
    fresh = world.http.get(f"{LOG}/checkpoint").content
    good = notes.cosign(fresh, witness_signer)
    impostor, _ = notes.generate_key(signing.DEFAULT_NAME)
    other = CivicLedger("memory://", plugins=plugins)
    try:
        World(other).setup()
        same_size_fork = notes.cosign(signing.checkpoint(other.recorder, TENANT, log_key), witness_signer)
        for code in ("x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"):
            grow(World(other), code)
        beyond = notes.cosign(signing.checkpoint(other.recorder, TENANT, log_key), witness_signer)
    finally:
        other.close()
    other_tenant = notes.cosign(notes.sign(notes.Checkpoint(f"{signing.DEFAULT_NAME}/beijing", 1, merkle.EMPTY_ROOT)
                                           .body(), log_key), witness_signer)
    someone_else, _ = notes.generate_key("w2.example.org")
    cases = [
        (notes.cosign(signing.checkpoint(world.app.recorder, TENANT, impostor), witness_signer), vkey, "checkpoint"),
        (same_size_fork, vkey, "checkpoint"),
        (beyond, vkey, "checkpoint"),
        (other_tenant, vkey, "checkpoint"),
        (fresh, vkey, "checkpoint"),  # not cosigned at all
        (notes.cosign(fresh, someone_else), vkey, "checkpoint"),  # cosigned by another witness
        (good, "not a key", "witness_key"),
        (good, str(log_key.verifier()), "witness_key"),  # the log's own key is no witness key
        ("just text", vkey, "checkpoint"),
    ]
    before = notification_count(world.app)
    for note, key, field in cases:
        answer = post(world, note, key)
        assert answer.status_code == 422, (field, answer.text)
        problem = answer.json()
        assert problem["field"] == field and problem["value"] and chinese(problem["allowed"]), problem
    assert world.http.post(f"{LOG}/cosignatures", headers=world.auth(world.auditor),
                           json={"checkpoint": good.decode()}).status_code == 422  # no witness_key
    assert notification_count(world.app) == before
    assert side_rows(world.app) == 0
    assert world.http.get(f"{LOG}/checkpoints/{world.app.recorder.log_size(TENANT)}").status_code == 404
    assert post(world, good, vkey, world.resident).status_code == 403
    assert post(world, good, vkey, world.stranger(Role.CITY_OWNER)).status_code == 404
    assert side_rows(world.app) == 0
    assert post(world, good, vkey).status_code == 201


def test_a_witness_key_name_and_id_stay_bound_to_the_first_key(world, log_key):
    witness_signer, _ = notes.generate_key("w1.example.org")
    vkey = str(witness_signer.cosignature_verifier())
    note = notes.cosign(world.http.get(f"{LOG}/checkpoint").content, witness_signer)
    assert post(world, note, vkey).status_code == 201
    table = world.app.side.table(witnessing.COSIGNATURES_TABLE)
    with world.app.side.transaction() as c:  # as if another key with this name and key id had come first
        c.execute(f"UPDATE {table} SET witness_key = ?", ("w1.example.org+00000000+BAAA",))
    refused = post(world, note, vkey)
    assert refused.status_code == 422 and refused.json()["field"] == "witness_key"


def test_without_a_log_key_no_submission_is_the_logs_and_no_key_is_written(world, log_key, monkeypatch, tmp_path):
    witness_signer, _ = notes.generate_key("w1.example.org")
    note = notes.cosign(world.http.get(f"{LOG}/checkpoint").content, witness_signer)
    missing = tmp_path / "none" / "log.key"
    monkeypatch.setenv("CIVIC_LOG_KEY_FILE", str(missing))
    answer = post(world, note, str(witness_signer.cosignature_verifier()))
    assert answer.status_code == 422 and answer.json()["field"] == "checkpoint" and not missing.exists()
    assert side_rows(world.app) == 0


# -- a witness online ------------------------------------------------------------------------------------


def client_transport(client: TestClient, token: str) -> witnessing.Transport:
    """core.witness's transport over a test client."""

    def send(method, path, query, body, auth):  # noqa: ANN001, ANN202
        headers = {"Authorization": f"Bearer {token}"} if auth else {}
        answer = client.request(method, path, params=query, json=body, headers=headers)
        return answer.status_code, answer.headers.get("content-type", ""), answer.content

    return send


def test_a_witness_online_cosigns_a_growing_log_and_refuses_a_forked_server(world, log_key, plugins, tmp_path):
    token = world.tokens[(TENANT, Role.AUDITOR.value, world.auditor.id)]
    server = witnessing.LogServer(client_transport(world.http, token), TENANT)
    signer, _ = notes.generate_key("auditor.example.org")
    vkey = str(signer.cosignature_verifier())
    state = tmp_path / "state.json"
    first, answer = witnessing.witness_online(server, signer, log_key.verifier(), state)
    assert first.first_use and answer["cosignatures"] == 1
    grow(world, "c9")
    second, answer = witnessing.witness_online(server, signer, log_key.verifier(), state)
    assert not second.first_use and second.previous.size == first.checkpoint.size < second.checkpoint.size
    assert answer["recorded"] and answer["size"] == world.app.recorder.log_size(TENANT)
    served = world.http.get(f"{LOG}/checkpoint").content
    assert notes.open_checkpoint(served, log_key.verifier(), witnesses=[vkey], k=1).checkpoint == second.checkpoint

    # another server with the same key and tenant and another history
    forked = CivicLedger("memory://", plugins=plugins)
    try:
        other = ApiWorld(forked)
        other.setup()
        for code in ("c9", "c10", "c11", "c12"):
            grow(other, code)
        other.auth(other.auditor)
        other_token = other.tokens[(TENANT, Role.AUDITOR.value, other.auditor.id)]
        before = state.read_bytes()
        with other.http:
            with pytest.raises(witnessing.Fork) as caught:
                witnessing.witness_online(witnessing.LogServer(client_transport(other.http, other_token), TENANT),
                                          signer, log_key.verifier(), state)
            assert caught.value.kind == "fork" and caught.value.last.size == second.checkpoint.size
            assert other.http.get(f"{LOG}/checkpoints/{forked.recorder.log_size(TENANT)}").status_code == 404
        assert state.read_bytes() == before
    finally:
        forked.close()


@pytest.fixture
def served(world):
    """The application over the test's ledger, served by uvicorn on a free port."""
    with serving(create_app(world.app)) as port:
        yield f"http://127.0.0.1:{port}"


def test_the_witness_command_online_against_a_served_instance(world, served, log_key, tmp_path):
    runner = CliRunner()
    key = tmp_path / "w.key"
    made = runner.invoke(cli, ["audit", "witness-key", "--name", "auditor.example.org", "--out", str(key)])
    vkey = made.stdout.strip()
    token = world.tokens[(TENANT, Role.AUDITOR.value, world.auditor.id)]
    command = ["audit", "witness", "--url", served, "--tenant", TENANT, "--key", str(key),
               "--log-key", str(log_key.verifier()), "--state", str(tmp_path / "state.json")]
    first = runner.invoke(cli, [*command, "--token", token, "--out", str(tmp_path / "first")])
    assert first.exit_code == 0, first.output
    assert "trusted on first use" in first.stderr and "submitted" in first.stderr
    grow(world, "c9")
    second = runner.invoke(cli, command, env={witnessing_token_env(): token})
    assert second.exit_code == 0, second.output
    cosigned = notes.open_checkpoint(second.stdout.encode(), log_key.verifier(), witnesses=[vkey], k=1)
    assert (cosigned.checkpoint.size, cosigned.checkpoint.root) == world.app.recorder.log_root(TENANT)
    served_now = world.http.get(f"{LOG}/checkpoint").content
    assert witnessing.check_cosignatures(served_now, [vkey])["ok"]
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["logs"][ORIGIN]["size"] == cosigned.checkpoint.size
    refused = runner.invoke(cli, [*command, "--token", "civic_" + "x" * 43])
    assert refused.exit_code == 1 and "401" in refused.output


def witnessing_token_env() -> str:
    from core.cli_witness import TOKEN_ENV

    return TOKEN_ENV
