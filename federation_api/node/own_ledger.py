"""The node's own ledger against every record of its length, and getting lost entries back.

Records kept on the node (`OwnLedger.records`): the checkpoints it signed, the store's
high-water mark, the writer's tracking and the event store's notification log, the
publisher's confirmed position and the projections' tracking of the own association. Records
from outside (`note_remote`: the highest own entry a peer or the hub stream returned, verified)
are kept for the life of the process. If any reaches beyond the head, the gate is closed with
an error naming the missing seqs, and nothing is sealed or signed until `recover` has stored
the entries back (DESIGN invariant 8). A node restored from a backup fits the same steps: hold
the gate, ask everyone, recover, judge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from federation_api.replication.replicator import PUBLISHER
from ledger.chain.own_length import LengthRecord, SealGate, Source, mismatch, shortfall
from ledger.chain.store import LedgerStore
from ledger.chain.writer import LedgerWriter
from ledger.errors import LedgerBehind
from ledger.ingest import Ingestor, Recovery
from ledger.transparency.log import LedgerLog
from projections.projector import Projector


class OwnLedger:
    """One node's own ledger: its length records, its gate, its recovery."""

    def __init__(self, *, association: str, store: LedgerStore, log: LedgerLog,
                 writer: LedgerWriter, ingestor: Ingestor, projector: Projector,
                 gate: SealGate) -> None:
        self.association = association
        self.store = store
        self.log = log
        self.writer = writer
        self.ingestor = ingestor
        self.projector = projector
        self.gate = gate
        self._remote: dict[tuple[Source, str], LengthRecord] = {}

    def head(self) -> int:
        """The own ledger's last seq (0 when empty)."""
        head = self.store.head(self.association)
        return head[0] if head else 0

    def records(self, *, thorough: bool = False) -> tuple[list[LengthRecord], str | None]:
        """Every record of the own ledger's length, and a contradiction if one was found
        (`thorough` counts the event store's notifications instead of trusting the mark)."""
        records, problem = self.writer.inspect(thorough=thorough)
        records += [LengthRecord(Source.CHECKPOINT, self.log.signed_size(self.association)),
                    LengthRecord(Source.PUBLISHER, self.store.position(PUBLISHER)),
                    LengthRecord(Source.PROJECTIONS, self.projector.position(self.association)),
                    *self._remote.values()]
        return [r for r in records if r.seq > 0], problem

    def note_remote(self, records: Iterable[LengthRecord]) -> None:
        """Remember what peers and streams hold (the highest of each source counts)."""
        for record in records:
            key = (record.source, record.where)
            if record.seq > (self._remote[key].seq if key in self._remote else 0):
                self._remote[key] = record

    def remote_records(self) -> list[LengthRecord]:
        """What peers, streams and exports were found to hold of the own ledger."""
        return sorted(self._remote.values(), key=lambda r: (r.source, r.where))

    def behind(self, *, thorough: bool = False) -> LedgerBehind | None:
        """Why the own ledger is behind its records (without touching the gate), or None.

        The records are read before the head: commands may be sealing meanwhile (the check
        runs when replication starts, with the gate open), each record is written only after
        the entry it counts is stored, and the ledger only grows, so a head read last is at
        least every record unless entries are really missing. Read the other way round, a
        command committed between the two reads looked like a lost entry and closed the gate.
        """
        records, problem = self.records(thorough=thorough)
        head = self.head()
        found = shortfall(self.association, head, records)
        if found is None and problem is not None:
            found = mismatch(self.association, head, problem)
        return found

    def check(self) -> LedgerBehind | None:
        """Reconcile the writer's tracking, then open or close the gate by the records."""
        self.writer.reconcile()
        found = self.behind()
        self.gate.judge(found)
        return found

    def recover(self, wires: Sequence[bytes], *, origin: Source, where: str,
                now: dt.datetime) -> Recovery:
        """Store own entries fetched back from a peer, a stream or an export (each verified),
        remember the highest one `where` holds, then judge again."""
        result = self.ingestor.recover_own(wires, source=f"{origin.value}:{where}", now=now)
        if result.highest:
            self.note_remote([LengthRecord(origin, result.highest, where)])
        if result.stored:
            self.writer.reload()
        self.check()
        return result
