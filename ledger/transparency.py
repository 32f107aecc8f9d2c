"""A ledger seen as a transparency log: Merkle roots, proofs and signed checkpoints.

Leaves are the entries' exact wire bytes (RFC 6962 leaf hashing), so a checkpoint commits to
every signature as well as every body. The association signs checkpoints of its own ledger
with its ledger key in the C2SP checkpoint note format, and never signs two inconsistent
ones: each new checkpoint is checked against the last one signed with a consistency proof
over its own leaves before the signature is made.
"""

from __future__ import annotations

import datetime as dt
import threading

from ledger.checkpoints import (
    Checkpoint,
    next_checkpoint_allowed,
    parse_body,
    parse_note,
    sign_note,
)
from ledger.database import Database
from ledger.merkle import (
    MerkleProofError,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
)
from ledger.merkle import root as merkle_root
from ledger.signing import Signer
from ledger.store import LedgerStore

_DDL = """
CREATE TABLE IF NOT EXISTS checkpoints (
    association TEXT NOT NULL,
    size BIGINT NOT NULL,
    root_hash {blob} NOT NULL,
    note {blob} NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (association, size)
)
"""


def origin_of(association: str) -> str:
    """The checkpoint origin line (and note key name) of an association's ledger."""
    return f"alliance-ledger/{association.upper()}"


class LedgerLog:
    """Merkle views of the ledgers in one store, and this association's checkpoints."""

    def __init__(self, store: LedgerStore, db: Database) -> None:
        self.store = store
        self.db = db
        db.ddl(_DDL)
        self._trees: dict[str, MerkleTree] = {}
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
            if tree.size < top:
                tree.extend(leaf_hash(w) for w in self.store.wires(association, tree.size + 1,
                                                                   top))
            if size is None or size == tree.size:
                return tree.size, tree.root()
        return size, merkle_root(self.leaf_hashes(association, size))

    def inclusion(self, association: str, seq: int, size: int) -> list[bytes]:
        """Proof that entry `seq` is in the tree of `size` entries."""
        if not 1 <= seq <= size:
            raise ValueError(f"seq must be in 1..{size}")
        return inclusion_proof(self.leaf_hashes(association, size), seq - 1)

    def consistency(self, association: str, old_size: int, new_size: int) -> list[bytes]:
        """Proof that the tree of `old_size` is a prefix of the tree of `new_size`."""
        if not 1 <= old_size <= new_size:
            raise ValueError("sizes must satisfy 1 <= from <= to")
        return consistency_proof(self.leaf_hashes(association, new_size), old_size)

    # -- checkpoints of our own ledger ------------------------------------------------------

    def latest_checkpoint(self, association: str) -> bytes | None:
        """The most recent signed checkpoint note of an association held here."""
        rows = self.db.query("SELECT note FROM checkpoints WHERE association = ? "
                             "ORDER BY size DESC LIMIT 1", (association,))
        return bytes(rows[0][0]) if rows else None

    def sign_checkpoint(self, association: str, signer: Signer, now: dt.datetime) -> bytes:
        """Sign a checkpoint of the current ledger (or return the last one if nothing grew)."""
        size, root_hash = self.root(association)
        new = Checkpoint(origin=origin_of(association), size=size, root_hash=root_hash)
        last_note = self.latest_checkpoint(association)
        last = parse_body(parse_note(last_note).text) if last_note else None
        if last_note and last and last.size == size and last.root_hash == root_hash:
            return last_note
        consistent = True
        if last is not None and 0 < last.size < size:
            proof = self.consistency(association, last.size, size)
            try:
                verify_consistency(last.size, size, last.root_hash, root_hash, proof)
            except MerkleProofError:
                consistent = False
        next_checkpoint_allowed(last, new, consistent)  # raises: never sign two histories
        note = sign_note(new.body(), origin_of(association), signer)
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO checkpoints (association, size, root_hash, note, "
                        "signed_at) VALUES (?, ?, ?, ?, ?)",
                        (association, size, root_hash, note, now.isoformat()))
        return note
