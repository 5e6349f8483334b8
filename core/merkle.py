"""Merkle tree hashing for the transparency log, exactly as RFC 9162 section 2.1 defines it.

This module is plain Python with no store behind it (only an abstract node store), so the
log, its exported bundles and anyone auditing them hash with the same code.

Hashes
======

``HASH`` is SHA-256; every hash is 32 bytes. ``||`` is concatenation.

* Leaf hash of an entry ``d`` (any bytes)::

      leaf_hash(d) = SHA-256( 0x00 || d )

* Interior node over two children::

      node_hash(left, right) = SHA-256( 0x01 || left || right )      (65 bytes hashed)

* The Merkle Tree Hash of a list of ``n`` entries ``D_n = d[0] .. d[n-1]`` (RFC 9162
  section 2.1.1), with ``D[a:b]`` the entries ``d[a] .. d[b-1]``::

      MTH({})      = SHA-256()                          (EMPTY_ROOT, e3b0c442...b855)
      MTH({d[0]})  = leaf_hash(d[0])
      MTH(D_n)     = node_hash( MTH(D[0:k]), MTH(D[k:n]) )      for n > 1,
                     where k is the largest power of two smaller than n (k < n <= 2k).

  :func:`root` computes MTH from the leaf hashes level by level: pair neighbours, and
  carry an odd last node up unchanged. That is the same tree: the left subtree of every
  node is the largest perfect subtree that fits.

Nodes and the node store
========================

Only *perfect* subtrees are ever stored. Node ``(level, index)`` is the MTH of the
``2**level`` leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf
hashes themselves, and ``(level + 1, i) = node_hash((level, 2i), (level, 2i + 1))``. A tree
of size ``n`` has exactly ``n >> level`` nodes on each level; a node, once written, never
changes (the log is append-only), so a store never overwrites one.

Every hash the RFC needs for any size ``s`` -- a root, a PATH element, a PROOF element -- is
the MTH of a range ``D[a:b]`` that is a subtree of the tree of size ``s``: ``a`` is a
multiple of a power of two ``>= b - a``. Such a range is covered by its perfect subtrees,
taken by the set bits of ``b - a`` from the highest down (:func:`range_nodes`), and its MTH
is those nodes folded from the right::

      MTH(D[a:b]) = node_hash(N1, node_hash(N2, ... node_hash(N(j-1), Nj)))

So a root is at most ``popcount(s)`` reads (the *frontier* of ``s``, :func:`frontier`), a
proof at most about ``2 log2 s`` reads, for ANY past size ``s`` -- nothing is stored per
size. The functions :func:`root_nodes`, :func:`inclusion_nodes` and
:func:`consistency_nodes` list the ``(level, index)`` keys a computation needs, so a SQL
store fetches them with one query and hands the mapping to :func:`root_from`,
:func:`inclusion_proof_from` or :func:`consistency_proof_from`. :class:`MerkleLog` does the
same over any :class:`NodeStore` (using its ``get_many`` / ``put_many`` when it has them).

Appending the leaf with index ``n`` (the tree had ``n`` leaves) writes node ``(0, n)`` and
then, for every trailing 1-bit ``j`` of ``n`` from ``j = 0`` up, the node
``(j + 1, n >> (j + 1)) = node_hash((j, (n >> j) - 1), <the node just written>)``: the left
siblings it needs are exactly the frontier of ``n``, which :func:`extend` keeps in memory, so
a batch of appends needs one read of at most ``popcount(n)`` nodes.

Proofs
======

``PATH(m, D_n)`` (inclusion of leaf ``m``, ``0 <= m < n``, RFC 9162 section 2.1.3.1)::

      PATH(0, {d[0]}) = {}
      PATH(m, D_n)    = PATH(m, D[0:k]) : MTH(D[k:n])         if m < k
                      = PATH(m - k, D[k:n]) : MTH(D[0:k])     if m >= k

``PROOF(m, D_n)`` (consistency of the first ``m`` leaves with ``n``, ``0 < m < n``, RFC 9162
section 2.1.4.1) is ``SUBPROOF(m, D_n, true)``::

      SUBPROOF(m, D_m, true)  = {}
      SUBPROOF(m, D_m, false) = {MTH(D_m)}
      SUBPROOF(m, D_n, b)     = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          if m <= k
                              = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  if m > k

``:`` appends, so both lists run from the leaves up to the root. Outside the RFC's domain
this module defines: ``PROOF(m, D_m) = {}`` and ``PROOF(0, D_n) = {}`` (nothing to prove).
A proof is a list of 32-byte hashes; its length is fixed by the index and size (PATH) or
by the two sizes (PROOF).

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) follows the RFC's
algorithms in sections 2.1.3.2 and 2.1.4.2 step by step and shares no code with the
builder. Consistency for the cases outside the RFC's ``0 < first < second``: ``first ==
second`` holds iff the proof is empty and the two roots are equal; ``first == 0`` holds
iff the proof is empty and the first root is :data:`EMPTY_ROOT` (the empty tree is a
prefix of every tree; if ``second`` is 0 too its root must be ``EMPTY_ROOT`` as well).
Every hash handed to a verifier must be exactly 32 bytes, or the proof fails.

A proof binds the leaf hash, the leaf index and the roots; it does not bind a tree size on
its own: a proof can have the same shape at two sizes (``PATH(0, D_3)`` and ``PATH(0,
D_4)`` are both two right siblings), so it also "verifies" a wrong size paired with the
right size's root. Sizes and roots are therefore always taken in pairs from one signed
checkpoint; a wrong size with its own root fails.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "DictNodeStore",
    "MerkleLog",
    "MissingNode",
    "NodeStore",
    "consistency_nodes",
    "consistency_proof_from",
    "extend",
    "frontier",
    "inclusion_nodes",
    "inclusion_proof_from",
    "leaf_hash",
    "node_hash",
    "perfect_nodes",
    "range_nodes",
    "root",
    "root_from",
    "root_nodes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
#: MTH({}) = SHA-256 of no bytes.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256

#: ``(level, index)``: the perfect subtree of leaves ``[index << level, (index + 1) << level)``.
Node = tuple[int, int]
#: A node with its hash, as :func:`extend` and :meth:`MerkleLog.append` return them.
NodeRecord = tuple[int, int, bytes]


class MissingNode(LookupError):
    """A node the computation needs is not in the store: the store is incomplete or was
    cut, and no root or proof can be given for that size."""

    def __init__(self, level: int, index: int) -> None:
        super().__init__(f"Merkle node (level {level}, index {index}) is missing from the node store")
        self.level = level
        self.index = index


# --- hashing ----------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return _sha256(NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the tree whose leaf hashes are ``leaf_hashes`` (in log order), computed level
    by level: about ``n`` node hashes and no recursion, for whole-bundle checks.

    The leaf hashes are taken as :func:`leaf_hash` gives them (32 bytes each); they are not
    re-checked here, so a caller with untrusted hashes checks their length first.
    """
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    sha = _sha256
    one = NODE_PREFIX
    level: Sequence[bytes] = leaf_hashes
    while n > 1:
        pairs = iter(level)
        upper = [sha(one + left + right).digest() for left, right in zip(pairs, pairs)]
        if n & 1:
            upper.append(level[n - 1])
        level = upper
        n = len(upper)
    return bytes(level[0])


