"""Proofs and receipts as a user gets them: `alliance serve`, HTTP download, offline verify.

The node and the Alliance registry are made with the CLI only (a governance key, a genesis,
an admission signed and appended), the server runs as a child process, the files come over
real HTTP, and `alliance verify-proof` / `verify-receipt` run as subprocesses after the server
has stopped: the check needs no node and no network. The status proof and the full receipt
need a staff token; anyone gets the public receipt.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.harness import NodeDir, ServerProcess, init_node, run_alliance


@pytest.fixture
def registered(tmp_path: Path) -> tuple[NodeDir, Path]:
    """An AK node admitted to a one-key Alliance registry; returns it and the genesis file."""
    node = init_node(tmp_path / "ak", "AK", roles=("coordinator", "committee"))
    registry = tmp_path / "registry"
    run_alliance("registry", "keygen", "--out", str(tmp_path / "gov.key"))
    run_alliance("registry", "init", "--dir", str(registry), "--governance-key",
                 str(tmp_path / "gov.pub"), "--threshold", "1")
    proposal = str(tmp_path / "admit.bin")
    run_alliance("registry", "admit", "--dir", str(registry), "--association", "AK",
                 "--name", "Alaska", "--public-key-file",
                 str(node.data_dir / "keys" / "signing.pub"), "--out", proposal)
    run_alliance("registry", "sign", "--proposal", proposal, "--key", str(tmp_path / "gov.key"))
    run_alliance("registry", "append", "--dir", str(registry), "--proposal", proposal)
    shutil.copytree(registry, node.data_dir / "registry")
    return node, registry / "genesis.json"


def test_download_and_verify_offline(registered: tuple[NodeDir, Path], tmp_path: Path) -> None:
    node, genesis = registered
    today = dt.datetime.now(dt.UTC).date()
    with ServerProcess(node) as server, server.client() as c:
        r = c.post("/v1/endorsements/imports", headers=node.auth("coordinator"), json={
            "person_id": "P-1", "family_name": "Nakamura", "given_name": "Aiko",
            "level": "IMHS", "granted_on": "2019-05-01",
            "valid_through": (today + dt.timedelta(days=200)).isoformat(),
            "legacy_reference": "paper-17"})
        assert r.status_code == 201, r.text
        eid = r.json()["endorsement_id"]
        r = c.post(f"/v1/endorsements/{eid}/suspension", headers=node.auth("committee"),
                   json={"reason": "under review", "effective_on": today.isoformat()})
        assert r.status_code == 200, r.text
        before = (today - dt.timedelta(days=1)).isoformat()
        asked = {"endorsement_id": eid, "last_name": "nakamura", "as_of": before}
        assert c.get("/v1/proofs/status", params=asked).status_code == 401
        proof = c.get("/v1/proofs/status", params=asked, headers=node.auth("committee"))
        assert proof.status_code == 200, proof.text
        receipt = c.get("/v1/receipts", params={"endorsement_id": eid, "last_name": "Nakamura"})
        assert receipt.status_code == 200, receipt.text
        match = re.search(r'filename="([^"]+)"', receipt.headers["content-disposition"])
        assert receipt.headers["content-disposition"].startswith("attachment") and match
        assert "paper-17" not in receipt.text and "under review" not in receipt.text
        full = c.get("/v1/receipts", params={"endorsement_id": eid, "last_name": "Nakamura"},
                     headers=node.auth("coordinator"))
        assert full.status_code == 200, full.text
        view = c.get("/receipts/view", params={"endorsement_id": eid, "last_name": "Nakamura"})
        assert view.status_code == 200 and "SUSPENDED" in view.text
        assert c.get("/v1/receipts", params={"endorsement_id": eid,
                                             "last_name": "Smith"}).status_code == 404
        served_genesis = c.get("/v1/alliance/genesis.json")  # public: no token
        assert served_genesis.status_code == 200
        assert served_genesis.headers["content-type"] == "application/json"
    assert not server.running()  # everything below is offline
    assert served_genesis.content == genesis.read_bytes()  # the registry's own file
    # `alliance serve` prints where the genesis is, with the digest to compare out of band;
    # the URLs that need an endorsement are printed as templates, and say so.
    printed = server.log()
    assert re.search(rf"  Alliance genesis\s+{server.url}/v1/alliance/genesis\.json \(digest "
                     r"[0-9a-f]{64}: compare it with the one the Alliance publishes\)", printed)
    assert "(URL templates: replace <ENDORSEMENT-ID>, <LAST-NAME> and <YYYY-MM-DD>)" in printed

    proof_file = tmp_path / "proof.json"
    proof_file.write_bytes(proof.content)
    done = run_alliance("verify-proof", str(proof_file), "--genesis", str(genesis))
    assert "status proof verified" in done.stdout
    assert "stated answer: current" in done.stdout and "WHAT IT PROVES" in done.stdout
    assert "The genesis is the one you pinned" in done.stdout
    assert "not witnessed (0 of 1 cosignatures)" in done.stdout
    assert "does not prove that no other entry" in done.stdout

    receipt_file = tmp_path / match.group(1)
    receipt_file.write_bytes(receipt.content)
    done = run_alliance("verify-receipt", str(receipt_file), "--genesis", str(genesis))
    assert "receipt verified" in done.stdout and "receipt (public form)" in done.stdout
    assert "AK's node, holding a key the Alliance trust registry allowed AK" in done.stdout
    assert "stated answer: suspended" in done.stdout
    assert "checkpoint AK: size 2, root " in done.stdout
    assert "does not carry the ledger entries" in done.stdout
    assert "entry AK#" not in done.stdout
    as_json = json.loads(run_alliance("verify-receipt", str(receipt_file), "--genesis",
                                      str(genesis), "--json").stdout)
    assert as_json["ok"] and as_json["receipt"]["kind"] == "public"
    assert as_json["claim"]["standing"] == "suspended" and as_json["genesis_pinned"]
    assert as_json["checkpoints"]["AK"]["size"] == 2 and "entries" not in as_json

    full_file = tmp_path / "full.json"
    full_file.write_bytes(full.content)
    done = run_alliance("verify-receipt", str(full_file), "--genesis", str(genesis))
    assert "receipt verified" in done.stdout and "receipt (full form)" in done.stdout
    assert "replayed: suspended" in done.stdout and "entry AK#2: EndorsementSuspended" in (
        done.stdout)

    # Witnessing is required on request, and this single-node Alliance has no witnesses.
    strict = run_alliance("verify-receipt", str(receipt_file), "--require-witnessed",
                          "--genesis", str(genesis), check=False)
    assert strict.returncode == 1 and "witnessing: AK: 0 of 1" in strict.stderr

    # A changed answer in the proof file: named, exit 1.
    data = json.loads(proof.content)
    data["claim"]["standing"] = "revoked"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    bad = run_alliance("verify-proof", str(tampered), "--genesis", str(genesis), check=False)
    assert bad.returncode == 1 and "FAILED answer: " in bad.stderr
    assert "did NOT verify" in bad.stdout
    as_json = run_alliance("verify-proof", str(tampered), "--json", "--genesis", str(genesis),
                           check=False)
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and report["ok"] is False
    assert any(f.startswith("answer: ") for f in report["failures"])
    assert report["replayed"]["standing"] == "current" and report["does_not_prove"]

    # Another genesis pinned: refused before anything else is trusted.
    other = tmp_path / "other"
    run_alliance("registry", "keygen", "--out", str(tmp_path / "other.key"))
    run_alliance("registry", "init", "--dir", str(other), "--governance-key",
                 str(tmp_path / "other.pub"), "--threshold", "1")
    wrong = run_alliance("verify-receipt", str(receipt_file), "--genesis",
                         str(other / "genesis.json"), check=False)
    assert wrong.returncode == 1 and "FAILED genesis: " in wrong.stderr

    # Fail closed: no pinned genesis is a failed check, named, saying where to get one.
    for command, path in (("verify-receipt", receipt_file), ("verify-proof", proof_file)):
        unpinned = run_alliance(command, str(path), check=False)
        assert unpinned.returncode == 1, unpinned.stdout
        assert "FAILED genesis: not pinned" in unpinned.stderr
        assert "/v1/alliance/genesis.json" in unpinned.stderr
        assert "did NOT verify (1 failed checks)" in unpinned.stdout
        as_json = json.loads(run_alliance(command, str(path), "--json", check=False).stdout)
        assert as_json["ok"] is False and as_json["trust_root"] == "none"
        # Accepting the file's own registry is possible, and said for what it is.
        bundled = run_alliance(command, str(path), "--trust-bundled-registry")
        assert "WARNING: trust root NOT pinned (--trust-bundled-registry)" in bundled.stdout
        assert "verified against the registry it carries (trust root NOT pinned)" in (
            bundled.stdout)
    # The genesis fetched from the node, pinned: the full digest is printed to compare.
    fetched = tmp_path / "fetched-genesis.json"
    fetched.write_bytes(served_genesis.content)
    pinned = run_alliance("verify-receipt", str(receipt_file), "--genesis", str(fetched))
    digest = json.loads(run_alliance("verify-receipt", str(receipt_file), "--genesis",
                                     str(fetched), "--json").stdout)["genesis"]
    assert f"trust root: the genesis you pinned, digest {digest}" in pinned.stdout
    assert len(digest) == 64

    # Not a proof at all: a clear error, non-zero.
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{}")
    assert run_alliance("verify-proof", str(garbage), check=False).returncode != 0
