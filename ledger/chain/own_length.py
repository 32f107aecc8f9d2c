"""How long this node's own ledger must be, and the gate that keeps it from sealing when short.

A node's own ledger only grows (DESIGN invariant 8). Its length is therefore bounded below by
every record the node, or anyone it published to, keeps of it: the checkpoints it signed, the
highest seq it ever stored (the store's high-water mark), the writer's tracking and the event
store's notification log, the publisher's confirmed position, the projections' tracking, and
where reachable the entries peers and the hub stream hold. A ledger that ends before any of
them lost entries (a deleted row, a restored backup): sealing the next command then would
sign a second, different entry for a seq that exists elsewhere, so the node refuses to seal
or sign until it has its own entries back, which verify themselves wherever they come from.

`SealGate` is that refusal, shared by the writer and the checkpoint signer. It is closed with
the reason (a `LedgerBehind` naming the missing seqs and how to recover), or held while the
node has not yet asked its peers (`alliance serve` with NATS: a restored node must first fetch
what they hold beyond its head), and open otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from enum import StrEnum

import msgspec

from ledger.errors import LedgerBehind

_REFETCH = ("re-fetch its own entries from peers, which verify themselves: start `alliance "
            "serve` with NATS (it asks peers and the hub for them before it seals), or run "
            "`alliance ledger recover --from DIR` with an `alliance export` of any peer")
RECOVERY = f"The node seals nothing until it has them back. To recover, {_REFETCH}."
RECONCILE = (f"The node seals nothing until they agree. If entries were lost, {_REFETCH}.")
WAIT = "The node seals nothing until it has asked them; retry in a few seconds."


class Source(StrEnum):
    """Where a record of the own ledger's length comes from."""

    CHECKPOINT = "checkpoint"
    HIGH_WATER = "high-water mark"
    WRITER = "writer tracking"
    EVENT_STORE = "event store"
    PUBLISHER = "publisher"
    PROJECTIONS = "projections"
    PEER = "peer"
    STREAM = "stream"
    EXPORT = "export"


class LengthRecord(msgspec.Struct, frozen=True):
    """'The own ledger held at least `seq` entries', according to `source` (at `where`)."""

    source: Source
    seq: int
    where: str = ""

    def describe(self) -> str:
        """The record in words, as error messages name it."""
        return {
            Source.CHECKPOINT: f"a checkpoint of size {self.seq} was signed",
            Source.HIGH_WATER: f"seq {self.seq} was stored (the store's high-water mark)",
            Source.WRITER: f"the writer's tracking says it sealed seq {self.seq}",
            Source.EVENT_STORE: f"the event store holds {self.seq} events the writer sealed",
            Source.PUBLISHER: f"the publisher had seq {self.seq} confirmed by the stream",
            Source.PROJECTIONS: f"the projections applied seq {self.seq}",
            Source.PEER: f"peer {self.where} holds seq {self.seq}",
            Source.STREAM: f"the stream {self.where} holds seq {self.seq}",
            Source.EXPORT: f"the export {self.where} holds seq {self.seq}",
        }[self.source]


class PeerCheck(msgspec.Struct, frozen=True):
    """The answers to one start-up question, "what do you hold of my ledger beyond my head":
    each source that answered with the highest own seq it says it holds (0: nothing, or not
    told), and each source asked that gave no answer in time. A node restored from a backup
    needs every one of them to have answered before it may seal again."""

    answered: tuple[LengthRecord, ...] = ()
    silent: tuple[str, ...] = ()


def shortfall(association: str, head: int, records: Iterable[LengthRecord]
              ) -> LedgerBehind | None:
    """The error naming the missing seqs if any record reaches beyond `head`, else None."""
    order = list(Source)
    above = sorted((r for r in records if r.seq > head),
                   key=lambda r: (-r.seq, order.index(r.source), r.where))
    if not above:
        return None
    last = above[0].seq
    reasons = ", ".join(r.describe() for r in above)
    return LedgerBehind(f"ledger {association} ends at seq {head} but {reasons}; missing seqs "
                        f"{head + 1}..{last}", association=association, head=head,
                        first=head + 1, last=last, recovery=RECOVERY)


def mismatch(association: str, head: int, problem: str) -> LedgerBehind:
    """The error for records that contradict the ledger rather than outrun it."""
    return LedgerBehind(f"ledger {association} (ends at seq {head}): {problem}",
                        association=association, head=head, first=None, last=None,
                        recovery=RECONCILE)


class SealGate:
    """Whether this node may seal entries and sign checkpoints of its own ledger now.

    Thread-safe: commands check it on their threads, the replicator opens and closes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed: LedgerBehind | None = None
        self._held: LedgerBehind | None = None

    def check(self) -> None:
        """Raise LedgerBehind unless sealing is allowed."""
        with self._lock:
            reason = self._closed or self._held
        if reason is not None:
            raise reason

    @property
    def reason(self) -> LedgerBehind | None:
        """Why sealing is refused now, or None."""
        with self._lock:
            return self._closed or self._held

    def judge(self, behind: LedgerBehind | None) -> None:
        """Close the gate with `behind`, or (None) open it as far as records go."""
        with self._lock:
            self._closed = behind

    def hold(self, association: str, head: int, why: str, *, recovery: str = WAIT) -> None:
        """Refuse to seal until `release`, whatever the records say (e.g. peers not asked yet,
        or a node restored from a backup that has not caught up)."""
        with self._lock:
            self._held = LedgerBehind(f"ledger {association} (ends at seq {head}): {why}",
                                      association=association, head=head, first=None,
                                      last=None, recovery=recovery)

    def release(self) -> None:
        """End a `hold`."""
        with self._lock:
            self._held = None
