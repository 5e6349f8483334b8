"""Every public notice and decision outcome carries the signed checkpoint that covers it:
the root a municipality publishes with its 公示 is the root auditors hold."""

from __future__ import annotations

import base64
from uuid import UUID

import pytest

from core import merkle, notes, signing
from tests.api_support import ApiWorld
from tests.test_lifecycle import run_to_decision


@pytest.fixture
def decided(app) -> tuple[ApiWorld, dict]:
    world = ApiWorld(app)
    ids = run_to_decision(world)
    app.decide(world.owner, ids["campaign"], on="2020-11-20")
    return world, ids


def assert_covers(app, checkpoint: dict, tenant: str, streams: list[str]) -> None:
    opened = notes.open_checkpoint(checkpoint["note"].encode("utf-8"), signing.log_key().verifier())
    cp = opened.checkpoint
    assert cp.origin == checkpoint["origin"] == signing.origin(signing.log_name(), tenant)
    assert cp.size == checkpoint["size"] and base64.b64encode(cp.root).decode() == checkpoint["root"]
    assert app.recorder.log_root(tenant, cp.size)[1] == cp.root
    # every event of the streams the answer rests on is among the checkpoint's leaves
    covered = {(str(s), v) for _, s, v in app.recorder.log_leaves(tenant, 0, cp.size)}
    for stream in streams:
        record = app.repository.get(UUID(stream))
        assert (stream, record.version) in covered, stream


def test_the_notice_its_list_and_the_outcome_carry_a_covering_checkpoint(decided):
    world, ids = decided
    auditor = world.auth(world.auditor)
    for path in (f"/campaigns/{ids['campaign']}/notice", f"/campaigns/{ids['campaign']}/notice/list",
                 f"/campaigns/{ids['campaign']}/outcome"):
        answer = world.http.get(path, headers=auditor)
        assert answer.status_code == 200, answer.text
        assert_covers(world.app, answer.json()["checkpoint"], world.owner.tenant, [ids["campaign"], ids["c1"]])


def test_a_resident_sees_the_checkpoint_of_the_notice_too(decided):
    world, ids = decided
    answer = world.http.get(f"/campaigns/{ids['campaign']}/notice", headers=world.auth(world.resident))
    assert answer.status_code == 200, answer.text
    checkpoint = answer.json()["checkpoint"]
    assert checkpoint["note"].startswith(checkpoint["origin"] + "\n")
    # a later write grows the log: the published checkpoint is a prefix of it
    world.app.issue_token("tests", world.owner.tenant, "auditor", "late-auditor", "审计")
    size, root = world.app.recorder.log_root(world.owner.tenant)
    assert size > checkpoint["size"]
    proof = world.app.recorder.consistency_proof(world.owner.tenant, checkpoint["size"], size)
    assert merkle.verify_consistency(checkpoint["size"], size, base64.b64decode(checkpoint["root"]), root, proof)
