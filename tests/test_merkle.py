"""RFC 9162 Merkle trees (core.merkle): published vectors, an exhaustive comparison with the
RFC's recursive definitions, and property tests of the builder and the verifiers."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import merkle
from core.merkle import (
    EMPTY_ROOT,
    DictNodeStore,
    MerkleLog,
    MissingNode,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# --- the reference vectors -------------------------------------------------------------------
#
# The RFC 6962 reference tree of 8 leaves, with its root at every size and its known
# inclusion and consistency proofs, as published in transparency-dev/merkle
# (github.com/transparency-dev/merkle, proof/verify_test.go up to commit 022f84c, the
# variables ``leaves``, ``roots``, ``inclusionProofs`` and ``consistencyProofs``; since
# commit bcba819 the same values are testdata/inclusion/{1..4}/happy-path.json and
# testdata/consistency/{1..4}/happy-path.json). They come from the Certificate
# Transparency reference implementation's tests (certificate-transparency-go merkletree).

LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]

ROOTS = [  # MTH(D[0:n]) for n = 1 .. 8
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

INCLUSION = [  # (leaf index, tree size, PATH); the Go source counts leaves from 1
    (0, 1, []),
    (0, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (5, 8, [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
    (2, 3, [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    ]),
    (1, 5, [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
]

CONSISTENCY = [  # (old size, new size, PROOF)
    (1, 1, []),
    (1, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (6, 8, [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
    (2, 5, [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
    (6, 7, [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
]

#: Two hashes transparency-dev/merkle's corruption probes use ("random root", "empty root").
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
SHA256_EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

LEAF_HASHES = [leaf_hash(d) for d in LEAVES]
H = bytes.fromhex


def reference_log() -> MerkleLog:
    log = MerkleLog(DictNodeStore())
    for value in LEAF_HASHES:
        log.append(value)
    return log


# --- the RFC's recursive definitions, transcribed for comparison ----------------------------


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, on the leaf hashes."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = largest_power_of_two_below(len(d))
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1."""
    if len(d) == 1:
        return []
    k = largest_power_of_two_below(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1."""
    if m == len(d):
        return [] if b else [mth(d)]
    k = largest_power_of_two_below(len(d))
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def proof(m: int, d: list[bytes]) -> list[bytes]:
    return subproof(m, d, True)


def hashes_of(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(salt.to_bytes(8, "big") + i.to_bytes(8, "big")) for i in range(n)]


# --- hashing and the vectors ---------------------------------------------------------------


def test_hash_definitions():
    assert EMPTY_ROOT == SHA256_EMPTY == merkle.root([])
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    # a leaf and an interior node over the same bytes never collide: the prefixes differ
    assert leaf_hash(left + right) != node_hash(left, right)


def test_reference_roots_at_every_size():
    log = reference_log()
    for n in range(1, 9):
        assert merkle.root(LEAF_HASHES[:n]).hex() == ROOTS[n - 1]
        assert log.root_at(n).hex() == ROOTS[n - 1]
        assert mth(LEAF_HASHES[:n]).hex() == ROOTS[n - 1]
    assert log.root_at(0) == EMPTY_ROOT
    assert log.root() == H(ROOTS[7])


@pytest.mark.parametrize("index,size,expected", INCLUSION)
def test_reference_inclusion_proofs(index, size, expected):
    log = reference_log()
    got = log.inclusion_proof(index, size)
    assert [p.hex() for p in got] == expected
    assert verify_inclusion(LEAF_HASHES[index], index, size, got, H(ROOTS[size - 1]))


@pytest.mark.parametrize("old,new,expected", CONSISTENCY)
def test_reference_consistency_proofs(old, new, expected):
    log = reference_log()
    got = log.consistency_proof(old, new)
    assert [p.hex() for p in got] == expected
    assert verify_consistency(old, new, H(ROOTS[old - 1]), H(ROOTS[new - 1]), got)


def inclusion_probes(index, size, proof_, root_, leaf):
    """transparency-dev/merkle's corruptInclusionProof: every probe must fail."""
    probes = [
        (index - 1, size, root_, leaf, proof_, "leafIndex - 1"),
        (index + 1, size, root_, leaf, proof_, "leafIndex + 1"),
        (index ^ 2, size, root_, leaf, proof_, "leafIndex ^ 2"),
        (index, size * 2, root_, leaf, proof_, "treeSize * 2"),
        (index, size // 2, root_, leaf, proof_, "treeSize / 2"),
        (index, size, root_, b"WrongLeaf", proof_, "wrong leaf"),
        (index, size, SHA256_EMPTY, leaf, proof_, "empty root"),
        (index, size, SOME_HASH, leaf, proof_, "random root"),
        (index, size, root_, leaf, proof_ + [b""], "trailing garbage"),
        (index, size, root_, leaf, proof_ + [root_], "trailing root"),
        (index, size, root_, leaf, [b""] + proof_, "preceding garbage"),
        (index, size, root_, leaf, [root_] + proof_, "preceding root"),
    ]
    for i in range(len(proof_)):
        wrong = list(proof_)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((index, size, root_, leaf, wrong, f"modified proof[{i}] bit 3"))
    if proof_:
        probes.append((index, size, root_, leaf, proof_[:-1], "removed component"))
    if len(proof_) > 1:
        probes.append((index, size, root_, leaf, [proof_[0], SOME_HASH] + proof_[1:], "inserted component"))
    return probes


def consistency_probes(old, new, root1, root2, proof_):
    """transparency-dev/merkle's corruptConsistencyProof: every probe must fail."""
    probes = [
        (old - 1, new, root1, root2, proof_, "size1 - 1"),
        (old + 1, new, root1, root2, proof_, "size1 + 1"),
        (old ^ 2, new, root1, root2, proof_, "size1 ^ 2"),
        (old, new * 2, root1, root2, proof_, "size2 * 2"),
        (old, new // 2, root1, root2, proof_, "size2 / 2"),
        (old, new, b"WrongRoot", root2, proof_, "wrong root1"),
        (old, new, root1, b"WrongRoot", proof_, "wrong root2"),
        (old, new, root2, root1, proof_, "swapped roots"),
        (old, new, root1, root2, [], "empty proof"),
        (old, new, root1, root2, proof_ + [b""], "trailing garbage"),
        (old, new, root1, root2, proof_ + [root1], "trailing root1"),
        (old, new, root1, root2, proof_ + [root2], "trailing root2"),
        (old, new, root1, root2, [b""] + proof_, "preceding garbage"),
        (old, new, root1, root2, [root1] + proof_, "preceding root1"),
        (old, new, root1, root2, [root2] + proof_, "preceding root2"),
        (old, new, root1, root2, [proof_[0]] + proof_, "preceding proof[0]"),
        (old, new, root1, root2, proof_[:-1], "truncated proof"),
    ]
    for i in range(len(proof_)):
        wrong = list(proof_)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((old, new, root1, root2, wrong, f"modified proof[{i}] bit 4"))
    return probes


@pytest.mark.parametrize("index,size,expected", INCLUSION[1:])
def test_reference_inclusion_corruptions_fail(index, size, expected):
    good = [H(p) for p in expected]
    for i, s, r, leaf, p, what in inclusion_probes(index, size, good, H(ROOTS[size - 1]), LEAF_HASHES[index]):
        assert not verify_inclusion(leaf, i, s, p, r), what


@pytest.mark.parametrize("old,new,expected", CONSISTENCY[1:])
def test_reference_consistency_corruptions_fail(old, new, expected):
    good = [H(p) for p in expected]
    for o, n, r1, r2, p, what in consistency_probes(old, new, H(ROOTS[old - 1]), H(ROOTS[new - 1]), good):
        assert not verify_consistency(o, n, r1, r2, p), what


def test_inclusion_edge_cases():
    # transparency-dev/merkle testdata/inclusion/single-entry and inclusion/0
    data_hash = leaf_hash(b"data")
    assert verify_inclusion(data_hash, 0, 1, [], data_hash)
    assert not verify_inclusion(b"", 0, 1, [], data_hash)
    assert not verify_inclusion(data_hash, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        assert not verify_inclusion(SOME_HASH, index, size, [], b"")
        assert not verify_inclusion(b"", index, size, [], SHA256_EMPTY)
        assert not verify_inclusion(SOME_HASH, index, size, [], SHA256_EMPTY)
    with pytest.raises(TypeError):
        verify_inclusion(data_hash, "0", 1, [], data_hash)


def test_consistency_edge_cases():
    # transparency-dev/merkle testdata/consistency/additional. Two of its probes differ on
    # purpose: it refuses every old size 0 ("meaningless") and takes sizes 1 == 1 with
    # equal 12-byte "roots"; here the empty tree is consistent with any tree (empty proof,
    # old root EMPTY_ROOT), and a root that is not 32 bytes is never a root.
    one, two = b"don't care 1", b"don't care 2"
    e = SHA256_EMPTY
    cases = [
        (0, 0, one, two, [], False),
        (1, 1, one, two, [], False),
        (0, 0, one, one, [], False),  # sizes 0 need the empty root
        (0, 0, e, e, [], True),
        (0, 1, one, two, [], False),
        (1, 1, two, two, [], False),  # not 32-byte roots (transparency-dev: accepted)
        (1, 0, one, two, [], False),
        (2, 1, one, two, [], False),
        (1, 2, one, two, [], False),
        (0, 0, e, two, [], False),
        (1, 1, e, two, [], False),
        (0, 0, e, e, [e], False),
        (0, 1, e, e, [e], False),
        (1, 1, e, e, [e], False),
        (0, 1, e, SOME_HASH, [], True),  # transparency-dev: refused (size1 == 0)
        (1, 1, SOME_HASH, SOME_HASH, [], True),
        (0, 5, SOME_HASH, SOME_HASH, [], False),  # old root of size 0 must be the empty root
    ]
    for old, new, r1, r2, p, want in cases:
        assert verify_consistency(old, new, r1, r2, p) is want, (old, new, r1, r2, p)


# --- the builder against the recursive definitions --------------------------------------------


def test_builder_equals_rfc_definitions_exhaustively():
    leaves = hashes_of(40)
    log = MerkleLog(DictNodeStore())
    for n, value in enumerate(leaves, 1):
        log.append(value)
        assert log.size == n
    for n in range(0, 41):
        want = mth(leaves[:n])
        assert log.root_at(n) == want == merkle.root(leaves[:n])
        for m in range(n):
            got = log.inclusion_proof(m, n)
            assert got == path(m, leaves[:n]), (m, n)
            assert verify_inclusion(leaves[m], m, n, got, want)
        for m in range(1, n + 1):
            got = log.consistency_proof(m, n)
            assert got == (proof(m, leaves[:n]) if m < n else []), (m, n)
            assert verify_consistency(m, n, mth(leaves[:m]), want, got)
        assert log.consistency_proof(0, n) == []
        assert verify_consistency(0, n, EMPTY_ROOT, want, [])


def test_append_returns_exactly_the_new_nodes():
    store = DictNodeStore()
    log = MerkleLog(store)
    assert log.append(LEAF_HASHES[0]) == [(0, 0, LEAF_HASHES[0])]
    assert log.append(LEAF_HASHES[1]) == [(0, 1, LEAF_HASHES[1]), (1, 0, H(ROOTS[1]))]
    assert [(lv, i) for lv, i, _ in log.append(LEAF_HASHES[2])] == [(0, 2)]
    assert [(lv, i) for lv, i, _ in log.append(LEAF_HASHES[3])] == [(0, 3), (1, 1), (2, 0)]
    assert store.get(2, 0) == H(ROOTS[3])
    log.extend(LEAF_HASHES[4:])
    # a tree of n leaves stores n >> level nodes on each level, nothing else
    assert sorted(store.nodes) == sorted((lv, i) for lv in range(4) for i in range(8 >> lv))
    assert store.nodes == DictNodeStore.from_leaf_hashes(LEAF_HASHES).nodes


def test_reads_are_logarithmic_and_listed_up_front():
    n = 1000
    leaves = hashes_of(n)
    store = DictNodeStore.from_leaf_hashes(leaves)
    assert len(merkle.root_nodes(n)) == bin(n).count("1")
    for size in (1, 2, 3, 511, 512, 513, 999, 1000):
        for index in {0, size // 3, size - 1}:
            keys = merkle.inclusion_nodes(index, size)
            assert len(keys) <= 2 * size.bit_length()
            assert merkle.inclusion_proof_from(index, size, store.get_many(keys)) == path(index, leaves[:size])
        for old in {1, size // 2 or 1, size - 1 or 1, size}:
            keys = merkle.consistency_nodes(old, size)
            assert len(keys) <= 2 * size.bit_length()
            got = merkle.consistency_proof_from(old, size, store.get_many(keys))
            assert got == (proof(old, leaves[:size]) if old < size else [])


class CountingStore(DictNodeStore):
    """A store without get_many/put_many (plain get/put), counting what is read."""

    get_many = None  # type: ignore[assignment]
    put_many = None  # type: ignore[assignment]

    def __init__(self, nodes=None):
        super().__init__(nodes)
        self.reads = 0

    def get(self, level, index):
        self.reads += 1
        return super().get(level, index)


def test_plain_get_put_store_and_resume():
    store = CountingStore()
    log = MerkleLog(store)
    log.extend(hashes_of(37))
    resumed = MerkleLog(store, size=37)  # a new process: reads the frontier once
    store.reads = 0
    resumed.extend(hashes_of(5, salt=1))
    assert store.reads == bin(37).count("1")
    everything = hashes_of(37) + hashes_of(5, salt=1)
    assert resumed.root() == merkle.root(everything)
    store.reads = 0
    resumed.inclusion_proof(17, 42)
    assert store.reads == len(merkle.inclusion_nodes(17, 42))


def test_missing_nodes_and_bad_arguments_are_loud():
    store = DictNodeStore.from_leaf_hashes(hashes_of(8))
    del store.nodes[(1, 2)]
    log = MerkleLog(store, size=8)
    assert log.root() == merkle.root(hashes_of(8))  # (1, 2) is not on the path to the root
    with pytest.raises(MissingNode, match=r"level 1, index 2"):
        log.inclusion_proof(0, 6)
    with pytest.raises(ValueError, match="beyond"):
        log.root_at(9)
    with pytest.raises(ValueError, match="not in a tree"):
        log.inclusion_proof(8, 8)
    with pytest.raises(ValueError, match="larger"):
        log.consistency_proof(5, 4)
    with pytest.raises(ValueError, match="never change"):
        store.put(0, 0, bytes(32))
    with pytest.raises(ValueError, match="32"):
        log.append(b"short")
    with pytest.raises(ValueError, match="frontier"):
        merkle.extend(3, [bytes(32)], [bytes(32)])


# --- properties -----------------------------------------------------------------------------


def flip(value: bytes, bit: int) -> bytes:
    i = (bit // 8) % len(value)
    return value[:i] + bytes([value[i] ^ (1 << (bit % 8))]) + value[i + 1 :]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), chunks=st.lists(st.integers(1, 50), max_size=10), salt=st.integers(0, 2**32))
def test_incremental_roots_equal_mth_at_every_size(n, chunks, salt):
    leaves = hashes_of(n, salt)
    one_by_one = MerkleLog(DictNodeStore())
    batched = MerkleLog(DictNodeStore())
    start = 0
    for size in chunks:
        batched.extend(leaves[start : start + size])
        start += size
    batched.extend(leaves[start:])
    for value in leaves:
        one_by_one.append(value)
    assert one_by_one.store.nodes == batched.store.nodes
    for size in range(n + 1):
        want = mth(leaves[:size])
        assert one_by_one.root_at(size) == want
        assert batched.root_at(size) == want
        assert merkle.root(leaves[:size]) == want


SLACK = 64  # leaves beyond the tested size, so roots at larger sizes are known too


@st.composite
def tree_and_leaf(draw):
    size = draw(st.integers(1, 5000))
    index = draw(st.integers(0, size - 1))
    return size, index, draw(st.integers(0, 2**32))


TREES: dict[tuple[int, int], tuple[list[bytes], DictNodeStore]] = {}


def tree(size: int, salt: int):
    """Leaf hashes and a full store for ``size + SLACK`` leaves (one cached at a time)."""
    key = (size, salt)
    if key not in TREES:
        leaves = hashes_of(size + SLACK, salt)
        TREES.clear()
        TREES[key] = (leaves, DictNodeStore.from_leaf_hashes(leaves))
    return TREES[key]


# A proof binds its leaf, index and roots. The tree size alone is not bound: a proof can
# have the same shape at two sizes (PATH(0, D_3) and PATH(0, D_4) are both two right
# siblings, PROOF(1, D_3) and PROOF(1, D_4) likewise), so a different size *with the root
# of the original size* may verify. Sizes and roots always come in pairs from one signed
# checkpoint, so the property that matters is that a wrong size with its own honest root
# fails -- which is what these tests check, beside the fixed size probes of the vectors.


@settings(max_examples=200, deadline=None)
@given(case=tree_and_leaf(), bit=st.integers(0, 255), delta=st.integers(1, 5000), grow=st.integers(1, SLACK))
def test_every_inclusion_proof_verifies_and_every_tampering_fails(case, bit, delta, grow):
    size, index, salt = case
    leaves, store = tree(size, salt)
    log = MerkleLog(store, size + SLACK)
    good = log.inclusion_proof(index, size)
    root_ = log.root_at(size)
    assert root_ == merkle.root(leaves[:size])
    if size <= 600:
        assert good == path(index, leaves[:size])
    leaf = leaves[index]
    assert verify_inclusion(leaf, index, size, good, root_)
    assert not verify_inclusion(flip(leaf, bit), index, size, good, root_)
    assert not verify_inclusion(leaf, index, size, good, flip(root_, bit))
    for i in range(len(good)):
        assert not verify_inclusion(leaf, index, size, good[:i] + [flip(good[i], bit)] + good[i + 1 :], root_)
    assert not verify_inclusion(leaf, index, size, good + [root_], root_)
    if good:
        assert not verify_inclusion(leaf, index, size, good[:-1], root_)
    other = (index + delta) % size
    if other != index:
        assert not verify_inclusion(leaf, other, size, good, root_)
        assert not verify_inclusion(leaves[other], other, size, good, root_)
    for wrong_size in {size + grow, max(index + 1, size - grow)} - {size}:
        assert not verify_inclusion(leaf, index, wrong_size, good, log.root_at(wrong_size))


@st.composite
def two_sizes(draw):
    new = draw(st.integers(1, 5000))
    old = draw(st.integers(1, new))
    return old, new, draw(st.integers(0, 2**32))


@settings(max_examples=200, deadline=None)
@given(case=two_sizes(), bit=st.integers(0, 255), grow=st.integers(1, SLACK))
def test_every_consistency_proof_verifies_and_every_tampering_fails(case, bit, grow):
    old, new, salt = case
    leaves, store = tree(new, salt)
    log = MerkleLog(store, new + SLACK)
    good = log.consistency_proof(old, new)
    r1, r2 = log.root_at(old), log.root_at(new)
    assert r1 == merkle.root(leaves[:old]) and r2 == merkle.root(leaves[:new])
    if new <= 600:
        assert good == (proof(old, leaves[:new]) if old < new else [])
    assert verify_consistency(old, new, r1, r2, good)
    if old == new:
        assert good == []
        assert not verify_consistency(old, new, r1, flip(r2, bit), good)
        assert not verify_consistency(old, new, r1, r2, [r1])
        return
    assert not verify_consistency(old, new, flip(r1, bit), r2, good)
    assert not verify_consistency(old, new, r1, flip(r2, bit), good)
    for i in range(len(good)):
        assert not verify_consistency(old, new, r1, r2, good[:i] + [flip(good[i], bit)] + good[i + 1 :])
    assert not verify_consistency(old, new, r1, r2, good[:-1])
    assert not verify_consistency(old, new, r1, r2, good + [r2])
    assert not verify_consistency(old, new, r2, r1, good)
    for wrong_old in {old + grow, old - grow} - {old}:
        if 0 < wrong_old < new:
            assert not verify_consistency(wrong_old, new, log.root_at(wrong_old), r2, good)
    for wrong_new in {new + grow, new - grow} - {new}:
        if wrong_new > old:
            assert not verify_consistency(old, wrong_new, r1, log.root_at(wrong_new), good)


# --- speed ----------------------------------------------------------------------------------


def test_root_of_a_million_leaf_hashes_is_fast():
    leaves = hashes_of(1_000_000)
    started = time.perf_counter()
    value = merkle.root(leaves)
    elapsed = time.perf_counter() - started
    # the same root from the stored-node builder over the first 2**16 leaves, as a cross-check
    assert merkle.root(leaves[: 1 << 16]) == DictNodeStore.from_leaf_hashes(leaves[: 1 << 16]).get(16, 0)
    assert len(value) == 32
    assert elapsed < 5.0, f"root() over 1,000,000 leaf hashes took {elapsed:.2f}s"


def test_base64_of_the_reference_root_matches_the_published_testdata():
    # transparency-dev/merkle testdata/inclusion/1/happy-path.json spells the roots in base64
    assert base64.b64encode(H(ROOTS[7])).decode() == "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
    assert base64.b64encode(LEAF_HASHES[0]).decode() == "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