def perfect_nodes(leaf_hashes: Sequence[bytes]) -> Iterator[NodeRecord]:
    """Every stored node of the tree over ``leaf_hashes``: ``(level, index, hash)`` for all
    perfect subtrees, level 0 (the leaf hashes) first. Seeds a node store from existing
    entries in ``n - 1 + n`` records."""
    level = list(leaf_hashes)
    height = 0
    sha = _sha256
    one = NODE_PREFIX
    while level:
        for index, value in enumerate(level):
            yield height, index, value
        pairs = iter(level)
        level = [sha(one + left + right).digest() for left, right in zip(pairs, pairs)]
        height += 1


# --- which nodes a computation needs ----------------------------------------------------


def _size(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, not {value}")
    return value


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n > 1``)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees that cover ``[start, end)``, left to right, largest possible
    first. For a subtree of the RFC tree (``start`` a multiple of a power of two ``>=
    end - start``) these are taken by the set bits of ``end - start``, and folding their
    hashes from the right gives ``MTH(D[start:end])``."""
    _size("start", start)
    _size("end", end)
    if end < start:
        raise ValueError(f"range [{start}, {end}) is reversed")
    out: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            aligned = (start & -start).bit_length() - 1
            if aligned < level:
                level = aligned
        out.append((level, start >> level))
        start += 1 << level
    return out


def frontier(size: int) -> list[Node]:
    """The perfect subtrees whose concatenation is the whole tree of ``size`` leaves, largest
    first: one per set bit ``j`` of ``size``, node ``(j, (size >> j) - 1)``."""
    return range_nodes(0, _size("size", size))


#: The nodes whose hashes give the root at a size (its frontier).
root_nodes = frontier


def _path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """PATH(index, D_size) as ranges ``[a, b)`` whose MTH is each element, leaf to root."""
    out: list[tuple[int, int]] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            m -= k
    out.reverse()
    return out


def _proof_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """PROOF(old_size, D_new_size) as ranges, leaf side first (SUBPROOF unrolled)."""
    out: list[tuple[int, int]] = []
    if old_size == 0 or old_size == new_size:
        return out
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:
        out.append((lo, hi))
    out.reverse()
    return out


def _check_index(index: int, size: int) -> None:
    _size("index", index)
    _size("size", size)
    if index >= size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")


def _check_sizes(old_size: int, new_size: int) -> None:
    _size("old_size", old_size)
    _size("new_size", new_size)
    if old_size > new_size:
        raise ValueError(f"old size {old_size} is larger than new size {new_size}")


def _unique(ranges: Iterable[tuple[int, int]]) -> list[Node]:
    seen: dict[Node, None] = {}
    for lo, hi in ranges:
        for key in range_nodes(lo, hi):
            seen[key] = None
    return list(seen)


def inclusion_nodes(index: int, size: int) -> list[Node]:
    """The stored nodes :func:`inclusion_proof_from` reads for PATH(index, D_size)."""
    _check_index(index, size)
    return _unique(_path_ranges(index, size))


def consistency_nodes(old_size: int, new_size: int) -> list[Node]:
    """The stored nodes :func:`consistency_proof_from` reads for PROOF(old_size, D_new_size)."""
    _check_sizes(old_size, new_size)
    return _unique(_proof_ranges(old_size, new_size))


# --- assembling from fetched nodes ------------------------------------------------------


def _lookup(nodes: Mapping[Node, bytes], key: Node) -> bytes:
    try:
        value = nodes[key]
    except KeyError:
        raise MissingNode(*key) from None
    if len(value) != HASH_SIZE:
        raise ValueError(f"Merkle node {key} holds {len(value)} bytes, not {HASH_SIZE}")
    return bytes(value)


def _range_hash(lo: int, hi: int, nodes: Mapping[Node, bytes]) -> bytes:
    parts = [_lookup(nodes, key) for key in range_nodes(lo, hi)]
    value = parts.pop()
    while parts:
        value = node_hash(parts.pop(), value)
    return value


def root_from(size: int, nodes: Mapping[Node, bytes]) -> bytes:
    """MTH at ``size`` from the fetched nodes (at least :func:`root_nodes` ``(size)``)."""
    if _size("size", size) == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, nodes)


def inclusion_proof_from(index: int, size: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    """PATH(index, D_size) from the fetched nodes (at least :func:`inclusion_nodes`)."""
    _check_index(index, size)
    return [_range_hash(lo, hi, nodes) for lo, hi in _path_ranges(index, size)]


def consistency_proof_from(old_size: int, new_size: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    """PROOF(old_size, D_new_size) from the fetched nodes (at least :func:`consistency_nodes`)."""
    _check_sizes(old_size, new_size)
    return [_range_hash(lo, hi, nodes) for lo, hi in _proof_ranges(old_size, new_size)]


# --- appending ----------------------------------------------------------------------------


def extend(
    size: int, frontier_hashes: Sequence[bytes], leaf_hashes: Iterable[bytes]
) -> tuple[list[NodeRecord], list[bytes]]:
    """Append ``leaf_hashes`` to a tree of ``size`` leaves whose frontier (the hashes of
    :func:`frontier` ``(size)``, largest first) is ``frontier_hashes``.

    Returns the new nodes ``(level, index, hash)`` in the order they were made (every one
    to be stored) and the frontier of the grown tree. Pure: reads nothing, writes nothing.
    """
    _size("size", size)
    if len(frontier_hashes) != size.bit_count():
        raise ValueError(
            f"a tree of size {size} has a frontier of {size.bit_count()} nodes, not {len(frontier_hashes)}"
        )
    stack = [bytes(value) for value in frontier_hashes]
    if any(len(value) != HASH_SIZE for value in stack):
        raise ValueError(f"frontier hashes must be {HASH_SIZE} bytes each")
    out: list[NodeRecord] = []
    append = out.append
    sha = _sha256
    one = NODE_PREFIX
    n = size
    for value in leaf_hashes:
        if type(value) is not bytes:
            value = bytes(value)
        if len(value) != HASH_SIZE:
            raise ValueError(f"leaf hash {n} is {len(value)} bytes, not {HASH_SIZE}")
        append((0, n, value))
        level = 0
        index = n
        while index & 1:
            value = sha(one + stack.pop() + value).digest()
            level += 1
            index >>= 1
            append((level, index, value))
        stack.append(value)
        n += 1
    return out, stack


# --- stores -------------------------------------------------------------------------------


@runtime_checkable
class NodeStore(Protocol):
    """Where the perfect-subtree nodes live. ``get`` raises :class:`MissingNode` (or
    ``KeyError``) for a node it does not hold; ``put`` must refuse to change a node.

    A store may also offer ``get_many(keys) -> Mapping[(level, index), bytes]`` (the nodes
    it holds among ``keys``, one query) and ``put_many(records)`` (one insert of many
    ``(level, index, hash)``); :class:`MerkleLog` uses them when present.
    """

    def get(self, level: int, index: int) -> bytes: ...

    def put(self, level: int, index: int, value: bytes) -> None: ...


class DictNodeStore:
    """A node store in a dict, for tests and for checking a bundle in memory."""

    def __init__(self, nodes: Mapping[Node, bytes] | None = None) -> None:
        self.nodes: dict[Node, bytes] = dict(nodes or {})

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[bytes]) -> DictNodeStore:
        """A store holding every node of the tree over ``leaf_hashes``."""
        return cls({(level, index): value for level, index, value in perfect_nodes(leaf_hashes)})

    def get(self, level: int, index: int) -> bytes:
        try:
            return self.nodes[(level, index)]
        except KeyError:
            raise MissingNode(level, index) from None

    def get_many(self, keys: Iterable[Node]) -> dict[Node, bytes]:
        nodes = self.nodes
        return {key: nodes[key] for key in keys if key in nodes}

    def put(self, level: int, index: int, value: bytes) -> None:
        key = (level, index)
        held = self.nodes.get(key)
        if held is not None and held != value:
            raise ValueError(f"Merkle node {key} is already stored with another hash; nodes never change")
        self.nodes[key] = bytes(value)

    def put_many(self, records: Iterable[NodeRecord]) -> None:
        nodes = self.nodes
        for level, index, value in records:
            key = (level, index)
            held = nodes.get(key)
            if held is None:
                nodes[key] = bytes(value)
            elif held != value:
                raise ValueError(f"Merkle node {key} is already stored with another hash; nodes never change")

    def __len__(self) -> int:
        return len(self.nodes)


def _fetch(store: NodeStore, keys: Sequence[Node]) -> Mapping[Node, bytes]:
    get_many = getattr(store, "get_many", None)
    if get_many is not None:
        found = get_many(keys)
        for key in keys:
            if key not in found:
                raise MissingNode(*key)
        return found
    out: dict[Node, bytes] = {}
    for level, index in keys:
        try:
            out[(level, index)] = store.get(level, index)
        except KeyError:
            raise MissingNode(level, index) from None
    return out


class MerkleLog:
    """An append-only RFC 9162 tree over a :class:`NodeStore`.

    ``size`` is the number of leaves the store holds nodes for. Roots and proofs are given
    for any size up to ``size`` from stored nodes only, in one batch read each.
    """

    def __init__(self, store: NodeStore, size: int = 0) -> None:
        self.store = store
        self.size = _size("size", size)
        self._frontier: list[bytes] | None = None

    def _current_frontier(self) -> list[bytes]:
        if self._frontier is None:
            keys = frontier(self.size)
            found = _fetch(self.store, keys)
            self._frontier = [_lookup(found, key) for key in keys]
        return self._frontier

    def append(self, leaf_hash: bytes) -> list[NodeRecord]:
        """Append one leaf hash: store and return the nodes it completes, ``(0, size)``
        first."""
        return self.extend([leaf_hash])

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[NodeRecord]:
        """Append many leaf hashes in order: store and return every new node."""
        records, grown = extend(self.size, self._current_frontier(), leaf_hashes)
        put_many = getattr(self.store, "put_many", None)
        if put_many is not None:
            put_many(records)
        else:
            for level, index, value in records:
                self.store.put(level, index, value)
        self.size += sum(1 for level, _, _ in records if level == 0)
        self._frontier = grown
        return records

    def _bound(self, name: str, size: int) -> int:
        _size(name, size)
        if size > self.size:
            raise ValueError(f"{name} {size} is beyond the log's size {self.size}")
        return size

    def root(self) -> bytes:
        """The root at the current size."""
        return self.root_at(self.size)

    def root_at(self, size: int) -> bytes:
        """MTH at any ``size <= self.size``, from its frontier's ``popcount(size)`` nodes."""
        self._bound("size", size)
        return root_from(size, _fetch(self.store, root_nodes(size)))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D_size); ``size`` defaults to the current size."""
        size = self.size if size is None else self._bound("size", size)
        return inclusion_proof_from(index, size, _fetch(self.store, inclusion_nodes(index, size)))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D_new_size); ``new_size`` defaults to the current size."""
        new_size = self.size if new_size is None else self._bound("new_size", new_size)
        keys = consistency_nodes(old_size, new_size)
        return consistency_proof_from(old_size, new_size, _fetch(self.store, keys))


