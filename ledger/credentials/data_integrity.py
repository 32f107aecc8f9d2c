"""W3C Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite: create and verify.

What is signed: SHA-256 of the canonical N-Quads of the proof configuration (the proof's
fields without `proofValue`, under the document's `@context`), followed by SHA-256 of the
canonical N-Quads of the document without its proof: 64 bytes, proof configuration first.
The signature is Ed25519 (RFC 8032, deterministic), written as `proofValue` in multibase
base58btc. `tests/unit/test_data_integrity.py` reproduces the W3C test vector byte for byte.

Verification takes the public key from the caller, who found it in the issuer's DID document
(`did_document.py`): this module decides only whether the bytes were signed by that key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import msgspec

from ledger.credentials.jsonld import SHIPPED_CONTEXTS, ContextLoader, JsonObject, canonicalize
from ledger.credentials.multikey import base58btc_decode, base58btc_encode
from ledger.errors import BadSignature, MalformedCredential, ProofInvalid
from ledger.signing import Signer, Verifier

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
ASSERTION_METHOD = "assertionMethod"
# Exactly the fields this project writes. A proof with any other field (a challenge, a domain,
# an expiry) makes claims this verifier does not check, so it is refused, not half-checked.
_PROOF_FIELDS = frozenset({"type", "cryptosuite", "created", "verificationMethod",
                           "proofPurpose", "proofValue"})


class Proof(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed `eddsa-rdfc-2022` proof (the signature is checked by `verify_proof`)."""

    verification_method: str
    created: dt.datetime
    proof_purpose: str
    signature: bytes
    fields: dict[str, Any]  # the proof exactly as written, for the proof configuration


def xsd_datetime(moment: dt.datetime) -> str:
    """`moment` as an XSD dateTime in UTC to the second ("2026-01-15T10:00:00Z")."""
    if moment.tzinfo is None:
        raise ValueError("a proof time must carry its offset")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_proof(document: JsonObject, signer: Signer, verification_method: str,
                 created: dt.datetime, *, as_list: bool,
                 loader: ContextLoader = SHIPPED_CONTEXTS) -> JsonObject:
    """A copy of `document` secured with a proof by `signer` under `verification_method`.

    `as_list`: the proof as a one-element array (the Open Badges 3.0 schema requires it) or as
    an object (what status list credentials and the W3C examples use). Refuses, before
    signing, a document a conforming verifier would refuse (see `jsonld.check_safe`)."""
    if "proof" in document:
        raise MalformedCredential("the document already has a proof")
    proof: JsonObject = {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE,
                         "created": xsd_datetime(created),
                         "verificationMethod": verification_method,
                         "proofPurpose": ASSERTION_METHOD}
    signature = signer.sign(hash_data(document, proof, loader))
    proof["proofValue"] = "z" + base58btc_encode(signature)
    return {**document, "proof": [proof] if as_list else proof}


def read_proof(document: JsonObject) -> Proof:
    """The document's one proof, checked for shape (not yet for its signature)."""
    written = document.get("proof")
    if isinstance(written, list):
        if len(written) != 1:
            raise MalformedCredential(f"expected exactly one proof, found {len(written)}")
        written = written[0]
    if not isinstance(written, dict):
        raise MalformedCredential("the document has no proof")
    unknown = set(written) - _PROOF_FIELDS
    if unknown:
        raise MalformedCredential(f"proof has fields this verifier does not check: "
                                  f"{sorted(unknown)}")
    if written.get("type") != PROOF_TYPE or written.get("cryptosuite") != CRYPTOSUITE:
        raise ProofInvalid(f"proof is not a {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}")
    method, purpose = written.get("verificationMethod"), written.get("proofPurpose")
    created, value = written.get("created"), written.get("proofValue")
    if not isinstance(method, str) or not isinstance(purpose, str):
        raise MalformedCredential("proof needs a verificationMethod and a proofPurpose")
    if not isinstance(value, str) or not value.startswith("z"):
        raise MalformedCredential("proofValue must be multibase base58btc (a leading 'z')")
    signature = base58btc_decode(value[1:])
    if len(signature) != 64:
        raise ProofInvalid("proofValue is not a 64-byte Ed25519 signature")
    return Proof(verification_method=method, created=parse_time(created, "proof created"),
                 proof_purpose=purpose, signature=signature, fields=dict(written))


def verify_proof(document: JsonObject, proof: Proof, public_key: bytes,
                 loader: ContextLoader = SHIPPED_CONTEXTS) -> None:
    """Raise ProofInvalid unless `proof` signs `document` (its proof removed) under
    `public_key`; raise UnsafeDocument if the document hides unsigned content."""
    if proof.proof_purpose != ASSERTION_METHOD:
        raise ProofInvalid(f"proof purpose is {proof.proof_purpose!r}, not {ASSERTION_METHOD}")
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    options = {key: value for key, value in proof.fields.items() if key != "proofValue"}
    try:
        Verifier(public_key).verify(proof.signature, hash_data(unsecured, options, loader))
    except BadSignature as e:
        raise ProofInvalid("the proof's signature does not verify over the document: it was "
                           "changed after signing, or signed by another key") from e


def hash_data(unsecured: JsonObject, proof_options: JsonObject,
              loader: ContextLoader = SHIPPED_CONTEXTS) -> bytes:
    """The 64 bytes an eddsa-rdfc-2022 signature covers."""
    if "@context" not in unsecured:
        raise MalformedCredential("the document has no @context")
    config = {**proof_options, "@context": unsecured["@context"]}
    return (hashlib.sha256(canonicalize(config, loader).encode()).digest()
            + hashlib.sha256(canonicalize(unsecured, loader).encode()).digest())


def parse_time(value: object, what: str) -> dt.datetime:
    """An XSD dateTime with its offset, as an aware datetime."""
    if not isinstance(value, str) or "T" not in value:
        raise MalformedCredential(f"{what} must be an XSD dateTime")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise MalformedCredential(f"{what} {value!r} is not an XSD dateTime") from e
    if moment.tzinfo is None:
        raise MalformedCredential(f"{what} {value!r} has no time zone")
    return moment

