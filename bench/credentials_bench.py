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
cancels out.

Serving (`--serve`, off with `--quick`): a node in a temporary directory issues one credential
(which opens its lists), its suspension list is then given a 131,072-entry version with 1 % of
its bits set (signed as the publisher signs, stored as the publisher stores it), and the real
`alliance serve` (rate limits off) answers `GET /v1/status-lists/AK/suspension/1` to 100
concurrent keep-alive connections (closed loop, `bench.public_api_bench`'s load generator)
for `--seconds`; the baseline is a bare FastAPI app answering a static body of the same bytes
and media type, served by uvicorn the same way, measured in the same run. Server on CPU 0,
load on CPU 1 where there are two; p50/p99 and the ratio of the p99s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
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


# -- serving a status list under 100 concurrent requests ---------------------------------------

SERVE_CONCURRENCY = 100
LIST_PATH = "/v1/status-lists/AK/suspension/1"


def serve_static(port: int, body_file: str) -> None:
    """The baseline: a bare FastAPI app answering the list's bytes as a static body."""
    import uvicorn
    from fastapi import FastAPI, Response

    from bench.public_api_bench import HOST, UVICORN_ARGS

    body = Path(body_file).read_bytes()
    app = FastAPI()

    @app.get(LIST_PATH)
    async def status_list() -> Response:
        return Response(body, media_type="application/ld+json")

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host=HOST, port=port, **UVICORN_ARGS)


def prepare_node(root: Path, port: int) -> bytes:
    """A node whose suspension list holds a 1 %-set version; the bytes it serves."""
    from domain.policy import AssociationPolicy
    from federation_api.credentials.served_lists import ServedList
    from federation_api.node.root import Node
    from federation_api.node.setup import init_node
    from federation_api.settings import Settings
    from ledger.codec import encode_json

    settings = Settings(data_dir=root / "ak", public_url=f"http://127.0.0.1:{port}")
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(),
              now=T0 - dt.timedelta(days=1))
    node = Node(settings)
    try:
        node.service.record_existing(
            endorsement_id="AK-BENCH001", person_id="P-1", family_name="Oyelaran",
            given_name="Ada", level=Level.IMHS, designation=None, granted_on=dt.date(2026, 1, 1),
            valid_through=dt.date(2030, 12, 31), legacy_reference="bench", now=T0)
        node.status_lists.publish_due()
        row = node.projector.status_list("AK", StatusPurpose.SUSPENSION, 1)
        assert row is not None
        identity = node.issuer_identity
        unsigned = build_status_list_credential(
            identity.list_url(StatusPurpose.SUSPENSION, 1), identity.did,
            StatusPurpose.SUSPENSION, list_with(0.01), valid_from=T0, ttl_ms=5000)
        document = encode_json(issue_status_list_credential(
            unsigned, node.signer, identity.method(node.signer.key_id), T0))
        node.served_lists.put(ServedList(list_id=row.aggregate_id, list_version=2,
                                         signed_at=T0.isoformat(), document=document))
        return document
    finally:
        node.close()


def serve_figures(seconds: float) -> dict[str, Any]:
    """p50/p99 of the node's status list and of the bare static body, 100 connections."""
    import asyncio
    import sys
    import tempfile

    from bench.public_api_bench import Server, alliance_executable, bench_env, closed_loop
    from federation_api.replication.nats_process import free_port

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu = cpus[0] if len(cpus) > 1 else None
    if len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[1]})
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        port = free_port()
        body = prepare_node(root, port)
        (root / "body.json").write_bytes(body)
        figures["list bytes"] = len(body)
        targets = {
            "node": [alliance_executable(), "serve", "--data-dir", str(root / "ak"),
                     "--listen", f"127.0.0.1:{port}"],
            "bare": [sys.executable, "-m", "bench.credentials_bench", "--serve-static",
                     "PORT", str(root / "body.json")]}
        for name, argv in targets.items():
            listen = port if name == "node" else free_port()
            argv = [str(listen) if a == "PORT" else a for a in argv]
            server = Server(argv, listen, bench_env(), server_cpu)
            try:
                phase = asyncio.run(closed_loop(listen, [LIST_PATH], SERVE_CONCURRENCY,
                                                seconds))
            finally:
                server.stop()
            figures[name] = {"requests_per_second": phase.per_second, "p50_ms": phase.p50_ms,
                             "p99_ms": phase.p99_ms, "errors": phase.errors,
                             "statuses": phase.statuses}
    figures["p99 ratio node / bare"] = figures["node"]["p99_ms"] / figures["bare"]["p99_ms"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.credentials_bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per phase")
    parser.add_argument("--quick", action="store_true", help="0.5 s per phase, no serving")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--serve-static", nargs=2, metavar=("PORT", "FILE"),
                        help=argparse.SUPPRESS)  # the baseline server's own process
    args = parser.parse_args()
    if args.serve_static:
        serve_static(int(args.serve_static[0]), args.serve_static[1])
        return
    served = None if args.quick else serve_figures(max(args.seconds, 5.0))
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
        print(json.dumps({"per_second": results, "ratios": ratios, "serving": served},
                         indent=2))
        return
    for name, per_second in results.items():
        print(f"{name:58s} {per_second:10.1f} /s {1000 / per_second:9.3f} ms")
    for name, ratio in ratios.items():
        print(f"{name:58s} {ratio:10.4f}  (1 : {1 / ratio:,.0f})")
    if served is not None:
        print(f"status list served ({served['list bytes']} bytes), {SERVE_CONCURRENCY} "
              "concurrent connections:")
        for name in ("node", "bare"):
            f = served[name]
            print(f"  {name:5s} {f['requests_per_second']:8.0f} req/s  p50 {f['p50_ms']:7.1f} ms"
                  f"  p99 {f['p99_ms']:7.1f} ms  errors {f['errors']}")
        print(f"  p99 ratio node / bare {served['p99 ratio node / bare']:.2f}")


if __name__ == "__main__":
    main()
