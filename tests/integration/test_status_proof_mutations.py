"""The offline verifier rejects every mutated status proof and public receipt, naming the check.

One real bundle and one public receipt are made by a real node (AK, whose key was rotated
between its entries, with a checkpoint cosigned by MI and TX); each row of a table mutates one
part of one of them. The verifiers themselves are pure (`ledger.proofs.status`,
`ledger.proofs.tree_heads`, `ledger.proofs.receipts`); the replay is the projection code on a
private in-memory database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation_api.proofs.receipts import make_receipt
from federation_api.proofs.status import build_status_proof, replay_status
from ledger.codec import decode_canonical, encode
from ledger.proofs.receipts import (
    RECEIPT_CONTEXT,
    ReceiptBody,
    ReceiptKind,
    SignedReceipt,
    TreeHeads,
    decode_receipt,
    encode_receipt,
    sign_receipt,
    verify_receipt,
)
from ledger.proofs.statements import limits, proves, receipt_limits, receipt_proves
from ledger.proofs.status import (
    Check,
    LedgerCheckpoint,
    ProvenEntry,
    StatusProof,
    decode_status_proof,
    encode_status_proof,
    verify_status_proof,
)
from ledger.signing import Signer
from ledger.transparency.checkpoints import add_cosignature
from ledger.transparency.cosigners import origin_of
from ledger.transparency.notes import parse_note, sign_note
from ledger.trust.registry import Genesis
from tests.integration.proof_fixtures import NOW, ProofAlliance, at, import_endorsement

ON = dt.date(2026, 4, 1)
COSIGNED_AT = int(NOW.timestamp())
replace = msgspec.structs.replace


@dataclass
class Made:
    """The honest bundle and what the mutations need."""

    proof: StatusProof
    genesis: Genesis
    rotated_out: Signer
    mi_signer: Signer
    unrelated: bytes
    receipt: SignedReceipt  # a public receipt of the same answer
    ak_signer: Signer  # AK's current key, to re-sign a mutated body as a dishonest node would


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    alliance = ProofAlliance(tmp_path_factory.mktemp("mutations"))
    ak = alliance.nodes["AK"]
    eid = import_endorsement(ak, "AK-MUT00001", when=at(dt.date(2026, 1, 10)))
    ak.service.correct(eid, corrects_version=1, reason="spelling", family_name="Dough",
                       given_name=None, valid_through=None, now=at(dt.date(2026, 2, 1)))
    rotated_out = alliance.rotate("AK", at(dt.date(2026, 2, 15)))
    ak = alliance.nodes["AK"]
    ak.service.suspend(eid, effective_on=dt.date(2026, 3, 1), reason="ethics review",
                       now=at(dt.date(2026, 3, 2)))
    import_endorsement(ak, "AK-OTHER0001", family_name="Roe", when=at(dt.date(2026, 3, 5)))
    alliance.checkpoint("AK", witnesses=("MI", "TX"))
    answer = ak.projector.status_as_of(eid, ON)
    assert answer is not None
    proof = build_status_proof(ak, answer, NOW)
    unrelated = list(ak.ledger.wires("AK"))[-1]
    receipt = make_receipt(ak, answer, (), NOW, ReceiptKind.PUBLIC)
    yield Made(proof=decode_status_proof(encode_status_proof(proof)),
               genesis=alliance.genesis(), rotated_out=rotated_out,
               mi_signer=alliance.nodes["MI"].signer, unrelated=unrelated,
               receipt=decode_receipt(encode_receipt(receipt)), ak_signer=ak.signer)
    alliance.close()


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1:]


def _with_entries(proof: StatusProof, entries: list[ProvenEntry]) -> StatusProof:
    return replace(proof, entries=tuple(entries))


def _with_note(proof: StatusProof, note: bytes) -> StatusProof:
    return replace(proof, checkpoints=(LedgerCheckpoint(association="AK", note=note),))


def _note(proof: StatusProof) -> bytes:
    return proof.checkpoints[0].note


def _origin_only(note: bytes) -> bytes:
    parsed = parse_note(note)
    return sign_note_lines(parsed.text, [s.line() for s in parsed.signatures
                                         if s.name == origin_of("AK")])


def sign_note_lines(text: bytes, lines: list[bytes]) -> bytes:
    return text + b"\n" + b"".join(lines)


Mutation = Callable[[Made], tuple[StatusProof, Genesis | None]]


def _entry(m: Made, index: int, **changes: object) -> StatusProof:
    entries = list(m.proof.entries)
    entries[index] = replace(entries[index], **changes)
    return _with_entries(m.proof, entries)


MUTATIONS: dict[str, tuple[Mutation, Check]] = {
    "entry byte flipped": (
        lambda m: (_entry(m, 0, wire=_flip(m.proof.entries[0].wire, 60)), m.genesis),
        Check.ENTRY_SIGNATURE),
    "entry signature flipped": (
        lambda m: (_entry(m, 2, wire=_flip(m.proof.entries[2].wire, -3)), m.genesis),
        Check.ENTRY_SIGNATURE),
    "middle entry removed (the name correction)": (
        lambda m: (_with_entries(m.proof, [m.proof.entries[0], m.proof.entries[2]]), m.genesis),
        Check.MISSING_ENTRY),
    "last entry removed (the suspension)": (
        lambda m: (_with_entries(m.proof, list(m.proof.entries[:2])), m.genesis),
        Check.ANSWER),
    "grant removed": (
        lambda m: (_with_entries(m.proof, list(m.proof.entries[1:])), m.genesis),
        Check.MISSING_ENTRY),
    "entry included twice": (
        lambda m: (_with_entries(m.proof, [*m.proof.entries, m.proof.entries[0]]), m.genesis),
        Check.DUPLICATE_ENTRY),
    "unrelated entry added": (
        lambda m: (_with_entries(m.proof, [*m.proof.entries, ProvenEntry(
            wire=m.unrelated, inclusion=())]), m.genesis),
        Check.UNRELATED_ENTRY),
    "proof node changed": (
        lambda m: (_entry(m, 1, inclusion=(_flip(m.proof.entries[1].inclusion[0], 5),
                                           *m.proof.entries[1].inclusion[1:])), m.genesis),
        Check.INCLUSION),
    "proof node dropped": (
        lambda m: (_entry(m, 1, inclusion=m.proof.entries[1].inclusion[1:]), m.genesis),
        Check.INCLUSION),
    "proofs of two entries swapped": (
        lambda m: (_with_entries(m.proof, [
            replace(m.proof.entries[0], inclusion=m.proof.entries[1].inclusion),
            replace(m.proof.entries[1], inclusion=m.proof.entries[0].inclusion),
            m.proof.entries[2]]), m.genesis),
        Check.INCLUSION),
    "second checkpoint of the same ledger": (
        lambda m: (replace(m.proof, checkpoints=(*m.proof.checkpoints, LedgerCheckpoint(
            association="AK", note=sign_note(parse_note(_note(m.proof)).text, origin_of("AK"),
                                             m.rotated_out)))), m.genesis),
        Check.CHECKPOINT),
    "checkpoint removed": (
        lambda m: (replace(m.proof, checkpoints=()), m.genesis), Check.CHECKPOINT),
    "checkpoint re-signed by the rotated-out key": (
        lambda m: (_with_note(m.proof, sign_note(parse_note(_note(m.proof)).text,
                                                 origin_of("AK"), m.rotated_out)), m.genesis),
        Check.CHECKPOINT_SIGNATURE),
    "checkpoint signed by another association's key": (
        lambda m: (_with_note(m.proof, sign_note(parse_note(_note(m.proof)).text,
                                                 origin_of("AK"), m.mi_signer)), m.genesis),
        Check.CHECKPOINT_SIGNATURE),
    "checkpoint root changed": (
        lambda m: (_with_note(m.proof, _flip(_note(m.proof), 24)), m.genesis),
        Check.CHECKPOINT_SIGNATURE),
    "cosignature from a non-member": (
        lambda m: (_with_note(m.proof, add_cosignature(_note(m.proof), "alliance-witness/ZZ",
                                                       Signer.generate(), COSIGNED_AT)),
                   m.genesis),
        Check.COSIGNATURE),
    "cosignature under a member's name with another key": (
        lambda m: (_with_note(m.proof, add_cosignature(
            _origin_only(_note(m.proof)), "alliance-witness/MI", Signer.generate(),
            COSIGNED_AT)), m.genesis),
        Check.COSIGNATURE),
    "cosignature by the origin itself": (
        lambda m: (_with_note(m.proof, add_cosignature(_origin_only(_note(m.proof)),
                                                       "alliance-witness/AK", m.rotated_out,
                                                       COSIGNED_AT)), m.genesis),
        Check.COSIGNATURE),
    "answer changed (standing)": (
        lambda m: (replace(m.proof, claim=replace(m.proof.claim, standing="current",
                                                  recorded_status="active")), m.genesis),
        Check.ANSWER),
    "answer changed (name)": (
        lambda m: (replace(m.proof, claim=replace(m.proof.claim, family_name="Doe")),
                   m.genesis),
        Check.ANSWER),
    "answer moved to another date": (
        lambda m: (replace(m.proof, claim=replace(m.proof.claim, as_of=dt.date(2026, 2, 20))),
                   m.genesis),
        Check.ANSWER),
    "wrong genesis pinned": (
        lambda m: (m.proof, Genesis(alliance="Other", governance_keys=(
            Signer.generate().public_key,), threshold=1, created_at=NOW)),
        Check.GENESIS),
    "genesis swapped in the bundle": (
        lambda m: (replace(m.proof, genesis=replace(m.genesis, alliance="Forged")), m.genesis),
        Check.GENESIS),
    "registry entry altered": (
        lambda m: (replace(m.proof, registry=(_flip(m.proof.registry[0], 40),
                                              *m.proof.registry[1:])), m.genesis),
        Check.REGISTRY),
    "registry entry removed (the rotation)": (
        lambda m: (replace(m.proof, registry=m.proof.registry[:-1]), m.genesis),
        Check.ENTRY_SIGNATURE),
}


def test_the_honest_bundle_verifies_and_is_witnessed(made: Made) -> None:
    report = verify_status_proof(made.proof, replay_status, pinned_genesis=made.genesis)
    assert report.ok, report.findings
    assert [e.body.event_type for e in report.entries] == [
        "EndorsementGranted", "EndorsementCorrected", "EndorsementSuspended"]
    assert report.replayed == made.proof.claim
    assert made.proof.claim.standing == "suspended"
    summary = report.checkpoints["AK"]
    assert summary.witnessed and summary.witnesses == ("MI", "TX") and summary.quorum == 2
    statements = " ".join(proves(report))
    assert "witnessed" in statements and "one you pinned" in statements
    assert "does not prove that no other entry" in " ".join(limits(report))


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_every_mutation_is_rejected_and_named(made: Made, name: str) -> None:
    mutate, expected = MUTATIONS[name]
    proof, pinned = mutate(made)
    report = verify_status_proof(proof, replay_status, pinned_genesis=pinned)
    assert not report.ok, name
    assert expected in {f.check for f in report.findings}, report.findings
    assert proves(report) == []


def test_a_dropped_witness_is_stated_not_hidden(made: Made) -> None:
    parsed = parse_note(_note(made.proof))
    one = [s.line() for s in parsed.signatures if s.name != "alliance-witness/TX"]
    report = verify_status_proof(_with_note(made.proof, sign_note_lines(parsed.text, one)),
                                 replay_status, pinned_genesis=made.genesis)
    assert report.ok  # still true as far as it goes ...
    assert not report.checkpoints["AK"].witnessed
    assert "AK's checkpoint is not witnessed (1 of 2 cosignatures)" in " ".join(limits(report))


def test_without_a_pinned_genesis_the_statement_says_so(made: Made) -> None:
    report = verify_status_proof(made.proof, replay_status)
    assert report.ok
    assert "NOT compared with one you trust" in " ".join(proves(report))


_BINARY_PARTS = st.sampled_from(["wire", "inclusion", "note", "registry"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(part=_BINARY_PARTS, which=st.integers(0, 1000), index=st.integers(0, 10_000),
       mask=st.integers(1, 255))
def test_any_byte_flip_in_any_signed_part_is_rejected(made: Made, part: str, which: int,
                                                      index: int, mask: int) -> None:
    proof = made.proof
    if part == "wire":
        i = which % len(proof.entries)
        wire = proof.entries[i].wire
        proof = _entry(made, i, wire=_flip(wire, index % len(wire), mask))
    elif part == "inclusion":
        i = which % len(proof.entries)
        nodes = list(proof.entries[i].inclusion)
        j = index % len(nodes)
        nodes[j] = _flip(nodes[j], (index // 7) % 32, mask)
        proof = _entry(made, i, inclusion=tuple(nodes))
    elif part == "note":
        note = _note(proof)
        proof = _with_note(proof, _flip(note, index % len(note), mask))
    else:
        i = which % len(proof.registry)
        entry = proof.registry[i]
        proof = replace(proof, registry=(*proof.registry[:i],
                                         _flip(entry, index % len(entry), mask),
                                         *proof.registry[i + 1:]))
    report = verify_status_proof(proof, replay_status, pinned_genesis=made.genesis)
    assert not report.ok, (part, which, index, mask)


def test_bundle_file_round_trips(made: Made, tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(encode_status_proof(made.proof))
    assert decode_status_proof(path.read_bytes()) == made.proof


# -- the public receipt ------------------------------------------------------------------------


def _body(m: Made) -> ReceiptBody:
    return decode_canonical(m.receipt.body, ReceiptBody)


def _heads(m: Made) -> TreeHeads:
    heads = _body(m).heads
    assert heads is not None
    return heads


def _resigned(m: Made, signer: Signer | None = None, **changes: object) -> SignedReceipt:
    """The body changed and signed again, by AK's own key unless `signer` is given: a node
    that signs whatever it likes is caught by the checks below its signature."""
    signer = signer or m.ak_signer
    body = replace(_body(m), key_id=signer.key_id, **changes)
    return sign_receipt(body, signer)


def _unsigned(m: Made, **changes: object) -> SignedReceipt:
    """The body changed but the node's signature kept: what a forger without the key can do."""
    body = replace(_body(m), **changes)
    return replace(m.receipt, body=encode(body), answer=body.answer)


