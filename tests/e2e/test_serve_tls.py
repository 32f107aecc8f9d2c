"""`alliance serve --tls-cert F --tls-key F` as a user runs it: HTTPS, printed https URLs."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

import httpx

from federation_api.replication.nats_process import free_port
from tests.e2e.harness import (
    ServerProcess,
    alliance_executable,
    child_env,
    init_node,
    run_alliance,
)
from tests.integration.tls_certs import server_cert


def test_serve_over_https_prints_https_urls(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak", roles=("auditor",))
    cert = server_cert(tmp_path / "tls")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [alliance_executable(), "serve", *node.store_args(), "--listen",
             f"127.0.0.1:{port}", "--tls-cert", str(cert.cert), "--tls-key", str(cert.key)],
            stdout=out, stderr=subprocess.STDOUT, env=child_env())
    trust = ssl.create_default_context(cafile=str(cert.cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                answer = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=trust, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        assert answer.status_code == 200
        assert "strict-transport-security" in answer.headers
        printed = log.read_text()
        assert f"serving at https://127.0.0.1:{port}/" in printed
        assert f"https://127.0.0.1:{port}/docs" in printed
        assert "http://" not in printed
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def test_serve_refuses_a_key_that_does_not_match(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak", roles=())
    one, other = server_cert(tmp_path / "a", name="a"), server_cert(tmp_path / "b", name="b")
    done = run_alliance("serve", *node.store_args(), "--listen", f"127.0.0.1:{free_port()}",
                        "--tls-cert", str(one.cert), "--tls-key", str(other.key), check=False,
                        timeout=60)
    assert done.returncode == 2
    assert "cannot serve HTTPS" in done.stderr
    done = run_alliance("serve", *node.store_args(), "--tls-cert", str(one.cert), check=False)
    assert done.returncode == 2
    assert "go together" in done.stderr


def test_behind_a_proxy_the_printed_urls_are_the_public_ones(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak", roles=())
    env = {"ALLIANCE_PUBLIC_URL": "https://ak.alliance.example/",
           "ALLIANCE_TRUSTED_PROXIES": "127.0.0.1"}
    with ServerProcess(node, env=env) as server:
        printed = server.log()
    assert f"listening at {server.url}/" in printed
    assert "node AK serving at https://ak.alliance.example/" in printed
    assert "https://ak.alliance.example/docs" in printed
