"""The audit's trust roots and its check of the witnesses' cosignatures on a checkpoint.

A node answers for itself when it verifies a cosignature (`ledger.transparency.cosigners`
skips a line it cannot use); an auditor must say why a line is wrong. So every signature line
of an exported checkpoint other than the origin's own is classified: a valid cosignature by a
member witness under the key the registry allowed it at the cosignature's time, or a finding
naming the problem (not a witness name, a non-member, no key valid then, a signature that does
not verify). The rules (who is a witness, which key, the quorum) are those of
`ledger.transparency.cosigners` and the registry, so a node and an auditor cannot disagree on
them. `check_genesis` judges the trust root itself: the export's genesis against the pinned
one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ledger.audit.report import AuditReport
from ledger.codec import decode_json
from ledger.errors import CheckpointError
from ledger.transparency.checkpoints import verify_cosignature
from ledger.transparency.cosigners import (
    association_of_witness,
    claimed_timestamp,
    key_at,
    origin_of,
)
from ledger.transparency.notes import parse_note
from ledger.trust.keyring import Keyring
from ledger.trust.registry import Genesis, RegistryState, verify_registry
from ledger.trust.registry_files import RegistryDir


@dataclass(frozen=True)
class Trust:
    """What the audit trusts: the registry verified from genesis (or, for a node that never
    joined an Alliance, its exported keyring, which cannot name witnesses)."""

    keyring: Keyring
    registry: RegistryState | None
    genesis: Genesis | None = None  # the export's; the auditor compares it with a pinned one

    @property
    def witness_quorum(self) -> int:
        """Cosignatures a checkpoint needs; 0 without a registry (no witnesses known)."""
        return self.registry.witness_quorum if self.registry is not None else 0


def load_trust(root: Path) -> Trust:
    """Verify the export's registry from genesis, or read its keyring."""
    registry = RegistryDir(root / "registry")
    if registry.exists():
        genesis = registry.genesis()
        state = verify_registry(genesis, registry.entries())
        return Trust(keyring=state.keyring, registry=state, genesis=genesis)
    return Trust(keyring=decode_json((root / "keyring.json").read_bytes(), Keyring),
                 registry=None)


@dataclass
class Cosigned:
    """The witnesses whose cosignature verified, and what was wrong with the other lines."""

    witnesses: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def possible_signing_keys(association: str, trust: Trust, note: bytes, *,
                          latest: bool) -> list[bytes]:
    """Public keys that may have signed an association's checkpoint note, to try in order.

    The latest checkpoint is signed with the association's latest key (the one open, or the
    last one before a suspension or withdrawal). An older, witnessed one may predate a key
    rotation (`latest=False`): then also each key the registry allowed the association at a
    time its cosignatures claim, the time the witnesses checked that signature. A forged
    claim gains nothing: the cosignatures themselves must still verify, up to the quorum."""
    keys = trust.keyring
    record = keys.current(association) or next(
        (k for k in reversed(keys.keys) if k.association == association), None)
    found = [record.public_key] if record is not None else []
    if latest or trust.registry is None:
        return found
    origin = origin_of(association)
    for sig in parse_note(note).signatures:
        timestamp = claimed_timestamp(sig.signature) if sig.name != origin else None
        if timestamp is None:
            continue
        at = key_at(trust.registry, association, dt.datetime.fromtimestamp(timestamp, dt.UTC))
        if at is not None and at.public_key not in found:
            found.append(at.public_key)
    return found


def check_cosignatures(association: str, note: bytes, trust: Trust, *,
                       which: str | None = None) -> Cosigned:
    """Classify every line of a checkpoint note (whose origin signature was checked already);
    `which` names the note in the messages when it is not the latest checkpoint."""
    result = _classify(association, note, trust)
    if which is not None:
        result.findings = [f"{m} (on the {which})" for m in result.findings]
        result.warnings = [f"{m} (on the {which})" for m in result.warnings]
    return result


def _classify(association: str, note: bytes, trust: Trust) -> Cosigned:
    result = Cosigned()
    parsed = parse_note(note)
    others = [s for s in parsed.signatures if s.name != origin_of(association)]
    state = trust.registry
    if state is None:
        if others:
            result.warnings.append(f"{association}: no registry in the export, so its "
                                   f"{len(others)} cosignatures were not checked")
        return result
    for sig in others:
        witness = association_of_witness(sig.name)
        if witness is None:
            result.findings.append(f"{association}: checkpoint carries a signature by "
                                   f"{sig.name!r}, neither the ledger nor an Alliance witness")
            continue
        if state.association(witness) is None:
            result.findings.append(f"{association}: cosignature from a non-member "
                                   f"{witness!r}")
            continue
        if witness == association:
            result.warnings.append(f"{association}: checkpoint cosigned by its own "
                                   f"association, which does not count as a witness")
            continue
        timestamp = claimed_timestamp(sig.signature)
        if timestamp is None:
            result.findings.append(f"{association}: malformed cosignature by {witness}")
            continue
        at = dt.datetime.fromtimestamp(timestamp, dt.UTC)
        key = key_at(state, witness, at)
        if key is None:
            result.findings.append(f"{association}: cosignature by {witness} dated "
                                   f"{at.isoformat()}, when the registry gave {witness} no "
                                   f"valid key")
            continue
        try:
            verify_cosignature(parsed.text, sig.line(), sig.name, key.public_key)
        except CheckpointError as e:
            result.findings.append(f"{association}: cosignature by {witness} does not verify "
                                   f"under its key valid at {at.isoformat()}: {e}")
            continue
        if witness not in result.witnesses:
            result.witnesses.append(witness)
    result.witnesses.sort()
    return result


def check_genesis(trust: Trust, report: AuditReport, pinned: Genesis | None, *,
                   keys_from_node: bool) -> None:
    """The trust root: the export's genesis must be the pinned one, and keys without any
    registry are only the word of whoever wrote them."""
    if trust.genesis is not None:
        report.genesis_digest = trust.genesis.digest().hex()
        if pinned is not None and pinned.digest() != trust.genesis.digest():
            report.findings.append(f"genesis: the export's genesis (digest "
                                   f"{report.genesis_digest}) is not the pinned one (digest "
                                   f"{pinned.digest().hex()})")
        return
    if keys_from_node:
        report.findings.append("no registry: keys are the node's own claim")
    elif pinned is not None:
        report.findings.append("genesis: a genesis is pinned but the export has no registry "
                               "(its keyring is not rooted in it)")
