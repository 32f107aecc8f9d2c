"""Public endpoints: verification by endorsement id and last name, the Alliance genesis,
health, metrics.

No listing or search of people: an answer needs both the id and the matching last name, and a
miss is one 404 that does not say which of the two was wrong.

`GET /v1/alliance/genesis.json` hands out the root of trust that `alliance verify-receipt`,
`verify-proof` and `audit` must be given (`--genesis`): every node serves the Alliance's
genesis file as it holds it, so an employer can fetch it from the node they already use. A
copy from the node being checked proves nothing by itself, which is why the README says to
compare its digest with the one the Alliance publishes, out of band, before pinning it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from federation_api.clock import now
from federation_api.node.root import Node
from federation_api.web.auth import GatedRoute
from federation_api.web.errors import error_body
from federation_api.web.lookup import (
    NOT_FOUND,
    EndorsementId,
    LastName,
    granted_after,
    lookup,
    verify,
)
from federation_api.web.schemas import EARLIEST, LATEST, ErrorOut, ReadyOut, VerifyOut, errors
from federation_api.web.urls import GENESIS_PATH

router = APIRouter(route_class=GatedRoute)

# The public paths are rate limited per client address (federation_api/web/rate_limits.py).
PUBLIC_ERRORS = errors(404, 422, 429)


def _json(answer: VerifyOut) -> Response:
    # The answer is a VerifyOut already (validated when built); serialising it directly skips
    # FastAPI's second validation and encoding pass of the response model (public_api_bench).
    return Response(answer.model_dump_json(), media_type="application/json")


# The two lookups run on the event loop, not in the thread pool: each is one indexed read of
# ~30 us, while a hop to a worker thread and back costs several times that and, under load,
# waits for the interpreter lock (public_api_bench). The price: a lookup waits on the event
# loop while a projection batch holds the projections database, which is milliseconds for a
# node's own commands and up to one batch during a large replication catch-up.
@router.get("/v1/verify", response_model=VerifyOut, tags=["public"], name="verify",
            responses=PUBLIC_ERRORS)
async def verify_route(request: Request, endorsement_id: EndorsementId,
                       last_name: LastName) -> Response:
    """Is this endorsement current today? Public fields only."""
    return _json(verify(request, endorsement_id, last_name))


@router.get("/v1/status", response_model=VerifyOut, tags=["public"], responses={
    **PUBLIC_ERRORS,
    404: {"model": ErrorOut, "description": "no endorsement matches that id and last name "
                                            "(code `not_found`), or it matches one that was "
                                            "granted after that date (code `not_yet_granted`)"}})
async def status_on(request: Request, endorsement_id: EndorsementId, last_name: LastName,
                    on: Annotated[dt.date, Query(
                        ge=EARLIEST, le=LATEST, description=f"The date to answer for, from "
                        f"{EARLIEST.isoformat()} to {LATEST.isoformat()}")]) -> Response:
    """What was this endorsement's status on a given date? (e.g. when RS/C hours were given)"""
    node: Node = request.app.state.node
    found = lookup(node, endorsement_id, last_name, on)
    if found is None and granted_after(node, endorsement_id, last_name, on):
        message = (f"endorsement {endorsement_id.upper()} was not yet granted (or recognised by "
                   f"its association) on {on.isoformat()}")
        return JSONResponse(error_body("not_yet_granted", message, field="on",
                                       rule="status.not_yet_granted"), status_code=404)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    return _json(found)


@router.get(GENESIS_PATH, tags=["public"], responses={
    200: {"content": {"application/json": {}},
          "description": "the Alliance trust registry's genesis file (JSON), to pin with "
                         "`alliance verify-receipt FILE --genesis genesis.json` after comparing "
                         "its digest with the one the Alliance publishes"},
    404: {"model": ErrorOut, "description": "this node holds no Alliance trust registry"}})
def alliance_genesis(request: Request) -> Response:
    """The genesis of the Alliance trust registry this node verifies everything against."""
    node: Node = request.app.state.node
    if not node.registry_dir.exists():
        raise HTTPException(404, "this node holds no Alliance trust registry")
    return Response(node.registry_dir.genesis_path.read_bytes(), media_type="application/json",
                    headers={"Content-Disposition": 'inline; filename="genesis.json"',
                             "Cache-Control": "public, max-age=3600"})


@router.get("/healthz", tags=["operations"])
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"], response_model=ReadyOut, responses={503: {
    "model": ReadyOut, "description": "catching up: the projections are behind the ledger"}})
def ready(request: Request, response: Response) -> ReadyOut:
    """Readiness: the stores answer and the projections have caught up with the ledger."""
    node = request.app.state.node
    head = node.ledger.head(node.association)
    projected = node.projector.position(node.association)
    sealed = head[0] if head else 0
    ok = projected >= sealed
    if not ok:
        response.status_code = 503
    return ReadyOut(status="ready" if ok else "catching_up", ledger_seq=sealed,
                    projected_seq=projected)


@router.get("/metrics", tags=["operations"], include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    node = request.app.state.node
    m = request.app.state.metrics
    for association in node.ledger.associations():
        head = node.ledger.head(association)
        m.ledger_head.labels(association).set(head[0] if head else 0)
        m.projected.labels(association).set(node.projector.position(association))
    m.quarantined.set(node.ingestor.quarantine_count())
    m.forked.set(len(node.forked_associations()))
    m.gauges.observe(node, now=now(), replicating=request.app.state.replicator is not None,
                     tls_not_after=request.app.state.tls_not_after)
    rendered: Response = m.render()
    return rendered
