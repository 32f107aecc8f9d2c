"""Proofs and receipts from real nodes: over HTTP, across two associations, with witnesses.

Nodes are real (SQLite files, registry, keys); replication and witnessing are driven
directly (see proof_fixtures). Every proof and receipt is checked by the offline verifier.
A status proof needs a staff token (an employer's gets 403); a receipt is public (tree heads
only) without a token or with an employer's, and full (with the status proof) with a staff one.
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
from federation_api.accounts.tokens import Role
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.proofs.status import ProofUnavailable, build_status_proof, replay_status
from federation_api.settings import Settings
from federation_api.web.app import create_app
from federation_api.web.auth import STAFF
from ledger.codec import decode_canonical
from ledger.proofs.receipts import (
    RECEIPT_CONTEXT,
    ReceiptBody,
    ReceiptKind,
    decode_receipt,
    encode_receipt,
    verify_receipt,
)
from ledger.proofs.statements import limits, receipt_limits, receipt_proves
from ledger.proofs.status import (
    Check,
    decode_status_proof,
    verify_status_proof,
)
from ledger.transparency.checkpoints import parse_body
from ledger.transparency.notes import parse_note
from tests.integration.proof_fixtures import NOW, ProofAlliance, at, import_endorsement

TRANSFER_DAY = dt.date(2026, 4, 1)


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[ProofAlliance]:
    made = ProofAlliance(tmp_path)
    yield made
    made.close()


def _client(node: Node, role: Role | None = None) -> TestClient:
    """A client of the node's app; with `role`, carrying a new token of that role."""
    client = TestClient(create_app(node))
    if role is not None:
        _, secret = node.tokens.issue(label=f"test {role.value}", role=role, now=NOW)
        client.headers["Authorization"] = f"Bearer {secret}"
    return client


def _query(endorsement_id: str, last_name: str, **extra: str) -> dict[str, str]:
    return {"endorsement_id": endorsement_id, "last_name": last_name, **extra}


def test_proof_over_http_verifies_and_matches_the_public_answer(
        alliance: ProofAlliance) -> None:
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-HTTP0001", family_name="García")
    client = _client(ak, Role.REVIEWER)
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
    # A staff role's token will do, an employer's is refused (the entries are for the
    # Alliance's members); no token, or one that is not valid, gets 401.
    for role in Role:
        r = _client(ak, role).get("/v1/proofs/status", params=_query(eid, "García"))
        assert r.status_code == (200 if role in STAFF else 403), (role, r.text)
        assert role in STAFF or ("García" not in r.text and eid not in r.text)
    anonymous = _client(ak)
    refused = anonymous.get("/v1/proofs/status", params=_query(eid, "García"))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert "García" not in refused.text and eid not in refused.text
    forged = anonymous.get("/v1/proofs/status", params=_query(eid, "García"),
                           headers={"Authorization": "Bearer alt_not-a-real-token"})
    assert forged.status_code == 401


def test_no_enumeration_one_404_for_a_wrong_id_or_name(alliance: ProofAlliance) -> None:
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-ENUM0001")
    client = _client(ak, Role.AUDITOR)  # a token does not let anyone list people either
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


