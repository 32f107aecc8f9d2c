"""The printable page of a receipt (`GET /receipts/view`).

It shows a public receipt with what `alliance verify-receipt` will prove about it and what it
will not; the node verified the receipt before (`federation_api.proofs.receipts.check_own`).
The page is standalone, with no script: its one style block (print rules, which the shared
stylesheet lacks) is allowed by its hash in the Content-Security-Policy.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Callable

from fastapi.responses import HTMLResponse

from domain.levels import Level
from federation_api.web.pages.templating import SECURITY_HEADERS, TEMPLATES
from federation_api.web.urls import GENESIS_PATH
from ledger.proofs.receipts import ReceiptReport, SignedReceipt
from ledger.proofs.statements import receipt_limits, receipt_proves

_STYLE = re.compile(rb"<style>(.*?)</style>", re.DOTALL)


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
