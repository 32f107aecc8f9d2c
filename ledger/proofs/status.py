"""Proof of status: a self-contained bundle that shows offline what an endorsement was on a date.

A bundle carries the signed entries that decide one endorsement's status (its own entries in
its home ledger, and any recognition of it by another association), an RFC 6962 inclusion
proof of each under a signed checkpoint of its association's ledger (cosigned by witnesses when
the node held such a checkpoint), the trust registry from its genesis, and the answer the node
gave. `verify_status_proof` checks all of it with no network and no node: registry from
genesis (optionally against a pinned genesis) and each checkpoint's origin signature and every
cosignature line (both by `ledger.proofs.tree_heads`, which public receipts use too), each entry's
signature under a key valid for its association at its time, each inclusion proof, that the
endorsement's entries in its home ledger are gapless, and finally that replaying the entries
gives the stated answer. The replay is injected (`Replay`): it is
the projection code, which the ledger layer may not import.

What a bundle cannot prove is stated by `ledger.proofs.statements.limits`: chiefly, the absence
of an entry it does not include (a later entry, one after the checkpoint, or one in a ledger
the node had not received).

Pure: values in, a report out; no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import msgspec

from domain.endorsement import endorsement_uuid
from ledger.chain.entries import LedgerEntry, open_entry
from ledger.codec import AwareDatetime, decode_json, decode_payload, encode_json
from ledger.errors import MalformedEntry, VerificationError
from ledger.proofs.tree_heads import (
    Check,
    CheckpointSummary,
    Finding,
    HeadsReport,
    LedgerCheckpoint,
    check_checkpoints,
    open_registry,
)
from ledger.transparency.checkpoints import Checkpoint
from ledger.transparency.merkle import MerkleProofError, leaf_hash, verify_inclusion
from ledger.trust.registry import Genesis, RegistryState

__all__ = ["PROOF_FORMAT", "Check", "CheckpointSummary", "Finding", "LedgerCheckpoint",
           "ProofReport", "ProvenEntry", "Replay", "StatusClaim", "StatusProof",
           "StatusProofError", "decode_status_proof", "encode_status_proof",
           "verify_status_proof"]

PROOF_FORMAT = "alliance-status-proof/v1"
CREATED = frozenset({"EndorsementGranted", "EndorsementRecognized"})
RECOGNIZED = "EndorsementRecognized"
TRANSFERRED_OUT = "EndorsementTransferredOut"


class StatusProofError(VerificationError):
    """A bundle cannot be checked at all (unreadable), or the replay of its entries failed."""


# -- the bundle --------------------------------------------------------------------------------


class StatusClaim(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The answer about one endorsement on one date, as the node gave it (public fields only)."""

    endorsement_id: str
    as_of: dt.date
    family_name: str
    given_name: str
    level: str
    designation: str | None
    association: str
    recorded_status: str  # as recorded on `as_of` (active, lapsed, suspended ...)
    standing: str  # what may be shown: never "current" after valid_through
    valid_through: dt.date


class ProvenEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A signed entry (exact wire bytes) and its inclusion proof under its ledger's checkpoint."""

    wire: bytes
    inclusion: tuple[bytes, ...]


