"""A ledger seen as a transparency log: Merkle roots, proofs and signed checkpoints.

Leaves are the entries' exact wire bytes (RFC 6962 leaf hashing), so a checkpoint commits to
every signature as well as every body. The association signs checkpoints of its own ledger
with its ledger key in the C2SP checkpoint note format, and never signs two inconsistent
ones: before signing, the store's first `last size` entries must still give the root last
signed (the incremental tree makes this free while running; after a restart it is one pass
over the leaves), which is what a consistency proof over its own leaves would establish.

The same `checkpoints` table also holds peers' checkpoints that this node, as their witness,
found equal to its verified replica (see `witness.py`), and `checkpoint_cosignatures` holds
every witness cosignature collected for any origin, verified under the registry when it
arrived. `latest_checkpoint` is the one way out: the note with every collected cosignature
that still verifies appended, so exports and proofs carry the witnesses' statements.

The checkpoints the node signed of its own ledger are also records of its length: a ledger
shorter than one of them lost entries (`ledger/chain/own_length.py`), and while the node's
`SealGate` is closed it signs no checkpoint either (one of a shorter ledger would contradict
what its witnesses hold). `signed_root_mismatch` names the entries a changed ledger no longer
agrees with its checkpoints on.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from ledger.chain.own_length import SealGate
from ledger.chain.store import LedgerStore
from ledger.signing import Signer
from ledger.storage.database import Cursor, Database
from ledger.transparency.checkpoints import Checkpoint, parse_body
from ledger.transparency.cosigners import key_at, origin_of, verified_cosigners
from ledger.transparency.merkle import (
    MerkleTree,
    consistency_proof,
    leaf_hash,
)
from ledger.transparency.merkle import root as merkle_root
from ledger.transparency.merkle_cache import SubtreeCache
from ledger.transparency.notes import append_signature_lines, parse_note, sign_note
from ledger.transparency.witness_rules import next_checkpoint_allowed
from ledger.trust.registry import RegistryState

_DDL = """
CREATE TABLE IF NOT EXISTS checkpoints (
    association TEXT NOT NULL,
    size BIGINT NOT NULL,
    root_hash {blob} NOT NULL,
    note {blob} NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (association, size)
);
CREATE TABLE IF NOT EXISTS checkpoint_cosignatures (
    association TEXT NOT NULL,
    size BIGINT NOT NULL,
    root_hash {blob} NOT NULL,
    witness TEXT NOT NULL,
    cosigned_at BIGINT NOT NULL,
    line {blob} NOT NULL,
    PRIMARY KEY (association, size, root_hash, witness)
)
"""


_KNOWN_ROOTS = 4096  # remembered (association, size) roots; each is 32 bytes
_VERIFIED_NOTES = 256  # cosigned notes whose valid witnesses are remembered, per registry


class LedgerLog:
    """Merkle views of the ledgers in one store, and this association's checkpoints."""

    def __init__(self, store: LedgerStore, db: Database, *,
                 registry: Callable[[], RegistryState | None] | None = None,
                 gate: SealGate | None = None) -> None:
        self.store = store
        self.db = db
        self.gate = gate or SealGate()
        # With a registry, collected cosignatures are re-checked on the way out, so a witness
        # key revoked since (e.g. after a compromise) stops counting.
        self._registry = registry or (lambda: None)
        db.ddl(_DDL)
        self._trees: dict[str, MerkleTree] = {}
        self._subtree_caches: dict[str, SubtreeCache] = {}
        self._known_roots: dict[tuple[str, int], bytes] = {}
        self._wanted: dict[str, set[int]] = {}
        self._verified: dict[tuple[bytes, bytes], tuple[frozenset[str], int]] = {}
        self._lock = threading.Lock()

    def leaf_hashes(self, association: str, size: int) -> list[bytes]:
        """Leaf hashes of entries 1..size."""
        hashes = [leaf_hash(w) for w in self.store.wires(association, 1, size)] if size else []
        if len(hashes) != size:
            raise ValueError(f"{association} has {len(hashes)} entries, not {size}")
        return hashes

    def root(self, association: str, size: int | None = None) -> tuple[int, bytes]:
        """(size, root) of the ledger at `size` (default: all stored entries).

        The current root is kept incrementally (each new entry costs O(log n) hashing)."""
        with self._lock:
            tree = self._trees.setdefault(association, MerkleTree())
            head = self.store.head(association)
            top = head[0] if head else 0
            self._extend(association, tree, top)
            if size is None or size == tree.size:
                return tree.size, tree.root()
        return size, self.root_at(association, size)

    def want_root(self, association: str, size: int) -> None:
        """Ask for the root at `size` to be remembered when the incremental tree passes it
        (a witness holding a checkpoint ahead of its replica), so checking it later costs no
        second pass over the leaves."""
        with self._lock:
            tree = self._trees.get(association)
            if tree is None or tree.size < size:
                self._wanted.setdefault(association, set()).add(size)

    def root_at(self, association: str, size: int) -> bytes:
        """Root of entries 1..size. Ledgers are append-only, so a root once computed stays
        true and is remembered; a size the incremental tree has not passed yet only extends
        it. Witnesses and the signer ask for sizes in increasing order (and `want_root` ahead
        of time), so this is cheap; a size the tree passed unannounced (e.g. after a restart)
        costs one pass over the leaves."""
        with self._lock:
            known = self._known_roots.get((association, size))
            if known is not None:
                return known
            tree = self._trees.setdefault(association, MerkleTree())
            found: bytes | None = None
            if tree.size <= size:
                self._extend(association, tree, size)
                if tree.size != size:
                    raise ValueError(f"{association} has {tree.size} entries, not {size}")
                found = tree.root()
        if found is None:
            found = merkle_root(self.leaf_hashes(association, size))
        self._remember(association, size, found)
        return found

    def _extend(self, association: str, tree: MerkleTree, target: int) -> None:
        # Under self._lock. Stops at each wanted size on the way to remember its root.
        wanted = self._wanted.get(association, set())
        for stop in sorted({s for s in wanted if tree.size < s < target} | {target}):
            if tree.size < stop:
                tree.extend(leaf_hash(w) for w in self.store.wires(association, tree.size + 1,
                                                                   stop))
            if tree.size == stop and stop in wanted:
                self._remember_locked(association, stop, tree.root())
            if tree.size < stop:
                break  # the store holds fewer entries than asked
        wanted.difference_update({s for s in wanted if s <= tree.size})

    def _remember(self, association: str, size: int, root_hash: bytes) -> None:
        with self._lock:
            self._remember_locked(association, size, root_hash)

    def _remember_locked(self, association: str, size: int, root_hash: bytes) -> None:
        if len(self._known_roots) >= _KNOWN_ROOTS:
            del self._known_roots[next(iter(self._known_roots))]  # the oldest
        self._known_roots[(association, size)] = root_hash

    def inclusion(self, association: str, seq: int, size: int) -> list[bytes]:
        """Proof that entry `seq` is in the tree of `size` entries."""
        if not 1 <= seq <= size:
            raise ValueError(f"seq must be in 1..{size}")
        return self._subtrees(association).inclusion(seq - 1, size)

    def _subtrees(self, association: str) -> SubtreeCache:
        # Entries are never rewritten, so the roots of a ledger's complete subtrees stay valid
        # for good: a proof then costs O(log n) hashes and one small read, not a pass over
        # every leaf (merkle_cache.py; `merkle` stays the reference in the tests).
        with self._lock:
            cache = self._subtree_caches.get(association)
            if cache is None:
                def read(lo: int, hi: int) -> list[bytes]:
                    return [leaf_hash(w) for w in self.store.wires(association, lo + 1, hi)]

                cache = self._subtree_caches[association] = SubtreeCache(read)
            return cache

    def consistency(self, association: str, old_size: int, new_size: int) -> list[bytes]:
        """Proof that the tree of `old_size` is a prefix of the tree of `new_size`."""
        if not 1 <= old_size <= new_size:
            raise ValueError("sizes must satisfy 1 <= from <= to")
        return consistency_proof(self.leaf_hashes(association, new_size), old_size)

    # -- checkpoints: our own, and peers' that we witnessed -----------------------------

    def latest_checkpoint(self, association: str) -> bytes | None:
        """The most recent checkpoint note of an association held here, with every valid
        cosignature collected for it appended."""
        row = self._latest_row(association)
        return None if row is None else self._with_cosignatures(association, *row)

    def latest_witnessed_checkpoint(self, association: str) -> bytes | None:
        """The most recent checkpoint of `association` cosigned by the registry's witness
        quorum of distinct witnesses (never the origin), with its cosignatures; None if none
        is, or without a registry."""
        registry = self._registry()
        if registry is None:
            return None
        candidates = self.db.query(
            "SELECT k.size, k.root_hash, k.note FROM checkpoints k JOIN checkpoint_cosignatures c"
            " ON c.association = k.association AND c.size = k.size AND c.root_hash = k.root_hash"
            " WHERE k.association = ? AND c.witness <> ? GROUP BY k.size, k.root_hash, k.note"
            " HAVING COUNT(DISTINCT c.witness) >= ? ORDER BY k.size DESC LIMIT 20",
            (association, association, registry.witness_quorum))
        for size, root_hash, note in candidates:
            full, witnesses = self._assemble(association, int(size), bytes(root_hash),
                                             bytes(note))
            if witnesses >= registry.witness_quorum:
                return full
        return None

    def checkpoint_at(self, association: str, size: int) -> tuple[bytes, bytes] | None:
        """(root hash, note without cosignatures) of the stored checkpoint of `size`."""
        rows = self.db.query("SELECT root_hash, note FROM checkpoints WHERE association = ? "
                             "AND size = ?", (association, size))
        return (bytes(rows[0][0]), bytes(rows[0][1])) if rows else None

    def cosignature_lines(self, association: str, size: int, root_hash: bytes
                          ) -> dict[str, bytes]:
        """Collected cosignature lines over one checkpoint, by witness association."""
        return {r[0]: bytes(r[1]) for r in self.db.query(
            "SELECT witness, line FROM checkpoint_cosignatures WHERE association = ? AND "
            "size = ? AND root_hash = ? ORDER BY witness", (association, size, root_hash))}

    @staticmethod
    def record_checkpoint(cur: Cursor, association: str, checkpoint: Checkpoint, note: bytes,
                          now: dt.datetime) -> None:
        """Keep a peer's checkpoint (its origin's signature only) unless one of that size is
        kept already; part of the caller's transaction."""
        if cur.execute("SELECT 1 FROM checkpoints WHERE association = ? AND size = ?",
                       (association, checkpoint.size)).fetchone() is None:
            cur.execute("INSERT INTO checkpoints (association, size, root_hash, note, "
                        "signed_at) VALUES (?, ?, ?, ?, ?)",
                        (association, checkpoint.size, checkpoint.root_hash, note,
                         now.isoformat()))

    @staticmethod
    def record_cosignature(cur: Cursor, association: str, checkpoint: Checkpoint,
                           witness: str, timestamp: int, line: bytes) -> bool:
        """Keep one verified cosignature line (the first one per witness and checkpoint)."""
        key = (association, checkpoint.size, checkpoint.root_hash, witness)
        if cur.execute("SELECT 1 FROM checkpoint_cosignatures WHERE association = ? AND "
                       "size = ? AND root_hash = ? AND witness = ?", key).fetchone():
            return False
        cur.execute("INSERT INTO checkpoint_cosignatures (association, size, root_hash, "
                    "witness, cosigned_at, line) VALUES (?, ?, ?, ?, ?, ?)",
                    (*key, timestamp, line))
        return True

    def _latest_row(self, association: str) -> tuple[int, bytes, bytes] | None:
        rows = self.db.query("SELECT size, root_hash, note FROM checkpoints WHERE "
                             "association = ? ORDER BY size DESC LIMIT 1", (association,))
        return (int(rows[0][0]), bytes(rows[0][1]), bytes(rows[0][2])) if rows else None

    def _with_cosignatures(self, association: str, size: int, root_hash: bytes,
                           note: bytes) -> bytes:
        return self._assemble(association, size, root_hash, note)[0]

    def _assemble(self, association: str, size: int, root_hash: bytes, note: bytes
                  ) -> tuple[bytes, int]:
        """The note with its valid collected cosignatures, and how many witnesses those are
        (checked against the registry when there is one)."""
        lines = self.cosignature_lines(association, size, root_hash)
        if not lines:
            return note, 0
        full = append_signature_lines(note, lines.values())
        registry = self._registry()
        if registry is None:
            return full, len(lines)
        # One verification per (note, lines, registry version), not one per read: proofs and
        # exports read the latest checkpoint on every request.
        key = (full, registry.head_hash)
        found = self._verified.get(key)
        if found is None:
            cosigners = verified_cosigners(full, registry)
            # Witnesses count by distinct key: one key admitted for two associations is one.
            keys = {k.public_key for w, t in cosigners.items()
                    if (k := key_at(registry, w, dt.datetime.fromtimestamp(t, dt.UTC)))}
            found = (frozenset(cosigners), len(keys))
            with self._lock:
                if len(self._verified) >= _VERIFIED_NOTES:
                    del self._verified[next(iter(self._verified))]
                self._verified[key] = found
        valid, distinct = found
        if len(valid) == len(lines):
            return full, distinct
        return append_signature_lines(note, [line for witness, line in lines.items()
                                             if witness in valid]), distinct

    def signed_size(self, association: str) -> int:
        """The largest checkpoint size held for `association` (0 without one)."""
        rows = self.db.query("SELECT MAX(size) FROM checkpoints WHERE association = ?",
                             (association,))
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def signed_roots(self, association: str, above: int = 0, upto: int | None = None
                     ) -> list[tuple[int, bytes]]:
        """(size, root) of every checkpoint held of `association` with above < size <= upto,
        smallest first."""
        top = upto if upto is not None else 2**62
        return [(int(r[0]), bytes(r[1])) for r in self.db.query(
            "SELECT size, root_hash FROM checkpoints WHERE association = ? AND size > ? AND "
            "size <= ? ORDER BY size", (association, above, top))]

    def signed_root_mismatch(self, association: str) -> str | None:
        """Where the ledger stopped giving the roots of the checkpoints held for it, or None.

        One pass over the leaves computes the root at every checkpoint size the ledger
        reaches; the first that differs, and the last that still holds before it, bound the
        entries that were changed since they were signed."""
        head = self.store.head(association)
        wanted = self.signed_roots(association, 0, head[0] if head else 0)
        if not wanted:
            return None
        tree = MerkleTree()
        good = 0
        for size, root_hash in wanted:
            tree.extend(leaf_hash(w) for w in self.store.wires(association, tree.size + 1,
                                                               size))
            if tree.root() != root_hash:
                return (f"entries 1..{size} no longer give the root of the checkpoint signed "
                        f"at size {size}" + (f" (the one at size {good} still holds)"
                                             if good else "") +
                        f": an entry in {good + 1}..{size} was changed or replaced")
            good = size
        return None

    def sign_checkpoint(self, association: str, signer: Signer, now: dt.datetime) -> bytes:
        """Sign a checkpoint of the current ledger (or return the last one if nothing grew).

        Refused (LedgerBehind) while the gate is closed: a checkpoint of a ledger that lost
        entries would contradict the ones its witnesses hold."""
        self.gate.check()
        size, root_hash = self.root(association)
        new = Checkpoint(origin=origin_of(association), size=size, root_hash=root_hash)
        row = self._latest_row(association)
        last = parse_body(parse_note(row[2]).text) if row else None
        if row and last and last.size == size and last.root_hash == root_hash:
            return self._with_cosignatures(association, *row)
        # Both roots come from the same append-only store: the tree of `size` extends the
        # signed one exactly when the store's first `last.size` entries still give its root
        # (what a consistency proof would establish, without reading every leaf again).
        consistent = last is None or last.size == 0 or (
            last.size < size and self.root_at(association, last.size) == last.root_hash)
        next_checkpoint_allowed(last, new, consistent)  # raises: never sign two histories
        note = sign_note(new.body(), origin_of(association), signer)
        self._remember(association, size, root_hash)
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO checkpoints (association, size, root_hash, note, "
                        "signed_at) VALUES (?, ?, ?, ?, ?)",
                        (association, size, root_hash, note, now.isoformat()))
        return note

