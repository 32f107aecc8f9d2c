"""The registry-and-checkpoint part of a proof: which witnessed tree heads an answer rests on.

Both proof forms carry it: a status proof (`ledger.proofs.status`) adds the entries and their
inclusion proofs under these heads; a public receipt (`ledger.proofs.receipts`) carries only
the heads, so it discloses nothing about the person while still saying which ledger states
the answer was based on (an auditor can later demand the entries and check them against these
roots).

`open_registry` checks the registry from its genesis (optionally against a pinned one);
`check_checkpoints` checks each checkpoint note's origin signature under a key the registry
gave its association, and every cosignature line against the registry's member witnesses. One
implementation, so a full proof and a public receipt can never judge a checkpoint differently.

Pure: values in, findings out; no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec

from ledger.errors import CheckpointError, VerificationError
from ledger.transparency.checkpoints import (
    COSIGNATURE_V1,
    Checkpoint,
    open_checkpoint,
    verify_cosignature,
)
from ledger.transparency.cosigners import (
    association_of_witness,
    claimed_timestamp,
    key_at,
    origin_of,
)
from ledger.transparency.notes import key_id, parse_note
from ledger.trust.keyring import KeyRecord
from ledger.trust.registry import Genesis, RegistryState, verify_registry


class Check(StrEnum):
    """Which check a finding failed (status proofs and receipts share one vocabulary)."""

    GENESIS = "genesis"
    REGISTRY = "registry"
    ENTRY_SIGNATURE = "entry-signature"
    DUPLICATE_ENTRY = "duplicate-entry"
    UNRELATED_ENTRY = "unrelated-entry"
    MISSING_ENTRY = "missing-entry"
    CHECKPOINT = "checkpoint"
    CHECKPOINT_SIGNATURE = "checkpoint-signature"
    COSIGNATURE = "cosignature"
    INCLUSION = "inclusion-proof"
    REPLAY = "replay"
    ANSWER = "answer"
    RECEIPT = "receipt"  # the receipt's body itself (format, form)
    NODE_SIGNATURE = "node-signature"
    READABLE_COPY = "readable-copy"


@dataclass(frozen=True)
class Finding:
    """One failed check, with what it concerns and why."""

    check: Check
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.detail}"


class LedgerCheckpoint(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A signed checkpoint note of one association's ledger, with any witness cosignatures."""

    association: str
    note: bytes


@dataclass(frozen=True)
class CheckpointSummary:
    """A verified checkpoint: its size, root, and how many distinct witnesses cosigned it."""

    association: str
    size: int
    root_hash: bytes
    witnesses: tuple[str, ...]
    quorum: int

    @property
    def witnessed(self) -> bool:
        """Cosigned by at least the registry's witness quorum."""
        return len(self.witnesses) >= self.quorum


@dataclass(kw_only=True)
class HeadsReport:
    """What the registry and the checkpoint notes established, and what failed."""

    genesis: Genesis
    pinned: bool
    registry_size: int = 0  # entries in the registry as carried
    findings: list[Finding] = field(default_factory=list)
    checkpoints: dict[str, CheckpointSummary] = field(default_factory=dict)
    registry_seq: int = 0
    state: RegistryState | None = None  # the verified registry, when it verified

    @property
    def ok(self) -> bool:
        """No check failed."""
        return not self.findings

    def fail(self, check: Check, subject: str, detail: str) -> None:
        """Record a failed check."""
        self.findings.append(Finding(check, subject, detail))


def open_registry(registry: Sequence[bytes], report: HeadsReport, *,
                  pinned_genesis: Genesis | None) -> RegistryState | None:
    """The registry verified from the report's genesis, or None with the finding recorded.

    With a pinned genesis, a different one is refused before anything else is read: nothing
    can be trusted without the right root.
    """
    genesis = report.genesis
    report.registry_size = len(registry)
    if pinned_genesis is not None and pinned_genesis.digest() != genesis.digest():
        report.fail(Check.GENESIS, "genesis", f"the registry carried starts from genesis "
                    f"{genesis.digest().hex()[:16]}, not the pinned "
                    f"{pinned_genesis.digest().hex()[:16]}")
        return None
    try:
        state = verify_registry(genesis, registry)
    except VerificationError as e:
        report.fail(Check.REGISTRY, "registry", str(e))
        return None
    report.registry_seq = state.seq
    report.state = state
    return state