# --- verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) --------------------------------


def _is_hash(value: object) -> bool:
    return isinstance(value, (bytes, bytearray)) and len(value) == HASH_SIZE


def _nonneg_int(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"tree sizes and leaf indexes are ints, not {type(value).__name__}")
    return value >= 0


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` (an inclusion path) proves the leaf hash at ``index`` in the tree of
    ``size`` leaves with ``root`` -- RFC 9162 section 2.1.3.2, step by step."""
    if not (_nonneg_int(index) and _nonneg_int(size)):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in proof)):
        return False
    # 1. leaf_index >= tree_size fails.
    if index >= size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    # 4. For each p in inclusion_path:
    for p in proof:
        # a. sn == 0 fails.
        if sn == 0:
            return False
        # b. LSB(fn) set, or fn == sn:
        if fn & 1 or fn == sn:
            # i. r = HASH(0x01 || p || r)
            r = _sha256(NODE_PREFIX + p + r).digest()
            # ii. if LSB(fn) is not set, shift fn and sn right until LSB(fn) is set or fn is 0.
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            # otherwise r = HASH(0x01 || r || p)
            r = _sha256(NODE_PREFIX + r + p).digest()
        # c. shift fn and sn right once.
        fn >>= 1
        sn >>= 1
    # 5. sn must be 0 and r the root.
    return sn == 0 and hmac.compare_digest(r, bytes(root))


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` proves the tree of ``old_size`` leaves with ``old_root`` a prefix of
    the tree of ``new_size`` leaves with ``new_root`` -- RFC 9162 section 2.1.4.2, step by
    step, with the trivial cases ``old_size == new_size`` and ``old_size == 0`` as the module
    docstring states."""
    if not (_nonneg_int(old_size) and _nonneg_int(new_size)):
        return False
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(c) for c in proof)):
        return False
    if old_size > new_size:
        return False
    if old_size == 0:
        if new_size == 0 and not hmac.compare_digest(bytes(new_root), EMPTY_ROOT):
            return False
        return not proof and hmac.compare_digest(bytes(old_root), EMPTY_ROOT)
    if old_size == new_size:
        return not proof and hmac.compare_digest(bytes(old_root), bytes(new_root))
    # 0 < first < second from here on.
    # 1. An empty consistency_path fails.
    if not proof:
        return False
    path = [bytes(c) for c in proof]
    # 2. If first is an exact power of 2, prepend first_hash.
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = old_size - 1, new_size - 1
    # 4. While LSB(fn) is set, shift fn and sn right.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value of the path.
    fr = sr = path[0]
    # 6. For each subsequent value c:
    for c in path[1:]:
        # a. sn == 0 fails.
        if sn == 0:
            return False
        # b. LSB(fn) set, or fn == sn:
        if fn & 1 or fn == sn:
            # i. fr = HASH(0x01 || c || fr), sr = HASH(0x01 || c || sr)
            fr = _sha256(NODE_PREFIX + c + fr).digest()
            sr = _sha256(NODE_PREFIX + c + sr).digest()
            # ii. if LSB(fn) is not set, shift fn and sn right until LSB(fn) is set or fn is 0.
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            # otherwise sr = HASH(0x01 || sr || c)
            sr = _sha256(NODE_PREFIX + sr + c).digest()
        # c. shift fn and sn right once.
        fn >>= 1
        sn >>= 1
    # 7. fr must be first_hash, sr second_hash, and sn 0.
    return (
        sn == 0
        and hmac.compare_digest(fr, bytes(old_root))
        and hmac.compare_digest(sr, bytes(new_root))
    )
