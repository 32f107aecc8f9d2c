"""Where ledger entries live: one table of (association, seq) -> wire bytes, plus tracking.

The same table holds the node's own ledger and, after federation, verified replicas of peers'
ledgers. Entries and the position they track are written in one transaction, so a crash
leaves either both or neither.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ledger.database import Cursor, Database
from ledger.entries import LedgerEntry
from ledger.errors import ChainBroken

_DDL = """
CREATE TABLE IF NOT EXISTS ledger_entries (
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    entry_hash {blob} NOT NULL,
    wire {blob} NOT NULL,
    PRIMARY KEY (association, seq)
);
CREATE TABLE IF NOT EXISTS ledger_tracking (
    follower TEXT PRIMARY KEY,
    position BIGINT NOT NULL
)
"""


class LedgerStore:
    """Append-only storage of verified entries, by association and seq."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    def head(self, association: str) -> tuple[int, bytes] | None:
        """(seq, entry hash) of the association's last entry, or None if it has none."""
        rows = self.db.query(
            "SELECT seq, entry_hash FROM ledger_entries WHERE association = ? "
            "ORDER BY seq DESC LIMIT 1", (association,))
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def append(self, entries: Sequence[LedgerEntry], *, follower: str, position: int) -> None:
        """Store entries that extend their ledgers, and the follower's new position, atomically.

        The head is re-read inside the transaction, so a second writer racing this one fails
        on the primary key or the link check rather than forking the ledger.
        """
        with self.db.transaction() as cur:
            heads: dict[str, tuple[int, bytes]] = {}
            for entry in entries:
                body = entry.body
                if body.association not in heads:
                    row = cur.execute(
                        "SELECT seq, entry_hash FROM ledger_entries WHERE association = ? "
                        "ORDER BY seq DESC LIMIT 1", (body.association,)).fetchone()
                    heads[body.association] = (int(row[0]), bytes(row[1])) if row else (
                        0, bytes(32))
                seq, last_hash = heads[body.association]
                if body.seq != seq + 1 or body.prev_hash != last_hash:
                    raise ChainBroken(f"does not extend the ledger at seq {seq}",
                                      association=body.association, seq=body.seq)
                heads[body.association] = (body.seq, entry.entry_hash)
            cur.executemany(
                "INSERT INTO ledger_entries (association, seq, entry_hash, wire) "
                "VALUES (?, ?, ?, ?)",
                [(e.body.association, e.body.seq, e.entry_hash, e.wire) for e in entries])
            _set_position(cur, follower, position)

    def position(self, follower: str) -> int:
        """Last position the follower recorded (0 before the first)."""
        rows = self.db.query("SELECT position FROM ledger_tracking WHERE follower = ?",
                             (follower,))
        return int(rows[0][0]) if rows else 0

    def set_position(self, follower: str, position: int) -> None:
        """Record a follower's position on its own (e.g. the publisher's last confirmed seq)."""
        with self.db.transaction() as cur:
            _set_position(cur, follower, position)

    def wires(self, association: str, first: int = 1, last: int | None = None,
              batch: int = 2000) -> Iterator[bytes]:
        """Wire bytes of entries first..last in seq order, read in batches."""
        seq = first
        while last is None or seq <= last:
            stop = seq + batch - 1 if last is None else min(last, seq + batch - 1)
            rows = self.db.query(
                "SELECT wire FROM ledger_entries WHERE association = ? AND seq BETWEEN ? AND ? "
                "ORDER BY seq", (association, seq, stop))
            for (wire,) in rows:
                yield bytes(wire)
            if len(rows) < stop - seq + 1:
                return
            seq = stop + 1

    def entry_hash(self, association: str, seq: int) -> bytes | None:
        """Hash of one stored entry."""
        rows = self.db.query("SELECT entry_hash FROM ledger_entries WHERE association = ? AND "
                             "seq = ?", (association, seq))
        return bytes(rows[0][0]) if rows else None

    def associations(self) -> list[str]:
        """Every association with at least one stored entry."""
        return [r[0] for r in self.db.query(
            "SELECT DISTINCT association FROM ledger_entries ORDER BY association")]


def _set_position(cur: Cursor, follower: str, position: int) -> None:
    updated = cur.execute("SELECT position FROM ledger_tracking WHERE follower = ?",
                          (follower,)).fetchone()
    if updated is None:
        cur.execute("INSERT INTO ledger_tracking (follower, position) VALUES (?, ?)",
                    (follower, position))
    else:
        cur.execute("UPDATE ledger_tracking SET position = ? WHERE follower = ?",
                    (position, follower))
