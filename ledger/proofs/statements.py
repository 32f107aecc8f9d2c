"""What a verified status proof or receipt establishes, and what it does not, in plain words.

Kept apart from the checks in `status.py`, `tree_heads.py` and `receipts.py` of this package:
these sentences are what a person reads (the CLI prints them, the printable receipt shows them),
and the limits are always shown, because an inclusion proof can never show that an entry is
absent, and a public receipt does not carry the entries at all.
"""

from __future__ import annotations

from ledger.proofs.receipts import ReceiptKind, ReceiptReport
from ledger.proofs.status import ProofReport, StatusClaim
from ledger.proofs.tree_heads import CheckpointSummary, HeadsReport
from ledger.trust.registry import Genesis


def proves(report: ProofReport) -> list[str]:
    """Plain-language statements of what a bundle that verified establishes."""
    if not report.ok:
        return []
    p = report.proof
    c = p.claim
    lines = [
        f"{_answer(c)}: replaying the {len(report.entries)} entries listed with the Alliance's "
        f"projection rules gives exactly this answer.",
        f"Each entry is signed by its association with a key that the Alliance trust registry "
        f"({_registry(report)}) allowed for that association at the entry's time.",
        _genesis(p.genesis, report.pinned),
    ]
    for a, summary in sorted(report.checkpoints.items()):
        lines.append(f"Each {a} entry is in {a}'s ledger: an inclusion proof leads to the root "
                     f"of {a}'s checkpoint (tree size {summary.size}), signed by {a}'s key.")
        lines.extend(_witnessed(summary))
    lines.append(f"Its entries in {c.association}'s ledger are complete from the grant up to "
                 f"the last one included (their versions have no gap).")
    return lines


def limits(report: ProofReport) -> list[str]:
    """Plain-language statements of what the bundle does not prove (always shown)."""
    p = report.proof
    lines = [
        "It does not prove that no other entry about this endorsement exists: a later entry of "
        "its home ledger, any entry after the checkpoints' sizes, or a recognition in a ledger "
        f"that {p.made_by}'s node had not received when it made the bundle "
        f"({p.made_at.isoformat()}) would not appear here. Absence cannot be proven by "
        "inclusion proofs.",
        "It says nothing about what was recorded after the bundle was made: an entry recorded "
        f"later, even one effective before {p.claim.as_of.isoformat()}, would change the answer.",
        *_common_limits(report),
    ]
    return lines


def receipt_proves(report: ReceiptReport) -> list[str]:
    """What a receipt that verified establishes (its form decides how much)."""
    body = report.body
    if not report.ok or body is None or report.heads is None:
        return []
    signed = (f"{body.node}'s node, holding a key the Alliance trust registry allowed {body.node} "
              f"at {body.answered_at.isoformat()} (key {body.key_id[:16]}), signed this answer "
              f"at that time")
    proof = report.proof
    if proof is not None:
        return [f"{signed}, and its signed answer is the one its proof replays to.",
                *proves(proof)]
    heads = report.heads
    answer = _answer(body.answer.claim)
    lines = [f"{signed}: {answer[0].lower()}{answer[1:]}.",
             f"The node's key is judged by the Alliance trust registry carried in the receipt "
             f"({_registry(heads)}).",
             _genesis(heads.genesis, heads.pinned),
             "The node based this answer on these ledger states (tree heads), each a checkpoint "
             "signed by its association with a key the registry gave it:"]
    for a, summary in sorted(heads.checkpoints.items()):
        lines.append(f"{a}'s ledger at tree size {summary.size}, root "
                     f"{summary.root_hash.hex()}.")
        lines.extend(_witnessed(summary))
    return lines


def receipt_limits(report: ReceiptReport) -> list[str]:
    """What a receipt does not prove (always shown)."""
    body = report.body
    if report.proof is not None:
        return limits(report.proof)
    if body is None or report.heads is None or body.kind != ReceiptKind.PUBLIC:
        return []
    return [
        "This is a public receipt: it does not carry the ledger entries behind the answer, so "
        "it proves what the node answered and signed, not that the entries give that answer. "
        "A full proof (the entries, each with an inclusion proof under these roots) needs an "
        "association's staff token: GET /v1/proofs/status, or GET /v1/receipts with the "
        "token. An auditor can later demand the entries and check them against the roots "
        "stated here.",
        "It does not prove that no other entry about this endorsement exists, nor anything "
        f"recorded after the answer was given ({body.answered_at.isoformat()}).",
        "A checkpoint carries no time: it is accepted under any key the registry gave its "
        "association by the time of the answer.",
        *_common_limits(report.heads),
    ]


def _common_limits(report: HeadsReport) -> list[str]:
    lines = [
        f"Keys are judged by the registry as it stood at its entry {report.registry_seq}; a "
        "revocation recorded later is not known to it.",
        "It does not identify the person presenting the endorsement.",
    ]
    for a, summary in sorted(report.checkpoints.items()):
        if not summary.witnessed:
            lines.append(f"{a}'s checkpoint is not witnessed ({len(summary.witnesses)} of "
                         f"{summary.quorum} cosignatures): it shows what {a} signed, not that "
                         f"{a} showed the same history to its peers.")
    return lines


def _answer(c: StatusClaim) -> str:
    designation = f" ({c.designation})" if c.designation else ""
    return (f"On {c.as_of.isoformat()}, endorsement {c.endorsement_id} of {c.given_name} "
            f"{c.family_name}, level {c.level}{designation}, held with {c.association}, stood as "
            f"'{c.standing}' (recorded {c.recorded_status}, valid through "
            f"{c.valid_through.isoformat()})")


def _registry(report: HeadsReport) -> str:
    return (f"genesis {report.genesis.digest().hex()[:16]}, {report.registry_seq} entries, "
            f"each signed by a governance quorum")


def _genesis(genesis: Genesis, pinned: bool) -> str:
    digest = genesis.digest().hex()[:16]
    return (f"The genesis is the one you pinned ({digest})." if pinned else
            f"The genesis was NOT compared with one you trust (digest {digest}): pass --genesis "
            f"with the Alliance's genesis file, or anyone could have made this registry and "
            f"these keys.")


def _witnessed(summary: CheckpointSummary) -> list[str]:
    a = summary.association
    if not summary.witnessed:
        return []
    return [f"{a}'s checkpoint is witnessed: cosigned by {len(summary.witnesses)} of the "
            f"{summary.quorum} peers the registry requires ({', '.join(summary.witnesses)}), "
            f"so {a} showed this history to them too."]
