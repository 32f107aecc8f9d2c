"""The ledger writer: follows the event store and seals one signed entry per stored event.

It reads eventsourcing's notification log from its tracked position and appends entries with
the new position in one transaction. Re-running after a crash resumes exactly where the last
commit left off, so the ledger stays gapless and no event is sealed twice. Only the holder
of the association's current signing key runs a writer (single writer per ledger).

The writer seals nothing while its `SealGate` is closed (the own ledger is shorter than a
record of it, `ledger/chain/own_length.py`), and the store refuses a seq at or below the high-water
mark in the sealing transaction, so a lost row is never re-signed as a different entry.
`inspect` tells what the tracking and the event store say of the ledger's length: each
notification up to the tracked position was sealed as exactly one entry, in order, so their
count is the length the writer reached (notification ids may have gaps, e.g. PostgreSQL
sequences after a rollback, so it is a count of rows, not the last id); the high-water mark
keeps the seq sealed at the tracked position, so a normal start reads one row instead of
counting. `reconcile` moves a tracking position that fell behind the ledger (entries fetched
back from peers for events this store also holds, or a lost tracking row) over the events
already sealed, matched by aggregate id and version, so none is sealed a second time.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Mapper, Recording

from ledger.chain.commitments import CommitmentKey
from ledger.chain.entries import entry_hash, seal_many
from ledger.chain.own_length import LengthRecord, SealGate, Source
from ledger.chain.store import LedgerStore
from ledger.codec import (
    GENESIS_HASH,
    EntryBody,
    decode_body,
    decode_signed,
    encode_body,
    event_type_of,
    public_and_private,
    schema_version,
)
from ledger.errors import LostToRestore
from ledger.signing import Signer

FOLLOWER = "event-store"
_SCAN = 1000  # notifications (and entries) read per query when counting or matching


class LedgerWriter:
    """Seals stored events of one association into its ledger."""

    def __init__(self, *, association: str, recorder: ApplicationRecorder,
                 mapper: Mapper[uuid.UUID], store: LedgerStore, signer: Signer,
                 commitments: CommitmentKey, batch: int = 500,
                 gate: SealGate | None = None) -> None:
        self.association = association
        self._recorder = recorder
        self._mapper = mapper
        self._store = store
        self._signer = signer
        self._commitments = commitments
        self._batch = batch
        self.gate = gate or SealGate()
        self._lock = threading.Lock()
        self._state: tuple[int, int, bytes] | None = None
        self._unbacked_ranges: tuple[tuple[int, int], ...] = ()
        self._unbacked: dict[tuple[str, int], int] | None = None

    def catch_up(self) -> int:
        """Seal every stored event not yet in the ledger; return how many entries were added."""
        added = 0
        with self._lock:
            while True:
                position = self._tracked()[0]
                notifications = self._recorder.select_notifications(
                    start=position, limit=self._batch, inclusive_of_start=False)
                if notifications:
                    added += self._seal_and_append(
                        [(n.id, self._mapper.to_domain_event(n)) for n in notifications])
                if len(notifications) < self._batch:
                    return added

    def seal_recorded(self, recordings: Sequence[Recording[uuid.UUID]]) -> int:
        """Seal events just saved, without reading them back when they directly follow the
        tracked position (the common case); otherwise fall back to `catch_up`."""
        with self._lock:
            ids = [r.notification.id for r in recordings]
            if ids and ids[0] == self._tracked()[0] + 1 and ids == list(
                    range(ids[0], ids[0] + len(ids))):
                return self._seal_and_append([(r.notification.id, r.domain_event)
                                              for r in recordings])
        return self.catch_up()

    def reload(self) -> None:
        """Forget the cached head and position (the store changed under the writer, e.g.
        entries were fetched back from peers)."""
        with self._lock:
            self._state = None

    def unbacked_range(self) -> tuple[int, int] | None:
        """The own entries beyond the last one a stored event backs, as (first, last) seqs,
        or None: after `reconcile`, entries fetched back from peers for events this store
        never held (a node restored from an older backup)."""
        mark = self._store.high_water(self.association)
        head = self._head()
        sealed = mark.sealed_seq if mark is not None else 0
        return (sealed + 1, head) if head > sealed else None

    def set_unbacked(self, ranges: Sequence[tuple[int, int]]) -> None:
        """The seq ranges of own entries no stored event backs (kept by the restore record,
        since the writer's mark moves past them with the next sealed event)."""
        with self._lock:
            self._unbacked_ranges = tuple(ranges)
            self._unbacked = None

    def refuse_lost(self, identities: Sequence[tuple[str, int]]) -> None:
        """Raise LostToRestore if an event about to be stored, (aggregate id, version), is
        one the ledger holds in an unbacked entry: sealing it would sign a second, different
        version of that record."""
        if not self._unbacked_ranges:
            return
        with self._lock:
            if self._unbacked is None:
                self._unbacked = {}
                for first, last in self._unbacked_ranges:
                    for seq, identity in enumerate(self._entry_identities(first, last),
                                                   start=first):
                        self._unbacked[identity] = seq
            known = self._unbacked
        for aggregate_id, version in identities:
            sealed_as = known.get((aggregate_id, version))
            if sealed_as is not None:
                raise LostToRestore(
                    f"this record's version {version} was sealed as {self.association}#{sealed_as} "
                    f"before the node was restored from an older backup; that entry came back "
                    f"from peers but its private event did not, so this node does not change "
                    f"the record again (see docs/backup.md)")

    def inspect(self, *, thorough: bool = False) -> tuple[list[LengthRecord], str | None]:
        """What the high-water mark, the tracking and the event store say of the own ledger's
        length, and a contradiction between them and the ledger if there is one.

        Normally the mark names the seq sealed at the tracked position (one row read); with
        `thorough`, or when the mark is missing or disagrees with the tracking, the event
        store's notifications up to that position are counted."""
        position = self._store.position(FOLLOWER)
        mark = self._store.high_water(self.association)
        head = self._head()
        records = [] if mark is None else [LengthRecord(Source.HIGH_WATER, mark.seq)]
        # The seq sealed at the tracked position: the mark's when it tracked the same
        # position, else the count (equal, unless entries recovered from peers lie between).
        sealed = mark.sealed_seq if mark is not None and mark.position == position else None
        if sealed is not None:
            records.append(LengthRecord(Source.WRITER, sealed))
        if thorough or sealed is None:
            counted = self._count_through(position)
            records.append(LengthRecord(Source.EVENT_STORE, counted))
            sealed = counted if sealed is None else sealed
        problem = None
        if position and sealed and head >= sealed:
            found = self._notification_identities(position - 1, 1, stop=position)
            if not found:
                problem = (f"the event store holds no event at the writer's tracked position "
                           f"{position}")
            elif found != self._entry_identities(sealed, sealed):
                problem = (f"entry {sealed} does not seal the event at the writer's tracked "
                           f"position {position}")
        elif not position and head and mark is not None and mark.sealed_seq:
            problem = "the writer's tracking position is missing"
        return records, problem

    def reconcile(self) -> bool:
        """Move the tracking over events the ledger already holds, and record the writer's
        mark; True if the tracking moved. Does nothing while the ledger is behind or
        contradicts the tracking (`inspect` names that)."""
        with self._lock:
            self._state = None
            position = self._store.position(FOLLOWER)
            mark = self._store.high_water(self.association)
            head = self._head()
            sealed = (mark.sealed_seq if mark is not None and mark.position == position
                      else self._count_through(position))
            if sealed > head or (not position and not head):
                return False
            if position and sealed and self._notification_identities(
                    position - 1, 1, stop=position) != self._entry_identities(sealed, sealed):
                return False
            start = position
            while sealed < head:
                entries = self._entry_identities(sealed + 1, min(head, sealed + _SCAN))
                notifications = self._notifications_after(position, len(entries))
                matched = 0
                for (note_id, identity), entry in zip(notifications, entries, strict=False):
                    if identity != entry:
                        break
                    position, matched = note_id, matched + 1
                sealed += matched
                if matched < len(entries):
                    break
            if mark is None or (mark.position, mark.sealed_seq) != (position, sealed):
                return self._store.set_writer_mark(
                    self.association, follower=FOLLOWER, position=position, sealed_seq=sealed,
                    unless_moved_from=(start, mark)) and position != start
            return False

    def _head(self) -> int:
        head = self._store.head(self.association)
        return head[0] if head else 0

    def _count_through(self, position: int) -> int:
        """How many stored events have notification ids up to `position`."""
        count, start = 0, 0
        while position > 0:
            batch = self._recorder.select_notifications(start=start, limit=_SCAN, stop=position,
                                                        inclusive_of_start=False)
            count += len(batch)
            if len(batch) < _SCAN:
                break
            start = batch[-1].id
        return count

    def _notification_identities(self, after: int, limit: int, *, stop: int | None = None
                                 ) -> list[tuple[str, int]]:
        return [identity for _, identity in self._notifications_after(after, limit, stop=stop)]

    def _notifications_after(self, after: int, limit: int, *, stop: int | None = None
                             ) -> list[tuple[int, tuple[str, int]]]:
        return [(n.id, (str(n.originator_id), int(n.originator_version)))
                for n in self._recorder.select_notifications(
                    start=after, limit=limit, stop=stop, inclusive_of_start=False)]

    def _entry_identities(self, first: int, last: int) -> list[tuple[str, int]]:
        identities = []
        for wire in self._store.wires(self.association, first, last):
            body = decode_body(decode_signed(wire).body)
            identities.append((body.aggregate_id, body.aggregate_version))
        return identities

    def _tracked(self) -> tuple[int, int, bytes]:
        # (notification position, ledger seq, last entry hash), read once and then kept in
        # memory: this writer is the only one, and append re-checks the head in its
        # transaction, so a stale cache can only fail loudly, never fork.
        if self._state is None:
            head = self._store.head(self.association)
            seq, prev_hash = head if head else (0, GENESIS_HASH)
            self._state = (self._store.position(FOLLOWER), seq, prev_hash)
        return self._state

    def _seal_and_append(self, events: Sequence[tuple[int, Any]]) -> int:
        self.gate.check()  # before signing anything: never sign while the ledger is behind
        _, seq, prev_hash = self._tracked()
        bodies: list[tuple[EntryBody, bytes]] = []
        for _, event in events:
            seq += 1
            body = self._body(event, seq, prev_hash)
            body_bytes = encode_body(body)
            prev_hash = entry_hash(body_bytes)
            bodies.append((body, body_bytes))
        entries = seal_many(bodies, self._signer)
        position = events[-1][0]
        try:
            self._store.append_sealed(entries, follower=FOLLOWER, position=position)
        except BaseException:
            self._state = None  # re-read from the store next time
            raise
        self._state = (position, seq, prev_hash)
        return len(entries)

    def _body(self, event: Any, seq: int, prev_hash: bytes) -> EntryBody:
        aggregate_id = str(event.originator_id)
        version = int(event.originator_version)
        public, private = public_and_private(event)
        commitment = (self._commitments.commit(aggregate_id, version, private)
                      if private is not None else b"")
        return EntryBody(association=self.association, seq=seq, prev_hash=prev_hash,
                         recorded_at=event.timestamp, event_type=event_type_of(type(event)),
                         schema_version=schema_version(type(event)), aggregate_id=aggregate_id,
                         aggregate_version=version, payload=public, commitment=commitment,
                         key_id=self._signer.key_id)
