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
    from ledger.signing import Signer
    from ledger.transparency import origin_of

    copy = _copy(exported, tmp_path)
    note = (copy / "checkpoints" / "AK.note").read_bytes()
    body = parse_body(parse_note(note).text).body()
    (copy / "checkpoints" / "AK.note").write_bytes(sign_note(body, origin_of("AK"),
                                                             Signer.generate()))
    report = audit(copy)
    assert any("checkpoint does not verify" in f for f in report.findings), report.findings
