"""The ledger writer: follows the event store and seals one signed entry per stored event.

It reads eventsourcing's notification log from its tracked position and appends entries with
the new position in one transaction. Re-running after a crash resumes exactly where the last
commit left off, so the ledger stays gapless and no event is sealed twice. Only the holder
of the association's current signing key runs a writer (single writer per ledger).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Mapper, Recording

from ledger.codec import (
    GENESIS_HASH,
    EntryBody,
    encode_body,
    event_type_of,
    public_and_private,
    schema_version,
)
from ledger.commitments import CommitmentKey
from ledger.entries import entry_hash, seal_many
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
        self._state: tuple[int, int, bytes] | None = None

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
            self._store.append(entries, follower=FOLLOWER, position=position)
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