def _with_heads_note(m: Made, note: bytes) -> SignedReceipt:
    return _resigned(m, heads=replace(_heads(m), checkpoints=(
        LedgerCheckpoint(association="AK", note=note),)))


def _heads_note(m: Made) -> bytes:
    return _heads(m).checkpoints[0].note


def _current(m: Made) -> object:
    body = _body(m)
    return replace(body.answer, claim=replace(body.answer.claim, standing="current",
                                              recorded_status="active"))


ReceiptMutation = Callable[[Made], tuple[SignedReceipt, Genesis | None]]

RECEIPT_MUTATIONS: dict[str, tuple[ReceiptMutation, Check]] = {
    "answer changed, the node's signature kept": (
        lambda m: (_unsigned(m, answer=_current(m)), m.genesis), Check.NODE_SIGNATURE),
    "answer changed, re-signed by another association's key": (
        lambda m: (_resigned(m, m.mi_signer, answer=_current(m)), m.genesis),
        Check.NODE_SIGNATURE),
    "answer changed, signed by MI's key under AK's key id": (
        lambda m: (replace(_resigned(m, answer=_current(m)), signature=m.mi_signer.sign(
            RECEIPT_CONTEXT + _resigned(m, answer=_current(m)).body)), m.genesis),
        Check.NODE_SIGNATURE),
    "re-signed by AK's rotated-out key": (
        lambda m: (_resigned(m, m.rotated_out), m.genesis), Check.NODE_SIGNATURE),
    "signature without the receipt context": (
        lambda m: (replace(m.receipt, signature=m.ak_signer.sign(m.receipt.body)), m.genesis),
        Check.NODE_SIGNATURE),
    "readable copy changed": (
        lambda m: (replace(m.receipt, answer=_current(m)), m.genesis), Check.READABLE_COPY),
    "readable copy claims the full form": (
        lambda m: (replace(m.receipt, kind=ReceiptKind.FULL), m.genesis), Check.READABLE_COPY),
    "checkpoint note tampered (root byte flipped)": (
        lambda m: (_with_heads_note(m, _flip(_heads_note(m), 24)), m.genesis),
        Check.CHECKPOINT_SIGNATURE),
    "checkpoint tree size changed": (
        lambda m: (_with_heads_note(m, _heads_note(m).replace(b"\n", b"\n9", 1)), m.genesis),
        Check.CHECKPOINT_SIGNATURE),
    "checkpoint re-signed by another association's key": (
        lambda m: (_with_heads_note(m, sign_note(parse_note(_heads_note(m)).text,
                                                 origin_of("AK"), m.mi_signer)), m.genesis),
        Check.CHECKPOINT_SIGNATURE),
    "checkpoint of the endorsing ledger removed": (
        lambda m: (_resigned(m, heads=replace(_heads(m), checkpoints=())), m.genesis),
        Check.CHECKPOINT),
    "cosignature from a non-member": (
        lambda m: (_with_heads_note(m, add_cosignature(_heads_note(m), "alliance-witness/ZZ",
                                                       Signer.generate(), COSIGNED_AT)),
                   m.genesis),
        Check.COSIGNATURE),
    "cosignature under a member's name with another key": (
        lambda m: (_with_heads_note(m, add_cosignature(
            _origin_only(_heads_note(m)), "alliance-witness/MI", Signer.generate(),
            COSIGNED_AT)), m.genesis),
        Check.COSIGNATURE),
    "wrong genesis pinned": (
        lambda m: (m.receipt, Genesis(alliance="Other", governance_keys=(
            Signer.generate().public_key,), threshold=1, created_at=NOW)),
        Check.GENESIS),
    "genesis swapped in the receipt": (
        lambda m: (_resigned(m, heads=replace(_heads(m), genesis=replace(
            m.genesis, alliance="Forged"))), m.genesis),
        Check.GENESIS),
    "registry entry altered": (
        lambda m: (_resigned(m, heads=replace(_heads(m), registry=(
            _flip(_heads(m).registry[0], 40), *_heads(m).registry[1:]))), m.genesis),
        Check.REGISTRY),
}


