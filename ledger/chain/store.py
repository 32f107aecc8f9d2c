"""Where ledger entries live: one table of (association, seq) -> wire bytes, plus tracking.

The same table holds the node's own ledger and, after federation, verified replicas of peers'
ledgers. Entries and the position they track are written in one transaction, so a crash
leaves either both or neither.

The own ledger also has a high-water mark (`ledger_high_water`): the highest seq this node
ever stored for it, that entry's hash, and the seq the writer sealed at its tracked event-store
position. It is written in the same transaction as the entries, and sealing checks it in that
transaction: a seq at or below it was signed already, so signing it again would fork the
ledger even if its row has gone (DESIGN invariant 8). Entries fetched back from peers extend
the mark only if the one at the mark's seq is the entry this node stored there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import msgspec

from ledger.chain.entries import LedgerEntry
from ledger.errors import ChainBroken, SeqAlreadySigned
from ledger.storage.database import Cursor, Database

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
);
CREATE TABLE IF NOT EXISTS ledger_high_water (
    association TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    entry_hash {blob} NOT NULL,
    sealed_seq BIGINT NOT NULL,
    position BIGINT NOT NULL
)
"""


# The head seq of every ledger stored: also run by backups inside their own snapshot.
HEADS_SQL = "SELECT association, MAX(seq) FROM ledger_entries GROUP BY association"


class HighWater(msgspec.Struct, frozen=True):
    """The own ledger's high-water mark: the highest seq stored (sealed here or fetched back)
    with its entry hash, and the seq the writer sealed at event-store position `position`."""

    seq: int
    entry_hash: bytes
    sealed_seq: int
    position: int


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
            _insert_extending(cur, entries)
            _set_position(cur, follower, position)

    def append_sealed(self, entries: Sequence[LedgerEntry], *, follower: str,
                      position: int) -> None:
        """Store entries the writer just sealed for the own ledger, with its position, and
        raise the high-water mark, atomically. Raises SeqAlreadySigned (writing nothing) if
        a seq was stored before, even if its row has been deleted since."""
        if not entries:
            return
        association = entries[0].body.association
        if any(e.body.association != association for e in entries):
            raise ValueError("one ledger at a time")
        with self.db.transaction() as cur:
            mark = _high_water(cur, association)
            if mark is not None and entries[0].seq <= mark.seq:
                raise SeqAlreadySigned(
                    f"seq {entries[0].seq} was signed already (the ledger reached seq "
                    f"{mark.seq}): sealing it again would fork the ledger",
                    association=association, seq=entries[0].seq)
            _insert_extending(cur, entries)
            _set_position(cur, follower, position)
            last = entries[-1]
            _set_high_water(cur, association, HighWater(
                seq=last.seq, entry_hash=last.entry_hash, sealed_seq=last.seq,
                position=position))

    def append_recovered(self, entries: Sequence[LedgerEntry]) -> None:
        """Store own entries fetched back (verified by the caller) that extend the own ledger.

        The entry at the high-water mark's seq must be the one stored there before; the mark
        rises to the last entry (the writer's part of it stays: those events were not sealed
        from this node's event store, or were and are advanced over by the writer)."""
        if not entries:
            return
        association = entries[0].body.association
        if any(e.body.association != association for e in entries):
            raise ValueError("one ledger at a time")
        with self.db.transaction() as cur:
            mark = _high_water(cur, association)
            for entry in entries:
                if mark is not None and entry.seq == mark.seq and \
                        entry.entry_hash != mark.entry_hash:
                    raise ChainBroken("is not the entry this node stored at that seq",
                                      association=association, seq=entry.seq)
            _insert_extending(cur, entries)
            last = entries[-1]
            if mark is None:
                _set_high_water(cur, association, HighWater(
                    seq=last.seq, entry_hash=last.entry_hash, sealed_seq=0, position=0))
            elif last.seq > mark.seq:
                _set_high_water(cur, association, msgspec.structs.replace(
                    mark, seq=last.seq, entry_hash=last.entry_hash))

    def high_water(self, association: str) -> HighWater | None:
        """The own ledger's high-water mark (None before the first sealed entry, or in a
        store written before marks existed)."""
        rows = self.db.query("SELECT seq, entry_hash, sealed_seq, position FROM "
                             "ledger_high_water WHERE association = ?", (association,))
        return _mark(rows[0]) if rows else None

    def set_writer_mark(self, association: str, *, follower: str, position: int,
                        sealed_seq: int, unless_moved_from: tuple[int, HighWater | None]
                        ) -> bool:
        """Record, with the follower's position, that the writer's events up to `position`
        are sealed as entries 1..`sealed_seq` (after checking or advancing its tracking); the
        mark's seq stays at least the head. Written only if the follower's position and the
        mark are still `unless_moved_from` (what the caller decided on): a writer in another
        process that moved on meanwhile is never set back. True if written."""
        with self.db.transaction() as cur:
            lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
            mark = _high_water(cur, association, lock)
            row = cur.execute(f"SELECT position FROM ledger_tracking WHERE follower = ?{lock}",
                              (follower,)).fetchone()
            if ((int(row[0]) if row else 0), mark) != unless_moved_from:
                return False
            row = cur.execute(
                "SELECT seq, entry_hash FROM ledger_entries WHERE association = ? "
                "ORDER BY seq DESC LIMIT 1", (association,)).fetchone()
            head = (int(row[0]), bytes(row[1])) if row else (0, bytes(32))
            top = (mark.seq, mark.entry_hash) if mark and mark.seq >= head[0] else head
            _set_position(cur, follower, position)
            _set_high_water(cur, association, HighWater(
                seq=top[0], entry_hash=top[1], sealed_seq=sealed_seq, position=position))
            return True

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

    def heads(self) -> dict[str, int]:
        """The head seq of every ledger stored."""
        return {str(a): int(seq) for a, seq in self.db.query(HEADS_SQL)}

    def associations(self) -> list[str]:
        """Every association with at least one stored entry."""
        return [r[0] for r in self.db.query(
            "SELECT DISTINCT association FROM ledger_entries ORDER BY association")]


