"""Cached subtree roots give exactly the proofs and roots of the reference Merkle module
(`ledger.transparency.merkle`)."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.transparency.merkle import inclusion_proof, leaf_hash, root, verify_inclusion
from ledger.transparency.merkle_cache import SubtreeCache


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(i.to_bytes(4, "big")).digest()) for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 300), data=st.data(), min_height=st.integers(0, 4))
def test_same_proofs_and_roots_as_the_reference(size: int, data: st.DataObject,
                                                min_height: int) -> None:
    leaves = _leaves(size)
    reads: list[tuple[int, int]] = []

    def read(lo: int, hi: int) -> list[bytes]:
        reads.append((lo, hi))
        return leaves[lo:hi]

    cache = SubtreeCache(read, min_height=min_height)
    # Several proofs against several sizes of one growing log share the cache.
    for tree_size in sorted({size, data.draw(st.integers(1, size))}):
        index = data.draw(st.integers(0, tree_size - 1))
        proof = cache.inclusion(index, tree_size)
        assert proof == inclusion_proof(leaves[:tree_size], index)
        assert cache.root(tree_size) == root(leaves[:tree_size])
        verify_inclusion(leaves[index], index, tree_size, proof, root(leaves[:tree_size]))
    assert all(lo < hi <= size for lo, hi in reads)


def test_a_proof_in_a_large_tree_reads_only_a_block_of_leaves() -> None:
    leaves = _leaves(1 << 14)
    read_count = 0

    def read(lo: int, hi: int) -> list[bytes]:
        nonlocal read_count
        read_count += hi - lo
        return leaves[lo:hi]

    cache = SubtreeCache(read, min_height=6)
    assert cache.root(len(leaves)) == root(leaves)  # the first use reads every leaf once
    assert read_count == len(leaves)
    read_count = 0
    proof = cache.inclusion(9000, len(leaves))
    assert proof == inclusion_proof(leaves, 9000)
    assert read_count < 64  # only siblings inside the leaf's own block of 2^6
