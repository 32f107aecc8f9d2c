"""What a verified status proof establishes, and what it does not, in plain words.

Kept apart from the checks in `ledger.status_proof`: these sentences are what a person reads
(the CLI prints them, the printable receipt shows them), and the limits are always shown,
because an inclusion proof can never show that an entry is absent.
"""

from __future__ import annotations

from ledger.status_proof import ProofReport


def proves(report: ProofReport) -> list[str]:
    """Plain-language statements of what a bundle that verified establishes."""
    if not report.ok:
        return []
    p = report.proof
    c = p.claim
    designation = f" ({c.designation})" if c.designation else ""
    genesis = p.genesis.digest().hex()
    lines = [
        f"On {c.as_of.isoformat()}, endorsement {c.endorsement_id} of {c.given_name} "
        f"{c.family_name}, level {c.level}{designation}, held with {c.association}, stood as "
        f"'{c.standing}' (recorded {c.recorded_status}, valid through "
        f"{c.valid_through.isoformat()}): replaying the {len(report.entries)} entries listed "
        f"with the Alliance's projection rules gives exactly this answer.",
        f"Each entry is signed by its association with a key that the Alliance trust registry "
        f"(genesis {genesis[:16]}, {report.registry_seq} entries, each signed by a governance "
        f"quorum) allowed for that association at the entry's time.",
    ]
    lines.append(f"The genesis is the one you pinned ({genesis[:16]})." if report.pinned else
                 f"The genesis was NOT compared with one you trust (digest {genesis[:16]}): "
                 f"pass --genesis with the Alliance's genesis file, or anyone could have made "
                 f"this registry and these keys.")
    for a, summary in sorted(report.checkpoints.items()):
        lines.append(f"Each {a} entry is in {a}'s ledger: an inclusion proof leads to the root "
                     f"of {a}'s checkpoint (tree size {summary.size}), signed by {a}'s key.")
        if summary.witnessed:
            lines.append(f"{a}'s checkpoint is witnessed: cosigned by {len(summary.witnesses)} "
                         f"of the {summary.quorum} peers the registry requires "
                         f"({', '.join(summary.witnesses)}), so {a} showed this history to "
                         f"them too.")
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
        f"Keys are judged by the registry as it stood at its entry {report.registry_seq}; a "
        "revocation recorded later is not known to this bundle.",
        "It does not identify the person presenting the endorsement.",
    ]
    for a, summary in sorted(report.checkpoints.items()):
        if not summary.witnessed:
            lines.append(f"{a}'s checkpoint is not witnessed ({len(summary.witnesses)} of "
                         f"{summary.quorum} cosignatures): it shows what {a} signed, not that "
                         f"{a} showed the same history to its peers.")
    return lines

