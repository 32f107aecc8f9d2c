"""Ingesting peers' entries: verify, store in order, quarantine the bad, keep fork evidence.

Whatever carried the bytes (JetStream, a backfill reply, an export file) is irrelevant: an
entry is stored only if its signature verifies under a key the registry allows for its
association at its recorded time, its seq is the next one and its prev-hash matches
(DESIGN invariant 3). Anything else is quarantined with the reason and never applied. Two
different validly signed entries for one (association, seq), or a validly signed entry that
does not extend the chain it claims to, are a fork: both are kept as evidence and the
association is flagged.

The node's own entries never come in that way (only this node writes its ledger), except to
recover a ledger that lost entries (`recover_own`, DESIGN invariant 8): the entries a peer, the
hub stream or an export holds verify themselves under this node's own key windows, must
continue its head seq by seq and hash by hash, must be the entry the store's high-water mark
recorded at its seq, and must give the root of every checkpoint the node signed at the sizes
they reach. Anything else is quarantined, or kept as fork evidence when a validly signed
entry contradicts one this node stored.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import msgspec

from ledger.chain.entries import KeySource, LedgerEntry, open_entry
from ledger.chain.store import LedgerStore
from ledger.codec import decode_body, decode_signed
from ledger.errors import LedgerError, VerificationError
from ledger.storage.database import Database
from ledger.transparency.log import LedgerLog
from ledger.transparency.merkle import MerkleTree, leaf_hash

_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    reason TEXT NOT NULL,
    source TEXT NOT NULL,
    wire {blob} NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fork_evidence (
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    stored_hash {blob} NOT NULL,
    other_wire {blob} NOT NULL,
    detected_at TEXT NOT NULL,
    resolved_at TEXT,
    resolution TEXT,
    PRIMARY KEY (association, seq, stored_hash)
)
"""


_PARALLEL_FROM = 64  # entries per batch before verification is spread over threads


class Gap(msgspec.Struct, frozen=True):
    """Entries first..last of `association` are missing before one that arrived."""

    association: str
    first: int
    last: int


class IngestResult(msgspec.Struct):
    """What one ingest call did."""

    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    forks: int = 0
    gaps: list[Gap] = msgspec.field(default_factory=list)
    waiting: list[bytes] = msgspec.field(default_factory=list)  # verified, after a gap


class Recovery(msgspec.Struct):
    """What one `recover_own` call did."""

    stored: int = 0
    duplicates: int = 0
    highest: int = 0  # the highest seq among the verified own entries received
    refused: list[str] = msgspec.field(default_factory=list)  # why entries were not stored


class QuarantineRecord(msgspec.Struct, frozen=True):
    """An entry refused, with why and from where."""

    association: str
    seq: int
    reason: str
    source: str
    received_at: str