def test_the_honest_public_receipt_verifies_and_discloses_no_entry(made: Made) -> None:
    report = verify_receipt(made.receipt, replay_status, pinned_genesis=made.genesis)
    assert report.ok, report.all_findings
    body = _body(made)
    assert body.kind == ReceiptKind.PUBLIC and body.proof is None
    assert body.answer.claim == made.proof.claim
    # The heads are exactly the full proof's checkpoints; no entry travels with them.
    assert _heads(made).checkpoints == made.proof.checkpoints
    assert not any(proven.wire in made.receipt.body for proven in made.proof.entries)
    for private in (b"P-AK-MUT00001", b"ref-AK-MUT00001", b"ethics review", b"spelling"):
        assert private not in made.receipt.body
    assert report.heads is not None
    summary = report.heads.checkpoints["AK"]
    assert summary.witnessed and summary.witnesses == ("MI", "TX")
    proven = " ".join(receipt_proves(report))
    assert "AK's node, holding a key the Alliance trust registry allowed AK" in proven
    assert f"AK's ledger at tree size {summary.size}, root {summary.root_hash.hex()}" in proven
    assert "AK's checkpoint is witnessed" in proven and "one you pinned" in proven
    not_proven = " ".join(receipt_limits(report))
    assert "does not carry the ledger entries" in not_proven
    assert "GET /v1/proofs/status" in not_proven and "demand the entries" in not_proven


