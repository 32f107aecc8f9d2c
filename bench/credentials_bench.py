"""Portable credentials on one core: issuing and verifying an OB3 credential against the bare
Ed25519 sign and verify measured in the same run, and encoding a 131,072-entry status list.

    .venv/bin/python -m bench.credentials_bench [--seconds 3] [--quick] [--json]

The process pins itself to one core first. Phases (each repeated for `--seconds`):

- bare sign / bare verify: `Signer.sign` / `Verifier.verify` of the 64 bytes an
  eddsa-rdfc-2022 proof signs, the floor of every proof;
- issue: build the credential and secure it (two safe-mode checked RDF canonicalisations, two
  SHA-256, one signature), as the node does on a grant;
- verify proof: the proof alone under a key already found;
- verify in full: `verify_credential` with the DID document and both status lists (the OB3
  schema, the credential's proof and both lists' proofs, the ledger's version check);
- status list: encode (GZIP + base64url) a 131,072-entry list at 0.1 % and 1 % set bits,
  decode it, and build and sign its list credential.

Issuing and verifying are printed as ratios to the bare signature, so the machine largely
cancels out. Status list serving under concurrent requests is measured once the node serves
the lists (it is a route, not yet wired).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import time
from collections.abc import Callable
from typing import Any

from domain.credentials import MIN_LIST_SIZE, StatusPurpose
from domain.levels import Designation, Level
from ledger.credentials.data_integrity import read_proof, verify_proof
from ledger.credentials.did_document import KeyWindow, build_did_document, verification_method_id
from ledger.credentials.multikey import did_web, did_web_url
from ledger.credentials.open_badges import (
    EndorsementAward,
    IssuerProfile,
    build_credential,
    issue_credential,
)
from ledger.credentials.status_list import (
    StatusBits,
    build_status_list_credential,
    decode_list,
    encode_list,
    issue_status_list_credential,
    status_entry,
)
from ledger.credentials.verify import (
    Evidence,
    RecordedVersion,
    ServedDocument,
    verify_credential,
)
from ledger.signing import Signer, Verifier

T0 = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC)


def rate(seconds: float, operation: Callable[[], object]) -> float:
    """Operations per second over `seconds` (after one warm-up call, which fills pyld's
    context cache)."""
    operation()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        operation()
        count += 1
    return count / elapsed


class Workload:
    """One association, one credential, both lists published and recorded."""

    def __init__(self) -> None:
        self.signer = Signer.generate()
        self.did = did_web("node.example")
        self.method = verification_method_id(self.did, self.signer.key_id)
        self.issuer = IssuerProfile(did=self.did, association="AK",
                                    name="Alaska Association for Infant and Early Childhood "
                                         "Mental Health", url="https://akaimh.example/")
        self.award = EndorsementAward(
            endorsement_id="AK-7Q4M2XKD", family_name="Oyelaran", given_name="Ada",
            level=Level.IMHM, designation=Designation.CLINICAL, awarded_on=dt.date(2024, 3, 1),
            valid_from=dt.date(2026, 1, 15), valid_through=dt.date(2027, 1, 14))
        self.index = 4242
        self.lists = {p: f"https://node.example/status/{p.value}/1" for p in StatusPurpose}
        self.credential = self.issue()
        key = KeyWindow(key_id=self.signer.key_id, public_key=self.signer.public_key,
                        valid_from=T0 - dt.timedelta(days=30))
        served, recorded = {}, {}
        for purpose, url in self.lists.items():
            bits = StatusBits.empty().with_bits([self.index])
            served[url] = self.sign_list(purpose, bits)
            recorded[url] = [RecordedVersion(list_version=1, list_hash=bits.list_hash,
                                             recorded_at=T0)]
        self.evidence = Evidence(
            did_document=ServedDocument(did_web_url(self.did),
                                        build_did_document(self.did, [key], T0)),
            status_lists=served, recorded=recorded, issuers={self.did: "AK"},
            registry_keys=[key])

    def issue(self) -> dict[str, Any]:
        unsigned = build_credential(
            credential_id="https://node.example/credentials/3f1c6a9e-5d2b-4c1e-9a57-0b7f2e1d4c88",
            issuer=self.issuer, award=self.award,
            achievement_base_url="https://node.example/achievements",
            status_entries=[status_entry(url, p, self.index) for p, url in self.lists.items()])
        return issue_credential(unsigned, self.signer, self.method, T0)

    def sign_list(self, purpose: StatusPurpose, bits: StatusBits) -> dict[str, Any]:
        unsigned = build_status_list_credential(self.lists[purpose], self.did, purpose, bits, T0)
        return issue_status_list_credential(unsigned, self.signer, self.method, T0)


def list_with(fraction: float) -> StatusBits:
    """A 131,072-entry list with `fraction` of its bits set at random (seeded)."""
    picked = random.Random(14).sample(range(MIN_LIST_SIZE), int(MIN_LIST_SIZE * fraction))
    return StatusBits.empty().with_bits(picked)


def run(seconds: float) -> dict[str, float]:
    """Every phase's operations per second."""
    work = Workload()
    message = bytes(range(64))
    signature = work.signer.sign(message)
    verifier = Verifier(work.signer.public_key)
    proof = read_proof(work.credential)
    results = {
        "bare Ed25519 sign (64 bytes)": rate(seconds, lambda: work.signer.sign(message)),
        "bare Ed25519 verify": rate(seconds, lambda: verifier.verify(signature, message)),
        "issue: build + canonicalise + sign": rate(seconds, work.issue),
        "verify proof (key known)": rate(
            seconds, lambda: verify_proof(work.credential, proof, work.signer.public_key)),
        "verify in full (schema, proof, 2 lists, ledger)": rate(
            seconds, lambda: verify_credential(work.credential, work.evidence, T0)),
    }
    for fraction in (0.001, 0.01):
        bits = list_with(fraction)
        encoded = encode_list(bits)
        percent = f"{fraction:.1%}"
        results[f"encode 131,072-entry list, {percent} set ({len(encoded)} chars)"] = rate(
            seconds, lambda bits=bits: encode_list(bits))
        results[f"decode 131,072-entry list, {percent} set"] = rate(
            seconds, lambda encoded=encoded: decode_list(encoded))
    results["status list credential: build + sign (0.1% set)"] = rate(
        seconds, lambda: work.sign_list(StatusPurpose.SUSPENSION, list_with(0.001)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.credentials_bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per phase")
    parser.add_argument("--quick", action="store_true", help="0.5 s per phase")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    results = run(0.5 if args.quick else args.seconds)
    sign = results["bare Ed25519 sign (64 bytes)"]
    verify = results["bare Ed25519 verify"]
    ratios = {
        "issue / bare sign": results["issue: build + canonicalise + sign"] / sign,
        "verify proof / bare verify": results["verify proof (key known)"] / verify,
        "verify in full / bare verify":
            results["verify in full (schema, proof, 2 lists, ledger)"] / verify,
    }
    if args.json:
        print(json.dumps({"per_second": results, "ratios": ratios}, indent=2))
        return
    for name, per_second in results.items():
        print(f"{name:58s} {per_second:10.1f} /s {1000 / per_second:9.3f} ms")
    for name, ratio in ratios.items():
        print(f"{name:58s} {ratio:10.4f}  (1 : {1 / ratio:,.0f})")


if __name__ == "__main__":
    main()
