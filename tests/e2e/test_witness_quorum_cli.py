"""`alliance registry`: the witness quorum set in the genesis or by a governance entry."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import run_alliance


def _registry(tmp_path: Path, *extra: str) -> Path:
    registry = tmp_path / "registry"
    run_alliance("registry", "keygen", "--out", str(tmp_path / "gov.key"))
    run_alliance("registry", "init", "--dir", str(registry), "--governance-key",
                 str(tmp_path / "gov.pub"), "--threshold", "1", *extra)
    return registry


def test_witness_quorum_by_governance_entry(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    shown = run_alliance("registry", "show", "--dir", str(registry)).stdout
    assert "witness quorum: 1 distinct witnesses per checkpoint (default" in shown
    proposal = str(tmp_path / "quorum.bin")
    run_alliance("registry", "witness-quorum", "--dir", str(registry), "--quorum", "3",
                 "--out", proposal)
    refused = run_alliance("registry", "append", "--dir", str(registry), "--proposal", proposal,
                           check=False)
    assert refused.returncode != 0 and "governance signatures" in refused.stderr
    run_alliance("registry", "sign", "--proposal", proposal, "--key", str(tmp_path / "gov.key"))
    run_alliance("registry", "append", "--dir", str(registry), "--proposal", proposal)
    shown = run_alliance("registry", "show", "--dir", str(registry)).stdout
    assert "witness quorum: 3 distinct witnesses per checkpoint (set)" in shown

    bad = run_alliance("registry", "witness-quorum", "--dir", str(registry), "--quorum", "-1",
                       "--out", str(tmp_path / "bad.bin"), check=False)
    assert bad.returncode != 0 and "--quorum" in bad.stderr
    assert not (tmp_path / "bad.bin").exists()


def test_witness_quorum_in_the_genesis(tmp_path: Path) -> None:
    registry = _registry(tmp_path, "--witness-quorum", "2")
    shown = run_alliance("registry", "show", "--dir", str(registry)).stdout
    assert "witness quorum: 2 distinct witnesses per checkpoint (set)" in shown
    assert b"witness_quorum" in (registry / "genesis.json").read_bytes()
    plain = _registry(tmp_path / "plain")
    assert b"witness_quorum" not in (plain / "genesis.json").read_bytes()