class StatusProof(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything needed to check a status answer offline."""

    format: str
    made_by: str  # the association whose node made the bundle
    made_at: AwareDatetime
    claim: StatusClaim
    entries: tuple[ProvenEntry, ...]
    checkpoints: tuple[LedgerCheckpoint, ...]
    genesis: Genesis
    registry: tuple[bytes, ...]  # registry entries' wire bytes, from seq 1


def encode_status_proof(proof: StatusProof) -> bytes:
    """The bundle as a JSON file (bytes in base64), through the one codec."""
    return encode_json(proof)


def decode_status_proof(data: bytes) -> StatusProof:
    """Parse a bundle file; StatusProofError if it is not one (nothing else is trusted yet)."""
    return decode_document(data, StatusProof, PROOF_FORMAT, "status proof")


_Document = TypeVar("_Document", bound="_Formatted")


class _Formatted(Protocol):
    @property
    def format(self) -> str:
        """The document's format and version line."""
        ...


def decode_document(data: bytes, type_: type[_Document], expected: str,
                    what: str) -> _Document:
    """Parse a JSON document (a proof bundle, a receipt) of one format version, or raise
    StatusProofError saying what it is not; nothing in it is trusted yet."""
    try:
        document = decode_json(data, type_)
    except MalformedEntry as e:
        raise StatusProofError(f"not a {what}: {e.reason}") from e
    if document.format != expected:
        raise StatusProofError(f"unknown {what} format {document.format!r} (expected "
                               f"{expected})")
    return document


Replay = Callable[[Sequence[bytes], str, dt.date], StatusClaim | None]
"""(verified wires, endorsement id, date) -> the answer the projections give, or None when the
endorsement was not granted by then. Raises StatusProofError when an entry breaks a rule."""


# -- the report --------------------------------------------------------------------------------


@dataclass(kw_only=True)
class ProofReport(HeadsReport):
    """What verification found (registry and checkpoints as `HeadsReport`, plus the entries
    and their replay), and so what the bundle proves and does not prove."""

    proof: StatusProof
    entries: list[LedgerEntry] = field(default_factory=list)
    replayed: StatusClaim | None = None


# -- verification ------------------------------------------------------------------------------


def verify_status_proof(proof: StatusProof, replay: Replay, *,
                        pinned_genesis: Genesis | None = None) -> ProofReport:
    """Check every part of a bundle and replay it; the report names each failed check."""
    report = ProofReport(proof=proof, genesis=proof.genesis, pinned=pinned_genesis is not None)
    state = open_registry(proof.registry, report, pinned_genesis=pinned_genesis)
    if state is None:
        return report  # nothing else can be trusted without the right root and registry
    _open_entries(proof, state, report)
    _check_completeness(proof.claim.endorsement_id, report)
    roots = _check_checkpoints(proof, state, report)
    _check_inclusion(proof, roots, report)
    if not any(f.check in (Check.ENTRY_SIGNATURE, Check.DUPLICATE_ENTRY)
               for f in report.findings):
        _check_replay(proof, replay, report)
    return report


def _open_entries(proof: StatusProof, state: RegistryState, report: ProofReport) -> None:
    seen: set[tuple[str, int]] = set()
    for position, proven in enumerate(proof.entries, start=1):
        try:
            entry = open_entry(proven.wire, state.keyring)
        except VerificationError as e:
            report.fail(Check.ENTRY_SIGNATURE, f"entry {position} of the bundle", str(e))
            continue
        where = (entry.body.association, entry.seq)
        if where in seen:
            report.fail(Check.DUPLICATE_ENTRY, _name(entry), "included twice")
            continue
        seen.add(where)
        report.entries.append(entry)


def _check_completeness(endorsement_id: str, report: ProofReport) -> None:
    """Every entry must concern the endorsement; its own entries must be versions 1..n."""
    aggregate = str(endorsement_uuid(endorsement_id))
    own: list[LedgerEntry] = []
    recognitions: dict[str, LedgerEntry] = {}
    for entry in report.entries:
        body = entry.body
        if body.aggregate_id == aggregate:
            own.append(entry)
            continue
        origin = _payload(entry).get("origin_endorsement_id") if body.event_type == RECOGNIZED \
            else None
        if origin == endorsement_id:
            recognitions[entry.entry_hash.hex()] = entry
        else:
            report.fail(Check.UNRELATED_ENTRY, _name(entry),
                        f"a {body.event_type} that does not concern {endorsement_id}")
    homes = sorted({e.body.association for e in own})
    if len(homes) > 1:
        report.fail(Check.UNRELATED_ENTRY, endorsement_id,
                    f"entries of one endorsement from several ledgers: {', '.join(homes)}")
        return
    versions = sorted(e.body.aggregate_version for e in own)
    if not versions:
        report.fail(Check.MISSING_ENTRY, endorsement_id, "the bundle holds none of its entries")
        return
    expected = list(range(1, len(versions) + 1))
    if versions != expected:
        missing = sorted(set(range(1, versions[-1] + 1)) - set(versions))
        report.fail(Check.MISSING_ENTRY, endorsement_id,
                    f"its entries in {homes[0]}'s ledger are not gapless: version(s) "
                    f"{', '.join(map(str, missing)) or 'repeated'} missing")
    first = min(own, key=lambda e: e.body.aggregate_version)
    if first.body.event_type not in CREATED:
        report.fail(Check.MISSING_ENTRY, endorsement_id, "the entry that created it is missing")
    for entry in own:
        if entry.body.event_type != TRANSFERRED_OUT:
            continue
        wanted = _payload(entry).get("recognition_entry_hash")
        if wanted not in recognitions:
            report.fail(Check.MISSING_ENTRY, _name(entry), "the recognition this transfer "
                        "records is not in the bundle")


def _check_checkpoints(proof: StatusProof, state: RegistryState,
                       report: ProofReport) -> dict[str, Checkpoint]:
    latest: dict[str, dt.datetime] = {}
    for entry in report.entries:
        a = entry.body.association
        latest[a] = max(latest.get(a, entry.body.recorded_at), entry.body.recorded_at)
    return check_checkpoints(proof.checkpoints, state, report, covering=latest)


def _check_inclusion(proof: StatusProof, roots: dict[str, Checkpoint],
                     report: ProofReport) -> None:
    by_wire = {p.wire: p for p in proof.entries}
    for entry in report.entries:
        a = entry.body.association
        checkpoint = roots.get(a)
        if checkpoint is None:
            if a not in {c.association for c in proof.checkpoints}:
                report.fail(Check.CHECKPOINT, _name(entry), f"no checkpoint of {a}'s ledger")
            continue  # a checkpoint that failed is already a finding
        try:
            verify_inclusion(leaf_hash(entry.wire), entry.seq - 1, checkpoint.size,
                             by_wire[entry.wire].inclusion, checkpoint.root_hash)
        except MerkleProofError as e:
            report.fail(Check.INCLUSION, _name(entry), e.reason)


def _check_replay(proof: StatusProof, replay: Replay, report: ProofReport) -> None:
    claim = proof.claim
    try:
        replayed = replay([e.wire for e in report.entries], claim.endorsement_id, claim.as_of)
    except VerificationError as e:
        report.fail(Check.REPLAY, claim.endorsement_id, str(e))
        return
    report.replayed = replayed
    if replayed is None:
        report.fail(Check.REPLAY, claim.endorsement_id,
                    f"the entries do not show it granted by {claim.as_of.isoformat()}")
        return
    differences = [f"{name} {getattr(claim, name)!s} (replayed: {getattr(replayed, name)!s})"
                   for name in claim.__struct_fields__
                   if getattr(claim, name) != getattr(replayed, name)]
    if differences:
        report.fail(Check.ANSWER, claim.endorsement_id,
                    "the stated answer differs from the replay: " + "; ".join(differences))


def _payload(entry: LedgerEntry) -> dict[str, Any]:
    """The entry's public fields; empty when they cannot be read (the replay then names it)."""
    try:
        return decode_payload(entry.body)
    except (VerificationError, KeyError, TypeError, ValueError):  # upcasters index payloads
        return {}


def _name(entry: LedgerEntry) -> str:
    return f"{entry.body.association}#{entry.seq}"
