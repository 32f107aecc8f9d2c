"""Receipts on a node: sign what was answered, and show a receipt as a printable page.

The node answers exactly as `GET /v1/status` does, builds the status proof of that answer
(which checks each entry's inclusion under the checkpoints it cites), and signs the receipt
with its association's ledger key. A public receipt keeps only the proof's registry and
checkpoints (`TreeHeads`); a full one keeps the whole proof. The printable view shows a public
receipt, with what `alliance verify-receipt` will prove about it (the node verifies its own
receipt before showing it, with the same pure checks, so the page never shows a statement a
verifier would refuse).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Callable

from fastapi.responses import HTMLResponse

from domain.levels import Level
from federation_api.node.root import Node
from federation_api.proofs.status import build_status_proof, replay_status
from federation_api.web.pages.templating import SECURITY_HEADERS, TEMPLATES
from federation_api.web.routes.public import GENESIS_PATH
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
from ledger.proofs.statements import receipt_limits, receipt_proves
from projections.rows import StatusAnswer

_STYLE = re.compile(rb"<style>(.*?)</style>", re.DOTALL)


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


def render_view(receipt: SignedReceipt, report: ReceiptReport, download: str,
                names: Callable[[str], str]) -> HTMLResponse:
    """The printable page of a receipt (standalone, no script; its one style block is allowed
    by hash in the Content-Security-Policy, since the shared stylesheet has no print rules).
    `names` gives an association's full name from its id."""
    claim = receipt.answer.claim
    proof_report = report.proof
    heads = report.heads
    html = TEMPLATES.get_template("receipt.html").render(
        claim=claim, level_title=Level(claim.level).title, warnings=receipt.answer.warnings,
        answered_at=receipt.answered_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        node=receipt.node, association_name=names(receipt.node),
        endorsing_name=names(claim.association),
        key_id=report.body.key_id if report.body else "",
        signature=base64.b64encode(receipt.signature).decode(),
        entries=[] if proof_report is None else [
            (f"{e.body.association}#{e.seq}", e.body.event_type,
             e.body.recorded_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M"))
            for e in proof_report.entries],
        full=proof_report is not None,
        checkpoints=[] if heads is None else sorted(heads.checkpoints.values(),
                                                    key=lambda c: c.association),
        proves=receipt_proves(report), limits=receipt_limits(report),
        unwitnessed=[f"{a}'s checkpoint ({len(c.witnesses)} of {c.quorum} cosignatures)"
                     for a, c in sorted((heads.checkpoints if heads else {}).items())
                     if not c.witnessed],
        ok=report.ok, download=download, genesis_url=GENESIS_PATH)
    headers = dict(SECURITY_HEADERS)
    styles = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                      for s in _STYLE.findall(html.encode()))
    headers["Content-Security-Policy"] = (f"default-src 'none'; style-src {styles}; "
                                          "img-src 'self'; form-action 'self'; "
                                          "frame-ancestors 'none'; base-uri 'none'")
    return HTMLResponse(html, headers=headers)
