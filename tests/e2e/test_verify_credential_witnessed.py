"""`alliance verify-credential` against a real witnessed Alliance (`alliance demo`: three
nodes, their replicators over a real nats-server, checkpoints cosigned by the peers): a
credential's status list versions proven under a checkpoint of the issuer's ledger that the
registry's quorum of witnesses cosigned, from the origin and from a peer; a version recorded
after the latest witnessed checkpoint refused with the reason until the witnesses cosign one
covering it, while the past stays proven; a genesis that is not the Alliance's refused.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from federation_api.clock import now
from ledger.codec import encode_json
from ledger.signing import Signer
from ledger.trust.registry import Genesis
from tests.e2e.demo_process import NODE, demo, per_node
from tests.e2e.harness import run_alliance

pytestmark = pytest.mark.timeout(240)
WITNESS_WAIT_SECONDS = 90  # the demo signs a checkpoint every 10 s; peers cosign it


def _line(block: str, label: str) -> str:
    found = re.search(rf"^  {re.escape(label)}\s+(\S+)", block, re.M)
    assert found, block
    return found.group(1)


def _verify(credential: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return run_alliance("verify-credential", str(credential), *options, check=False)


def _until(credential: Path, options: tuple[str, ...], wanted: str,
           passing: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Verify until the output says `wanted`; meanwhile only `passing` reasons may appear."""
    deadline = time.monotonic() + WITNESS_WAIT_SECONDS
    while True:
        run = _verify(credential, *options)
        if wanted in run.stdout:
            return run
        assert any(p in run.stdout for p in passing), run.stdout + run.stderr
        assert time.monotonic() < deadline, run.stdout
        time.sleep(1)


def test_versions_are_proven_under_witnessed_checkpoints_of_a_running_alliance(
        tmp_path: Path) -> None:
    with demo("--listen", "127.0.0.1:0") as (_, output):
        blocks = per_node(output)
        urls = {m.group(1): m.group(2) for m in NODE.finditer(output)}
        ak = blocks["AK"]
        wallet = _line(ak, "credential (wallet)")
        endorsement_id = wallet.split("/v1/credentials/")[1].split("?")[0]
        committee = {"Authorization": f"Bearer {_line(ak, 'committee token')}"}
        with httpx.Client(timeout=30) as client:
            download = client.get(wallet)
            assert download.status_code == 200, download.text
            genesis = client.get(_line(ak, "Alliance genesis")).content
        credential = tmp_path / "credential.json"
        credential.write_bytes(download.content)
        pinned = tmp_path / "genesis.json"
        pinned.write_bytes(genesis)
        options = ("--genesis", str(pinned))
        not_yet = ("beyond the witnessed checkpoint", "is cosigned by")

        proven = _until(credential, options, "active as of", not_yet)
        assert proven.returncode == 0, proven.stdout
        assert "cosigned by MI, TX (quorum 2); trust root: the genesis you pinned" \
            in proven.stdout
        report = json.loads(_verify(credential, *options, "--json").stdout)
        assert report["ok"] and all(s["witnessed"]["witnesses"] == ["MI", "TX"]
                                    for s in report["statuses"])
        # A peer's replica of AK's ledger, and the checkpoint it holds, prove the same.
        peer = _verify(credential, *options, "--url", urls["MI"])
        assert peer.returncode == 0 and "cosigned by MI, TX" in peer.stdout, peer.stdout

        # A registry from a genesis the user did not pin is refused.
        other = tmp_path / "other-genesis.json"
        other.write_bytes(encode_json(Genesis(
            alliance="Another Alliance", governance_keys=(Signer.generate().public_key,),
            threshold=1, created_at=now())))
        refused = _verify(credential, "--genesis", str(other))
        assert refused.returncode == 1 and "not the pinned" in refused.stdout, refused.stdout

        # A suspension records a version the witnesses have not cosigned yet: refused with
        # the reason until they have; then proven suspended. The past stays proven active.
        before = now().isoformat()
        with httpx.Client(base_url=urls["AK"], timeout=30) as client:
            r = client.post(f"/v1/endorsements/{endorsement_id}/suspension",
                            headers=committee, json={"reason": "complaint"})
            assert r.status_code == 200, r.text
        suspended = _until(credential, options, "suspended as of",
                           ("beyond the witnessed checkpoint", "active as of"))
        assert suspended.returncode == 1 and "cosigned by MI, TX" in suspended.stdout
        earlier = _verify(credential, *options, "--as-of", before)
        assert earlier.returncode == 0 and "active as of" in earlier.stdout, earlier.stdout
