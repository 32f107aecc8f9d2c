"""eddsa-rdfc-2022 Data Integrity proofs: the W3C test vector byte for byte, and refusals."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.credentials.data_integrity import (
    create_proof,
    hash_data,
    read_proof,
    verify_proof,
)
from ledger.credentials.jsonld import ContextLoader, canonicalize
from ledger.credentials.multikey import decode_secret_seed, encode_public_key
from ledger.errors import MalformedCredential, ProofInvalid, UnsafeDocument
from ledger.signing import Signer

VECTOR = Path(__file__).parent / "vectors" / "eddsa-rdfc-2022"
EXAMPLES_CONTEXT = "https://www.w3.org/ns/credentials/examples/v2"
# The vector's document names the W3C examples context; only this test serves it.
LOADER = ContextLoader(extra={EXAMPLES_CONTEXT: json.loads(
    (VECTOR / "credentials-examples-v2.jsonld").read_text())})


def vector(name: str) -> Any:
    text = (VECTOR / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def vector_signer() -> Signer:
    keys = vector("keyPair.json")
    signer = Signer.from_seed(decode_secret_seed(keys["privateKeyMultibase"]))
    assert encode_public_key(signer.public_key) == keys["publicKeyMultibase"]
    return signer


def test_w3c_vector_canonical_document_is_reproduced_byte_for_byte() -> None:
    assert canonicalize(vector("unsigned.json"), LOADER) == vector("canonDocDataInt.txt")


def test_w3c_vector_canonical_proof_configuration_is_reproduced_byte_for_byte() -> None:
    assert canonicalize(vector("proofConfigDataInt.json"), LOADER) == vector(
        "proofCanonDataInt.txt")


def test_w3c_vector_hash_data_is_proof_hash_then_document_hash() -> None:
    config = vector("proofConfigDataInt.json")
    options = {k: v for k, v in config.items() if k != "@context"}
    combined = hash_data(vector("unsigned.json"), options, LOADER)
    assert combined.hex() == vector("combinedHashDataInt.txt").strip()
    assert combined[:32] == hashlib.sha256(vector("proofCanonDataInt.txt").encode()).digest()


def test_w3c_vector_signed_document_is_reproduced_byte_for_byte() -> None:
    expected = vector("signedDataInt.json")
    proof = expected["proof"]
    signed = create_proof(vector("unsigned.json"), vector_signer(), proof["verificationMethod"],
                          dt.datetime.fromisoformat(proof["created"]), as_list=False,
                          loader=LOADER)
    assert signed == expected
    assert signed["proof"]["proofValue"] == proof["proofValue"]


def test_w3c_vector_signed_document_verifies() -> None:
    signed = vector("signedDataInt.json")
    verify_proof(signed, read_proof(signed), vector_signer().public_key, LOADER)


@pytest.mark.parametrize("change", [
    lambda d: d["credentialSubject"].__setitem__("alumniOf", "The School of Examplez"),
    lambda d: d.__setitem__("validFrom", "2023-01-01T00:00:01Z"),
    lambda d: d["proof"].__setitem__("created", "2023-02-24T23:36:39Z"),
    lambda d: d["type"].reverse() or d["type"].append("Extra"),
], ids=["subject value", "validFrom", "proof created", "type added"])
def test_any_change_to_a_signed_vector_fails_its_proof(change: Any) -> None:
    signed = copy.deepcopy(vector("signedDataInt.json"))
    change(signed)
    with pytest.raises(ProofInvalid, match="does not verify"):
        verify_proof(signed, read_proof(signed), vector_signer().public_key, LOADER)


def test_another_key_fails_the_proof() -> None:
    signed = vector("signedDataInt.json")
    with pytest.raises(ProofInvalid):
        verify_proof(signed, read_proof(signed), Signer.generate().public_key, LOADER)


def test_an_undefined_term_is_refused_on_verify_although_pyld_would_drop_it_unsigned() -> None:
    # The examples context has @vocab, so use the VC context alone: `alumniOf` is undefined.
    signed = copy.deepcopy(vector("signedDataInt.json"))
    signed["@context"] = ["https://www.w3.org/ns/credentials/v2"]
    with pytest.raises(UnsafeDocument, match="alumniOf"):
        verify_proof(signed, read_proof(signed), vector_signer().public_key)


@pytest.mark.parametrize(("proof", "error", "words"), [
    ([], MalformedCredential, "exactly one proof"),
    ([{"type": "DataIntegrityProof"}] * 2, MalformedCredential, "exactly one proof"),
    ({"type": "Ed25519Signature2020", "cryptosuite": "eddsa-rdfc-2022"}, ProofInvalid,
     "DataIntegrityProof"),
    ({"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022"}, ProofInvalid,
     "eddsa-rdfc-2022"),
    ({"challenge": "x"}, MalformedCredential, "challenge"),
    ({"proofValue": "u" + "A" * 86}, MalformedCredential, "base58btc"),
    ({"proofValue": "z0OIl"}, MalformedCredential, "base58btc character"),
    ({"proofValue": "z3"}, ProofInvalid, "64-byte"),
    ({"created": "2023-02-24"}, MalformedCredential, "XSD dateTime"),
    ({"created": "2023-02-24T23:36:38"}, MalformedCredential, "time zone"),
    ({"proofPurpose": "authentication"}, ProofInvalid, "assertionMethod"),
], ids=["none", "two", "other type", "other suite", "extra field", "other multibase",
        "bad base58", "short signature", "date only", "no zone", "other purpose"])
def test_malformed_proofs_are_refused_with_the_reason(proof: Any, error: type[Exception],
                                                      words: str) -> None:
    signed = copy.deepcopy(vector("signedDataInt.json"))
    signed["proof"] = {**signed["proof"], **proof} if isinstance(proof, dict) else proof
    with pytest.raises(error, match=words):
        verify_proof(signed, read_proof(signed), vector_signer().public_key, LOADER)


def test_a_proof_is_not_added_to_a_document_that_has_one() -> None:
    with pytest.raises(MalformedCredential, match="already has a proof"):
        create_proof(vector("signedDataInt.json"), vector_signer(), "did:example:k#1",
                     dt.datetime(2026, 1, 1, tzinfo=dt.UTC), as_list=True, loader=LOADER)


def test_a_proof_time_must_carry_its_offset() -> None:
    with pytest.raises(ValueError, match="offset"):
        create_proof(vector("unsigned.json"), vector_signer(), "did:example:k#1",
                     dt.datetime(2026, 1, 1), as_list=True, loader=LOADER)