class Ingestor:
    """Stores verified peer entries in the node's ledger store."""

    def __init__(self, store: LedgerStore, db: Database, keys: KeySource, *,
                 own_association: str, log: LedgerLog | None = None) -> None:
        self.store = store
        self.db = db
        self.keys = keys
        self.own = own_association
        self.log = log or LedgerLog(store, db)
        # Ed25519 verification releases the GIL, so a batch verifies on every core; results
        # come back in order, so what is stored does not depend on the thread timing.
        self._workers = max(2, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="verify")
        db.ddl(_DDL)

    def ingest(self, wires: Sequence[bytes], *, source: str, now: dt.datetime) -> IngestResult:
        """Verify and store `wires` (any order, any associations); report gaps and forks."""
        result = IngestResult()
        verified: list[LedgerEntry] = []
        opened = self._open_all(wires)
        for wire, outcome in zip(wires, opened, strict=True):
            if isinstance(outcome, VerificationError):
                self._quarantine(wire, outcome.reason, source, now, outcome.association,
                                 outcome.seq)
                result.quarantined += 1
            else:
                verified.append(outcome)
        by_association: dict[str, list[LedgerEntry]] = {}
        for entry in verified:
            by_association.setdefault(entry.body.association, []).append(entry)
        for association, entries in sorted(by_association.items()):
            entries.sort(key=lambda e: e.seq)
            self._ingest_chain(association, entries, result, source, now)
        return result

    def _open_all(self, wires: Sequence[bytes]) -> list[LedgerEntry | VerificationError]:
        # One contiguous chunk per core, not one task per entry: a task per entry costs a
        # thread hand-off and GIL churn comparable to the verification itself.
        if len(wires) < _PARALLEL_FROM:
            return [self._open(w) for w in wires]
        step = -(-len(wires) // self._workers)
        chunks = [wires[i:i + step] for i in range(0, len(wires), step)]
        return [outcome for part in self._pool.map(self._open_chunk, chunks) for outcome in part]

    def _open_chunk(self, wires: Sequence[bytes]) -> list[LedgerEntry | VerificationError]:
        return [self._open(w) for w in wires]

    def _open(self, wire: bytes) -> LedgerEntry | VerificationError:
        try:
            return open_entry(wire, self.keys)
        except VerificationError as e:
            return e

    def _ingest_chain(self, association: str, entries: list[LedgerEntry],
                      result: IngestResult, source: str, now: dt.datetime) -> None:
        head = self.store.head(association)
        seq, last_hash = head if head else (0, bytes(32))
        run: list[LedgerEntry] = []
        for entry in entries:
            if entry.seq <= seq:
                stored = self._stored_hash(association, entry.seq, run)
                if stored == entry.entry_hash:
                    result.duplicates += 1
                else:
                    self._fork(association, entry, stored, now)
                    result.forks += 1
                continue
            if entry.seq > seq + 1:
                result.gaps.append(Gap(association, seq + 1, entry.seq - 1))
                result.waiting.extend(e.wire for e in entries if e.seq >= entry.seq)
                break
            if entry.body.prev_hash != last_hash:
                # Validly signed, next in seq, but built on another history: a fork.
                self._fork(association, entry, last_hash, now)
                self._quarantine(entry.wire, "prev_hash does not match the stored chain "
                                 "(fork)", source, now, association, entry.seq)
                result.forks += 1
                result.quarantined += 1
                break
            if association == self.own:
                # Only this node writes its own ledger; a valid copy of ours is a duplicate
                # that was counted above, anything new here means our key signed elsewhere.
                self._fork(association, entry, last_hash, now)
                result.forks += 1
                break
            run.append(entry)
            seq, last_hash = entry.seq, entry.entry_hash
        if run:
            self.store.append(run, follower=f"replica:{association}", position=run[-1].seq)
            result.stored += len(run)

    def recover_own(self, wires: Sequence[bytes], *, source: str, now: dt.datetime
                    ) -> Recovery:
        """Store this node's own entries fetched back from `source` that extend its head.

        Entries of other associations are ignored (a peer's export holds every ledger);
        entries that do not verify are quarantined; a validly signed own entry that
        contradicts what is stored, or what the node signed, is kept as fork evidence."""
        result = Recovery()
        entries: dict[int, LedgerEntry] = {}
        for wire, outcome in zip(wires, self._open_all(wires), strict=True):
            if isinstance(outcome, VerificationError):
                if outcome.association == self.own:
                    self._quarantine(wire, outcome.reason, source, now, outcome.association,
                                     outcome.seq)
                    result.refused.append(str(outcome))
            elif outcome.body.association == self.own:
                entries.setdefault(outcome.seq, outcome)
        if not entries:
            return result
        result.highest = max(entries)
        head = self.store.head(self.own)
        seq, last_hash = head if head else (0, bytes(32))
        run: list[LedgerEntry] = []
        for entry in sorted(entries.values(), key=lambda e: e.seq):
            if entry.seq <= seq:
                stored = self._stored_hash(self.own, entry.seq, run)
                if stored == entry.entry_hash:
                    result.duplicates += 1
                elif not stored:  # a hole below the head: only the tail is recovered here
                    result.refused.append(f"{self.own}#{entry.seq}: missing below the head "
                                          f"(`alliance ledger verify` names the hole)")
                else:
                    self._fork(self.own, entry, stored, now)
                    result.refused.append(f"{self.own}#{entry.seq}: another entry is stored "
                                          f"at that seq (fork evidence kept)")
                continue
            if entry.seq > seq + 1:
                result.refused.append(f"{self.own}#{seq + 1}..{entry.seq - 1}: not received")
                break
            if entry.body.prev_hash != last_hash:
                self._fork(self.own, entry, last_hash, now)
                result.refused.append(f"{self.own}#{entry.seq}: built on another history "
                                      f"(fork evidence kept)")
                break
            run.append(entry)
            seq, last_hash = entry.seq, entry.entry_hash
        run = self._as_signed(run, result, source, now) if run else run
        if run:
            self.store.append_recovered(run)
            result.stored = len(run)
        return result

    def _as_signed(self, run: list[LedgerEntry], result: Recovery, source: str,
                   now: dt.datetime) -> list[LedgerEntry]:
        """The prefix of `run` shown to be what this node signed.

        Anchors are what the node kept of its signed history: the high-water mark's entry
        hash and the root of every own checkpoint. An entry at or below the highest anchor is
        kept only once the run reaches an anchor above it and matches it (its hash, or the
        Merkle root over the ledger with the run): the prev-hash links, or the root, then
        pin every entry before. Entries beyond every anchor have only their signature to
        show, which is all anyone can check of them."""
        mark = self.store.high_water(self.own)
        first, last = run[0].seq, run[-1].seq
        anchors: dict[int, tuple[str, bytes]] = {
            size: ("root", root_hash)
            for size, root_hash in self.log.signed_roots(self.own, first - 1)}
        if mark is not None and mark.seq >= first:
            anchors[mark.seq] = ("hash", mark.entry_hash)
        if not anchors:
            return run
        tree = (MerkleTree(leaf_hash(w) for w in self.store.wires(self.own, 1, first - 1))
                if any(kind == "root" for kind, _ in anchors.values()) else None)
        shown = first - 1  # the run is shown to be ours up to this seq
        for entry in run:
            if tree is not None:
                tree.append(leaf_hash(entry.wire))
            anchor = anchors.get(entry.seq)
            if anchor is None:
                continue
            kind, expected = anchor
            if kind == "hash" and entry.entry_hash != expected:
                self._fork(self.own, entry, expected, now)
                result.refused.append(f"{self.own}#{entry.seq}: not the entry this node "
                                      f"stored at that seq (fork evidence kept)")
                return run[:shown - first + 1]
            if kind == "root" and (tree is None or tree.root() != expected):
                reason = (f"entries {shown + 1}..{entry.seq} do not give the root this node "
                          f"signed at size {entry.seq}")
                self._quarantine(entry.wire, reason, source, now, self.own, entry.seq)
                result.refused.append(f"{self.own}#{entry.seq}: {reason}")
                return run[:shown - first + 1]
            shown = entry.seq
        top = max(anchors)
        if top > last and shown < last:
            result.refused.append(f"{self.own}#{shown + 1}..{last}: kept back until the "
                                  f"entries up to seq {top} come with them (only they show "
                                  f"these are the entries this node signed)")
            return run[:shown - first + 1]
        return run

    def _stored_hash(self, association: str, seq: int, run: list[LedgerEntry]) -> bytes:
        for entry in run:
            if entry.seq == seq:
                return entry.entry_hash
        rows = self.db.query("SELECT entry_hash FROM ledger_entries WHERE association = ? AND "
                             "seq = ?", (association, seq))
        return bytes(rows[0][0]) if rows else b""

    def _fork(self, association: str, entry: LedgerEntry, stored_hash: bytes,
              now: dt.datetime) -> None:
        with self.db.transaction() as cur:
            exists = cur.execute("SELECT 1 FROM fork_evidence WHERE association = ? AND seq = ? "
                                 "AND stored_hash = ?", (association, entry.seq, stored_hash)
                                 ).fetchone()
            if not exists:
                cur.execute("INSERT INTO fork_evidence (association, seq, stored_hash, "
                            "other_wire, detected_at) VALUES (?, ?, ?, ?, ?)",
                            (association, entry.seq, stored_hash, entry.wire, now.isoformat()))

    def _quarantine(self, wire: bytes, reason: str, source: str, now: dt.datetime,
                    association: str = "", seq: int | None = None) -> None:
        if not association or seq is None:
            association, seq = _best_effort_id(wire)
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO quarantine (association, seq, reason, source, wire, "
                        "received_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (association, seq, reason, source, wire, now.isoformat()))

    def quarantined(self, limit: int = 100) -> list[QuarantineRecord]:
        """The most recent quarantined entries (without their bytes)."""
        return [QuarantineRecord(association=r[0], seq=int(r[1]), reason=r[2], source=r[3],
                                 received_at=r[4]) for r in self.db.query(
            "SELECT association, seq, reason, source, received_at FROM quarantine "
            "ORDER BY received_at DESC, seq DESC LIMIT ?", (limit,))]

    def quarantine_count(self) -> int:
        """How many entries were ever quarantined."""
        return int(self.db.query("SELECT COUNT(*) FROM quarantine")[0][0])

    def forked(self) -> dict[str, int]:
        """Associations with unresolved fork evidence, and how many conflicting entries each."""
        return {r[0]: int(r[1]) for r in self.db.query(
            "SELECT association, COUNT(*) FROM fork_evidence WHERE resolved_at IS NULL "
            "GROUP BY association")}

    def fork_evidence(self, association: str) -> list[tuple[int, bytes, bytes]]:
        """(seq, stored entry hash, the conflicting entry's wire bytes) for one association."""
        return [(int(r[0]), bytes(r[1]), bytes(r[2])) for r in self.db.query(
            "SELECT seq, stored_hash, other_wire FROM fork_evidence WHERE association = ? "
            "ORDER BY seq", (association,))]

    def resolve_forks(self, association: str, resolution: str, now: dt.datetime) -> int:
        """Mark an association's fork evidence resolved (kept as evidence; the flag clears)."""
        with self.db.transaction() as cur:
            count = cur.execute("SELECT COUNT(*) FROM fork_evidence WHERE association = ? AND "
                                "resolved_at IS NULL", (association,)).fetchone()
            cur.execute("UPDATE fork_evidence SET resolved_at = ?, resolution = ? WHERE "
                        "association = ? AND resolved_at IS NULL",
                        (now.isoformat(), resolution, association))
        return int(count[0]) if count else 0


def _best_effort_id(wire: bytes) -> tuple[str, int]:
    # For the quarantine record only: which entry this claims to be, if it parses at all.
    try:
        body = decode_body(decode_signed(wire).body)
    except LedgerError:
        return "?", 0
    return body.association, body.seq
