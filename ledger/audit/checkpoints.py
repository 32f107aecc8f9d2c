"""The audit's judgement of an export's checkpoints, and of each ledger's chain against them.

Each ledger comes with its latest signed checkpoint (with every cosignature the node collected)
and, when there is one, the latest one its witnesses' quorum cosigned. The latest must be
signed with the association's latest key; an older witnessed one may predate a key rotation,
so the key the registry allowed when it was cosigned also verifies it. A ledger's chain then
must give each checkpoint's root at its size: the witnessed root proves that the audited
history extends what the witnesses saw.

Pure: note bytes, the `Chain` a checker computed, and the audit's `Trust` in; findings and
warnings go into the `AuditReport`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.audit.chains import Chain
from ledger.audit.report import AuditReport
from ledger.audit.witnesses import Trust, check_cosignatures, possible_signing_keys
from ledger.errors import CheckpointError
from ledger.transparency.checkpoints import Checkpoint, open_checkpoint
from ledger.transparency.cosigners import origin_of


@dataclass
class ExportedCheckpoints:
    """One ledger's checkpoints in the export whose signatures verified: the latest one, and
    the latest one cosigned by the witness quorum (None when absent or not verifying)."""

    latest: Checkpoint | None = None
    latest_witnesses: int = 0  # valid cosignatures on the latest one
    witnessed: Checkpoint | None = None

    def wants(self) -> frozenset[int]:
        """The sizes whose Merkle roots the chain check must compute."""
        return frozenset(c.size for c in (self.latest, self.witnessed) if c is not None)


def judge_checkpoints(association: str, latest: bytes | None, witnessed: bytes | None,
                      trust: Trust, report: AuditReport) -> ExportedCheckpoints:
    """Check an export's latest and witnessed checkpoint notes of one ledger (None: the file
    is absent), putting what is wrong in `report`; returns the ones that verified."""
    notes = ExportedCheckpoints()
    if latest is None:
        report.findings.append(f"{association}: no signed checkpoint in the export")
    else:
        note = latest
        # The latest checkpoint is signed with the association's latest key (the one open, or
        # the last one before a suspension or withdrawal): a rotated-out key fails here.
        keys = possible_signing_keys(association, trust, note, latest=True)
        opened = _open(association, note, keys, "checkpoint", report)
        if opened is not None:
            cosigned = check_cosignatures(association, note, trust)
            report.findings.extend(cosigned.findings)
            report.warnings.extend(cosigned.warnings)
            report.witnesses[association] = cosigned.witnesses
            notes.latest, notes.latest_witnesses = opened, len(cosigned.witnesses)
    if witnessed is not None:
        notes.witnessed = _witnessed(association, witnessed, trust, report)
    return notes


def _witnessed(association: str, note: bytes, trust: Trust,
               report: AuditReport) -> Checkpoint | None:
    """The witnessed checkpoint, if its origin signature, every cosignature and the quorum
    hold (an older one may be signed with a key rotated out since: the key the registry
    allowed when it was cosigned verifies it)."""
    what = "witnessed checkpoint"
    keys = possible_signing_keys(association, trust, note, latest=False)
    checkpoint = _open(association, note, keys, what, report)
    if checkpoint is None:
        return None
    cosigned = check_cosignatures(association, note, trust,
                                  which=f"{what} at {checkpoint.size}")
    report.findings.extend(cosigned.findings)
    report.warnings.extend(cosigned.warnings)
    if trust.registry is None:
        report.findings.append(f"{association}: {what} in an export without a registry, "
                               f"which alone names the witnesses")
        return None
    # A bad line among enough good ones is a finding already; the good ones still count.
    if len(cosigned.witnesses) < trust.witness_quorum:
        report.findings.append(f"{association}: {what} at {checkpoint.size} has "
                               f"{len(cosigned.witnesses)} valid cosignatures, the registry's "
                               f"quorum is {trust.witness_quorum}")
        return None
    return checkpoint


def _open(association: str, note: bytes, keys: list[bytes], what: str,
          report: AuditReport) -> Checkpoint | None:
    """The checkpoint of a note whose origin signature verifies under one of `keys`."""
    if not keys:
        report.findings.append(f"{association}: no key in the registry")
        return None
    problem: CheckpointError | None = None
    for key in keys:
        try:
            return open_checkpoint(note, {origin_of(association): key})
        except CheckpointError as e:
            problem = problem or e
    report.findings.append(f"{association}: {what} does not verify: {problem}")
    return None


def record_chain(association: str, chain: Chain, notes: ExportedCheckpoints, report: AuditReport,
                  trust: Trust, *, require_witnessed: bool) -> bool:
    """Put a chain's result in the report; False when the chain is broken (not replayable).
    A chain that holds but does not match a checkpoint is a finding and still replayed."""
    if chain.count is None:
        report.findings.append(chain.finding or f"{association}: chain broken")
        return False
    report.ledgers[association] = chain.count
    witnessed: set[int] = set()
    quorum = trust.witness_quorum
    if notes.latest is not None and _matches(association, chain, notes.latest, report,
                                             what="signed checkpoint"):
        report.checkpoints[association] = notes.latest.size
        if quorum and notes.latest_witnesses >= quorum:
            witnessed.add(notes.latest.size)
    if notes.witnessed is not None and _matches(association, chain, notes.witnessed, report,
                                                what="witnessed checkpoint"):
        witnessed.add(notes.witnessed.size)
    if witnessed:
        report.witnessed[association] = sorted(witnessed)
    elif quorum and notes.latest is not None:
        message = (f"{association}: checkpoint at {notes.latest.size} has "
                   f"{notes.latest_witnesses} valid cosignatures, the registry's quorum is "
                   f"{quorum}, and the export holds no witnessed checkpoint of this ledger")
        (report.findings if require_witnessed else report.warnings).append(message)
    return True


def _matches(association: str, chain: Chain, checkpoint: Checkpoint, report: AuditReport, *,
             what: str) -> bool:
    """Whether the ledger's first `checkpoint.size` entries give the checkpoint's root."""
    count = chain.count or 0
    if checkpoint.size > count:
        report.findings.append(f"{association}: {what} of size {checkpoint.size} but only "
                               f"{count} entries (entries removed?)")
    elif chain.roots.get(checkpoint.size) != checkpoint.root_hash:
        report.findings.append(f"{association}: Merkle root of the first {checkpoint.size} "
                               f"entries does not match the {what} (rewritten?)")
    else:
        return True
    return False
