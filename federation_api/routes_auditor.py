"""Auditor endpoints: raw signed ledger entries by association and seq range."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from federation_api.auth import require
from federation_api.schemas import ErrorOut
from federation_api.tokens import Principal, Role
from ledger.codec import decode_body, decode_signed
from ledger.entries import entry_hash

router = APIRouter(prefix="/v1/ledger", tags=["auditors"],
                   responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                              422: {"model": ErrorOut}})
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR, Role.COORDINATOR))]
AssociationId = Annotated[str, Path(pattern=r"^[A-Z]{2,8}$")]
MAX_RANGE = 1000


class EntryOut(BaseModel):
    """One entry: the exact signed wire bytes (base64) and, for reading, its header fields."""

    association: str
    seq: int
    entry_hash: str
    event_type: str
    recorded_at: str
    key_id: str
    wire: str


class EntriesOut(BaseModel):
    """A page of entries; `next_seq` continues the listing."""

    association: str
    head_seq: int
    entries: list[EntryOut]
    next_seq: int | None


@router.get("/{association}/entries", response_model=EntriesOut)
def entries(request: Request, association: AssociationId, _: Auditor,
            first: Annotated[int, Query(alias="from", ge=1)] = 1,
            last: Annotated[int | None, Query(alias="to", ge=1)] = None) -> EntriesOut:
    """Entries `from`..`to` (at most 1000 per call). Verify the wire bytes yourself."""
    node = request.app.state.node
    head = node.ledger.head(association)
    head_seq = head[0] if head else 0
    stop = min(last or head_seq, first + MAX_RANGE - 1, head_seq)
    out: list[EntryOut] = []
    for wire in node.ledger.wires(association, first, stop) if stop >= first else ():
        signed = decode_signed(wire)
        body = decode_body(signed.body)
        out.append(EntryOut(association=body.association, seq=body.seq,
                            entry_hash=entry_hash(signed.body).hex(),
                            event_type=body.event_type, recorded_at=body.recorded_at.isoformat(),
                            key_id=body.key_id, wire=base64.b64encode(wire).decode()))
    more = stop < min(last or head_seq, head_seq)
    return EntriesOut(association=association, head_seq=head_seq, entries=out,
                      next_seq=stop + 1 if more else None)


class KeyOut(BaseModel):
    """A public key and its validity window."""

    association: str
    key_id: str
    public_key: str
    valid_from: str
    valid_until: str | None


@router.get("/keys", response_model=list[KeyOut])
def keys(request: Request, _: Auditor) -> list[KeyOut]:
    """The keyring: which key may sign for which association, when."""
    return [KeyOut(association=k.association, key_id=k.key_id, public_key=k.public_key.hex(),
                   valid_from=k.valid_from.isoformat(),
                   valid_until=k.valid_until.isoformat() if k.valid_until else None)
            for k in request.app.state.node.keyring.keys]
