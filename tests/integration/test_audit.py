"""`alliance export` + `alliance audit`: an untouched export passes; tampering is named."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import msgspec
import pytest

from domain.policy import AssociationPolicy
from federation_api.audit import audit, export
from federation_api.demo_seed import seed
from federation_api.node import Node, init_node
from federation_api.settings import Settings
from ledger.codec import decode_canonical, encode
from ledger.signing import Signer

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audit")
    settings = Settings(data_dir=root / "ak")
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(), now=NOW)
    node = Node(settings)
    seed(node, dt.date(2026, 6, 1))
    export(node, root / "export")
    node.close()
    return root / "export"


def _copy(exported: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(exported, target)
    return target


def _ledger(path: Path) -> list[bytes]:
    return list(decode_canonical((path / "ledgers" / "AK.bin").read_bytes(), list[bytes]))


def _write(path: Path, wires: list[bytes]) -> None:
    (path / "ledgers" / "AK.bin").write_bytes(encode(wires))


def test_untouched_export_passes_with_full_signatures(exported: Path) -> None:
    report = audit(exported, full_signatures=True, workers=2)
    assert report.ok, report.findings
    assert report.ledgers["AK"] == report.checkpoints["AK"] == report.signatures_verified
    assert report.digest == report.node_digest


def test_as_of_rebuilds_an_earlier_roster(exported: Path) -> None:
    report = audit(exported, as_of=dt.date(2000, 1, 1))
    assert report.ok
    assert report.digest != report.node_digest  # nothing was recorded by then


@pytest.mark.parametrize("tamper", ["edit", "remove", "reorder", "truncate"])
def test_tampered_ledger_is_a_finding(exported: Path, tmp_path: Path, tamper: str) -> None:
    copy = _copy(exported, tmp_path)
    wires = _ledger(copy)
    if tamper == "edit":  # change a name inside an entry, keep the old signature
        index = next(i for i, w in enumerate(wires) if b"Chen" in w)
        signed = msgspec.msgpack.decode(wires[index])
        signed["body"] = signed["body"].replace(b"Chen", b"Chan")
        wires[index] = encode(signed)
    elif tamper == "remove":
        del wires[3]
    elif tamper == "reorder":
        wires[2], wires[3] = wires[3], wires[2]
    else:  # drop the tail: the chain is intact but the signed checkpoint is longer
        wires = wires[:-2]
    _write(copy, wires)
    report = audit(copy, full_signatures=True, workers=1)
    assert not report.ok
    assert any("AK" in f for f in report.findings), report.findings


def test_checkpoint_signed_by_another_key_is_a_finding(exported: Path, tmp_path: Path) -> None:
    from ledger.checkpoints import parse_body, parse_note, sign_note
    from ledger.transparency import origin_of

    copy = _copy(exported, tmp_path)
    note = (copy / "checkpoints" / "AK.note").read_bytes()
    body = parse_body(parse_note(note).text).body()
    (copy / "checkpoints" / "AK.note").write_bytes(sign_note(body, origin_of("AK"),
                                                             Signer.generate()))
    report = audit(copy)
    assert any("checkpoint does not verify" in f for f in report.findings), report.findings


# -- witnessed checkpoints -------------------------------------------------------------------


GOVERNANCE = Signer.generate()


@pytest.fixture(scope="module")
def alliance_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """AK's export in a three-member Alliance (witness quorum 2 of AK's two peers), and the
    private key files of every member."""
    from federation_api.local_alliance import found_alliance
    from federation_api.node import NodePaths

    root = tmp_path_factory.mktemp("alliance")
    settings = found_alliance(root, {"AK": "Alaska", "MI": "Michigan", "TX": "Texas"},
                              GOVERNANCE, alliance="test", created=NOW)
    node = Node(settings["AK"])
    seed(node, dt.date(2026, 6, 1))
    export(node, root / "export")
    node.close()
    return root / "export", {a: NodePaths(s.data_dir).signing_key for a, s in settings.items()}


def _cosign(export_dir: Path, name: str, signer: Signer, timestamp: int | None = None) -> None:
    from ledger.checkpoints import add_cosignature

    path = export_dir / "checkpoints" / "AK.note"
    path.write_bytes(add_cosignature(path.read_bytes(), name, signer,
                                     timestamp or int(NOW.timestamp()) + 3600))


def _member(keys: dict[str, Path], association: str) -> Signer:
    return Signer.load(keys[association])


def test_checkpoint_cosigned_by_a_quorum_is_witnessed(
        alliance_export: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    exported, keys = alliance_export
    copy = _copy(exported, tmp_path)
    _cosign(copy, "alliance-witness/MI", _member(keys, "MI"))
    _cosign(copy, "alliance-witness/TX", _member(keys, "TX"))
    report = audit(copy, require_witnessed=True)
    assert report.ok, report.findings
    assert report.witness_quorum == 2
    assert report.witnesses["AK"] == ["MI", "TX"]
    assert not [w for w in report.warnings if "quorum" in w]


def test_checkpoint_below_quorum_is_a_warning_or_on_request_a_finding(
        alliance_export: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    exported, keys = alliance_export
    copy = _copy(exported, tmp_path)
    _cosign(copy, "alliance-witness/MI", _member(keys, "MI"))
    lenient = audit(copy)
    assert lenient.ok, lenient.findings
    assert any("1 valid cosignatures" in w and "quorum is 2" in w for w in lenient.warnings)
    strict = audit(copy, require_witnessed=True)
    assert any("quorum is 2" in f for f in strict.findings), strict.findings


def test_cosignature_from_a_non_member_is_a_finding(
        alliance_export: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    exported, keys = alliance_export
    copy = _copy(exported, tmp_path)
    _cosign(copy, "alliance-witness/MI", _member(keys, "MI"))
    _cosign(copy, "alliance-witness/TX", _member(keys, "TX"))
    _cosign(copy, "alliance-witness/ZZ", Signer.generate())  # never admitted
    report = audit(copy)
    assert report.findings == ["AK: cosignature from a non-member 'ZZ'"]
    assert report.witnesses["AK"] == ["MI", "TX"]  # the others still count


@pytest.mark.parametrize("case", ["wrong key", "before the key", "foreign name"])
def test_invalid_cosignature_is_a_finding(alliance_export: tuple[Path, dict[str, Path]],
                                          tmp_path: Path, case: str) -> None:
    exported, keys = alliance_export
    copy = _copy(exported, tmp_path)
    if case == "wrong key":  # a member's name, someone else's key
        _cosign(copy, "alliance-witness/MI", Signer.generate())
        expected = "cosignature by MI does not verify"
    elif case == "before the key":  # MI's real key, dated before the registry admitted it
        _cosign(copy, "alliance-witness/MI", _member(keys, "MI"),
                timestamp=int(NOW.timestamp()) - 86_400)
        expected = "when the registry gave MI no valid key"
    else:
        _cosign(copy, "witness.example/w1", Signer.generate())
        expected = "neither the ledger nor an Alliance witness"
    report = audit(copy)
    assert not report.ok
    assert any(expected in f for f in report.findings), report.findings


def test_checkpoint_signed_with_a_rotated_out_key_is_a_finding(
        alliance_export: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    """After AK rotates its key in the registry, a checkpoint signed with the old key (the
    one in the export, re-signed before the rotation) no longer verifies."""
    from federation_api.local_alliance import admit
    from federation_api.registry_files import RegistryDir
    from ledger.registry import Action

    exported, _ = alliance_export
    copy = _copy(exported, tmp_path)
    later = NOW + dt.timedelta(days=400)
    admit(RegistryDir(copy / "registry"), GOVERNANCE, Action.ADD_KEY, issued_at=later,
          association="AK", public_key=Signer.generate().public_key, effective_at=later)
    report = audit(copy)
    assert any("AK: checkpoint does not verify" in f for f in report.findings), report.findings
    assert report.ledgers["AK"] > 0  # the entries, signed before the rotation, still chain


def test_a_live_node_with_a_registry_is_audited_over_http(tmp_path: Path) -> None:
    """`audit --url`: registry (not the node's keyring), checkpoints and every entry come over
    the auditor API of a real server; the replay reproduces the node's digest."""
    from federation_api.audit_fetch import FetchError, fetch
    from federation_api.tokens import Role
    from tests.integration.live_app import live_node

    with live_node(tmp_path / "node") as live:
        token = live.token(Role.AUDITOR)["Authorization"].removeprefix("Bearer ")
        fetched = fetch(live.url, token, tmp_path / "fetched")
        with pytest.raises(FetchError, match="HTTP 401"):
            fetch(live.url, "wrong", tmp_path / "refused")
        with live.client(**live.token(Role.AUDITOR)) as c:
            heads = c.get("/v1/ledger/heads").json()
    assert fetched == heads["heads"] == heads["projected"] and fetched["AK"] > 0
    assert (tmp_path / "fetched" / "registry" / "genesis.json").exists()
    assert not (tmp_path / "fetched" / "keyring.json").exists()
    report = audit(tmp_path / "fetched", full_signatures=True, workers=1)
    assert report.ok, report.findings
    assert report.digest == report.node_digest == heads["digest"]
    assert report.signatures_verified == fetched["AK"] == report.checkpoints["AK"]


def test_a_ledger_replayed_before_its_chain_broke_is_left_out_of_the_digest(
        exported: Path, tmp_path: Path) -> None:
    """With two cores the chain is checked in another process while the ledger is replayed;
    an edited entry is only found after its ledger was replayed, so the replay is made again
    without it: the digest is the one of a sequential audit, which never replayed it."""
    copy = _copy(exported, tmp_path)
    wires = _ledger(copy)
    index = next(i for i, w in enumerate(wires) if b"Chen" in w)
    signed = msgspec.msgpack.decode(wires[index])
    signed["body"] = signed["body"].replace(b"Chen", b"Chan")
    wires[index] = encode(signed)
    _write(copy, wires)
    pipelined, sequential = audit(copy, workers=2), audit(copy, workers=1)
    assert pipelined.findings == sequential.findings
    assert any(f.startswith("AK#") for f in pipelined.findings), pipelined.findings
    assert pipelined.digest == sequential.digest != pipelined.node_digest
    assert pipelined.replayed == sequential.replayed == 0