@pytest.mark.parametrize("name", sorted(RECEIPT_MUTATIONS))
def test_every_public_receipt_mutation_is_rejected_and_named(made: Made, name: str) -> None:
    mutate, expected = RECEIPT_MUTATIONS[name]
    receipt, pinned = mutate(made)
    report = verify_receipt(receipt, replay_status, pinned_genesis=pinned)
    assert not report.ok, name
    assert expected in {f.check for f in report.all_findings}, report.all_findings
    assert receipt_proves(report) == []


def test_a_body_of_the_wrong_form_cannot_be_made_or_read(made: Made) -> None:
    with pytest.raises(ValueError, match="public receipt carries heads and no proof"):
        replace(_body(made), proof=made.proof)
    with pytest.raises(ValueError, match="full receipt carries a proof and no heads"):
        replace(_body(made), kind=ReceiptKind.FULL)
    # The same, encoded by a forger and signed: refused when read, before anything is trusted.
    raw = msgspec.to_builtins(_body(made), builtin_types=(bytes, dt.datetime, dt.date))
    assert decode_canonical(encode(raw), ReceiptBody) == _body(made)  # the raw form is faithful
    raw["kind"] = "full"
    forged = replace(made.receipt, body=encode(raw),
                     signature=made.ak_signer.sign(RECEIPT_CONTEXT + encode(raw)))
    report = verify_receipt(forged, replay_status, pinned_genesis=made.genesis)
    assert [f.check for f in report.all_findings] == [Check.RECEIPT]
    assert "full receipt carries a proof and no heads" in str(report.all_findings[0])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(part=st.sampled_from(["body", "signature"]), index=st.integers(0, 100_000),
       mask=st.integers(1, 255))
def test_any_byte_flip_in_a_public_receipt_is_rejected(made: Made, part: str, index: int,
                                                       mask: int) -> None:
    data = getattr(made.receipt, part)
    receipt = replace(made.receipt, **{part: _flip(data, index % len(data), mask)})
    report = verify_receipt(receipt, replay_status, pinned_genesis=made.genesis)
    assert not report.ok, (part, index, mask)
