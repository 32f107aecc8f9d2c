"""Receipts on a node: sign what was answered.

The node answers exactly as `GET /v1/status` does, builds the status proof of that answer
(which checks each entry's inclusion under the checkpoints it cites), and signs the receipt
with its association's ledger key. A public receipt keeps only the proof's registry and
checkpoints (`TreeHeads`); a full one keeps the whole proof. `check_own` verifies a receipt
the node just made with the same pure checks a verifier uses, so the printable page
(`federation_api.web.pages.receipts`) never shows a statement a verifier would refuse.
"""

from __future__ import annotations

import datetime as dt

from federation_api.node.root import Node
from federation_api.proofs.status import build_status_proof, replay_status
from ledger.proofs.receipts import (
    RECEIPT_FORMAT,
    ReceiptAnswer,
    ReceiptBody,
    ReceiptKind,
    ReceiptReport,
    SignedReceipt,
    TreeHeads,
    sign_receipt,
    verify_receipt,
)
from projections.rows import StatusAnswer


def make_receipt(node: Node, answer: StatusAnswer, warnings: tuple[str, ...],
                 now: dt.datetime, kind: ReceiptKind) -> SignedReceipt:
    """A signed receipt of `answer`: public (tree heads only) or full (the status proof)."""
    proof = build_status_proof(node, answer, now)
    full = kind == ReceiptKind.FULL
    body = ReceiptBody(format=RECEIPT_FORMAT, kind=kind,
                       answer=ReceiptAnswer(claim=proof.claim, warnings=warnings),
                       answered_at=now, node=node.association, key_id=node.signer.key_id,
                       heads=None if full else TreeHeads.of(proof),
                       proof=proof if full else None)
    return sign_receipt(body, node.signer)


def filename(receipt: SignedReceipt) -> str:
    """A download name that says what and when, e.g. receipt-AK-7Q4M2XKD-20260301T120000Z.json."""
    claim = receipt.answer.claim
    return (f"receipt-{claim.endorsement_id}-"
            f"{receipt.answered_at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.json")


def check_own(receipt: SignedReceipt) -> ReceiptReport:
    """Verify a receipt this node just made. No genesis is pinned: the page then says, as
    `alliance verify-receipt` would, that the reader must compare it with one they trust."""
    return verify_receipt(receipt, replay_status)
