"""Inclusion proofs of a large append-only ledger in O(log n) work, from cached subtree roots.

`merkle.inclusion_proof` hashes every leaf of the tree for each proof, which is fine for an
auditor but costs ~2 us per entry for every public proof request (2 s for a ledger of a
million entries). In an append-only log the root of a complete, aligned subtree (leaves
[k * 2^h, (k + 1) * 2^h)) never changes once its last leaf exists, so it can be computed once
and kept. RFC 6962 splits every tree into such subtrees: each left sibling on a proof path is
one, and each right-edge part decomposes into a few of them. Subtrees smaller than 2^min_height
leaves are hashed from their leaves when needed (a proof reads fewer than 2^min_height leaves,
from the block around its own), larger ones are memoised: about 2n / 2^min_height hashes per
ledger.

Pure apart from the `leaves` callback that reads leaf hashes; `merkle` stays the reference and
the tests compare this against it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ledger.transparency.merkle import audit_path, left_size, node_hash
from ledger.transparency.merkle import root as merkle_root

LeafReader = Callable[[int, int], list[bytes]]
"""(lo, hi) -> the leaf hashes of leaves lo .. hi - 1 (0-based); must return hi - lo hashes."""


class SubtreeCache:
    """Subtree roots of one append-only ledger, for proofs against any tree size."""

    def __init__(self, leaves: LeafReader, *, min_height: int = 10) -> None:
        if min_height < 0:
            raise ValueError("min_height must not be negative")
        self._leaves = leaves
        self._small = 1 << min_height
        self._roots: dict[tuple[int, int], bytes] = {}
        self._lock = threading.Lock()

    def _leaf_hashes(self, lo: int, hi: int) -> list[bytes]:
        found = self._leaves(lo, hi)
        if len(found) != hi - lo:
            raise ValueError(f"leaves {lo}..{hi - 1} are not all stored")
        return found

    def _perfect(self, lo: int, size: int) -> bytes:
        """Root of the complete subtree of `size` (a power of two) leaves from `lo` (aligned)."""
        if size < self._small:
            return merkle_root(self._leaf_hashes(lo, lo + size))
        with self._lock:
            cached = self._roots.get((lo, size))
        if cached is None:
            half = size // 2
            cached = (merkle_root(self._leaf_hashes(lo, lo + size)) if size == self._small
                      else node_hash(self._perfect(lo, half), self._perfect(lo + half, half)))
            with self._lock:
                self._roots[(lo, size)] = cached
        return cached

    def range_root(self, lo: int, hi: int) -> bytes:
        """RFC 6962 Merkle Tree Hash of leaves lo .. hi - 1 (cached where the range is a
        complete aligned subtree, as most ranges on a proof path are)."""
        size = hi - lo
        if size < 1:
            raise ValueError("an empty range has no subtree root")
        if size & (size - 1) == 0 and lo % size == 0:
            return self._perfect(lo, size)
        if size <= self._small:
            return merkle_root(self._leaf_hashes(lo, hi))
        k = left_size(size)
        return node_hash(self.range_root(lo, lo + k), self.range_root(lo + k, hi))

    def root(self, size: int) -> bytes:
        """Merkle Tree Hash of the first `size` leaves (size >= 1)."""
        return self.range_root(0, size)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """RFC 6962 audit path of leaf `index` in the tree of `size` leaves, lowest first."""
        if not 0 <= index < size:
            raise ValueError(f"index {index} is not a leaf of a tree of size {size}")
        return audit_path(index, size, self.range_root)
