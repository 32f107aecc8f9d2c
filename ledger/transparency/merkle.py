"""RFC 6962 Merkle trees over ledger entries: roots, proofs, and their verification.

Pure functions over bytes (SHA-256 only, no I/O). Builders take every leaf hash of a tree and
cost O(n) hashing per proof; `MerkleTree` keeps only the right edge so a ledger can maintain
its root in O(log n) per appended entry. Verifiers follow RFC 9162 sections 2.1.3.2 and
2.1.4.2 and raise `MerkleProofError` saying why a proof was refused.

Deliberately stricter than some implementations, because a checkpoint root is always a
SHA-256 digest: every hash handed to a verifier must be exactly 32 bytes, and a consistency
proof from the empty tree to a non-empty one is refused (every tree extends the empty tree,
so such a "proof" could only ever be vacuous; callers holding no checkpoint need no proof).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import NoReturn

from ledger.errors import VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class MerkleProofError(VerificationError):
    """An inclusion or consistency proof does not verify; `reason` says why."""


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash of a tree with these leaf hashes (`EMPTY_ROOT` if none)."""
    _require_leaf_hashes(leaf_hashes)
    if not leaf_hashes:
        return EMPTY_ROOT
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 audit path PATH(index, D[n]) for the leaf at `index`, lowest sibling first.

    Raises ValueError if `index` is not a leaf of the tree.
    """
    _require_leaf_hashes(leaf_hashes)
    if not 0 <= index < len(leaf_hashes):
        raise ValueError(f"index {index} is not a leaf of a tree of size {len(leaf_hashes)}")
    # The siblings met walking down from the root are disjoint subtrees: O(n) hashing.
    return audit_path(index, len(leaf_hashes),
                      lambda lo, hi: _range_root(leaf_hashes, lo, hi))


def audit_path(index: int, size: int, subtree_root: Callable[[int, int], bytes]) -> list[bytes]:
    """The RFC 6962 audit path of leaf `index` (0 <= index < size), lowest sibling first, with
    each sibling's hash from `subtree_root(lo, hi)`, the Merkle Tree Hash of leaves lo..hi-1.

    One walk for every source of subtree hashes: `inclusion_proof` hashes the leaves, the
    `SubtreeCache` answers from cached roots."""
    siblings: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + left_size(hi - lo)
        if index < mid:
            siblings.append(subtree_root(mid, hi))
            hi = mid
        else:
            siblings.append(subtree_root(lo, mid))
            lo = mid
    siblings.reverse()
    return siblings


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """RFC 6962 PROOF(old_size, D[n]) that the first `old_size` leaves are a prefix of the tree.

    Empty when the sizes are equal. Raises ValueError when `old_size` is negative or larger
    than the tree, or zero for a non-empty tree (no such proof exists; see the module notes).
    """
    _require_leaf_hashes(leaf_hashes)
    new_size = len(leaf_hashes)
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} is not a prefix of a tree of size {new_size}")
    if old_size == 0 and new_size > 0:
        raise ValueError("there is no consistency proof from the empty tree")
    # SUBPROOF(m, D[lo:hi], complete), unrolled: walk down, collecting the subtree hashes met.
    hashes: list[bytes] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = left_size(hi - lo)
        if m <= k:
            hashes.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            hashes.append(_range_root(leaf_hashes, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        # The old tree's last subtree is not on the new tree's left edge, so send its hash too.
        hashes.append(_range_root(leaf_hashes, lo, hi))
    hashes.reverse()
    return hashes


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` is leaf `index` of the tree of `tree_size` leaves with `root`.

    RFC 9162 section 2.1.3.2. Raises MerkleProofError on any failure.
    """
    _require_hash("leaf hash", leaf_hash)
    _require_hash("root", root)
    if index < 0 or tree_size < 0:
        raise MerkleProofError(f"negative index {index} or tree size {tree_size}")
    if index >= tree_size:
        raise MerkleProofError(f"index {index} is not a leaf of a tree of size {tree_size}")
    for position, sibling in enumerate(proof):
        _require_hash(f"proof hash {position}", sibling)

    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            _wrong_length(len(proof), _inclusion_proof_length(index, tree_size))
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right edge, levels where this node has no sibling are skipped.
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        _wrong_length(len(proof), _inclusion_proof_length(index, tree_size))
    if r != root:
        raise MerkleProofError(
            f"inclusion proof for index {index} leads to root {r.hex()}, not {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of `old_size` with `old_root` is a prefix of the one with `new_root`.

    RFC 9162 section 2.1.4.2, plus the equal-size case (the proof must be empty and the roots
    equal). Raises MerkleProofError on any failure, and for `old_size` 0 < `new_size`.
    """
    _require_hash("old root", old_root)
    _require_hash("new root", new_root)
    if old_size < 0 or new_size < old_size:
        raise MerkleProofError(f"tree sizes {old_size} -> {new_size} do not grow")
    for position, h in enumerate(proof):
        _require_hash(f"proof hash {position}", h)
    if old_size == new_size:
        if proof:
            raise MerkleProofError(f"trees of equal size need an empty proof, got {len(proof)}")
        if old_root != new_root:
            raise MerkleProofError(f"two trees of size {old_size} have different roots")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise MerkleProofError("the root of an empty tree is not SHA-256 of nothing")
        return
    if old_size == 0:
        raise MerkleProofError("a consistency proof from the empty tree proves nothing")
    if not proof:
        _wrong_length(0, _consistency_proof_length(old_size, new_size))

    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # A power-of-two old tree is a subtree of the new one; its root is the starting point.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            _wrong_length(len(proof), _consistency_proof_length(old_size, new_size))
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        _wrong_length(len(proof), _consistency_proof_length(old_size, new_size))
    if fr != old_root:
        raise MerkleProofError(f"consistency proof does not lead to the old root (size {old_size})")
    if sr != new_root:
        raise MerkleProofError(f"consistency proof does not lead to the new root (size {new_size})")


class MerkleTree:
    """An append-only RFC 6962 tree that keeps only its right edge (O(log n) hashes).

    The frontier holds the roots of the perfect subtrees the leaves so far decompose into,
    largest (leftmost) first: one per set bit of the size. Appending merges equal-sized
    subtrees like a binary counter carries, so it costs O(1) hashes amortized.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._frontier: list[bytes] = []
        self._size = 0
        self.extend(leaf_hashes)

    @classmethod
    def restore(cls, size: int, frontier: Sequence[bytes]) -> MerkleTree:
        """Rebuild a tree from a saved `size` and `frontier` (ValueError if they do not fit)."""
        if size < 0:
            raise ValueError(f"negative tree size {size}")
        if len(frontier) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} frontier hashes")
        _require_leaf_hashes(frontier)
        tree = cls()
        tree._frontier = list(frontier)
        tree._size = size
        return tree

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees on the right edge, leftmost first (for `restore`)."""
        return tuple(self._frontier)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash (ValueError unless it is 32 bytes)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf_hash)}")
        self._frontier.append(leaf_hash)
        carries = self._size
        while carries & 1:
            right = self._frontier.pop()
            left = self._frontier.pop()
            self._frontier.append(node_hash(left, right))
            carries >>= 1
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Merkle Tree Hash of the leaves so far (`EMPTY_ROOT` when there are none)."""
        if not self._frontier:
            return EMPTY_ROOT
        r = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):
            r = node_hash(left, r)
        return r

    def __repr__(self) -> str:
        return f"MerkleTree(size={self._size}, root={self.root().hex()})"


