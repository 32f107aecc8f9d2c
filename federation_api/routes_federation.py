"""Federation endpoints for auditors and coordinators: peers, quarantine, fork evidence."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from federation_api.auth import require
from federation_api.clock import now
from federation_api.schemas import ErrorOut
from federation_api.tokens import Principal, Role

router = APIRouter(prefix="/v1/federation", tags=["federation"],
                   responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})
Reader = Annotated[Principal, Depends(require(Role.AUDITOR, Role.COORDINATOR))]
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
AssociationId = Annotated[str, Path(pattern=r"^[A-Z]{2,8}$")]


class PeerOut(BaseModel):
    """One association's ledger as this node holds it."""

    association: str
    head_seq: int
    projected_seq: int
    forked: bool
    registry_state: str | None


class QuarantineOut(BaseModel):
    """An entry that was refused."""

    association: str
    seq: int
    reason: str
    source: str
    received_at: str


class ForkOut(BaseModel):
    """Evidence of conflicting entries for one (association, seq)."""

    seq: int
    stored_entry_hash: str
    conflicting_wire: str


class ResolutionIn(BaseModel):
    """How the Alliance resolved a fork (the evidence is kept)."""

    resolution: str = Field(min_length=1, max_length=2000)


@router.get("/peers", response_model=list[PeerOut])
def peers(request: Request, _: Reader) -> list[PeerOut]:
    """Every ledger this node holds: head, projected position, fork flag, registry state."""
    node = request.app.state.node
    forked = node.ingestor.forked()
    known = sorted(set(node.ledger.associations()) | set(node.peers()))
    out = []
    for association in known:
        head = node.ledger.head(association)
        record = node.registry.association(association) if node.registry else None
        out.append(PeerOut(association=association, head_seq=head[0] if head else 0,
                           projected_seq=node.projector.position(association),
                           forked=association in forked,
                           registry_state=record.state.value if record else None))
    return out


@router.get("/quarantine", response_model=list[QuarantineOut])
def quarantine(request: Request, _: Reader) -> list[QuarantineOut]:
    """The most recent refused entries with the reason (never applied to any projection)."""
    return [QuarantineOut(association=r.association, seq=r.seq, reason=r.reason,
                          source=r.source, received_at=r.received_at)
            for r in request.app.state.node.ingestor.quarantined()]


@router.get("/forks/{association}", response_model=list[ForkOut])
def forks(request: Request, association: AssociationId, _: Reader) -> list[ForkOut]:
    """Fork evidence: the stored entry's hash and the conflicting entry's signed bytes."""
    return [ForkOut(seq=seq, stored_entry_hash=stored.hex(),
                    conflicting_wire=base64.b64encode(wire).decode())
            for seq, stored, wire in request.app.state.node.ingestor.fork_evidence(association)]


@router.post("/forks/{association}/resolution")
def resolve(request: Request, association: AssociationId, body: ResolutionIn,
            _: Auditor) -> dict[str, int]:
    """Record the Alliance's resolution; the association is no longer flagged."""
    return {"resolved": request.app.state.node.ingestor.resolve_forks(
        association, body.resolution, now())}
