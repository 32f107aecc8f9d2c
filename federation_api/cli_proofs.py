"""`alliance verify-proof` and `alliance verify-receipt`: offline checks of what a node handed out.

Neither command opens a node, a database file or a network connection: the file, and
optionally the Alliance genesis the user trusts, are all they read. The replay runs the
projection code on a private in-memory database.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

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


def _as_json(report: ProofReport | None, failures: list[str],
             receipt: dict[str, object] | None = None) -> str:
    out: dict[str, object] = {"ok": not failures, "failures": failures}
    if receipt is not None:
        out["receipt"] = receipt
    if report is not None:
        p = report.proof
        out.update(
            claim=msgspec.to_builtins(p.claim), made_by=p.made_by,
            made_at=p.made_at.isoformat(),
            replayed=None if report.replayed is None else msgspec.to_builtins(report.replayed),
            genesis=p.genesis.digest().hex(), genesis_pinned=report.pinned,
            entries=[{"association": e.body.association, "seq": e.seq,
                      "event_type": e.body.event_type,
                      "recorded_at": e.body.recorded_at.isoformat()} for e in report.entries],
            checkpoints={a: {"size": c.size, "witnesses": list(c.witnesses),
                             "quorum": c.quorum, "witnessed": c.witnessed}
                         for a, c in sorted(report.checkpoints.items())},
            proves=proves(report), does_not_prove=limits(report))
    return json.dumps(out, indent=2)


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
    failures = [str(f) for f in report.findings]
    if args.require_witnessed:
        failures += _unwitnessed(report)
    if args.json:
        print(_as_json(report, failures))
        return 1 if failures else 0
    _print_report(report)
    return _finish(failures, "status proof")


def cmd_verify_receipt(args: argparse.Namespace, _: Settings) -> int:
    """Check a signed verification receipt offline; exit 1 naming every failed check."""
    receipt = decode_receipt(Path(args.file).read_bytes())
    report = verify_receipt(receipt, replay_status, pinned_genesis=_genesis(args))
    body = report.body
    failures = [f"receipt: {f}" for f in report.findings]
    if report.proof is not None:
        failures += [str(f) for f in report.proof.findings]
        if args.require_witnessed:
            failures += _unwitnessed(report.proof)
    if args.json:
        print(_as_json(report.proof, failures, None if body is None else {
            "node": body.node, "key_id": body.key_id,
            "answered_at": body.answered_at.isoformat(),
            "warnings": list(body.answer.warnings)}))
        return 1 if failures else 0
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
        p.add_argument("--json", action="store_true", help="a JSON report on stdout")
        p.add_argument("--require-witnessed", action="store_true",
                       help="also fail unless every checkpoint has the registry's witness "
                            "quorum of cosignatures")
