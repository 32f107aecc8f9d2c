"""RFC 6962 Merkle trees: public conformance vectors, the RFC's own definitions as an oracle,
property tests that every honest proof verifies and every tampered one is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import VerificationError
from ledger.transparency.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleProofError,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# The project is checked out at <parent>/main; the shared vectors are its sibling.
VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "rfc6962"

# Where we refuse a case upstream accepts, and why. Checked against the file, so an entry
# cannot outlive the vector it is about.
STRICTER_THAN_UPSTREAM = {
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": (
        "its two equal 'roots' are 12 bytes; a root is a 32-byte SHA-256 digest"
    ),
}

# The tree RFC 6962's reference implementation tests with (and the vectors are built on).
REFERENCE_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
REFERENCE_HASHES = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES]
REFERENCE_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


# -- the RFC 6962 section 2.1 definitions, transcribed literally, as an oracle ---------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(rfc_mth(d[:k]), rfc_mth(d[k:]))


def rfc_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*rfc_path(m, d[:k]), rfc_mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), rfc_mth(d[:k])]


def rfc_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [rfc_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), rfc_mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), rfc_mth(d[:k])]


# -- public conformance vectors (transparency-dev/merkle testdata) ----------------------------


def _vector_params(kind: str) -> list[Any]:
    directory = VECTORS / kind
    files = sorted(directory.rglob("*.json")) if directory.is_dir() else []
    if not files:
        reason = f"RFC 6962 conformance vectors not found at {directory}"
        return [pytest.param(None, id=f"{kind}-absent", marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(path, id=path.relative_to(VECTORS).as_posix()) for path in files]


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _load(path: Path) -> tuple[dict[str, Any], bool]:
    """The case and whether our verifier must refuse it."""
    case: dict[str, Any] = json.loads(path.read_text())
    if path.name == "happy-path.json":
        assert case["wantErr"] is False
    override = STRICTER_THAN_UPSTREAM.get(path.relative_to(VECTORS).as_posix())
    if override is not None:
        assert case["wantErr"] is False, "upstream now refuses it too; drop the override"
        return case, True
    return case, bool(case["wantErr"])


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [_b64(h) for h in case["proof"] or []]


def _expect(must_fail: bool, check: Callable[[], None]) -> None:
    if must_fail:
        with pytest.raises(MerkleProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("path", _vector_params("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    case, must_fail = _load(path)
    _expect(
        must_fail,
        lambda: verify_inclusion(
            _b64(case["leafHash"]),
            case["leafIdx"],
            case["treeSize"],
            _proof(case),
            _b64(case["root"]),
        ),
    )


@pytest.mark.parametrize("path", _vector_params("consistency"))
def test_consistency_vector(path: Path) -> None:
    case, must_fail = _load(path)
    _expect(
        must_fail,
        lambda: verify_consistency(
            case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), _proof(case)
        ),
    )


def _happy_paths(kind: str) -> list[Any]:
    return [
        p
        for p in _vector_params(kind)
        if p.values[0] is None or p.values[0].name == "happy-path.json"
    ]


@pytest.mark.parametrize("path", _happy_paths("inclusion"))
def test_published_inclusion_proofs_are_the_ones_we_build(path: Path) -> None:
    case, _ = _load(path)
    hashes = REFERENCE_HASHES[: case["treeSize"]]
    assert _b64(case["leafHash"]) == hashes[case["leafIdx"]]
    assert _b64(case["root"]) == root(hashes)
    assert inclusion_proof(hashes, case["leafIdx"]) == _proof(case)


@pytest.mark.parametrize("path", _happy_paths("consistency"))
def test_published_consistency_proofs_are_the_ones_we_build(path: Path) -> None:
    case, _ = _load(path)
    hashes = REFERENCE_HASHES[: case["size2"]]
    assert _b64(case["root1"]) == root(hashes[: case["size1"]])
    assert _b64(case["root2"]) == root(hashes)
    assert consistency_proof(hashes, case["size1"]) == _proof(case)


# -- known answers -----------------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    sha256_of_nothing = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert EMPTY_ROOT.hex() == sha256_of_nothing
    assert root([]).hex() == sha256_of_nothing
    assert MerkleTree().root().hex() == sha256_of_nothing


def test_one_leaf_root_is_the_leaf_hash() -> None:
    h = leaf_hash(b"entry 1")
    assert root([h]) == h
    assert MerkleTree([h]).root() == h
    assert inclusion_proof([h], 0) == []
    verify_inclusion(h, 0, 1, [], h)


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(b"") == REFERENCE_ROOTS[0]
    assert node_hash(a, b) != leaf_hash(a + b)
    assert root([a, b]) == node_hash(a, b)


def test_reference_tree_roots_for_every_size() -> None:
    tree = MerkleTree()
    for size, expected in enumerate(REFERENCE_ROOTS, start=1):
        tree.append(REFERENCE_HASHES[size - 1])
        assert root(REFERENCE_HASHES[:size]) == expected
        assert tree.root() == expected


# -- builders match the RFC's definitions --------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=300).map(
    lambda leaves: [leaf_hash(leaf) for leaf in leaves]
)


@settings(max_examples=60, deadline=None)
@given(leaf_lists)
def test_builders_follow_the_rfc_definitions(hashes: list[bytes]) -> None:
    assert root(hashes) == rfc_mth(hashes)
    for index in range(0, len(hashes), max(1, len(hashes) // 17)):
        assert inclusion_proof(hashes, index) == rfc_path(index, hashes)
    for old_size in range(1, len(hashes) + 1, max(1, len(hashes) // 17)):
        assert consistency_proof(hashes, old_size) == rfc_subproof(old_size, hashes, True)


def test_every_proof_of_small_trees_verifies() -> None:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(40)]
    for size in range(1, len(hashes) + 1):
        tree = hashes[:size]
        tree_root = root(tree)
        for index in range(size):
            verify_inclusion(tree[index], index, size, inclusion_proof(tree, index), tree_root)
        for old_size in range(1, size + 1):
            proof = consistency_proof(tree, old_size)
            verify_consistency(old_size, size, root(tree[:old_size]), tree_root, proof)


# -- honest proofs verify --------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(leaf_lists)
def test_every_inclusion_proof_verifies(hashes: list[bytes]) -> None:
    tree_root = root(hashes)
    for index, h in enumerate(hashes):
        verify_inclusion(h, index, len(hashes), inclusion_proof(hashes, index), tree_root)


@settings(max_examples=200, deadline=None)
@given(st.data(), leaf_lists)
def test_consistency_proofs_verify(data: st.DataObject, hashes: list[bytes]) -> None:
    old_size = data.draw(st.integers(1, len(hashes)), label="old_size")
    proof = consistency_proof(hashes, old_size)
    verify_consistency(old_size, len(hashes), root(hashes[:old_size]), root(hashes), proof)


# -- tampered proofs are refused -------------------------------------------------------------


def distinct_leaves(seed: bytes, count: int) -> list[bytes]:
    """Leaf hashes that are all different, so no mutation is accidentally still true."""
    return [leaf_hash(seed + i.to_bytes(4, "big")) for i in range(count)]


def prefix_roots(hashes: Sequence[bytes]) -> list[bytes]:
    """prefix_roots(h)[n] == root(h[:n]) for every n, in O(n log n)."""
    tree, roots = MerkleTree(), [EMPTY_ROOT]
    for h in hashes:
        tree.append(h)
        roots.append(tree.root())
    return roots


def flip(h: bytes, bit: int) -> bytes:
    bit %= len(h) * 8
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << (bit % 8))]) + h[bit // 8 + 1 :]


def tampered_paths(proof: list[bytes], bit: int, stranger: bytes) -> Iterator[list[bytes]]:
    """Every proof one edit away: a flipped bit, a hash dropped, added or moved, a bad length."""
    for i in range(len(proof)):
        yield [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
        yield proof[:i] + proof[i + 1 :]
        yield [*proof[:i], proof[i][:-1], *proof[i + 1 :]]
        yield [*proof[:i], proof[i] + b"\x00", *proof[i + 1 :]]
    for i in range(len(proof) + 1):
        yield [*proof[:i], stranger, *proof[i:]]
        if proof:
            yield [*proof[:i], proof[min(i, len(proof) - 1)], *proof[i:]]
    for i in range(len(proof) - 1):
        yield [*proof[:i], proof[i + 1], proof[i], *proof[i + 2 :]]
    if len(proof) > 2:
        yield proof[::-1]
    yield [*proof, b""]
    yield [b"", *proof]


def refused(verify: Callable[..., None], *claim: object) -> bool:
    try:
        verify(*claim)
    except MerkleProofError:
        return True
    return False


trees = st.tuples(st.binary(max_size=8), st.integers(1, 300))
bits = st.integers(0, HASH_SIZE * 8 - 1)


@settings(max_examples=150, deadline=None)
@given(st.data(), trees, bits)
def test_tampered_inclusion_proofs_are_refused(
    data: st.DataObject, tree: tuple[bytes, int], bit: int
) -> None:
    seed, size = tree
    longer = distinct_leaves(seed, size + 8)
    roots = prefix_roots(longer)
    hashes = longer[:size]
    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, proof, good_root = hashes[index], inclusion_proof(hashes, index), roots[size]
    verify_inclusion(leaf, index, size, proof, good_root)

    stranger = leaf_hash(b"not in the tree " + seed)
    claims: list[tuple[str, bytes, int, int, list[bytes], bytes]] = []
    claims += [
        ("path", leaf, index, size, p, good_root) for p in tampered_paths(proof, bit, stranger)
    ]
    claims += [
        ("index", leaf, j, size, proof, good_root) for j in (-1, *range(size + 1)) if j != index
    ]
    # A real, larger or smaller tree that also holds the leaf: the old proof must not pass.
    claims += [
        ("size", leaf, index, n, proof, roots[n]) for n in range(index + 1, size + 9) if n != size
    ]
    claims += [("size", leaf, index, n, proof, good_root) for n in (0, -1)]
    claims += [
        ("root", leaf, index, size, proof, r) for r in (flip(good_root, bit), EMPTY_ROOT, stranger)
    ]
    claims += [("root", leaf, index, size, proof, good_root[:-1])]
    others = [h for h in hashes if h != leaf][:3]
    claims += [
        ("leaf", h, index, size, proof, good_root) for h in (flip(leaf, bit), stranger, *others)
    ]
    claims += [("leaf", leaf + b"\x00", index, size, proof, good_root)]

    accepted = [
        (what, i, n, len(p))
        for what, h, i, n, p, r in claims
        if not refused(verify_inclusion, h, i, n, p, r)
    ]
    assert accepted == []


@settings(max_examples=150, deadline=None)
@given(st.data(), trees, bits)
def test_tampered_consistency_proofs_are_refused(
    data: st.DataObject, tree: tuple[bytes, int], bit: int
) -> None:
    seed, size = tree
    longer = distinct_leaves(seed, size + 8)
    roots = prefix_roots(longer)
    old = data.draw(st.integers(1, size), label="old_size")
    proof = consistency_proof(longer[:size], old)
    verify_consistency(old, size, roots[old], roots[size], proof)

    stranger = leaf_hash(b"not in the tree " + seed)
    claims: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = []
    claims += [
        ("path", old, size, roots[old], roots[size], p)
        for p in tampered_paths(proof, bit, stranger)
    ]
    claims += [
        ("old size", m, size, roots[m], roots[size], proof) for m in range(size + 1) if m != old
    ]
    claims += [
        ("new size", old, n, roots[old], roots[n], proof) for n in range(old, size + 9) if n != size
    ]
    claims += [
        ("sizes", m, n, roots[old], roots[size], proof) for m, n in ((-1, size), (size, old - 1))
    ]
    for bad in (flip(roots[old], bit), stranger, EMPTY_ROOT, roots[old][:-1]):
        claims += [("old root", old, size, bad, roots[size], proof)]
    for bad in (flip(roots[size], bit), stranger, EMPTY_ROOT, roots[size][:-1]):
        claims += [("new root", old, size, roots[old], bad, proof)]
    if old != size:
        claims += [("swapped roots", old, size, roots[size], roots[old], proof)]

    accepted = [
        (what, m, n, len(p))
        for what, m, n, r1, r2, p in claims
        if not refused(verify_consistency, m, n, r1, r2, p)
    ]
    assert accepted == []


# -- edges, table-driven ---------------------------------------------------------------------

H = REFERENCE_HASHES
R = REFERENCE_ROOTS

BAD_INCLUSION = [
    pytest.param(H[0], 0, 0, [], EMPTY_ROOT, "not a leaf", id="empty-tree"),
    pytest.param(H[0], 1, 1, [], R[0], "not a leaf", id="index-equals-size"),
    pytest.param(H[0], -1, 1, [], R[0], "negative", id="negative-index"),
    pytest.param(H[0], 0, 1, [H[1]], R[0], "1 hashes, expected 0", id="one-leaf-with-a-sibling"),
    pytest.param(H[0], 0, 8, inclusion_proof(H, 0)[:2], R[7], "2 hashes, expected 3", id="short"),
    pytest.param(H[0], 0, 8, [*inclusion_proof(H, 0), H[0]], R[7], "4 hashes", id="long"),
    pytest.param(H[0][:31], 0, 1, [], R[0], "leaf hash is 31 bytes", id="short-leaf-hash"),
    pytest.param(H[0], 0, 1, [], b"", "root is 0 bytes", id="empty-root"),
    pytest.param(H[1], 0, 8, inclusion_proof(H, 0), R[7], "leads to root", id="wrong-leaf"),
]


@pytest.mark.parametrize(("leaf", "index", "size", "proof", "tree_root", "reason"), BAD_INCLUSION)
def test_inclusion_edges_are_refused_with_a_reason(
    leaf: bytes, index: int, size: int, proof: list[bytes], tree_root: bytes, reason: str
) -> None:
    with pytest.raises(MerkleProofError, match=reason) as caught:
        verify_inclusion(leaf, index, size, proof, tree_root)
    assert isinstance(caught.value, VerificationError)
    assert reason in caught.value.reason


BAD_CONSISTENCY = [
    pytest.param(0, 0, R[0], R[0], [], "empty tree is not", id="empty-trees-wrong-root"),
    pytest.param(0, 0, EMPTY_ROOT, EMPTY_ROOT, [H[0]], "empty proof", id="empty-trees-with-proof"),
    pytest.param(0, 1, EMPTY_ROOT, R[0], [], "proves nothing", id="from-empty-tree"),
    pytest.param(1, 1, R[0], R[0], [H[0]], "empty proof", id="equal-sizes-with-proof"),
    pytest.param(1, 1, R[0], R[1], [], "different roots", id="equal-sizes-other-root"),
    pytest.param(2, 1, R[1], R[0], [], "do not grow", id="shrinking"),
    pytest.param(-1, 1, R[0], R[0], [], "do not grow", id="negative-size"),
    pytest.param(1, 2, R[0], R[1], [], "0 hashes, expected 1", id="empty-proof"),
    pytest.param(1, 8, R[0], R[7], consistency_proof(H, 1)[:2], "expected 3", id="short"),
    pytest.param(1, 8, R[0], R[7], [*consistency_proof(H, 1), H[0]], "4 hashes", id="long"),
    pytest.param(6, 8, R[6], R[7], consistency_proof(H, 6), "old root", id="wrong-old-root"),
    pytest.param(6, 8, R[5], R[6], consistency_proof(H, 6), "new root", id="wrong-new-root"),
    pytest.param(6, 8, R[5], R[7], [b"", *consistency_proof(H, 6)], "0 bytes", id="garbage"),
]


@pytest.mark.parametrize(("old", "new", "old_root", "new_root", "proof", "reason"), BAD_CONSISTENCY)
def test_consistency_edges_are_refused_with_a_reason(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], reason: str
) -> None:
    with pytest.raises(MerkleProofError, match=reason):
        verify_consistency(old, new, old_root, new_root, proof)


def test_two_empty_trees_are_consistent() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert consistency_proof([], 0) == []


def test_builders_refuse_impossible_requests() -> None:
    with pytest.raises(ValueError, match="not a leaf"):
        inclusion_proof(H, 8)
    with pytest.raises(ValueError, match="not a leaf"):
        inclusion_proof([], 0)
    with pytest.raises(ValueError, match="not a prefix"):
        consistency_proof(H, 9)
    with pytest.raises(ValueError, match="empty tree"):
        consistency_proof(H, 0)
    with pytest.raises(ValueError, match="leaf hash 1 is 3 bytes"):
        root([H[0], b"abc"])


# -- the incremental tree --------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(leaf_lists)
def test_incremental_root_matches_root_for_every_prefix(hashes: list[bytes]) -> None:
    tree = MerkleTree()
    for size, h in enumerate(hashes, start=1):
        tree.append(h)
        assert tree.size == size
        assert len(tree.frontier) == size.bit_count()
        assert tree.root() == root(hashes[:size])


@settings(max_examples=100, deadline=None)
@given(st.data(), leaf_lists)
def test_a_restored_tree_carries_on_where_it_stopped(
    data: st.DataObject, hashes: list[bytes]
) -> None:
    cut = data.draw(st.integers(0, len(hashes)), label="cut")
    saved = MerkleTree(hashes[:cut])
    resumed = MerkleTree.restore(saved.size, saved.frontier)
    resumed.extend(hashes[cut:])
    assert resumed.root() == root(hashes)


def test_restore_and_append_refuse_what_cannot_be_a_tree() -> None:
    frontier = MerkleTree(H[:6]).frontier
    with pytest.raises(ValueError, match="2 frontier hashes"):
        MerkleTree.restore(6, frontier[:1])
    with pytest.raises(ValueError, match="negative"):
        MerkleTree.restore(-1, [])
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree().append(b"short")
