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


class LostToRestore(ConcurrencyConflict):
    """The command would store a version of a record that the ledger already holds, sealed
    before the node was restored from an older backup (its entry came back from peers, its
    private event did not): storing it would record two different versions with one number."""


class KeyFileError(LedgerError):
    """A key file is missing, unreadable, has loose permissions, or the passphrase is wrong."""


class NotFound(LedgerError):
    """No aggregate with that id in this association's store."""


# -- portable credentials (ledger/credentials) -------------------------------------------------


class CredentialError(VerificationError):
    """A credential, a DID document or a status list is refused; the message names the reason.

    Raised by the credential verifier and by the builders when asked to sign something a
    conforming verifier would refuse. `reason` (from VerificationError) is the bare reason."""


class ContextNotShipped(CredentialError):
    """A document names a JSON-LD context (or another remote document) this package does not
    ship; nothing is ever fetched, so it cannot be processed."""

    def __init__(self, url: str) -> None:
        super().__init__(f"JSON-LD document {url!r} is not one of the contexts this node ships "
                         "(contexts are never fetched)")
        self.url = url


class UnsafeDocument(CredentialError):
    """JSON-LD processing would drop or reinterpret part of the document (an undefined term, a
    relative IRI, a control character): the part would not be signed, so the whole is refused,
    as the reference verifiers' safe mode refuses it."""


class MalformedCredential(CredentialError):
    """The document is not shaped as the credential, proof or status entry it claims to be."""


class ProofInvalid(CredentialError):
    """The Data Integrity proof does not verify: a changed byte, another key, another suite."""


class VerificationMethodRefused(CredentialError):
    """The proof's key is not one the issuer's DID document lets sign credentials then: not
    listed, not an assertion method, revoked, or outside its signing window."""


class DidDocumentRefused(CredentialError):
    """The DID document is not the issuer's: another id, or served by another host."""


class IssuerMismatch(CredentialError):
    """Issuers disagree: the proof's key belongs to another DID than the issuer's, the issuer
    claims another association than its DID belongs to, or a status list has another issuer."""


class OutsideValidity(CredentialError):
    """The credential (or a status list credential) is not yet valid or no longer valid at the
    time asked about."""


class StatusListRefused(CredentialError):
    """A status list cannot be trusted for this credential: missing, wrong purpose, too short,
    badly encoded, or not signed by the issuer."""


class StatusListNotRecorded(StatusListRefused):
    """The served status list is not the version the issuer's ledger records for that time: a
    split view (a list shown to this verifier that the ledger, its checkpoints and its
    witnesses do not cover)."""


class StatusListNotWitnessed(StatusListRefused):
    """A status list version cannot be proven under a checkpoint of the issuer's ledger that
    the trust registry's witness quorum cosigned: no registry or checkpoint, too few
    cosignatures, an inclusion proof that fails, or the version is beyond the checkpoint."""


class SchemaInvalid(CredentialError):
    """The credential does not validate against the Open Badges 3.0 JSON schema."""