def _insert_extending(cur: Cursor, entries: Sequence[LedgerEntry]) -> None:
    """Insert entries that extend their ledgers' heads as read in this transaction."""
    heads: dict[str, tuple[int, bytes]] = {}
    for entry in entries:
        body = entry.body
        if body.association not in heads:
            row = cur.execute(
                "SELECT seq, entry_hash FROM ledger_entries WHERE association = ? "
                "ORDER BY seq DESC LIMIT 1", (body.association,)).fetchone()
            heads[body.association] = (int(row[0]), bytes(row[1])) if row else (0, bytes(32))
        seq, last_hash = heads[body.association]
        if body.seq != seq + 1 or body.prev_hash != last_hash:
            raise ChainBroken(f"does not extend the ledger at seq {seq}",
                              association=body.association, seq=body.seq)
        heads[body.association] = (body.seq, entry.entry_hash)
    cur.executemany(
        "INSERT INTO ledger_entries (association, seq, entry_hash, wire) VALUES (?, ?, ?, ?)",
        [(e.body.association, e.body.seq, e.entry_hash, e.wire) for e in entries])


def _high_water(cur: Cursor, association: str, lock: str = "") -> HighWater | None:
    row = cur.execute("SELECT seq, entry_hash, sealed_seq, position FROM ledger_high_water "
                      f"WHERE association = ?{lock}", (association,)).fetchone()
    return None if row is None else _mark(row)


def _mark(row: tuple[Any, ...]) -> HighWater:
    return HighWater(seq=int(row[0]), entry_hash=bytes(row[1]), sealed_seq=int(row[2]),
                     position=int(row[3]))


def _set_high_water(cur: Cursor, association: str, mark: HighWater) -> None:
    # One statement: this runs in every sealing transaction.
    cur.execute("INSERT INTO ledger_high_water (association, seq, entry_hash, sealed_seq, "
                "position) VALUES (?, ?, ?, ?, ?) ON CONFLICT (association) DO UPDATE SET "
                "seq = excluded.seq, entry_hash = excluded.entry_hash, "
                "sealed_seq = excluded.sealed_seq, position = excluded.position",
                (association, mark.seq, mark.entry_hash, mark.sealed_seq, mark.position))


def _set_position(cur: Cursor, follower: str, position: int) -> None:
    updated = cur.execute("SELECT position FROM ledger_tracking WHERE follower = ?",
                          (follower,)).fetchone()
    if updated is None:
        cur.execute("INSERT INTO ledger_tracking (follower, position) VALUES (?, ?)",
                    (follower, position))
    else:
        cur.execute("UPDATE ledger_tracking SET position = ? WHERE follower = ?",
                    (position, follower))