def test_public_receipt_verifies_offline_and_carries_no_entries(
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
    assert receipt.kind == ReceiptKind.PUBLIC
    report = verify_receipt(receipt, replay_status, pinned_genesis=alliance.genesis())
    assert report.ok, report.all_findings
    assert receipt.answer.claim.standing == "suspended"
    body = decode_canonical(receipt.body, ReceiptBody)
    assert body.proof is None and body.heads is not None and report.proof is None
    assert body.key_id == ak.signer.key_id
    # The heads are the checkpoint the node's full proof of the same answer rests on.
    assert report.heads is not None and list(report.heads.checkpoints) == ["AK"]
    summary = report.heads.checkpoints["AK"]
    full_proof = verify_status_proof(build_status_proof(ak, ak.projector.status_as_of(
        eid, dt.date(2026, 3, 15)) or pytest.fail("no answer"), NOW), replay_status)
    assert full_proof.checkpoints["AK"].root_hash == summary.root_hash
    # Nothing but the public answer about the person: no person id, legacy reference,
    # grant date or reason, anywhere in the signed bytes.
    for private in (f"P-{eid}", f"ref-{eid}", "2020-01-01", "review"):
        assert private.encode() not in receipt.body and private not in r.text, private
    statements = " ".join(receipt_proves(report))
    assert "AK's node, holding a key the Alliance trust registry allowed AK" in statements
    assert f"root {summary.root_hash.hex()}" in statements
    assert "GET /v1/proofs/status" in " ".join(receipt_limits(report))

    # The readable copy must match the signed body.
    shown = msgspec.structs.replace(receipt.answer, claim=msgspec.structs.replace(
        receipt.answer.claim, standing="current"))
    forged = verify_receipt(msgspec.structs.replace(receipt, answer=shown), replay_status)
    assert not forged.ok and {f.check for f in forged.findings} == {Check.READABLE_COPY}
    assert receipt_proves(forged) == []
    relabelled = verify_receipt(msgspec.structs.replace(receipt, kind=ReceiptKind.FULL),
                                replay_status)
    assert {f.check for f in relabelled.findings} == {Check.READABLE_COPY}
    # A byte of the signed body flipped: refused.
    flipped_body = bytearray(receipt.body)
    flipped_body[-5] ^= 1
    flipped = verify_receipt(msgspec.structs.replace(receipt, body=bytes(flipped_body)),
                             replay_status)
    assert not flipped.ok
    # Signed by another association's node key: refused.
    mi = alliance.nodes["MI"]
    other = verify_receipt(msgspec.structs.replace(
        receipt, signature=mi.signer.sign(RECEIPT_CONTEXT + receipt.body)), replay_status)
    assert not other.ok and {f.check for f in other.findings} == {Check.NODE_SIGNATURE}
    (tmp_path / "r.json").write_bytes(encode_receipt(receipt))
    assert decode_receipt((tmp_path / "r.json").read_bytes()) == receipt


def test_full_receipt_needs_a_token_and_carries_the_proof(alliance: ProofAlliance) -> None:
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-FULL0001")
    r = _client(ak, Role.AUDITOR).get("/v1/receipts", params=_query(eid, "Doe"))
    assert r.status_code == 200, r.text
    receipt = decode_receipt(r.content)
    assert receipt.kind == ReceiptKind.FULL
    report = verify_receipt(receipt, replay_status, pinned_genesis=alliance.genesis())
    assert report.ok, report.all_findings
    assert report.proof is not None and report.proof.replayed == receipt.answer.claim
    assert [e.body.event_type for e in report.proof.entries] == ["EndorsementGranted"]
    assert f"P-{eid}".encode() in receipt.body  # the entries, for a member of the Alliance
    assert "replaying the 1 entries" in " ".join(receipt_proves(report))
    # A token that is sent must be valid: no quiet fall-back to the public form.
    bad = _client(ak).get("/v1/receipts", params=_query(eid, "Doe"),
                          headers={"Authorization": "Bearer alt_not-a-real-token"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    basic = _client(ak).get("/v1/receipts", params=_query(eid, "Doe"),
                            headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    # An employer's valid token gets the public receipt, what anyone may have: no entries.
    employer = _client(ak, Role.EMPLOYER).get("/v1/receipts", params=_query(eid, "Doe"))
    assert employer.status_code == 200, employer.text
    public = decode_receipt(employer.content)
    assert public.kind == ReceiptKind.PUBLIC
    assert verify_receipt(public, replay_status, pinned_genesis=alliance.genesis()).ok
    assert f"P-{eid}".encode() not in public.body and f"P-{eid}" not in employer.text


def test_printable_view_is_html_without_script(alliance: ProofAlliance) -> None:
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-VIEW0001", given_name="<b>Ann</b>")
    r = _client(ak).get("/receipts/view", params=_query(eid, "Doe"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "<script" not in html and "&lt;b&gt;Ann&lt;/b&gt;" in html
    assert "@media print" in html and "What it does not prove" in html
    assert "What this receipt proves" in html and "This receipt did not verify" not in html
    # The public receipt: the checkpoint the answer rests on, no entries.
    assert "Ledger states behind the answer" in html and "EndorsementGranted" not in html
    root = ak.log.latest_checkpoint("AK")
    assert root is not None
    assert parse_body(parse_note(root).text).root_hash.hex() in html
    assert f"P-{eid}" not in html and f"ref-{eid}" not in html
    assert f"/receipts/download?endorsement_id={eid}&amp;last_name=Doe" in html
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
    r = _client(ak, Role.COORDINATOR).get("/v1/proofs/status",
                                          params=_query(eid, "Doe", as_of="2026-05-01"))
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
