"""Signed verification receipts: what a node answered, when, signed, with proof material.

An employer keeps a receipt as evidence of what it checked. The node signs the canonical
MessagePack of the receipt body with its association's ledger key, prefixed with a context
string so that a receipt signature can never be taken for an entry or checkpoint signature by
the same key. The file carries those exact bytes (base64) beside a readable copy of the answer;
the verifier checks the signature over the bytes it received, decodes them, and requires the
readable copy to match.

A receipt comes in one of two forms (`ReceiptKind`, stated inside the signed body):

- **public** (anyone may get one): the answer's public fields and, as proof material, only
  what discloses nothing personal: the trust registry (so the node's key can be checked
  offline) and the checkpoint notes, with their cosignatures, of the ledgers that hold the
  entries the answer rests on. The entries themselves stay out: their signed bytes carry the
  person id, legacy reference, grant date and status reasons, which the Alliance shares among
  its members only (DESIGN.md invariant 7). A public receipt proves that the node, holding a
  registry-valid key, gave this answer at this time based on these witnessed tree heads; an
  auditor can later demand the entries and check them against those roots.
- **full** (a caller with a staff token): the status-proof bundle as well, so the answer
  itself can be replayed from the entries.

`verify_receipt` is pure: the node's key comes from the registry the receipt carries
(optionally pinned by genesis); the registry and checkpoints are judged by
`ledger.proofs.tree_heads`, a full proof by `ledger.proofs.status`, and its signed answer must
equal the one the entries replay to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgspec

from ledger.codec import AwareDatetime, decode_canonical, encode, encode_json
from ledger.errors import MalformedEntry, UnknownKey, VerificationError
from ledger.proofs.status import (
    ProofReport,
    Replay,
    StatusClaim,
    StatusProof,
    decode_document,
    verify_status_proof,
)
from ledger.proofs.tree_heads import Check, Finding, HeadsReport, LedgerCheckpoint, verify_heads
from ledger.signing import Signer, Verifier
from ledger.trust.registry import Genesis, RegistryState

RECEIPT_FORMAT = "alliance-verification-receipt/v2"
RECEIPT_CONTEXT = RECEIPT_FORMAT.encode() + b"\n"  # what the node's signature covers first


class ReceiptKind(StrEnum):
    """Which form a receipt is: public fields and tree heads only, or the full proof."""

    PUBLIC = "public"
    FULL = "full"


class ReceiptAnswer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the node answered: the status claim, and any warning it added (e.g. a fork)."""

    claim: StatusClaim
    warnings: tuple[str, ...] = ()


