"""Federation endpoints for auditors: peers, quarantine, fork evidence (conflicting entries
and conflicting checkpoints) and its resolution.

Auditor tokens only, like the ledger routes: fork evidence carries signed entries (person
ids, dates, reasons), and the rest is the state of the federation that an audit judges.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from federation_api.accounts.tokens import Principal, Role
from federation_api.clock import now
from federation_api.web.auth import GatedRoute, require
from federation_api.web.schemas import errors

router = APIRouter(prefix="/v1/federation", tags=["federation"], route_class=GatedRoute,
                   responses=errors(401, 403, 422))
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
    """Evidence of a fork: conflicting entries for one (association, seq) (`kind` "entry"),
    or conflicting signed checkpoints (`kind` "checkpoint": `seq` is the tree size, `notes`
    holds the refused note and the conflicting one held here, if any, as C2SP note text)."""

    seq: int
    stored_entry_hash: str
    conflicting_wire: str
    kind: str = "entry"
    notes: list[str] = Field(default_factory=list)
    replica_root: str = ""
    detail: str = ""


class ResolutionIn(BaseModel):
    """How the Alliance resolved a fork (the evidence is kept)."""

    resolution: str = Field(min_length=1, max_length=2000)


@router.get("/peers", response_model=list[PeerOut])
def peers(request: Request, _: Auditor) -> list[PeerOut]:
    """Every ledger this node holds: head, projected position, fork flag, registry state."""
    node = request.app.state.node
    forked = node.forked_associations()
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
def quarantine(request: Request, _: Auditor) -> list[QuarantineOut]:
    """The most recent refused entries with the reason (never applied to any projection)."""
    return [QuarantineOut(association=r.association, seq=r.seq, reason=r.reason,
                          source=r.source, received_at=r.received_at)
            for r in request.app.state.node.ingestor.quarantined()]


@router.get("/forks/{association}", response_model=list[ForkOut])
def forks(request: Request, association: AssociationId, _: Auditor) -> list[ForkOut]:
    """Fork evidence: the stored entry's hash and the conflicting entry's signed bytes, and
    the conflicting checkpoint notes that witnesses refused."""
    node = request.app.state.node
    entries = [ForkOut(seq=seq, stored_entry_hash=stored.hex(),
                       conflicting_wire=base64.b64encode(wire).decode())
               for seq, stored, wire in node.ingestor.fork_evidence(association)]
    return entries + [
        ForkOut(seq=r.size, stored_entry_hash="", conflicting_wire="", kind="checkpoint",
                notes=[n.decode("utf-8", "replace") for n in (r.note, r.other_note) if n],
                replica_root=r.other_root.hex(), detail=r.detail)
        for r in node.witness.refusals(association) if r.fork]


@router.post("/forks/{association}/resolution")
def resolve(request: Request, association: AssociationId, body: ResolutionIn,
            _: Auditor) -> dict[str, int]:
    """Record the Alliance's resolution; the association is no longer flagged."""
    node = request.app.state.node
    return {"resolved": node.ingestor.resolve_forks(association, body.resolution, now())
            + node.witness.resolve_forks(association, body.resolution, now())}