def check_checkpoints(held: Sequence[LedgerCheckpoint], state: RegistryState,
                      report: HeadsReport, *,
                      covering: Mapping[str, dt.datetime] | None = None,
                      signed_by: dt.datetime | None = None) -> dict[str, Checkpoint]:
    """Open each checkpoint note and check its cosignatures; the verified heads by ledger.

    `covering` (full proofs): for each ledger, the time of the latest entry the checkpoint must
    cover; a checkpoint of any other ledger is a finding, and a key whose window closed before
    that time cannot have signed it. `signed_by` (public receipts, which carry no entries):
    the time the answer was given; a key the registry had not yet allowed by then cannot have
    signed a head that answer was based on.
    """
    roots: dict[str, Checkpoint] = {}
    seen: set[str] = set()
    for checkpoint_held in held:
        a = checkpoint_held.association
        if a in seen:
            report.fail(Check.CHECKPOINT, a, "more than one checkpoint for one ledger")
            continue
        seen.add(a)
        if covering is not None and a not in covering:
            report.fail(Check.CHECKPOINT, a, "a checkpoint of a ledger none of the entries is in")
            continue
        if state.association(a) is None:
            report.fail(Check.CHECKPOINT, a, "not the ledger of an Alliance member")
            continue
        after = None if covering is None else covering[a]
        checkpoint = _open_origin(checkpoint_held, state, after, signed_by, report)
        if checkpoint is None:
            continue
        witnesses = _check_cosignatures(checkpoint_held, state, report)
        roots[a] = checkpoint
        report.checkpoints[a] = CheckpointSummary(
            association=a, size=checkpoint.size, root_hash=checkpoint.root_hash,
            witnesses=witnesses, quorum=state.witness_quorum)
    return roots


def verify_heads(genesis: Genesis, registry: Sequence[bytes],
                 checkpoints: Sequence[LedgerCheckpoint], *, signed_by: dt.datetime,
                 pinned_genesis: Genesis | None = None) -> HeadsReport:
    """Registry and checkpoints alone (a public receipt's proof material)."""
    report = HeadsReport(genesis=genesis, pinned=pinned_genesis is not None)
    state = open_registry(registry, report, pinned_genesis=pinned_genesis)
    if state is not None:
        check_checkpoints(checkpoints, state, report, signed_by=signed_by)
    return report


def _origin_candidates(state: RegistryState, association: str, after: dt.datetime | None,
                       signed_by: dt.datetime | None) -> list[KeyRecord]:
    """Keys that may have signed a checkpoint covering an entry recorded at `after`, used for an
    answer given at `signed_by`.

    A checkpoint carries no time, but it is signed after every entry it covers and before any
    answer based on it: a key whose window closed before the latest of those entries (rotated
    out, revoked, suspended), or opened only after the answer, cannot have signed it honestly.
    """
    return [k for k in state.keyring.keys if k.association == association
            and (after is None or k.valid_until is None or k.valid_until > after)
            and (signed_by is None or k.valid_from <= signed_by)]


def _open_origin(held: LedgerCheckpoint, state: RegistryState, after: dt.datetime | None,
                 signed_by: dt.datetime | None, report: HeadsReport) -> Checkpoint | None:
    a = held.association
    origin = origin_of(a)
    checkpoint: Checkpoint | None = None
    for record in _origin_candidates(state, a, after, signed_by):
        try:
            checkpoint = open_checkpoint(held.note, {origin: record.public_key})
            break
        except CheckpointError:
            continue
    if checkpoint is None:
        when = (f"after its entry of {after.isoformat()}" if after is not None else
                f"by {signed_by.isoformat()}" if signed_by is not None else "ever")
        report.fail(Check.CHECKPOINT_SIGNATURE, a,
                    f"not signed as {origin} by a key {a} could sign with {when} "
                    f"(rotated-out, revoked, later or foreign key)")
        return None
    if checkpoint.origin != origin:
        report.fail(Check.CHECKPOINT, a, f"origin line is {checkpoint.origin!r}, not {origin!r}")
        return None
    return checkpoint


def _check_cosignatures(held: LedgerCheckpoint, state: RegistryState,
                        report: HeadsReport) -> tuple[str, ...]:
    """Distinct registry members whose cosignature verifies under their key valid then.

    Stricter than C2SP's "ignore unknown lines": in this closed Alliance every line of a
    checkpoint note must be the origin's or a member witness's, so any other line (a non-member,
    a bad signature, a key not valid at the cosignature's time) is a finding, not noise.
    """
    a = held.association
    origin = origin_of(a)
    parsed = parse_note(held.note)
    witnesses: set[str] = set()
    for sig in parsed.signatures:
        if sig.name == origin:
            continue  # the origin's signature was checked by _open_origin
        witness = association_of_witness(sig.name)
        subject = f"{a} checkpoint, line by {sig.name}"
        if witness is None or state.association(witness) is None:
            report.fail(Check.COSIGNATURE, subject, "not an Alliance member's witness key name")
            continue
        if witness == a:
            report.fail(Check.COSIGNATURE, subject, "a ledger cannot witness itself")
            continue
        timestamp = claimed_timestamp(sig.signature)
        if timestamp is None:
            report.fail(Check.COSIGNATURE, subject, "not a timestamped cosignature")
            continue
        at = dt.datetime.fromtimestamp(timestamp, dt.UTC)
        record = key_at(state, witness, at)
        if record is None or key_id(sig.name, COSIGNATURE_V1, record.public_key) != sig.key_id:
            report.fail(Check.COSIGNATURE, subject, f"not made with the key the registry "
                        f"allowed {witness} at {at.isoformat()}")
            continue
        try:
            verify_cosignature(parsed.text, sig.line(), sig.name, record.public_key)
        except CheckpointError as e:
            report.fail(Check.COSIGNATURE, subject, e.reason)
            continue
        witnesses.add(witness)
    return tuple(sorted(witnesses))
