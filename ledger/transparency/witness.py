"""This node as a witness of its peers' checkpoints, and as a collector of cosignatures.

A witness cosigns a peer's checkpoint only when it can vouch for it itself: the note must be
signed by the key the registry allows for that association now, the node's verified replica
of that ledger must hold at least `size` entries with exactly that Merkle root at `size`, and
the checkpoint must extend the last one this node cosigned for that origin (C2SP
tlog-witness, `witness_rules.witness`; the witness holds every leaf, so instead of trusting a
consistency proof it checks that both trees are prefixes of its append-only replica).
The replica is built from entries the origin signed, so a checkpoint with another root at a
size the replica holds is the origin vouching for two histories: it is refused, both sides
are kept as evidence and the association is flagged as forked. Two validly signed checkpoints
of one size with different roots are the same offence even before the entries arrive. A
checkpoint ahead of the replica waits (pending) and is retried after ingestion. A node also
watches its own origin: a checkpoint under its key that its own ledger does not give means the
key signed elsewhere, and is flagged the same way.

The last cosigned checkpoint per origin lives in the database and is updated in the same
transaction as the cosignature, so a restart neither forgets it nor cosigns twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ledger.errors import CheckpointError, VerificationError
from ledger.signing import Signer
from ledger.storage.database import Database
from ledger.transparency.checkpoints import Checkpoint, cosign, open_checkpoint, parse_body
from ledger.transparency.cosigners import (
    association_of_origin,
    check_cosignature,
    origin_keys,
    origin_of,
    witness_name,
)
from ledger.transparency.log import LedgerLog
from ledger.transparency.notes import append_signature_lines, parse_note
from ledger.transparency.witness_rules import CheckpointAccepted, Refusal, WitnessState, witness
from ledger.trust.registry import RegistryState

_DDL = """
CREATE TABLE IF NOT EXISTS witness_state (
    association TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    root_hash {blob} NOT NULL,
    note {blob} NOT NULL,
    cosigned {blob} NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS witness_pending (
    association TEXT NOT NULL,
    size BIGINT NOT NULL,
    root_hash {blob} NOT NULL,
    note {blob} NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (association, size, root_hash)
);
CREATE TABLE IF NOT EXISTS witness_refusals (
    association TEXT NOT NULL,
    note_hash {blob} NOT NULL,
    size BIGINT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    note {blob} NOT NULL,
    other_note {blob} NOT NULL,
    other_root {blob} NOT NULL,
    fork INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    resolved_at TEXT,
    resolution TEXT,
    PRIMARY KEY (association, note_hash)
)
"""

MAX_NOTE_BYTES = 8192  # a checkpoint with a hundred cosignatures is ~10 kB less than this
MAX_PENDING = 32  # per origin; the oldest pending checkpoints go first
MAX_REFUSALS = 1000  # per origin, refusals that are not forks (garbage must not fill the disk)
UNKNOWN_ORIGIN = "?"  # where refusals of notes of no member (or no parseable origin) are kept


@dataclass(frozen=True, slots=True)
class Cosigned:
    """This node cosigns the checkpoint: publish `note` (the origin's note and our line)."""

    association: str
    note: bytes
    new: bool


@dataclass(frozen=True, slots=True)
class Pending:
    """The replica lacks entries of the checkpoint; retried after ingestion."""

    association: str
    size: int


@dataclass(frozen=True, slots=True)
class Refused:
    """Not cosigned; kept as evidence. `fork`: the origin signed two histories."""

    association: str
    reason: str
    detail: str
    fork: bool


@dataclass(frozen=True, slots=True)
class Ignored:
    """Nothing to do: our own checkpoint, an older one, or no registry yet."""

    detail: str


WitnessOutcome = Cosigned | Pending | Refused | Ignored


@dataclass(frozen=True, slots=True)
class RefusalRecord:
    """A refused checkpoint note, why, and what it conflicts with."""

    association: str
    size: int
    reason: str
    detail: str
    note: bytes
    other_note: bytes  # the conflicting note held here (empty: the conflict is the replica)
    other_root: bytes  # the root this node holds at `size` (empty when unknown)
    fork: bool
    received_at: str
    resolved_at: str | None


class Witness:
    """Witnesses peers' checkpoints and collects every witness's cosignatures."""

    def __init__(self, log: LedgerLog, db: Database, *, own: str, signer: Signer,
                 registry: Callable[[], RegistryState | None]) -> None:
        self.log = log
        self.db = db
        self.own = own
        self.signer = signer
        self._registry = registry
        self._lock = threading.Lock()  # one decision at a time per node
        self.ignored_cosignatures = 0  # lines dropped: non-member, origin, bad signature
        db.ddl(_DDL)
        for association, size in db.query("SELECT association, size FROM witness_pending"):
            log.want_root(association, int(size))  # after a restart, as before it

    # -- witnessing ---------------------------------------------------------------------

    def receive(self, note: bytes, now: dt.datetime) -> WitnessOutcome:
        """Decide about a peer's checkpoint note; cosign, keep pending, or refuse."""
        with self._lock:
            return self._receive(note, now)

    def retry_pending(self, now: dt.datetime) -> list[WitnessOutcome]:
        """Re-decide pending checkpoints whose entries the replica now holds, oldest first."""
        outcomes: list[WitnessOutcome] = []
        with self._lock:
            for association, size, root_hash, note in self.db.query(
                    "SELECT association, size, root_hash, note FROM witness_pending "
                    "ORDER BY association, size"):
                head = self.log.store.head(association)
                if (head[0] if head else 0) < int(size):
                    continue
                with self.db.transaction() as cur:
                    cur.execute("DELETE FROM witness_pending WHERE association = ? AND size = ? "
                                "AND root_hash = ?", (association, size, bytes(root_hash)))
                outcomes.append(self._receive(bytes(note), now))
        return outcomes

    def _receive(self, note: bytes, now: dt.datetime) -> WitnessOutcome:
        registry = self._registry()
        if registry is None:
            return Ignored("no trust registry: nothing to witness against")
        if len(note) > MAX_NOTE_BYTES:
            return self._refuse(UNKNOWN_ORIGIN, 0, Refusal.MALFORMED, "note too large", note,
                                now)
        try:
            body = parse_body(parse_note(note).text)
        except CheckpointError as e:
            return self._refuse(UNKNOWN_ORIGIN, 0, Refusal.MALFORMED, e.reason, note, now)
        association = association_of_origin(body.origin)
        if association == self.own:
            return self._own_checkpoint(note, body, now)
        if association is None or registry.association(association) is None:
            # Filed under the shared "?" bucket, never under the name the note invents: a
            # peer can invent names without end, and the bound on refusals is per name.
            return self._refuse(UNKNOWN_ORIGIN, body.size, Refusal.WRONG_ORIGIN,
                                f"origin {body.origin!r} is not an Alliance ledger", note, now)
        state = self._state(association)
        if state is not None and state[2] == note:
            return Cosigned(association, state[3], new=False)  # a re-publication: say it again
        keys = origin_keys(registry, association, now)
        try:
            checkpoint = open_checkpoint(note, keys)
        except CheckpointError as e:
            return self._refuse(association, body.size, Refusal.BAD_SIGNATURE,
                                f"not signed by {association}'s current key: {e.reason}",
                                note, now)
        clean = _origin_only(note, origin_of(association))
        head = self.log.store.head(association)
        if (head[0] if head else 0) < checkpoint.size:
            # Ahead of the replica: only another signed checkpoint can contradict it yet.
            conflict = self._conflicting(association, checkpoint)
            if conflict is not None:
                return self._refuse(association, checkpoint.size, Refusal.FORK,
                                    f"{association} signed two checkpoints of size "
                                    f"{checkpoint.size} with different roots", clean, now,
                                    other_note=conflict[1], other_root=conflict[0], fork=True)
            self._keep_pending(association, checkpoint, clean, now)
            self.log.want_root(association, checkpoint.size)
            return Pending(association, checkpoint.size)
        replica_root = self.log.root_at(association, checkpoint.size)
        if replica_root != checkpoint.root_hash:
            return self._refuse(association, checkpoint.size, Refusal.FORK,
                                f"{association}'s own signed entries 1..{checkpoint.size} give "
                                f"another root than its checkpoint", clean, now,
                                other_root=replica_root, fork=True)
        return self._decide(association, checkpoint, clean, keys, state, now)

    def _own_checkpoint(self, note: bytes, body: Checkpoint, now: dt.datetime
                        ) -> WitnessOutcome:
        """Our own checkpoint coming back is nothing; one our key signed over another root
        than our ledger's is a fork made with our key (a stolen key, or a restored backup
        that lost entries), flagged like any other."""
        stored = self.log.checkpoint_at(self.own, body.size)
        if stored is not None and stored[0] == body.root_hash:
            return Ignored("own checkpoint")
        try:
            open_checkpoint(note, {origin_of(self.own): self.signer.public_key})
        except CheckpointError:
            return Ignored("not signed with this node's key")
        head = self.log.store.head(self.own)
        if (head[0] if head else 0) >= body.size and \
                self.log.root_at(self.own, body.size) == body.root_hash:
            return Ignored("own checkpoint")
        return self._refuse(self.own, body.size, Refusal.FORK,
                            f"this node's key signed a checkpoint of size {body.size} that its "
                            f"own ledger does not give", _origin_only(note, origin_of(self.own)),
                            now, other_note=stored[1] if stored else b"", fork=True)

    def _decide(self, association: str, checkpoint: Checkpoint, note: bytes,
                keys: dict[str, bytes], state: tuple[int, bytes, bytes, bytes] | None,
                now: dt.datetime) -> WitnessOutcome:
        origin = origin_of(association)
        last = (WitnessState(origin) if state is None
                else WitnessState(origin, state[0], state[1]))

        def consistent(old_size: int, old_root: bytes, new_size: int, new_root: bytes) -> bool:
            # The witness holds every leaf, so it checks more than a consistency proof would:
            # both trees are prefixes of its one append-only replica.
            return (self.log.root_at(association, old_size) == old_root
                    and self.log.root_at(association, new_size) == new_root)

        decision = witness(last, note, keys, consistent)
        if not isinstance(decision, CheckpointAccepted):
            if decision.reason is Refusal.ROLLBACK:
                # Older than what we cosigned but equal to our replica: a late copy, no harm.
                with self.db.transaction() as cur:
                    self.log.record_checkpoint(cur, association, checkpoint, note, now)
                return Ignored(f"older than the cosigned size {last.size}")
            fork = decision.reason in (Refusal.FORK, Refusal.INCONSISTENT)
            return self._refuse(association, checkpoint.size, decision.reason, decision.detail,
                                note, now, other_note=state[2] if state else b"", fork=fork)
        if state is not None and (state[0], state[1]) == (checkpoint.size, checkpoint.root_hash):
            return Cosigned(association, state[3], new=False)
        line = cosign(parse_note(note).text, witness_name(self.own), self.signer,
                      int(now.timestamp()))
        cosigned = append_signature_lines(note, [line])
        with self.db.transaction() as cur:
            self.log.record_checkpoint(cur, association, checkpoint, note, now)
            self.log.record_cosignature(cur, association, checkpoint, self.own,
                                        int(now.timestamp()), line)
            cur.execute("DELETE FROM witness_state WHERE association = ?", (association,))
            cur.execute("INSERT INTO witness_state (association, size, root_hash, note, "
                        "cosigned, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (association, checkpoint.size, checkpoint.root_hash, note, cosigned,
                         now.isoformat()))
        return Cosigned(association, cosigned, new=True)

    def _state(self, association: str) -> tuple[int, bytes, bytes, bytes] | None:
        rows = self.db.query("SELECT size, root_hash, note, cosigned FROM witness_state "
                             "WHERE association = ?", (association,))
        if not rows:
            return None
        size, root_hash, note, cosigned = rows[0]
        return int(size), bytes(root_hash), bytes(note), bytes(cosigned)

    def last_cosigned(self, association: str) -> WitnessState | None:
        """The last checkpoint of `association` this node cosigned (it survives restarts)."""
        state = self._state(association)
        return None if state is None else WitnessState(origin_of(association), state[0],
                                                        state[1])

    def _conflicting(self, association: str, checkpoint: Checkpoint
                     ) -> tuple[bytes, bytes] | None:
        """(root, note) of a checkpoint of the same size and another root seen before."""
        rows = self.db.query(
            "SELECT root_hash, note FROM checkpoints WHERE association = ? AND size = ? "
            "UNION ALL SELECT root_hash, note FROM witness_pending WHERE association = ? "
            "AND size = ?", (association, checkpoint.size, association, checkpoint.size))
        for root_hash, note in rows:
            if bytes(root_hash) != checkpoint.root_hash:
                return bytes(root_hash), bytes(note)
        return None

    def _keep_pending(self, association: str, checkpoint: Checkpoint, note: bytes,
                      now: dt.datetime) -> None:
        with self.db.transaction() as cur:
            key = (association, checkpoint.size, checkpoint.root_hash)
            if cur.execute("SELECT 1 FROM witness_pending WHERE association = ? AND size = ? "
                           "AND root_hash = ?", key).fetchone() is None:
                cur.execute("INSERT INTO witness_pending (association, size, root_hash, note, "
                            "received_at) VALUES (?, ?, ?, ?, ?)", (*key, note, now.isoformat()))
            sizes = [int(r[0]) for r in cur.execute(
                "SELECT size FROM witness_pending WHERE association = ? ORDER BY size DESC",
                (association,)).fetchall()]
            if len(sizes) > MAX_PENDING:
                cur.execute("DELETE FROM witness_pending WHERE association = ? AND size < ?",
                            (association, sizes[MAX_PENDING - 1]))

    def pending(self, association: str) -> list[int]:
        """Sizes of the association's checkpoints waiting for the replica."""
        return [int(r[0]) for r in self.db.query(
            "SELECT size FROM witness_pending WHERE association = ? ORDER BY size",
            (association,))]

    # -- refusals and forks -------------------------------------------------------------

    def _refuse(self, association: str, size: int, reason: Refusal, detail: str, note: bytes,
                now: dt.datetime, *, other_note: bytes = b"", other_root: bytes = b"",
                fork: bool = False) -> Refused:
        note_hash = hashlib.sha256(note).digest()
        with self.db.transaction() as cur:
            if cur.execute("SELECT 1 FROM witness_refusals WHERE association = ? AND "
                           "note_hash = ?", (association, note_hash)).fetchone() is None:
                cur.execute("INSERT INTO witness_refusals (association, note_hash, size, "
                            "reason, detail, note, other_note, other_root, fork, received_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (association, note_hash, size, reason.value, detail,
                             note[:MAX_NOTE_BYTES], other_note, other_root, int(fork),
                             now.isoformat()))
            if not fork:  # fork evidence is kept whole; other refusals only the latest
                cur.execute("DELETE FROM witness_refusals WHERE association = ? AND fork = 0 "
                            "AND note_hash NOT IN (SELECT note_hash FROM witness_refusals "
                            "WHERE association = ? AND fork = 0 ORDER BY received_at DESC "
                            "LIMIT ?)", (association, association, MAX_REFUSALS))
        return Refused(association, reason.value, detail, fork)

    def refusals(self, association: str | None = None, limit: int = 100
                 ) -> list[RefusalRecord]:
        """Refused checkpoints, newest first (all origins, or one)."""
        where, params = ("WHERE association = ?", (association,)) if association else ("", ())
        return [RefusalRecord(association=r[0], size=int(r[1]), reason=r[2], detail=r[3],
                              note=bytes(r[4]), other_note=bytes(r[5]), other_root=bytes(r[6]),
                              fork=bool(r[7]), received_at=r[8], resolved_at=r[9])
                for r in self.db.query(
                    "SELECT association, size, reason, detail, note, other_note, other_root, "
                    f"fork, received_at, resolved_at FROM witness_refusals {where} "
                    "ORDER BY received_at DESC LIMIT ?", (*params, limit))]

    def forked(self) -> dict[str, int]:
        """Associations that signed conflicting checkpoints (unresolved), with a count each."""
        return {r[0]: int(r[1]) for r in self.db.query(
            "SELECT association, COUNT(*) FROM witness_refusals WHERE fork = 1 AND "
            "resolved_at IS NULL GROUP BY association")}

    def resolve_forks(self, association: str, resolution: str, now: dt.datetime) -> int:
        """Mark checkpoint forks resolved (the evidence stays)."""
        with self.db.transaction() as cur:
            row = cur.execute("SELECT COUNT(*) FROM witness_refusals WHERE association = ? "
                              "AND fork = 1 AND resolved_at IS NULL", (association,)).fetchone()
            cur.execute("UPDATE witness_refusals SET resolved_at = ?, resolution = ? WHERE "
                        "association = ? AND fork = 1 AND resolved_at IS NULL",
                        (now.isoformat(), resolution, association))
        return int(row[0]) if row else 0

    # -- collecting cosignatures --------------------------------------------------------

    def collect(self, note: bytes, now: dt.datetime) -> int:
        """Store the valid cosignatures in a cosigned checkpoint note; return how many were new.

        The origin's signature must verify under its current key; each cosignature line must
        verify under its witness's key valid at the line's timestamp; lines by non-members or
        by the origin itself, and bad lines, are ignored (counted in `ignored_cosignatures`).
        """
        registry = self._registry()
        if registry is None or len(note) > MAX_NOTE_BYTES:
            return 0
        try:
            parsed = parse_note(note)
            body = parse_body(parsed.text)
        except CheckpointError:
            return 0
        association = association_of_origin(body.origin)
        if association is None or registry.association(association) is None:
            return 0
        known = set(self.log.cosignature_lines(association, body.size, body.root_hash).values())
        fresh = [s for s in parsed.signatures if s.name != body.origin and s.line() not in known]
        if not fresh:
            return 0
        try:
            checkpoint = open_checkpoint(note, origin_keys(registry, association, now))
        except VerificationError:  # CheckpointError, or a key the registry does not allow
            return 0
        stored = 0
        with self.db.transaction() as cur:
            for sig in fresh:
                checked = check_cosignature(parsed.text, sig, registry, association)
                if checked is None:
                    self.ignored_cosignatures += 1
                    continue
                witness_id, timestamp = checked
                stored += self.log.record_cosignature(cur, association, checkpoint, witness_id,
                                                      timestamp, sig.line())
        return stored


def _origin_only(note: bytes, origin_name: str) -> bytes:
    """The note with only its origin's signature lines (what a witness stores and cosigns)."""
    parsed = parse_note(note)
    lines = [s.line() for s in parsed.signatures if s.name == origin_name]
    return parsed.text + b"\n" + b"".join(lines)
