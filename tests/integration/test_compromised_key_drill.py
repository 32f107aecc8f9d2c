"""The compromised-key drill of ops/keys.md, as a test (issue 13).

AK's signing key is stolen at time T. AK's node kept writing after T, and the thief signs an
entry of their own. The governance key holders revoke the key from T (in the past), AK rotates
to a new key, the new registry reaches the nodes, and then:

- entries AK recorded before T still verify, with the ledger's own verification;
- every entry signed with the old key and recorded at or after T is refused (the thief's, and
  AK's own, which is the price of a revocation time in the past: ops/keys.md says how to
  choose T);
- entries under the new key verify;
- a peer that reads AK's ledger afresh stores the entries before T, quarantines the rest with
  the reason, and applies nothing it could not verify.

The governance steps run through the real `alliance registry` and `alliance keys` commands.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest

from domain.levels import Level
from federation_api.cli.main import main
from federation_api.clock import now, today
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.local_alliance import distribute, found_alliance
from federation_api.node.root import Node
from federation_api.node.setup import NodePaths
from ledger.chain.entries import open_entry, seal
from ledger.errors import UnknownKey
from ledger.signing import Signer
from ledger.trust.registry_files import RegistryDir


def _record(node: Node, key: str) -> None:
    node.service.record_existing(
        endorsement_id=new_endorsement_id(node.association, f"drill:{key}"),
        person_id=f"AK-P-{key}", family_name="Drill", given_name="Dana", level=Level.IFS,
        designation=None, granted_on=dt.date(2020, 1, 1),
        valid_through=dt.date(today().year, 12, 31), legacy_reference=f"paper-{key}",
        now=now())


def _cli(*args: str) -> None:
    assert main(list(args)) == 0, args


def _governance(registry: Path, key: Path, tmp: Path, name: str, *args: str) -> None:
    """Propose, sign (the quorum here is 1 of 1) and append one registry entry."""
    proposal = tmp / f"{name}.proposal"
    _cli("registry", name, "--dir", str(registry), "--association", "AK",
         "--out", str(proposal), *args)
    _cli("registry", "sign", "--proposal", str(proposal), "--key", str(key))
    _cli("registry", "append", "--dir", str(registry), "--proposal", str(proposal))


def test_compromised_key_drill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    governance = Signer.generate()
    governance_key = tmp_path / "governance.key"
    governance.save(governance_key)
    founded = found_alliance(tmp_path, {"AK": "Alaska", "MI": "Michigan"}, governance,
                             alliance="Drill", created=now() - dt.timedelta(days=1))
    registry = RegistryDir(tmp_path / "registry")
    ak_dir = founded["AK"].data_dir

    ak = Node(founded["AK"])
    for key in ("1", "2", "3"):
        _record(ak, key)
    stolen_at = now()  # T: the key file was copied (a lost backup, a breached host)
    thief = Signer.load(NodePaths(ak_dir).signing_key)
    for key in ("4", "5"):
        _record(ak, key)  # AK did not know yet
    fifth = open_entry(next(ak.ledger.wires("AK", 5, 5)), ak.keyring)
    forged = seal(msgspec.structs.replace(fifth.body, seq=6, prev_hash=fifth.entry_hash,
                                          recorded_at=now()), thief)
    old_key_id = ak.signer.key_id
    ak.close()

    # The drill: revoke from T, rotate AK's node to a new key, register it, distribute.
    _governance(registry.root, governance_key, tmp_path, "revoke-key", "--key-id", old_key_id,
                "--effective-at", stolen_at.isoformat())
    _cli("keys", "rotate", "--data-dir", str(ak_dir))
    new_public = NodePaths(ak_dir).signing_key.with_suffix(".pub")
    _governance(registry.root, governance_key, tmp_path, "rotate-key",
                "--public-key-file", str(new_public))
    distribute(registry, [founded["AK"].data_dir, founded["MI"].data_dir])

    ak = Node(founded["AK"])
    try:
        assert ak.signer.key_id != old_key_id
        _record(ak, "6")  # seq 6 under the new key
        wires = list(ak.ledger.wires("AK"))
    finally:
        ak.close()
    keyring = registry.state().keyring
    assert [open_entry(w, keyring).seq for w in wires[:3]] == [1, 2, 3]
    for wire in (*wires[3:5], forged.wire):
        with pytest.raises(UnknownKey, match="was not valid for AK"):
            open_entry(wire, keyring)
    after = open_entry(wires[5], keyring)
    current = keyring.current("AK")
    assert current is not None and (after.seq, after.body.key_id) == (6, current.key_id)

    # The node's own verification names the first entry it can no longer vouch for.
    capsys.readouterr()
    assert main(["ledger", "verify", "--data-dir", str(ak_dir)]) == 1
    assert "AK#4" in capsys.readouterr().err

    # A peer reading AK's ledger afresh: 1-3 stored, the old key's later entries and the
    # forgery quarantined, nothing past the first refused entry applied.
    mi = Node(founded["MI"])
    try:
        result = mi.ingestor.ingest([*wires, forged.wire], source="drill", now=now())
        assert (result.stored, result.quarantined) == (3, 3)
        assert mi.ledger.head("AK") == (3, open_entry(wires[2], keyring).entry_hash)
        reasons = [row[0] for row in mi.ledger.db.query(
            "SELECT reason FROM quarantine WHERE association = ? ORDER BY seq", ("AK",))]
        assert len(reasons) == 3 and all("was not valid for AK" in r for r in reasons)
    finally:
        mi.close()