class TreeHeads(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A public receipt's proof material: the registry, and the checkpoint notes of the ledgers
    holding the entries the answer rests on (no entries)."""

    genesis: Genesis
    registry: tuple[bytes, ...]  # registry entries' wire bytes, from seq 1
    checkpoints: tuple[LedgerCheckpoint, ...]

    @classmethod
    def of(cls, proof: StatusProof) -> TreeHeads:
        """The part of a status proof that discloses nothing personal."""
        return cls(genesis=proof.genesis, registry=proof.registry,
                   checkpoints=proof.checkpoints)


class ReceiptBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The signed part of a receipt. A public one carries `heads`, a full one `proof`; a body
    with the wrong part for its kind cannot be built or decoded."""

    format: str
    kind: ReceiptKind
    answer: ReceiptAnswer
    answered_at: AwareDatetime
    node: str  # the association whose node answered
    key_id: str  # the node's signing key
    heads: TreeHeads | None = None
    proof: StatusProof | None = None

    def __post_init__(self) -> None:
        wanted = (self.heads is not None, self.proof is not None)
        if wanted != ((True, False) if self.kind == ReceiptKind.PUBLIC else (False, True)):
            part = "heads and no proof" if self.kind == ReceiptKind.PUBLIC else \
                "a proof and no heads"
            raise ValueError(f"a {self.kind} receipt carries {part}")


class SignedReceipt(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The receipt file: signed body bytes, the signature, and a readable copy of the answer."""

    format: str
    kind: ReceiptKind  # readable copy, like the three below
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
    return SignedReceipt(format=RECEIPT_FORMAT, kind=body.kind, body=data,
                         signature=signer.sign(RECEIPT_CONTEXT + data), answer=body.answer,
                         answered_at=body.answered_at, node=body.node)


def encode_receipt(receipt: SignedReceipt) -> bytes:
    """The receipt as a JSON file (bytes in base64)."""
    return encode_json(receipt)


def decode_receipt(data: bytes) -> SignedReceipt:
    """Parse a receipt file; StatusProofError if it is not one."""
    return decode_document(data, SignedReceipt, RECEIPT_FORMAT, "verification receipt")


@dataclass
class ReceiptReport:
    """The receipt's own checks (body, node signature, readable copy) and the report on its
    proof material: a `ProofReport` for a full receipt, a `HeadsReport` for a public one."""

    body: ReceiptBody | None
    heads: HeadsReport | None
    findings: list[Finding]

    @property
    def proof(self) -> ProofReport | None:
        """The full proof's report (None for a public receipt)."""
        return self.heads if isinstance(self.heads, ProofReport) else None

    @property
    def all_findings(self) -> list[Finding]:
        """Every failed check: the proof material's, then the receipt's own."""
        return (self.heads.findings if self.heads is not None else []) + self.findings

    @property
    def ok(self) -> bool:
        """Signature, readable copy and proof material all verified."""
        return not self.findings and self.heads is not None and self.heads.ok


def verify_receipt(receipt: SignedReceipt, replay: Replay, *,
                   pinned_genesis: Genesis | None = None) -> ReceiptReport:
    """Check the node's signature over the exact bytes, the proof material for the receipt's
    form, and that the readable copy is the signed one."""
    try:
        body = decode_canonical(receipt.body, ReceiptBody)
    except MalformedEntry as e:
        return ReceiptReport(None, None, [Finding(Check.RECEIPT, "body", e.reason)])
    findings: list[Finding] = []
    if body.format != RECEIPT_FORMAT:
        findings.append(Finding(Check.RECEIPT, "body", f"unknown format {body.format!r}"))
    heads: HeadsReport
    if body.proof is not None:
        heads = verify_status_proof(body.proof, replay, pinned_genesis=pinned_genesis)
        if body.answer.claim != body.proof.claim:
            findings.append(Finding(Check.ANSWER, body.answer.claim.endorsement_id,
                                    "the signed answer is not the answer its proof states"))
    else:
        assert body.heads is not None  # guaranteed by ReceiptBody.__post_init__
        heads = verify_heads(body.heads.genesis, body.heads.registry, body.heads.checkpoints,
                             signed_by=body.answered_at, pinned_genesis=pinned_genesis)
        home = body.answer.claim.association
        if heads.state is not None and home not in {c.association
                                                    for c in body.heads.checkpoints}:
            findings.append(Finding(Check.CHECKPOINT, home, "no checkpoint of the endorsing "
                                    "association's ledger, which holds the answer's entries"))
    if heads.state is not None:
        findings.extend(_check_node_signature(receipt, body, heads.state))
    if (receipt.kind, receipt.answer, receipt.answered_at, receipt.node) != (
            body.kind, body.answer, body.answered_at, body.node):
        findings.append(Finding(Check.READABLE_COPY, "receipt", "the form, answer, time or node "
                                "shown outside the signed body differs from the signed one"))
    return ReceiptReport(body, heads, findings)


def _check_node_signature(receipt: SignedReceipt, body: ReceiptBody,
                          state: RegistryState) -> list[Finding]:
    try:
        verifier: Verifier = state.keyring.verifier_for(body.node, body.key_id,
                                                        body.answered_at)
        verifier.verify(receipt.signature, RECEIPT_CONTEXT + receipt.body)
    except UnknownKey as e:
        return [Finding(Check.NODE_SIGNATURE, body.node, e.reason)]
    except VerificationError as e:
        return [Finding(Check.NODE_SIGNATURE, body.node,
                        f"{body.node}'s key {body.key_id[:16]} did not sign this receipt "
                        f"({e.reason})")]
    return []
