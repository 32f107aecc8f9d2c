"""Proofs and receipts from real nodes: over HTTP, across two associations, with witnesses.

Nodes are real (SQLite files, registry, keys); replication and witnessing are driven
directly (see proof_fixtures). Every proof and receipt is checked by the offline verifier.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from fastapi.testclient import TestClient

from domain.policy import AssociationPolicy
from federation_api.app import create_app
from federation_api.node import Node, init_node
from federation_api.proofs import ProofUnavailable, build_status_proof, replay_status
from federation_api.settings import Settings
from ledger.proof_statements import limits
from ledger.receipts import decode_receipt, encode_receipt, verify_receipt
from ledger.status_proof import (
    Check,
    decode_status_proof,
    verify_status_proof,
)
from tests.integration.proof_fixtures import NOW, ProofAlliance, at, import_endorsement

TRANSFER_DAY = dt.date(2026, 4, 1)


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[ProofAlliance]:
    made = ProofAlliance(tmp_path)
    yield made
    made.close()


def _client(node: Node) -> TestClient:
    return TestClient(create_app(node))


def _query(endorsement_id: str, last_name: str, **extra: str) -> dict[str, str]:
    return {"endorsement_id": endorsement_id, "last_name": last_name, **extra}


def test_proof_over_http_verifies_and_matches_the_public_answer(
        alliance: ProofAlliance) -> None:
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-HTTP0001", family_name="García")
    client = _client(ak)
    for on in ("2025-06-01", "2026-05-01"):
        public = client.get("/v1/status", params=_query(eid, "garcia", on=on))
        r = client.get("/v1/proofs/status", params=_query(eid, "garcia", as_of=on))
        assert r.status_code == 200, r.text
        proof = decode_status_proof(r.content)
        report = verify_status_proof(proof, replay_status, pinned_genesis=alliance.genesis())
        assert report.ok, report.findings
        assert proof.claim.standing == public.json()["status"] == "current"
        assert proof.claim.as_of.isoformat() == on
    # Without a date: today, as /v1/verify answers.
    assert client.get("/v1/proofs/status", params=_query(eid, "García")).status_code == 200


def test_no_enumeration_one_404_for_a_wrong_id_or_name(alliance: ProofAlliance) -> None:
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-ENUM0001")
    client = _client(ak)
    for path in ("/v1/proofs/status", "/v1/receipts"):
        wrong_name = client.get(path, params=_query(eid, "Smith"))
        wrong_id = client.get(path, params=_query("AK-NOPE0001", "Doe"))
        assert wrong_name.status_code == wrong_id.status_code == 404
        assert wrong_name.json() == wrong_id.json()
        assert client.get(path, params={"endorsement_id": eid}).status_code == 422
    wrong = client.get("/receipts/view", params=_query(eid, "Smith"))
    unknown = client.get("/receipts/view", params=_query("AK-NOPE0001", "Doe"))
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.text == unknown.text


def test_receipt_download_verifies_offline_and_tampering_is_caught(
        alliance: ProofAlliance, tmp_path: Path) -> None:
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-RCPT0001")
    ak.service.suspend(eid, effective_on=dt.date(2026, 3, 1), reason="review",
                       now=at(dt.date(2026, 3, 1)))
    r = _client(ak).get("/v1/receipts", params=_query(eid, "doe", on="2026-03-15"))
    assert r.status_code == 200, r.text
    disposition = r.headers["content-disposition"]
    assert re.fullmatch(rf'attachment; filename="receipt-{eid}-\d{{8}}T\d{{6}}Z\.json"',
                        disposition), disposition
    receipt = decode_receipt(r.content)
    report = verify_receipt(receipt, replay_status, pinned_genesis=alliance.genesis())
    assert report.ok, (report.findings, report.proof and report.proof.findings)
    assert receipt.answer.claim.standing == "suspended"
    assert report.body is not None and report.body.key_id == ak.signer.key_id

    # The readable copy must match the signed body.
    shown = msgspec.structs.replace(receipt.answer, claim=msgspec.structs.replace(
        receipt.answer.claim, standing="current"))
    forged = verify_receipt(msgspec.structs.replace(receipt, answer=shown), replay_status)
    assert not forged.ok and any("readable copy" in f for f in forged.findings)
    # A byte of the signed body flipped: the node's signature no longer verifies.
    body = bytearray(receipt.body)
    body[-5] ^= 1
    flipped = verify_receipt(msgspec.structs.replace(receipt, body=bytes(body)), replay_status)
    assert not flipped.ok
    # Signed by another association's node key: refused.
    mi = alliance.nodes["MI"]
    other = verify_receipt(msgspec.structs.replace(
        receipt, signature=mi.signer.sign(b"alliance-verification-receipt/v1\n" + receipt.body)),
        replay_status)
    assert not other.ok and any("node signature" in f for f in other.findings)
    (tmp_path / "r.json").write_bytes(encode_receipt(receipt))
    assert decode_receipt((tmp_path / "r.json").read_bytes()) == receipt


def test_printable_view_is_html_without_script(alliance: ProofAlliance) -> None:
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-VIEW0001", given_name="<b>Ann</b>")
    r = _client(ak).get("/receipts/view", params=_query(eid, "Doe"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "<script" not in html and "&lt;b&gt;Ann&lt;/b&gt;" in html
    assert "@media print" in html and "What it does not prove" in html
    assert f"/v1/receipts?endorsement_id={eid}&amp;last_name=Doe" in html
    csp = r.headers["content-security-policy"]
    assert "script" not in csp and "style-src 'sha256-" in csp


def test_transfer_across_two_associations_is_proven_by_both_ledgers(
        alliance: ProofAlliance) -> None:
    ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
    eid = import_endorsement(ak, "AK-MOVE0001")
    alliance.sync("AK", "MI")
    mi.service.recognize(eid, endorsement_id="MI-MOVE0001", recognized_on=TRANSFER_DAY,
                         now=at(TRANSFER_DAY), replica=mi.replica)
    alliance.sync("MI", "AK")  # AK records the transfer out by itself
    answer = ak.projector.status_as_of(eid, dt.date(2026, 5, 1))
    assert answer is not None and answer.standing == "transferred"

    # AK holds MI's recognition but no checkpoint of MI's ledger yet: it cannot prove it.
    with pytest.raises(ProofUnavailable, match="MI"):
        build_status_proof(ak, answer, NOW)
    r = _client(ak).get("/v1/proofs/status", params=_query(eid, "Doe", as_of="2026-05-01"))
    assert r.status_code == 409 and r.json()["code"] == "proof_unavailable"
    assert r.headers["retry-after"]

    # TX has AK's transfer out but not yet MI's recognition it names: no proof either.
    alliance.sync("AK", "TX")
    on_tx = alliance.nodes["TX"].projector.status_as_of(eid, dt.date(2026, 5, 1))
    assert on_tx is not None and on_tx.standing == "transferred"
    with pytest.raises(ProofUnavailable, match="recognition"):
        build_status_proof(alliance.nodes["TX"], on_tx, NOW)

    alliance.checkpoint("MI", witnesses=("AK",))  # AK witnesses (and so holds) MI's checkpoint
    proof = build_status_proof(ak, answer, NOW)
    report = verify_status_proof(proof, replay_status, pinned_genesis=alliance.genesis())
    assert report.ok, report.findings
    assert [(e.body.association, e.body.event_type) for e in report.entries] == [
        ("AK", "EndorsementGranted"), ("AK", "EndorsementTransferredOut"),
        ("MI", "EndorsementRecognized")]
    assert set(report.checkpoints) == {"AK", "MI"}
    assert report.replayed is not None and report.replayed.standing == "transferred"

    # Before the transfer the same endorsement was current.
    before = ak.projector.status_as_of(eid, dt.date(2026, 3, 1))
    assert before is not None and before.standing == "current"
    early = verify_status_proof(build_status_proof(ak, before, NOW), replay_status)
    assert early.ok and early.replayed is not None and early.replayed.standing == "current"

    # Leaving out MI's recognition is named: the transfer points at it.
    cut = msgspec.structs.replace(proof, entries=proof.entries[:2], checkpoints=tuple(
        c for c in proof.checkpoints if c.association == "AK"))
    missing = verify_status_proof(cut, replay_status, pinned_genesis=alliance.genesis())
    assert Check.MISSING_ENTRY in {f.check for f in missing.findings}

    # MI's node proves its own endorsement, recognised from AK.
    mine = mi.projector.status_as_of("MI-MOVE0001", dt.date(2026, 5, 1))
    assert mine is not None
    own = verify_status_proof(build_status_proof(mi, mine, NOW), replay_status,
                              pinned_genesis=alliance.genesis())
    assert own.ok and own.replayed is not None and own.replayed.standing == "current"


def test_witnessed_checkpoint_is_preferred_and_unwitnessed_one_is_stated(
        alliance: ProofAlliance) -> None:
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-WIT00001")
    answer = ak.projector.status_as_of(eid, dt.date(2026, 5, 1))
    assert answer is not None
    bare = verify_status_proof(build_status_proof(ak, answer, NOW), replay_status)
    assert bare.ok and not bare.checkpoints["AK"].witnessed
    assert "not witnessed (0 of 2 cosignatures)" in " ".join(limits(bare))

    alliance.checkpoint("AK", witnesses=("MI", "TX"))
    import_endorsement(ak, "AK-LATER0001", when=at(dt.date(2026, 5, 2)))
    alliance.checkpoint("AK")  # a newer checkpoint, not cosigned yet
    report = verify_status_proof(build_status_proof(ak, answer, NOW), replay_status)
    assert report.ok, report.findings
    assert report.checkpoints["AK"].witnesses == ("MI", "TX")
    assert report.checkpoints["AK"].witnessed


def test_history_signed_before_a_key_rotation_still_proves(alliance: ProofAlliance) -> None:
    eid = import_endorsement(alliance.nodes["AK"], "AK-ROT00001", when=at(dt.date(2026, 1, 5)))
    alliance.rotate("AK", at(dt.date(2026, 2, 1)))
    ak = alliance.nodes["AK"]
    ak.service.suspend(eid, effective_on=dt.date(2026, 3, 1), reason="review",
                       now=at(dt.date(2026, 3, 1)))
    answer = ak.projector.status_as_of(eid, dt.date(2026, 3, 2))
    assert answer is not None
    report = verify_status_proof(build_status_proof(ak, answer, NOW), replay_status,
                                 pinned_genesis=alliance.genesis())
    assert report.ok, report.findings
    assert len({e.body.key_id for e in report.entries}) == 2


def test_a_node_without_registry_refuses_with_409(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "solo")
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(),
              now=NOW - dt.timedelta(days=400))
    node = Node(settings)
    try:
        eid = import_endorsement(node, "AK-SOLO0001", when=NOW - dt.timedelta(days=300))
        r = _client(node).get("/v1/receipts", params=_query(eid, "Doe"))
        assert r.status_code == 409 and "registry" in r.json()["message"]
    finally:
        node.close()
