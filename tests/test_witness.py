"""Witnesses (core/witness.py; ``civic audit witness-key``, ``witness`` and ``check-checkpoint
--witness``): a witness cosigns a tenant's checkpoint only after the log's signature and a
consistency proof from the last tree it cosigned verify, refuses forks and rollbacks (exit 3,
nothing written), and a checkpoint can be required to carry k of n named cosignatures."""

from __future__ import annotations

import base64
import json
import os

import pytest
from typer.testing import CliRunner

from core import notes, signing
from core import witness as witnessing
from core.cli import app as cli
from core.errors import InvalidInput
from core.services import CivicLedger
from tests.helpers import TENANT, World

ORIGIN = f"{signing.DEFAULT_NAME}/{TENANT}"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class Log:
    """A tenant's log on a store, its signing key, and files in a temporary directory."""

    def __init__(self, ledger: CivicLedger, signer: notes.SignerKey, tmp_path) -> None:
        self.ledger = ledger
        self.signer = signer
        self.tmp = tmp_path
        self.grown = 0

    @property
    def vkey(self) -> str:
        return str(self.signer.verifier())

    def size_root(self) -> tuple[int, bytes]:
        return self.ledger.recorder.log_root(TENANT)

    def checkpoint(self, name: str) -> str:
        path = self.tmp / name
        path.write_bytes(signing.checkpoint(self.ledger.recorder, TENANT, self.signer))
        return str(path)

    def proof(self, name: str, old: int, new: int, recorder=None) -> str:
        """A proof file as GET /tenants/{tenant}/log/consistency answers it."""
        recorder = recorder or self.ledger.recorder
        path = self.tmp / name
        path.write_text(json.dumps({"tenant": TENANT, "from": old, "to": new,
                                    "proof": [b64(h) for h in recorder.consistency_proof(TENANT, old, new)]}))
        return str(path)

    def grow(self, ledger: CivicLedger | None = None) -> None:
        """Record one more event of the tenant (a new community)."""
        ledger = ledger or self.ledger
        self.grown += 1
        code = f"g{self.grown}"
        ledger.register_community(World(ledger).district, code, f"新增社区{self.grown}", "东丽区", "张贵庄街道",
                                  households=10, population=20)


@pytest.fixture
def log(app, tmp_path):
    World(app).setup()
    return Log(app, signing.log_key(tmp_path / "log.key"), tmp_path)


@pytest.fixture
def forked(log, plugins):
    """Another history of the same tenant, signed with the same log key (what a log operator
    who rewrites history shows one witness): the same commands at other times."""
    other = CivicLedger("memory://", plugins=plugins)
    World(other).setup()
    yield other
    other.close()


def make_key(tmp_path, name: str) -> tuple[str, str]:
    """(key file, verifier key) of a new witness, through `civic audit witness-key`."""
    path = tmp_path / f"{name}.key"
    made = CliRunner().invoke(cli, ["audit", "witness-key", "--name", name, "--out", str(path)])
    assert made.exit_code == 0, made.output
    return str(path), made.stdout.strip()


def run_witness(log: Log, key: str, checkpoint: str, *extra: str):
    return CliRunner().invoke(cli, ["audit", "witness", checkpoint, "--key", key, "--log-key", log.vkey,
                                    "--state", str(log.tmp / "state.json"), *extra])


def state_of(log: Log) -> dict:
    return json.loads((log.tmp / "state.json").read_text())


def cosigned_by(note: bytes, log: Log, *witness_keys: str) -> notes.VerifiedCheckpoint:
    return notes.open_checkpoint(note, log.vkey, origin=ORIGIN, witnesses=witness_keys, k=len(witness_keys))


# -- the witness's key --------------------------------------------------------------------------------


