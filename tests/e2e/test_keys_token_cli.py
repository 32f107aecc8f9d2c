"""`alliance keys token ...` and a served node whose key is in a SoftHSM2 token, as an
operator runs them: import the key file, remove it, serve with ALLIANCE_SIGNING_KEY, write,
and verify the ledger with `alliance ledger verify`."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from tests.e2e.harness import (
    ServerProcess,
    alliance_executable,
    child_env,
    head_seq,
    init_node,
    provider_import,
)
from tests.integration.softhsm import SoftHsm


def _alliance(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([alliance_executable(), *args], capture_output=True, text=True,
                          timeout=60, env={**child_env(), **env}, check=False)


def test_a_served_node_signs_in_the_token(tmp_path: Path) -> None:
    hsm = SoftHsm.create(tmp_path / "softhsm", ("ak-node",))
    node = init_node(tmp_path / "ak", roles=("coordinator", "auditor"))
    uri = hsm.uri("ak-node", "signing")
    key_file = node.data_dir / "keys" / "signing.key"
    public = (node.data_dir / "keys" / "signing.pub").read_text().strip()

    done = _alliance(hsm.env(), "keys", "token", "import", "--uri", uri, "--remove-key-file",
                     *node.store_args())
    assert done.returncode == 0, done.stderr
    assert f"public key {public}" in done.stdout
    assert not key_file.exists()
    shown = _alliance({**hsm.env(), "ALLIANCE_SIGNING_KEY": uri}, "keys", "token", "show")
    assert f"public key {public}" in shown.stdout, shown.stderr

    env = {**hsm.env(), "ALLIANCE_SIGNING_KEY": uri}
    with ServerProcess(node, env=env) as server, server.client() as client:
        answer = client.post("/v1/endorsements/imports", headers=node.auth("coordinator"),
                             json=provider_import(dt.date(dt.date.today().year, 12, 31)))
        assert answer.status_code in (200, 201), answer.text
        assert head_seq(client, node) == 1
    verified = _alliance(env, "ledger", "verify", *node.store_args())
    assert verified.returncode == 0, verified.stderr
    assert "1 entries verified" in verified.stdout

    # Without the key file and with a wrong PIN, nothing starts and nothing is signed.
    wrong = {**hsm.env(), "ALLIANCE_SIGNING_KEY": hsm.uri("ak-node", "signing", pin="wrong")}
    refused = _alliance(wrong, "ledger", "verify", *node.store_args())
    assert refused.returncode == 2
    assert "wrong PIN for token 'ak-node'" in refused.stderr
