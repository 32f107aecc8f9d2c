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

    # Rotating: the file-key command refuses (there is no key file), the token one works.
    refused_rotation = _alliance(env, "keys", "rotate", *node.store_args())
    assert refused_rotation.returncode == 2
    assert "keys token rotate" in refused_rotation.stderr
    second = hsm.uri("ak-node", "signing-2")
    rotated = _alliance(env, "keys", "token", "rotate", "--uri", second, *node.store_args())
    assert rotated.returncode == 0, rotated.stderr
    new_public = rotated.stdout.split("public key ", 1)[1].split()[0]
    assert new_public != public
    keyring = _alliance({**hsm.env(), "ALLIANCE_SIGNING_KEY": second}, "keys", "show",
                        *node.store_args())
    assert keyring.returncode == 0, keyring.stderr
    assert "(current)" in keyring.stdout and keyring.stdout.count("AK ") == 2

    # Without the key file and with a wrong PIN, nothing starts and nothing is signed.
    wrong = {**hsm.env(), "ALLIANCE_SIGNING_KEY": hsm.uri("ak-node", "signing", pin="wrong")}
    refused = _alliance(wrong, "ledger", "verify", *node.store_args())
    assert refused.returncode == 2
    assert "wrong PIN for token 'ak-node'" in refused.stderr
