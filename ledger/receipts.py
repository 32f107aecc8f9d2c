"""Signed verification receipts: what a node answered, when, signed, with the proof of it.

An employer keeps a receipt as evidence of what it checked. The node signs the canonical
MessagePack of the receipt body (answer, time, node, key id, and the status-proof bundle) with
its association's ledger key, prefixed with a context string so that a receipt signature can
never be taken for an entry or checkpoint signature by the same key. The file carries those
exact bytes (base64) beside a readable copy of the answer; the verifier checks the signature
over the bytes it received, decodes them, and requires the readable copy to match.

`verify_receipt` is pure: the node's key comes from the registry inside the bundle (optionally
pinned by genesis), the bundle is checked by `ledger.status_proof`, and the signed answer must
equal the one the entries replay to.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from ledger.codec import AwareDatetime, decode_canonical, decode_json, encode, encode_json
from ledger.errors import MalformedEntry, UnknownKey, VerificationError
from ledger.registry import Genesis, verify_registry
from ledger.signing import Signer, Verifier
from ledger.status_proof import (
    Check,
    ProofReport,
    Replay,
    StatusClaim,
    StatusProof,
    StatusProofError,
    verify_status_proof,
)

RECEIPT_FORMAT = "alliance-verification-receipt/v1"
_CONTEXT = b"alliance-verification-receipt/v1\n"


class ReceiptAnswer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the node answered: the status claim, and any warning it added (e.g. a fork)."""

    claim: StatusClaim
    warnings: tuple[str, ...] = ()


class ReceiptBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The signed part of a receipt."""

    format: str
    answer: ReceiptAnswer
    answered_at: AwareDatetime
    node: str  # the association whose node answered
    key_id: str  # the node's signing key
    proof: StatusProof


class SignedReceipt(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The receipt file: signed body bytes, the signature, and a readable copy of the answer."""

    format: str
    body: bytes
    signature: bytes
    answer: ReceiptAnswer  # unsigned copy for people; verification requires it to match
    answered_at: AwareDatetime
    node: str


def sign_receipt(body: ReceiptBody, signer: Signer) -> SignedReceipt:
    """Sign a receipt body with the node's key."""
    if body.key_id != signer.key_id:
        raise ValueError("body.key_id must name the signing key")
    data = encode(body)
    return SignedReceipt(format=RECEIPT_FORMAT, body=data, signature=signer.sign(_CONTEXT + data),
                         answer=body.answer, answered_at=body.answered_at, node=body.node)


def encode_receipt(receipt: SignedReceipt) -> bytes:
    """The receipt as a JSON file (bytes in base64)."""
    return encode_json(receipt)


def decode_receipt(data: bytes) -> SignedReceipt:
    """Parse a receipt file; StatusProofError if it is not one."""
    try:
        receipt = decode_json(data, SignedReceipt)
    except MalformedEntry as e:
        raise StatusProofError(f"not a verification receipt: {e.reason}") from e
    if receipt.format != RECEIPT_FORMAT:
        raise StatusProofError(f"unknown receipt format {receipt.format!r}")
    return receipt


@dataclass
class ReceiptReport:
    """The receipt's own checks (signature, consistency) and its proof's report."""

    body: ReceiptBody | None
    proof: ProofReport | None
    findings: list[str]

    @property
    def ok(self) -> bool:
        """Signature, answer and proof all verified."""
        return not self.findings and self.proof is not None and self.proof.ok


def verify_receipt(receipt: SignedReceipt, replay: Replay, *,
                   pinned_genesis: Genesis | None = None) -> ReceiptReport:
    """Check the node's signature, the bundle, and that the signed answer is the replayed one."""
    try:
        body = decode_canonical(receipt.body, ReceiptBody)
    except MalformedEntry as e:
        return ReceiptReport(None, None, [f"receipt body: {e.reason}"])
    findings: list[str] = []
    if body.format != RECEIPT_FORMAT:
        findings.append(f"receipt body: unknown format {body.format!r}")
    proof = verify_status_proof(body.proof, replay, pinned_genesis=pinned_genesis)
    if not any(f.check in (Check.GENESIS, Check.REGISTRY) for f in proof.findings):
        findings.extend(_check_node_signature(receipt, body))
    if (receipt.answer, receipt.answered_at, receipt.node) != (
            body.answer, body.answered_at, body.node):
        findings.append("readable copy: the answer, time or node shown outside the signed "
                        "body differs from the signed one")
    if body.answer.claim != body.proof.claim:
        findings.append("answer: the signed answer is not the answer its proof states")
    return ReceiptReport(body, proof, findings)


def _check_node_signature(receipt: SignedReceipt, body: ReceiptBody) -> list[str]:
    try:
        state = verify_registry(body.proof.genesis, body.proof.registry)
        verifier: Verifier = state.keyring.verifier_for(body.node, body.key_id,
                                                        body.answered_at)
        verifier.verify(receipt.signature, _CONTEXT + receipt.body)
    except UnknownKey as e:
        return [f"node signature: {e.reason}"]
    except VerificationError as e:
        return [f"node signature: {body.node}'s key {body.key_id[:16]} did not sign this "
                f"receipt ({e.reason})"]
    return []
