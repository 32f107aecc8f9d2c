"""`alliance verify-proof` and `alliance verify-receipt`: offline checks of what a node handed out.

Neither command opens a node, a database file or a network connection: the file, and
optionally the Alliance genesis the user trusts, are all they read. The replay runs the
projection code on a private in-memory database. `verify-receipt` takes both receipt forms: a
full one is checked down to the replay of its entries; a public one (no entries) down to the
node's signature, its key in the registry, and the checkpoints it names.

Both fail closed on the trust root. A file carries its own registry, and a registry is only
as good as the genesis it starts from: anyone can make a genesis, admit a key of their own and
sign a receipt that checks out against it. So a file verifies only against a genesis the user
pinned (`--genesis`, the Alliance's file, which every node serves at
`/v1/alliance/genesis.json`; its digest is to be compared with the one the Alliance publishes).
Without one the check `genesis` fails (exit 1) after every other check has been reported;
`--trust-bundled-registry` accepts the file's own registry instead, and the output then says
that the result holds only relative to that registry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from federation_api.proofs.status import replay_status
from federation_api.settings import Settings
from federation_api.web.urls import GENESIS_PATH
from ledger.codec import decode_json
from ledger.proofs.receipts import ReceiptReport, decode_receipt, verify_receipt
from ledger.proofs.statements import limits, proves, receipt_limits, receipt_proves
from ledger.proofs.status import (
    ProofReport,
    StatusClaim,
    decode_status_proof,
    verify_status_proof,
)
from ledger.proofs.tree_heads import CheckpointSummary, HeadsReport
from ledger.trust.registry import Genesis

NOT_PINNED = (f"genesis: not pinned: the file's own registry was not compared with a genesis "
              f"you trust, so anyone could have made it and its keys. Get the Alliance's "
              f"genesis from any node (GET http://NODE{GENESIS_PATH}), compare its digest with "
              f"the one the Alliance publishes, and pass it with --genesis FILE; or pass "
              f"--trust-bundled-registry to accept the file's registry as it is")
BUNDLED = ("trust root NOT pinned (--trust-bundled-registry): the checks hold against the "
           "registry inside the file, which its maker chose; they do not show that its keys "
           "are the Alliance's")


def _genesis(args: argparse.Namespace) -> Genesis | None:
    return decode_json(Path(args.genesis).read_bytes(), Genesis) if args.genesis else None


def _trust_root(args: argparse.Namespace, report: HeadsReport | None,
                failures: list[str]) -> str:
    """"pinned", "bundled" (accepted with the flag) or "none" (a failure is added)."""
    if report is not None and report.pinned:
        return "pinned"
    if args.trust_bundled_registry:
        return "bundled"
    failures.append(NOT_PINNED)
    return "none"


def _print_trust_root(trust: str, report: HeadsReport | None) -> None:
    if trust == "pinned" and report is not None:
        print(f"trust root: the genesis you pinned, digest {report.genesis.digest().hex()} "
              f"(compare it with the digest the Alliance publishes)")
    elif trust == "bundled":
        print(f"WARNING: {BUNDLED}")


def _print_report(report: ProofReport, *, statements: bool = True) -> None:
    p = report.proof
    c = p.claim
    print(f"status proof of {c.endorsement_id} as of {c.as_of.isoformat()}, made by "
          f"{p.made_by}'s node at {p.made_at.isoformat()}")
    _print_claim(c)
    _print_heads(report)
    for entry in report.entries:
        print(f"  entry {entry.body.association}#{entry.seq}: {entry.body.event_type}, "
              f"recorded {entry.body.recorded_at.isoformat()}, signature valid")
    if report.replayed is not None:
        r = report.replayed
        print(f"  replayed: {r.standing} (recorded {r.recorded_status}, valid through "
              f"{r.valid_through.isoformat()})")
    if statements:
        _print_statements(proves(report), limits(report))


def _print_claim(c: StatusClaim) -> None:
    print(f"  stated answer: {c.standing} (recorded {c.recorded_status}, level {c.level}, "
          f"{c.association}, valid through {c.valid_through.isoformat()})")


def _print_heads(report: HeadsReport) -> None:
    pinned = "pinned" if report.pinned else "NOT pinned (use --genesis)"
    print(f"  registry: genesis {report.genesis.digest().hex()[:16]} ({pinned}), "
          f"{report.registry_size} entries")
    for a, summary in sorted(report.checkpoints.items()):
        witnessed = (f"witnessed by {', '.join(summary.witnesses)}" if summary.witnessed else
                     f"not witnessed ({len(summary.witnesses)} of {summary.quorum} "
                     f"cosignatures)")
        print(f"  checkpoint {a}: size {summary.size}, root {summary.root_hash.hex()[:16]}, "
              f"signed by {a}, {witnessed}")


def _print_statements(proven: list[str], not_proven: list[str]) -> None:
    if proven:
        print("WHAT IT PROVES:")
        for line in proven:
            print(f"  - {line}")
    print("WHAT IT DOES NOT PROVE:")
    for line in not_proven:
        print(f"  - {line}")


def _unwitnessed(report: HeadsReport) -> list[str]:
    return [f"witnessing: {a}: {len(s.witnesses)} of {s.quorum} cosignatures"
            for a, s in sorted(report.checkpoints.items()) if not s.witnessed]


def _checkpoints_json(checkpoints: dict[str, CheckpointSummary]) -> dict[str, object]:
    return {a: {"size": c.size, "root": c.root_hash.hex(), "witnesses": list(c.witnesses),
                "quorum": c.quorum, "witnessed": c.witnessed}
            for a, c in sorted(checkpoints.items())}


def _as_json(report: ProofReport | None, failures: list[str]) -> dict[str, object]:
    out: dict[str, object] = {"ok": not failures, "failures": failures}
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
            checkpoints=_checkpoints_json(report.checkpoints),
            proves=proves(report), does_not_prove=limits(report))
    return out


def _receipt_json(report: ReceiptReport, failures: list[str]) -> dict[str, object]:
    body, heads = report.body, report.heads
    out = _as_json(report.proof, failures)
    if body is None or heads is None:
        return out
    out["receipt"] = {"kind": str(body.kind), "node": body.node, "key_id": body.key_id,
                      "answered_at": body.answered_at.isoformat(),
                      "warnings": list(body.answer.warnings)}
    out.update(claim=msgspec.to_builtins(body.answer.claim),
               genesis=heads.genesis.digest().hex(), genesis_pinned=heads.pinned,
               checkpoints=_checkpoints_json(heads.checkpoints),
               proves=receipt_proves(report), does_not_prove=receipt_limits(report))
    return out


def _finish(failures: list[str], what: str, trust: str) -> int:
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if failures:
        print(f"{what} did NOT verify ({len(failures)} failed checks)")
        return 1
    if trust == "bundled":
        print(f"{what} verified against the registry it carries (trust root NOT pinned)")
    else:
        print(f"{what} verified")
    return 0


def cmd_verify_proof(args: argparse.Namespace, _: Settings) -> int:
    """Check a status proof bundle offline; exit 1 naming every failed check."""
    proof = decode_status_proof(Path(args.file).read_bytes())
    report = verify_status_proof(proof, replay_status, pinned_genesis=_genesis(args))
    failures = [str(f) for f in report.findings]
    if args.require_witnessed:
        failures += _unwitnessed(report)
    trust = _trust_root(args, report, failures)
    if args.json:
        print(json.dumps({**_as_json(report, failures), "trust_root": trust}, indent=2))
        return 1 if failures else 0
    _print_report(report)
    _print_trust_root(trust, report)
    return _finish(failures, "status proof", trust)


def cmd_verify_receipt(args: argparse.Namespace, _: Settings) -> int:
    """Check a signed verification receipt (public or full) offline; exit 1 naming every
    failed check."""
    receipt = decode_receipt(Path(args.file).read_bytes())
    report = verify_receipt(receipt, replay_status, pinned_genesis=_genesis(args))
    body = report.body
    failures = [str(f) for f in report.all_findings]
    if args.require_witnessed and report.heads is not None:
        failures += _unwitnessed(report.heads)
    trust = _trust_root(args, report.heads, failures)
    if args.json:
        print(json.dumps({**_receipt_json(report, failures), "trust_root": trust}, indent=2))
        return 1 if failures else 0
    if body is not None:
        print(f"receipt ({body.kind} form): {body.node}'s node answered at "
              f"{body.answered_at.isoformat()} with key {body.key_id[:16]}")
        for warning in body.answer.warnings:
            print(f"  node's warning (not proven by the receipt): {warning}")
    if report.proof is not None:
        _print_report(report.proof, statements=False)
    elif body is not None and report.heads is not None:
        c = body.answer.claim
        print(f"  answer about {c.endorsement_id} as of {c.as_of.isoformat()}: "
              f"{c.given_name} {c.family_name}")
        _print_claim(c)
        _print_heads(report.heads)
    _print_statements(receipt_proves(report), receipt_limits(report))
    _print_trust_root(trust, report.heads)
    return _finish(failures, "receipt", trust)


def add_commands(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    """Add the two commands to the `alliance` parser."""
    for name, handler, what in (("verify-proof", cmd_verify_proof, "a status proof bundle"),
                                ("verify-receipt", cmd_verify_receipt,
                                 "a signed verification receipt")):
        p = add(sub, name, handler, f"check {what} offline (no network, no node); exit 1 on "
                                    f"any failed check")
        p.add_argument("file", help=f"{what} file (JSON)")
        p.add_argument("--genesis", help="the Alliance genesis.json you trust (every node serves "
                                         f"it at {GENESIS_PATH}; compare its digest with the "
                                         "one the Alliance publishes); the file's registry "
                                         "must start from it. Without it the check fails")
        p.add_argument("--trust-bundled-registry", action="store_true",
                       help="without --genesis, accept the registry the file carries: the "
                            "result then holds only against keys the file's maker chose")
        p.add_argument("--json", action="store_true", help="a JSON report on stdout")
        p.add_argument("--require-witnessed", action="store_true",
                       help="also fail unless every checkpoint has the registry's witness "
                            "quorum of cosignatures")
