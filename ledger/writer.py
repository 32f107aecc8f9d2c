"""The ledger writer: follows the event store and seals one signed entry per stored event.

It reads eventsourcing's notification log from its tracked position and appends entries with
the new position in one transaction. Re-running after a crash resumes exactly where the last
commit left off, so the ledger stays gapless and no event is sealed twice. Only the holder
of the association's current signing key runs a writer (single writer per ledger).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Mapper

from ledger.codec import GENESIS_HASH, EntryBody, event_type_of, public_and_private, schema_version
from ledger.commitments import CommitmentKey
from ledger.entries import LedgerEntry, seal
from ledger.signing import Signer
from ledger.store import LedgerStore

FOLLOWER = "event-store"


class LedgerWriter:
    """Seals stored events of one association into its ledger."""

    def __init__(self, *, association: str, recorder: ApplicationRecorder,
                 mapper: Mapper[uuid.UUID], store: LedgerStore, signer: Signer,
                 commitments: CommitmentKey, batch: int = 500) -> None:
        self.association = association
        self._recorder = recorder
        self._mapper = mapper
        self._store = store
        self._signer = signer
        self._commitments = commitments
        self._batch = batch
        self._lock = threading.Lock()

    def catch_up(self) -> int:
        """Seal every stored event not yet in the ledger; return how many entries were added."""
        added = 0
        with self._lock:
            position = self._store.position(FOLLOWER)
            head = self._store.head(self.association)
            seq, prev_hash = head if head else (0, GENESIS_HASH)
            while True:
                notifications = self._recorder.select_notifications(
                    start=position, limit=self._batch, inclusive_of_start=False)
                if not notifications:
                    return added
                entries: list[LedgerEntry] = []
                for notification in notifications:
                    seq += 1
                    entry = self._seal(self._mapper.to_domain_event(notification), seq,
                                       prev_hash)
                    prev_hash = entry.entry_hash
                    entries.append(entry)
                position = notifications[-1].id
                self._store.append(entries, follower=FOLLOWER, position=position)
                added += len(entries)

    def _seal(self, event: Any, seq: int, prev_hash: bytes) -> LedgerEntry:
        aggregate_id = str(event.originator_id)
        version = int(event.originator_version)
        public, private = public_and_private(event)
        commitment = (self._commitments.commit(aggregate_id, version, private)
                      if private is not None else b"")
        body = EntryBody(association=self.association, seq=seq, prev_hash=prev_hash,
                         recorded_at=event.timestamp, event_type=event_type_of(type(event)),
                         schema_version=schema_version(type(event)), aggregate_id=aggregate_id,
                         aggregate_version=version, payload=public, commitment=commitment,
                         key_id=self._signer.key_id)
        return seal(body, self._signer)