def test_a_witness_key_is_a_private_file_never_overwritten_and_its_verifier_key_is_printed(tmp_path):
    path, vkey = make_key(tmp_path, "auditor.example.org")
    printed = notes.VerifierKey.parse(vkey)
    assert printed.signature_type == notes.SIGNATURE_COSIGNATURE_V1 and printed.name == "auditor.example.org"
    assert os.stat(path).st_mode & 0o777 == 0o600
    text = open(path, encoding="utf-8").read()
    assert text.startswith("PRIVATE+KEY+auditor.example.org+")
    assert notes.parse_signer_key(text.strip()).cosignature_verifier() == printed
    again = CliRunner().invoke(cli, ["audit", "witness-key", "--name", "other", "--out", path])
    assert again.exit_code == 1 and "--out" in again.output and open(path, encoding="utf-8").read() == text
    bad = CliRunner().invoke(cli, ["audit", "witness-key", "--name", "two words", "--out", str(tmp_path / "x.key")])
    assert bad.exit_code == 1 and "--name" in bad.output and not (tmp_path / "x.key").exists()


# -- cosigning a log that grows -------------------------------------------------------------------------


def test_the_first_checkpoint_is_trusted_on_first_use_and_a_grown_log_is_cosigned_after_its_proof(log):
    key, vkey = make_key(log.tmp, "w1")
    first = run_witness(log, key, log.checkpoint("cp1"), "--out", str(log.tmp / "cp1.cosigned"))
    assert first.exit_code == 0, first.output
    assert "trusted on first use" in first.stderr and "首次" in first.stderr
    size1, root1 = log.size_root()
    assert cosigned_by((log.tmp / "cp1.cosigned").read_bytes(), log, vkey).checkpoint.size == size1
    entry = state_of(log)["logs"][ORIGIN]
    assert (entry["size"], entry["root"], entry["log_key"]) == (size1, b64(root1), log.vkey)
    assert state_of(log)["witness"] == vkey

    log.grow()
    log.grow()
    size2, root2 = log.size_root()
    assert size2 > size1
    before = (log.tmp / "state.json").read_bytes()
    needs = run_witness(log, key, log.checkpoint("cp2"))
    assert needs.exit_code == 1 and f"from {size1} to {size2}" in needs.output
    assert (log.tmp / "state.json").read_bytes() == before
    wrong = run_witness(log, key, log.checkpoint("cp2"), "--proof", log.proof("p0", 1, size2))
    assert wrong.exit_code == 1 and "--proof" in wrong.output and (log.tmp / "state.json").read_bytes() == before

    grown = run_witness(log, key, log.checkpoint("cp2"), "--proof", log.proof("p12", size1, size2))
    assert grown.exit_code == 0, grown.output
    assert f"consistent with the {size1} leaves" in grown.stderr
    opened = cosigned_by(grown.stdout.encode(), log, vkey)
    assert (opened.checkpoint.size, opened.checkpoint.root) == (size2, root2)
    assert state_of(log)["logs"][ORIGIN]["size"] == size2

    again = run_witness(log, key, log.checkpoint("cp2"))  # the same tree: cosigned again, no proof needed
    assert again.exit_code == 0 and "again" in again.stderr


def test_a_note_the_log_key_did_not_sign_is_not_cosigned(log):
    key, _ = make_key(log.tmp, "w1")
    impostor, _ = notes.generate_key(signing.DEFAULT_NAME)
    path = log.tmp / "forged"
    path.write_bytes(signing.checkpoint(log.ledger.recorder, TENANT, impostor))
    refused = run_witness(log, key, str(path))
    assert refused.exit_code == 1 and "CHECKPOINT_FILE" in refused.output
    assert not (log.tmp / "state.json").exists()


def test_a_state_file_is_never_reset_nor_shared_by_another_witness(log):
    key1, _ = make_key(log.tmp, "w1")
    key2, _ = make_key(log.tmp, "w2")
    assert run_witness(log, key1, log.checkpoint("cp")).exit_code == 0
    other = run_witness(log, key2, log.checkpoint("cp"))
    assert other.exit_code == 1 and "--state" in other.output
    (log.tmp / "state.json").write_text("{not json")
    broken = run_witness(log, key1, log.checkpoint("cp"))
    assert broken.exit_code == 1 and (log.tmp / "state.json").read_text() == "{not json"


# -- forks and rollbacks ---------------------------------------------------------------------------------


