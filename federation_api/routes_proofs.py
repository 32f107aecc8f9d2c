"""Proofs and receipts: a status proof bundle, a signed receipt, its printable view.

What leaves without a token is the public answer only. A status proof carries the signed
ledger entries behind the answer, whose bytes also hold the person id, legacy reference, grant
date and status reasons: the Alliance shares those among its members (DESIGN.md invariant 7),
so `GET /v1/proofs/status` needs a bearer token of a staff role (an employer's token is
refused, 403). `GET /v1/receipts` gives anyone a public receipt (the answer, signed, with the
registry and the witnessed checkpoints it was based on), a caller with a staff token the full
one (with the status proof), and an employer the public one, which is what everyone may see;
`/receipts/view` shows the public one.

The same rule as `GET /v1/status` besides: an answer needs the endorsement id and the matching
last name, and a miss is one 404 that does not say which was wrong, so none of these endpoints
can list anyone, with or without a token. A node that cannot prove an answer yet (no registry,
or a peer's checkpoint that does not cover the entries) says so with 409 rather than hand out a
proof that will not verify.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param

from federation_api.auth import STAFF, GatedRoute, require
from federation_api.clock import now
from federation_api.http_errors import error_body
from federation_api.node import Node
from federation_api.proofs import ProofUnavailable, build_status_proof
from federation_api.receipts import check_own, filename, make_receipt, render_view
from federation_api.routes_public import EndorsementId, LastName, lookup
from federation_api.schemas import EARLIEST, LATEST, errors
from federation_api.templating import association_name, render
from federation_api.tokens import Principal, Role
from ledger.receipts import ReceiptKind, encode_receipt
from ledger.status_proof import encode_status_proof
from projections.rows import StatusAnswer

router = APIRouter(route_class=GatedRoute)
_staff = require(*STAFF)  # the entries behind an answer are for the Alliance's members
_any_role = require(*Role)  # any token an Alliance association issued
_NOT_FOUND = "no endorsement matches that id and last name"
# Both paths are public paths of the rate limiter (per client address), hence 429.
_RESPONSES: dict[int | str, dict[str, object]] = {
    **errors(404, 422, 429), 409: {**errors(409)[409], "description": "not provable yet"}}
OnDate = Annotated[dt.date | None, Query(
    ge=EARLIEST, le=LATEST, description=f"The date to answer for (default: today), from "
                                        f"{EARLIEST.isoformat()} to {LATEST.isoformat()}")]


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


def _receipt_kind(request: Request) -> ReceiptKind:
    """Full for a caller with a valid staff token; public without a token or with an
    employer's (the public receipt is what anyone may have, the entries are for members). A
    token that is sent but not valid is refused (401) rather than quietly answered with less.
    (The header is read here, not declared as a security dependency, so the OpenAPI document
    can say the token is optional.)"""
    header = request.headers.get("Authorization")
    if not header:
        return ReceiptKind.PUBLIC
    scheme, token = get_authorization_scheme_param(header)
    principal = _any_role(request, HTTPAuthorizationCredentials(scheme=scheme,
                                                                credentials=token))
    return ReceiptKind.FULL if principal.role in STAFF else ReceiptKind.PUBLIC


@router.get("/v1/proofs/status", tags=["proofs"], responses={
    200: {"content": {"application/json": {}},
          "description": "a status proof bundle (alliance-status-proof/v1); check it with "
                         "`alliance verify-proof FILE --genesis GENESIS`"},
    **errors(401, 403), **_RESPONSES})
def status_proof(request: Request, _: Annotated[Principal, Depends(_staff)],
                 endorsement_id: EndorsementId, last_name: LastName,
                 as_of: OnDate = None) -> Response:
    """The entries that decide the endorsement's status on `as_of`, each with its inclusion
    proof under a signed (and, when available, witnessed) checkpoint, the trust registry, and
    the answer: everything to check the answer offline. Needs a bearer token of a staff role,
    since the entries carry more than the public answer; it still needs the matching last
    name, so a token holder cannot list anyone."""
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


@router.get("/v1/receipts", tags=["public"], responses={
    200: {"content": {"application/json": {}},
          "description": "a signed verification receipt (attachment): public without a token, "
                         "full (with the status proof) with a staff token; check it with "
                         "`alliance verify-receipt FILE --genesis GENESIS`"},
    401: {**errors(401)[401], "description": "a bearer token was sent but is not valid"},
    **_RESPONSES}, openapi_extra={"security": [{}, {"HTTPBearer": []}]})  # token optional
def receipt(request: Request, kind: Annotated[ReceiptKind, Depends(_receipt_kind)],
            endorsement_id: EndorsementId, last_name: LastName,
            on: OnDate = None) -> Response:
    """A signed receipt of the verification answer (default: today), to keep as evidence.
    Without a token: the public receipt (public fields, the registry and the witnessed
    checkpoints the answer was based on); the same with an employer's token. With a staff
    token: the full receipt, which adds the status proof (the entries behind the answer)."""
    node: Node = request.app.state.node
    moment = now()
    found = _find(node, endorsement_id, last_name, on or moment.date())
    if found is None:
        raise HTTPException(404, _NOT_FOUND)
    try:
        signed = make_receipt(node, found[0], found[1], moment, kind)
    except ProofUnavailable as e:
        return _unavailable(e)
    return Response(encode_receipt(signed), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename(signed)}"',
                             "Cache-Control": "no-store"})


@router.get("/receipts/view", response_class=HTMLResponse, include_in_schema=False)
def receipt_view(request: Request, endorsement_id: EndorsementId,
                 last_name: LastName) -> HTMLResponse:
    """A printable page of a fresh public receipt of today's answer."""
    node: Node = request.app.state.node
    moment = now()
    found = _find(node, endorsement_id, last_name, moment.date())
    if found is None:
        return render("receipt_message.html", status=404, title="Not found",
                      message="No endorsement matches that id and last name.")
    try:
        signed = make_receipt(node, found[0], found[1], moment, ReceiptKind.PUBLIC)
    except ProofUnavailable as e:
        return render("receipt_message.html", status=409, headers={"Retry-After": "30"},
                      title="Receipt not available yet", message=str(e))
    download = "/v1/receipts?" + urlencode({"endorsement_id": endorsement_id,
                                           "last_name": last_name})
    return render_view(signed, check_own(signed), download,
                       lambda association: association_name(request, association))

