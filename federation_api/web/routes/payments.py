"""The payment provider's callback: `POST /v1/payments/callback`.

Open to the network, like any provider webhook, and trusted only through its signature: the
`Alliance-Payment-Signature` header must sign the exact body with the provider's secret at a
recent time, and the body must name a payment of this node with its exact amount and
currency (`fees.payments.Payments.apply_callback`). Anything else is 422 (rule
`payment.callback`) and writes nothing; a repeat of an event applied before is 200
`{"applied": false}` and changes nothing, so the provider's retries are harmless. The
refusal is logged by reason, never with the body.

A paid application's fee then goes into its evidence on the ledger (`web/fee_evidence`,
actor `system`), also on a repeat: a callback the provider retries because the node stopped
after the payment's commit brings the evidence up to date.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from federation_api.accounts.audit_log import SYSTEM
from federation_api.clock import now
from federation_api.fees.errors import CallbackRefused
from federation_api.fees.payments import CallbackResult
from federation_api.fees.provider import MAX_CALLBACK_BYTES, SIGNATURE_HEADER
from federation_api.node.root import Node
from federation_api.web.audited import client_of
from federation_api.web.auth import GatedRoute
from federation_api.web.errors import error_body
from federation_api.web.fee_evidence import record_paid
from federation_api.web.schemas import errors

router = APIRouter(route_class=GatedRoute)
log = logging.getLogger("alliance.payments")


def _apply(node: Node, body: bytes, signature: str) -> CallbackResult:
    with node.fees.db.transaction() as cur:
        return node.payments.apply_callback(cur, body, signature, now=now())


@router.post("/v1/payments/callback", tags=["payments"], responses=errors(422),
             openapi_extra={"requestBody": {"content": {"application/json": {}}}})
async def payment_callback(request: Request) -> JSONResponse:
    """The provider says a payment was made or failed (signed; see the module docs)."""
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        return JSONResponse(error_body("callback_refused", "the callback is too large",
                                       rule="payment.callback"), status_code=422)
    try:
        result = await run_in_threadpool(_apply, request.app.state.node, body,
                                         request.headers.get(SIGNATURE_HEADER, ""))
    except CallbackRefused as e:
        log.warning("payment callback refused: %s", e)
        return JSONResponse(error_body("callback_refused", str(e), rule="payment.callback"),
                            status_code=422)
    await run_in_threadpool(record_paid, request.app.state.node, result.payment, actor=SYSTEM,
                            client=client_of(request), now=now())
    return JSONResponse({"payment_id": result.payment.payment_id,
                         "state": result.payment.state.value, "applied": result.applied})
