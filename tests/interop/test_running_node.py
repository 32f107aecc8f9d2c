"""A credential issued by a running node (`alliance serve`, a real process on loopback),
verified by the npm reference stack against the node's own did.json and status lists, and by
`alliance verify-credential`: active; suspended after a suspension; the old credential still
verifies after a key rotation; one changed byte fails. The two verifiers must agree."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from federation_api.clock import today
from federation_api.replication.nats_process import free_port
from ledger.credentials.open_badges import schema_errors
from tests.e2e.harness import NodeDir, ServerProcess, init_node, provider_import, run_alliance
from tests.interop.js_stack import JsVerifier

EID_FIELD = "endorsement_id"


@dataclass
class Running:
    """A served node, its public URL and a client."""

    node: NodeDir
    server: ServerProcess

    def client(self) -> httpx.Client:
        return self.server.client()

    def list_version(self, purpose: str) -> int:
        """The version the node serves of list 1 of `purpose` (0: none yet)."""
        with self.client() as c:
            r = c.get(f"/v1/status-lists/AK/{purpose}/1")
        return int(r.headers["x-status-list-version"]) if r.status_code == 200 else 0

    def await_version(self, purpose: str, at_least: int) -> None:
        """Wait until the publisher has recorded and served that version (a few seconds)."""
        deadline = time.monotonic() + 30
        while self.list_version(purpose) < at_least:
            assert time.monotonic() < deadline, self.server.log()
            time.sleep(0.1)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    node = init_node(tmp_path / "ak")
    port = free_port()
    server = ServerProcess(node, port=port,
                           env={"ALLIANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
                                "ALLIANCE_RATE_LIMIT": "off"})
    with server:
        yield Running(node, server)


def _issue(running: Running) -> tuple[str, bytes]:
    with running.client() as c:
        body = {**provider_import(today().replace(year=today().year + 1)),
                "person_id": "AK-P-0100"}
        r = c.post("/v1/endorsements/imports", headers=running.node.auth("coordinator"),
                   json=body)
        assert r.status_code == 201, r.text
        eid = r.json()[EID_FIELD]
        running.await_version("suspension", 1)
        running.await_version("revocation", 1)
        download = c.get(f"/v1/credentials/{eid}", params={"last_name": "Rivera"})
        assert download.status_code == 200, download.text
        return eid, download.content


def _js(verifier: JsVerifier, path: Path) -> dict[str, Any]:
    run = subprocess.run([verifier.node, str(verifier.script), str(path)], capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.stdout, run.stderr
    verdict: dict[str, Any] = json.loads(run.stdout)
    return verdict


def _ours(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # A node outside an Alliance has no witnesses: its versions stand on their signed entries
    # (tests/e2e/test_verify_credential_witnessed.py proves them under witnessed checkpoints).
    return run_alliance("verify-credential", str(path), "--unwitnessed", *options, check=False)


def test_a_credential_of_a_running_node_verifies_everywhere(
        js_verifier: JsVerifier, running: Running, tmp_path: Path) -> None:
    eid, document = _issue(running)
    path = tmp_path / "credential.json"
    path.write_bytes(document)
    assert schema_errors(json.loads(document)) == ()
    assert _js(js_verifier, path)["summary"] == "active"
    ours = _ours(path)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert "active as of" in ours.stdout

    # One changed byte: both refuse.
    changed = tmp_path / "changed.json"
    changed.write_bytes(document.replace(b"Rivera", b"Rivero"))
    assert _js(js_verifier, changed)["summary"] == "invalid"
    refused = _ours(changed)
    assert refused.returncode == 1 and "refused" in refused.stdout

    # A suspension flips the bit within seconds of the command.
    before = datetime.now(UTC).isoformat()
    with running.client() as c:
        r = c.post(f"/v1/endorsements/{eid}/suspension",
                   headers=running.node.auth("committee"), json={"reason": "complaint"})
        assert r.status_code == 200, r.text
    running.await_version("suspension", 2)
    assert _js(js_verifier, path)["summary"] == "suspended"
    suspended = _ours(path)
    assert suspended.returncode == 1 and "suspended" in suspended.stdout
    # ... and the time before it still proves active, from the version that stood then.
    earlier = _ours(path, "--as-of", before)
    assert earlier.returncode == 0, earlier.stdout + earlier.stderr
    assert "version 1 stood" in earlier.stdout

    # Lift it, rotate the key: the old credential still verifies (signed by the old key).
    with running.client() as c:
        r = c.post(f"/v1/endorsements/{eid}/reinstatement",
                   headers=running.node.auth("committee"), json={"reason": "lifted"})
        assert r.status_code == 200, r.text
    running.await_version("suspension", 3)
    running.server.stop()
    running.node.cli("keys", "rotate")
    running.server.start()
    with running.client() as c:
        assert len(c.get("/.well-known/did.json").json()["assertionMethod"]) == 2
    assert _js(js_verifier, path)["summary"] == "active"
    after = _ours(path)
    assert after.returncode == 0, after.stdout + after.stderr
