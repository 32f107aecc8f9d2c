"""A status list's recorded versions proven under a witnessed checkpoint of the issuer's ledger.

The signed StatusListPublished entries alone prove that the issuer recorded each version; they
do not prove that the issuer showed everyone the same ledger. A checkpoint (the ledger's
Merkle root at a size) cosigned by the trust registry's witness quorum does: the witnesses
cosign only a tree their own replica of the ledger gives, and never two trees that are not
one history. So each version the node shows must be a leaf of that tree (an RFC 6962
inclusion proof), and the version standing at the date asked about must be under it. What
this cannot prove is stated in docs/credentials.md: chiefly, that the node did not leave out
a later version recorded under the checkpoint (the entries between are not public).

`open_heads` checks the registry from its genesis (against a pinned one when given);
`prove_witnessed` checks the checkpoint's origin signature and cosignatures with the same code
status proofs and receipts use (`ledger.proofs.tree_heads`), the quorum, and each inclusion
proof. It lives with the status proofs (it judges the same heads); the credential verifier
(`ledger.credentials.verify`) judges the rest. Pure: values in, a value or a
`StatusListNotWitnessed` out; no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from ledger.codec import AwareDatetime
from ledger.errors import CheckpointError, StatusListNotWitnessed
from ledger.proofs.tree_heads import HeadsReport, LedgerCheckpoint, check_checkpoints, open_registry
from ledger.transparency.checkpoints import parse_body
from ledger.transparency.merkle import MerkleProofError, leaf_hash, verify_inclusion
from ledger.transparency.notes import parse_note
from ledger.trust.registry import Genesis, RegistryState


class LoggedVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded version of a status list, where its StatusListPublished entry sits in the
    ledger, and its inclusion proof."""

    list_version: int
    list_hash: str
    recorded_at: AwareDatetime
    seq: int
    wire: bytes  # the StatusListPublished entry, already verified by the caller
    inclusion: tuple[bytes, ...]


class LedgerHeads(msgspec.Struct, frozen=True, kw_only=True):
    """What a node offers to prove versions by: the registry and a checkpoint note."""

    genesis: Genesis
    registry: tuple[bytes, ...]  # registry entries' wire bytes, from seq 1
    checkpoint: bytes | None  # a C2SP note with its cosignature lines


@dataclass(frozen=True)
class WitnessedHead:
    """The checkpoint a list's versions were proven under."""

    association: str
    size: int
    witnesses: tuple[str, ...]
    quorum: int
    genesis_digest: str
    pinned: bool


def open_heads(heads: LedgerHeads, *, pinned_genesis: Genesis | None) -> RegistryState:
    """The registry verified from its genesis, or StatusListNotWitnessed naming what failed."""
    report = HeadsReport(genesis=heads.genesis, pinned=pinned_genesis is not None)
    state = open_registry(heads.registry, report, pinned_genesis=pinned_genesis)
    if state is None:
        raise StatusListNotWitnessed(f"the trust registry the node served does not verify: "
                                     f"{report.findings[0]}")
    return state


def prove_witnessed(association: str, what: str, heads: LedgerHeads, state: RegistryState,
                    versions: Sequence[LoggedVersion], as_of: dt.datetime,
                    *, pinned: bool) -> WitnessedHead:
    """Check that `versions` (of the list `what` names) are under a checkpoint of
    `association`'s ledger cosigned by the registry's witness quorum, and that the version
    standing at `as_of` is among them."""
    if heads.checkpoint is None:
        raise StatusListNotWitnessed(f"the node holds no checkpoint of {association}'s ledger: "
                                     f"no version of {what} is under a witnessed checkpoint")
    try:
        size = parse_body(parse_note(heads.checkpoint).text).size
    except CheckpointError as e:
        raise StatusListNotWitnessed(f"the checkpoint of {association}'s ledger is not a "
                                     f"checkpoint note: {e.reason}") from e
    seqs = [v.seq for v in versions]
    if seqs != sorted(set(seqs)):
        raise StatusListNotWitnessed(f"the versions of {what} are not in ledger order")
    under = [v for v in versions if v.seq <= size]
    latest = max((v.recorded_at for v in under), default=None)
    report = HeadsReport(genesis=heads.genesis, pinned=pinned)
    covering = {association: latest} if latest is not None else None
    roots = check_checkpoints([LedgerCheckpoint(association=association, note=heads.checkpoint)],
                              state, report, covering=covering)
    if report.findings or association not in roots:
        finding = report.findings[0] if report.findings else "no checkpoint of the ledger"
        raise StatusListNotWitnessed(f"the checkpoint of {association}'s ledger is refused: "
                                     f"{finding}")
    summary = report.checkpoints[association]
    if not summary.witnessed:
        named = f" ({', '.join(summary.witnesses)})" if summary.witnesses else ""
        raise StatusListNotWitnessed(
            f"the checkpoint of {association}'s ledger (size {size}) is cosigned by "
            f"{len(summary.witnesses)} distinct witness(es){named}; the trust registry asks "
            f"{summary.quorum}: {what} is not under a witnessed checkpoint")
    root = roots[association].root_hash
    for logged in under:
        try:
            verify_inclusion(leaf_hash(logged.wire), logged.seq - 1, size, logged.inclusion, root)
        except MerkleProofError as e:
            raise StatusListNotWitnessed(
                f"the inclusion proof of version {logged.list_version} of {what} "
                f"({association}#{logged.seq}) under the witnessed checkpoint of size {size} "
                f"does not verify: {e.reason}") from e
    standing = [v for v in versions if v.recorded_at <= as_of]
    if standing and standing[-1].seq > size:
        last = standing[-1]
        raise StatusListNotWitnessed(
            f"version {last.list_version} of {what}, which stood at "
            f"{as_of.isoformat()}, is {association}#{last.seq}, beyond the witnessed checkpoint "
            f"of {association}'s ledger (size {size}): recorded after it, it is not witnessed "
            "yet (try again once the next checkpoint is cosigned)")
    return WitnessedHead(association=association, size=size, witnesses=summary.witnesses,
                         quorum=summary.quorum, genesis_digest=heads.genesis.digest().hex(),
                         pinned=pinned)
