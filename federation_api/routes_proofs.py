"""Public proofs and receipts: a status proof bundle, a signed receipt, its printable view.

The same rule as `GET /v1/status`: an answer needs the endorsement id and the matching last
name, and a miss is one 404 that does not say which was wrong, so none of these endpoints can
list anyone. A node that cannot prove an answer yet (no registry, or a peer's checkpoint that
does not cover the entries) says so with 409 rather than hand out a proof that will not verify.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from federation_api.clock import now
from federation_api.http_errors import error_body
from federation_api.node import Node
from federation_api.proofs import ProofUnavailable, build_status_proof
from federation_api.receipts import check_own, filename, make_receipt, render_view
from federation_api.routes_public import EndorsementId, LastName, lookup
from federation_api.schemas import ErrorOut
from federation_api.templating import association_name, render
from ledger.receipts import encode_receipt
from ledger.status_proof import encode_status_proof
from projections.rows import StatusAnswer

router = APIRouter(tags=["public"])
_NOT_FOUND = "no endorsement matches that id and last name"
_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut}, 409: {"model": ErrorOut, "description": "not provable yet"},
    422: {"model": ErrorOut}}
OnDate = Annotated[dt.date | None, Query(description="The date to answer for (default: today)")]


def _find(node: Node, endorsement_id: str, last_name: str,
          on: dt.date) -> tuple[StatusAnswer, tuple[str, ...]] | None:
    """The projection answer and the public answer's warnings, or None (one miss for both)."""
    public = lookup(node, endorsement_id, last_name, on)
    answer = node.projector.status_as_of(endorsement_id.upper(), on)
    if public is None or answer is None:
        return None
    return answer, tuple(public.warnings)


def _unavailable(e: ProofUnavailable) -> JSONResponse:
    return JSONResponse(error_body("proof_unavailable", str(e), rule="proof.unavailable"),
                        status_code=409, headers={"Retry-After": "30"})


@router.get("/v1/proofs/status", responses={
    200: {"content": {"application/json": {}},
          "description": "a status proof bundle (alliance-status-proof/v1); check it with "
                         "`alliance verify-proof FILE --genesis GENESIS`"}, **_RESPONSES})
def status_proof(request: Request, endorsement_id: EndorsementId, last_name: LastName,
                 as_of: OnDate = None) -> Response:
    """The entries that decide the endorsement's status on `as_of`, each with its inclusion
    proof under a signed (and, when available, witnessed) checkpoint, the trust registry, and
    the answer: everything to check the answer offline."""
    node: Node = request.app.state.node
    moment = now()
    found = _find(node, endorsement_id, last_name, as_of or moment.date())
    if found is None:
        raise HTTPException(404, _NOT_FOUND)
    try:
        proof = build_status_proof(node, found[0], moment)
    except ProofUnavailable as e:
        return _unavailable(e)
    return Response(encode_status_proof(proof), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@router.get("/v1/receipts", responses={
    200: {"content": {"application/json": {}},
          "description": "a signed verification receipt (attachment); check it with "
                         "`alliance verify-receipt FILE --genesis GENESIS`"}, **_RESPONSES})
def receipt(request: Request, endorsement_id: EndorsementId, last_name: LastName,
            on: OnDate = None) -> Response:
    """A signed receipt of the verification answer (default: today), to keep as evidence."""
    node: Node = request.app.state.node
    moment = now()
    found = _find(node, endorsement_id, last_name, on or moment.date())
    if found is None:
        raise HTTPException(404, _NOT_FOUND)
    try:
        signed = make_receipt(node, found[0], found[1], moment)
    except ProofUnavailable as e:
        return _unavailable(e)
    return Response(encode_receipt(signed), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename(signed)}"',
                             "Cache-Control": "no-store"})


@router.get("/receipts/view", response_class=HTMLResponse, include_in_schema=False)
def receipt_view(request: Request, endorsement_id: EndorsementId,
                 last_name: LastName) -> HTMLResponse:
    """A printable page of a fresh receipt of today's answer."""
    node: Node = request.app.state.node
    moment = now()
    found = _find(node, endorsement_id, last_name, moment.date())
    if found is None:
        return render("receipt_message.html", status=404, title="Not found",
                      message="No endorsement matches that id and last name.")
    try:
        signed = make_receipt(node, found[0], found[1], moment)
    except ProofUnavailable as e:
        return render("receipt_message.html", status=409, headers={"Retry-After": "30"},
                      title="Receipt not available yet", message=str(e))
    download = "/v1/receipts?" + urlencode({"endorsement_id": endorsement_id,
                                           "last_name": last_name})
    return render_view(signed, check_own(signed), download,
                       lambda association: association_name(request, association))

