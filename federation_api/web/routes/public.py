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
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from domain.levels import Level
from federation_api.clock import today
from federation_api.node.root import Node
from federation_api.web.auth import GatedRoute
from federation_api.web.errors import error_body
from federation_api.web.schemas import EARLIEST, LATEST, ErrorOut, ReadyOut, VerifyOut, errors
from projections.queries import fold_name

router = APIRouter(route_class=GatedRoute)

_NOT_FOUND = "no endorsement matches that id and last name"
GENESIS_PATH = "/v1/alliance/genesis.json"
EndorsementId = Annotated[str, Query(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9-]+$",
                                     description="The endorsement id, e.g. AK-7Q4M2XKD")]
LastName = Annotated[str, Query(min_length=1, max_length=100, description="Family name")]
# The public paths are rate limited per client address (federation_api/rate_limits.py).
PUBLIC_ERRORS = errors(404, 422, 429)


def lookup(node: Node, endorsement_id: str, last_name: str, on: dt.date,
           forked: Mapping[str, int] | None = None) -> VerifyOut | None:
    """The public answer for an id and last name on `on`, or None when they do not match
    (whichever was wrong). `forked` lets a caller answering many rows read the flags once."""
    answer = node.projector.status_as_of(endorsement_id.upper(), on)
    if answer is None or fold_name(answer.family_name) != fold_name(last_name):
        return None
    level = Level(answer.level)
    warnings = []
    if answer.association in (node.forked_associations() if forked is None else forked):
        warnings.append(f"{answer.association}'s ledger is flagged: it signed conflicting "
                        f"entries or checkpoints (a fork) and the Alliance has not resolved "
                        f"it yet")
    return VerifyOut(name=f"{answer.given_name} {answer.family_name}", level=level,
                     level_title=level.title, designation=answer.designation,
                     association=answer.association, status=answer.standing,
                     valid_through=answer.valid_through, as_of=on, warnings=warnings)


def _answer(request: Request, endorsement_id: str, last_name: str, on: dt.date) -> VerifyOut:
    found = lookup(request.app.state.node, endorsement_id, last_name, on)
    if found is None:
        raise HTTPException(404, _NOT_FOUND)
    return found


def _json(answer: VerifyOut) -> Response:
    # The answer is a VerifyOut already (validated when built); serialising it directly skips
    # FastAPI's second validation and encoding pass of the response model (public_api_bench).
    return Response(answer.model_dump_json(), media_type="application/json")


def verify(request: Request, endorsement_id: str, last_name: str) -> VerifyOut:
    """Today's public answer (raises the one 404); the pages call it too."""
    return _answer(request, endorsement_id, last_name, today())


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


def granted_after(node: Node, endorsement_id: str, last_name: str, on: dt.date) -> bool:
    """Whether the id and last name match an endorsement that did not exist yet on `on`.

    Saying so reveals nothing beyond what a match already does: the same id and name asked
    for any later date answer with the endorsement, and that 200-or-404 split by date was
    always visible. A wrong id or last name stays the one undifferentiated miss."""
    row = node.projector.endorsement(endorsement_id.upper())
    return (row is not None and fold_name(row.family_name) == fold_name(last_name)
            and node.projector.status_as_of(row.endorsement_id, on) is None)


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
        raise HTTPException(404, _NOT_FOUND)
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
    rendered: Response = m.render()
    return rendered