def refused_loudly(result, log: Log, kind: str, before: bytes, last: tuple[int, bytes], new: tuple[int, bytes]) -> None:
    assert result.exit_code == witnessing.EXIT_FORK == 3, result.output
    text = result.stderr
    assert text.startswith({"fork": "分叉", "rollback": "回滚"}[kind]) and kind.upper() in text
    for shown in (ORIGIN, f"{last[0]} leaves, root {b64(last[1])}", f"{new[0]} leaves, root {b64(new[1])}",
                  "nothing was written"):
        assert shown in text
    assert result.stdout == ""
    assert (log.tmp / "state.json").read_bytes() == before


def test_a_fork_at_the_same_size_is_refused_with_exit_3_and_nothing_written(log, forked):
    key, _ = make_key(log.tmp, "w1")
    assert run_witness(log, key, log.checkpoint("ours")).exit_code == 0
    before = (log.tmp / "state.json").read_bytes()
    theirs = log.tmp / "theirs"
    theirs.write_bytes(signing.checkpoint(forked.recorder, TENANT, log.signer))
    fork = forked.recorder.log_root(TENANT)
    assert fork[0] == log.size_root()[0] and fork[1] != log.size_root()[1]
    result = run_witness(log, key, str(theirs), "--out", str(log.tmp / "never"))
    refused_loudly(result, log, "fork", before, log.size_root(), fork)
    assert "another root" in result.stderr and not (log.tmp / "never").exists()


def test_rewritten_history_at_a_larger_size_is_a_fork_its_proof_does_not_verify(log, forked):
    key, _ = make_key(log.tmp, "w1")
    assert run_witness(log, key, log.checkpoint("ours")).exit_code == 0
    before = (log.tmp / "state.json").read_bytes()
    ours = log.size_root()
    log.grow(forked)
    theirs = log.tmp / "theirs"
    theirs.write_bytes(signing.checkpoint(forked.recorder, TENANT, log.signer))
    fork = forked.recorder.log_root(TENANT)
    assert fork[0] > ours[0]
    # the forked log's own proof from our size: it proves its own prefix, not ours
    proof = log.proof("theirs.proof", ours[0], fork[0], recorder=forked.recorder)
    result = run_witness(log, key, str(theirs), "--proof", proof)
    refused_loudly(result, log, "fork", before, ours, fork)
    assert f"from {ours[0]} to {fork[0]} leaves does not verify" in result.stderr


def test_a_smaller_tree_is_a_rollback_when_consistent_and_a_fork_otherwise(log):
    key, _ = make_key(log.tmp, "w1")
    old_checkpoint, old = log.checkpoint("old"), log.size_root()
    log.grow()
    assert run_witness(log, key, log.checkpoint("new")).exit_code == 0  # first use at the larger size
    new = log.size_root()
    before = (log.tmp / "state.json").read_bytes()
    rollback = run_witness(log, key, old_checkpoint, "--proof", log.proof("p", old[0], new[0]))
    refused_loudly(rollback, log, "rollback", before, new, old)
    assert "a log never shrinks" in rollback.stderr
    unproven = run_witness(log, key, old_checkpoint)
    refused_loudly(unproven, log, "fork", before, new, old)
    assert "smaller" in unproven.stderr


def test_the_core_refuses_forks_with_the_sizes_and_roots(log, forked):
    """The same refusals from Python: :class:`core.witness.Fork` with its kind and both trees."""
    witness_signer, _ = notes.generate_key("w-core")
    state = log.tmp / "core-state.json"
    ours = signing.checkpoint(log.ledger.recorder, TENANT, log.signer)
    witnessing.witness(ours, witness_signer, log.vkey, state, now=1000)
    theirs = signing.checkpoint(forked.recorder, TENANT, log.signer)
    with pytest.raises(witnessing.Fork) as caught:
        witnessing.witness(theirs, witness_signer, log.vkey, state, now=1001)
    assert caught.value.kind == "fork" and caught.value.last.size == caught.value.checkpoint.size
    assert caught.value.last.root == log.size_root()[1] and caught.value.checkpoint.root == forked.recorder.log_root(TENANT)[1]
    assert json.loads(state.read_text())["logs"][ORIGIN]["timestamp"] == 1000


# -- k of n ---------------------------------------------------------------------------------------------------


