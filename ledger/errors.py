"""Ledger errors: two trees, one for bad data (verification) and one for storage/config faults."""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every ledger error."""


class LocatedError(Exception):
    """An error about one ledger entry: `association` and `seq` name it when known, and the
    message starts with "AK#5: " then; `reason` is the message without that prefix.

    Not a LedgerError itself: projections' errors (`projections.errors.ProjectionError`)
    locate entries the same way but are the projections' own tree."""

    def __init__(self, message: str, *, association: str = "", seq: int | None = None) -> None:
        where = f"{association}#{seq}: " if seq is not None else ""
        super().__init__(f"{where}{message}")
        self.association = association
        self.seq = seq
        self.reason = message


class VerificationError(LedgerError, LocatedError):
    """Bytes or a chain failed verification; `seq` names the entry when known."""


class BadSignature(VerificationError):
    """The signature does not verify over the received bytes."""


class ChainBroken(VerificationError):
    """A seq is missing or repeated, or a prev-hash does not match."""


class LedgerBehind(ChainBroken):
    """This node's own ledger is shorter than something the node signed or published (or it
    has not yet compared it with its peers): it seals and signs nothing until it has its own
    entries back (DESIGN invariant 8). `first`..`last` are the missing seqs when known;
    `recovery` is the sentence that tells an operator what the node does and how to recover."""

    def __init__(self, message: str, *, association: str, head: int, first: int | None,
                 last: int | None, recovery: str) -> None:
        super().__init__(message, association=association)
        self.head = head
        self.first = first
        self.last = last
        self.recovery = recovery


class SeqAlreadySigned(ChainBroken):
    """Sealing would sign a seq this node signed before: two entries for one seq (a fork)."""


class MalformedEntry(VerificationError):
    """The bytes do not decode as an entry of a known type and schema version."""


class UnknownKey(VerificationError):
    """The entry names a key that may not sign for its association."""


class CheckpointError(VerificationError):
    """A checkpoint, note or cosignature is malformed, non-canonical, or does not verify."""


class StorageError(LedgerError):
    """The store could not do what was asked (driver errors are chained)."""


class ConcurrencyConflict(StorageError):
    """Another command changed the same aggregate first."""


class KeyFileError(LedgerError):
    """A key file is missing, unreadable, has loose permissions, or the passphrase is wrong."""


class NotFound(LedgerError):
    """No aggregate with that id in this association's store."""