def left_size(n: int) -> int:
    """Largest power of two strictly below `n` (n >= 2): the size of a tree's left subtree."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(leaf_hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """Merkle Tree Hash of leaf_hashes[lo:hi] (non-empty), bottom up without recursion.

    Pairing neighbours level by level and carrying an odd last node up unchanged gives the
    RFC's largest-power-of-two split: the pairs build the perfect left subtrees first.
    """
    level = list(leaf_hashes[lo:hi])
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _inclusion_proof_length(index: int, size: int) -> int:
    """Hashes in the audit path of leaf `index` in a tree of `size` (0 <= index < size)."""
    # Below the level where the paths to `index` and to the last leaf part, every level has a
    # sibling; above it, only the levels where `index`'s path turns right have one.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    """Hashes in PROOF(old_size, D[new_size]) for 0 < old_size < new_size."""
    # The audit path of the old tree's last leaf, minus the levels inside the old tree's last
    # perfect subtree, plus that subtree's root unless it is the whole old tree.
    shift = (old_size & -old_size).bit_length() - 1
    own_root = 0 if old_size == 1 << shift else 1
    return own_root + _inclusion_proof_length(old_size - 1, new_size) - shift


def _wrong_length(got: int, expected: int) -> NoReturn:
    raise MerkleProofError(f"proof has {got} hashes, expected {expected}")


def _require_hash(what: str, h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise MerkleProofError(f"{what} is {len(h)} bytes, not a {HASH_SIZE}-byte SHA-256 digest")


def _require_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    for position, h in enumerate(leaf_hashes):
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {position} is {len(h)} bytes, not {HASH_SIZE}")