@pytest.fixture
def witnessed(log):
    """The log's checkpoint cosigned by w1 only, by w1 and w2, and by w3 only (each witness
    through the witness's own checks, each with its own state)."""
    keys = {name: notes.generate_key(name)[0] for name in ("w1", "w2", "w3")}
    note = signing.checkpoint(log.ledger.recorder, TENANT, log.signer)

    def cosign(n: bytes, name: str) -> bytes:
        return witnessing.witness(n, keys[name], log.vkey, log.tmp / f"{name}.state").note

    w1 = cosign(note, "w1")
    both = cosign(w1, "w2")
    w3 = cosign(note, "w3")
    vkeys = {name: str(k.cosignature_verifier()) for name, k in keys.items()}
    return log, vkeys, {"w1": w1, "both": both, "w3": w3}


def test_k_of_n_named_witnesses(witnessed):
    log, vkeys, cosigned = witnessed
    two = [vkeys["w1"], vkeys["w2"]]
    met = witnessing.check_cosignatures(cosigned["both"], two)
    assert met["ok"] and met["required"] == 2 and [w["status"] for w in met["witnesses"]] == ["cosigned", "cosigned"]
    short = witnessing.check_cosignatures(cosigned["w1"], two)
    assert not short["ok"] and [w["status"] for w in short["witnesses"]] == ["cosigned", "missing"]
    assert "cosigned by 1 of the 2 named witnesses (w1); 2 are required" in short["problems"][0]
    assert witnessing.check_cosignatures(cosigned["w1"], two, 1)["ok"]
    unknown = witnessing.check_cosignatures(cosigned["w3"], two, 1)  # cosigned, but by a key nobody named
    assert not unknown["ok"] and unknown["cosigned"] == 0
    line = next(x for x in cosigned["both"].decode().splitlines() if x.startswith("— w1 "))
    payload = bytearray(base64.b64decode(line.split(" ")[2]))
    payload[-1] ^= 1
    forged = cosigned["both"].decode().replace(line, f"— w1 {b64(bytes(payload))}").encode()
    tampered = witnessing.check_cosignatures(forged, two, 1)
    assert not tampered["ok"] and tampered["witnesses"][0]["status"] == "invalid"
    with pytest.raises(InvalidInput) as caught:
        witnessing.check_cosignatures(cosigned["both"], two, 3)
    assert caught.value.field == "--require"
    with pytest.raises(InvalidInput) as caught:
        witnessing.check_cosignatures(cosigned["both"], [log.vkey])  # the log's key is no witness key
    assert caught.value.field == "--witness"


def test_check_checkpoint_requires_k_of_the_named_witnesses(witnessed, store_url):
    if store_url == "memory://":
        pytest.skip("the command line opens the store by its URL; a memory store is the process's own")
    log, vkeys, cosigned = witnessed
    env = {"CIVIC_DATABASE_URL": store_url}
    files = {}
    for name, note in cosigned.items():
        files[name] = log.tmp / f"{name}.checkpoint"
        files[name].write_bytes(note)

    def check(name: str, *options: str):
        return CliRunner().invoke(cli, ["audit", "check-checkpoint", str(files[name]), "--log-key", log.vkey,
                                        *options], env=env)

    both = ["--witness", vkeys["w1"], "--witness", vkeys["w2"]]
    met = check("both", *both)
    assert met.exit_code == 0, met.output
    assert "2 of 2 cosigned, 2 required" in met.stdout and "已副署 cosigned: w1" in met.stdout
    short = check("w1", *both)
    assert short.exit_code == 1 and "未副署 did not cosign: w2" in short.stdout and "2 are required" in short.stdout
    one = check("w1", *both, "--require", "1", "--json")
    assert one.exit_code == 0, one.output
    verdict = json.loads(one.stdout)
    assert verdict["ok"] and verdict["required"] == 1
    assert [(w["name"], w["status"]) for w in verdict["witnesses"]] == [("w1", "cosigned"), ("w2", "missing")]
    assert check("w3", *both, "--require", "1").exit_code == 1
    too_many = check("both", *both, "--require", "3")
    assert too_many.exit_code == 1 and "--require" in too_many.output
    alone = check("both", "--require", "1")
    assert alone.exit_code == 1 and "--require" in alone.output
    plain = check("both")  # without --witness: as before, no witness is asked about
    assert plain.exit_code == 0 and "witnesses" not in plain.stdout
