"""`alliance verify-proof` and `alliance verify-receipt`: offline checks of what a node handed out.

Neither command opens a node, a database file or a network connection: the file, and
optionally the Alliance genesis the user trusts, are all they read. The replay runs the
projection code on a private in-memory database.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from federation_api.proofs import replay_status
from federation_api.settings import Settings
from ledger.codec import decode_json
from ledger.proof_statements import limits, proves
from ledger.receipts import decode_receipt, verify_receipt
from ledger.registry import Genesis
from ledger.status_proof import (
    ProofReport,
    decode_status_proof,
    verify_status_proof,
)


def _genesis(args: argparse.Namespace) -> Genesis | None:
    return decode_json(Path(args.genesis).read_bytes(), Genesis) if args.genesis else None


def _print_report(report: ProofReport) -> None:
    p = report.proof
    c = p.claim
    print(f"status proof of {c.endorsement_id} as of {c.as_of.isoformat()}, made by "
          f"{p.made_by}'s node at {p.made_at.isoformat()}")
    print(f"  stated answer: {c.standing} (recorded {c.recorded_status}, level {c.level}, "
          f"{c.association}, valid through {c.valid_through.isoformat()})")
    pinned = "pinned" if report.pinned else "NOT pinned (use --genesis)"
    print(f"  registry: genesis {p.genesis.digest().hex()[:16]} ({pinned}), "
          f"{len(p.registry)} entries")
    for entry in report.entries:
        print(f"  entry {entry.body.association}#{entry.seq}: {entry.body.event_type}, "
              f"recorded {entry.body.recorded_at.isoformat()}, signature valid")
    for a, summary in sorted(report.checkpoints.items()):
        witnessed = (f"witnessed by {', '.join(summary.witnesses)}" if summary.witnessed else
                     f"not witnessed ({len(summary.witnesses)} of {summary.quorum} "
                     f"cosignatures)")
        print(f"  checkpoint {a}: size {summary.size}, signed by {a}, {witnessed}")
    if report.replayed is not None:
        r = report.replayed
        print(f"  replayed: {r.standing} (recorded {r.recorded_status}, valid through "
              f"{r.valid_through.isoformat()})")
    statements = proves(report)
    if statements:
        print("WHAT IT PROVES:")
        for line in statements:
            print(f"  - {line}")
    print("WHAT IT DOES NOT PROVE:")
    for line in limits(report):
        print(f"  - {line}")


def _unwitnessed(report: ProofReport) -> list[str]:
    return [f"witnessing: {a}: {len(s.witnesses)} of {s.quorum} cosignatures"
            for a, s in sorted(report.checkpoints.items()) if not s.witnessed]


def _finish(failures: list[str], what: str) -> int:
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if failures:
        print(f"{what} did NOT verify ({len(failures)} failed checks)")
        return 1
    print(f"{what} verified")
    return 0


def cmd_verify_proof(args: argparse.Namespace, _: Settings) -> int:
    """Check a status proof bundle offline; exit 1 naming every failed check."""
    proof = decode_status_proof(Path(args.file).read_bytes())
    report = verify_status_proof(proof, replay_status, pinned_genesis=_genesis(args))
    _print_report(report)
    failures = [str(f) for f in report.findings]
    if args.require_witnessed:
        failures += _unwitnessed(report)
    return _finish(failures, "status proof")


def cmd_verify_receipt(args: argparse.Namespace, _: Settings) -> int:
    """Check a signed verification receipt offline; exit 1 naming every failed check."""
    receipt = decode_receipt(Path(args.file).read_bytes())
    report = verify_receipt(receipt, replay_status, pinned_genesis=_genesis(args))
    body = report.body
    if body is not None:
        print(f"receipt: {body.node}'s node answered at {body.answered_at.isoformat()} with "
              f"key {body.key_id[:16]}")
        for warning in body.answer.warnings:
            print(f"  node's warning (not proven by the bundle): {warning}")
        if not report.findings:
            print(f"  - {body.node}'s node signed this answer at that time, with a key the "
                  f"registry allowed {body.node} then, and its signed answer is the one its "
                  f"proof replays to.")
    if report.proof is not None:
        _print_report(report.proof)
    failures = [f"receipt: {f}" for f in report.findings]
    if report.proof is not None:
        failures += [str(f) for f in report.proof.findings]
        if args.require_witnessed:
            failures += _unwitnessed(report.proof)
    return _finish(failures, "receipt")


def add_commands(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    """Add the two commands to the `alliance` parser."""
    for name, handler, what in (("verify-proof", cmd_verify_proof, "a status proof bundle"),
                                ("verify-receipt", cmd_verify_receipt,
                                 "a signed verification receipt")):
        p = add(sub, name, handler, f"check {what} offline (no network, no node); exit 1 on "
                                    f"any failed check")
        p.add_argument("file", help=f"{what} file (JSON)")
        p.add_argument("--genesis", help="the Alliance genesis.json you trust; the bundle's "
                                         "registry must start from it")
        p.add_argument("--require-witnessed", action="store_true",
                       help="also fail unless every checkpoint has the registry's witness "
                            "quorum of cosignatures")
