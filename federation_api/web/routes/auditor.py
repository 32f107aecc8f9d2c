"""Auditor endpoints: raw signed ledger entries by association and seq range, checkpoints
with their witnesses' cosignatures, witness refusals, and Merkle proofs.

Auditor tokens only. The entries' signed bytes hold person ids, legacy references, grant
dates and status reasons, which the workflow roles do not need in bulk; the rest (heads, keys,
registry, checkpoints, proofs) is what an audit reads alongside them, so one role reads it
all. A public verifier needs none of it over HTTP: a public receipt already carries the
registry and the checkpoint notes its answer rests on, and witnesses receive checkpoints over
NATS. A checkpoint request can make the node sign a new one, which is one more reason not to
offer it to anonymous callers.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from domain.errors import InvalidCommand
from federation_api.accounts.tokens import Principal, Role
from federation_api.clock import now
from federation_api.web.auth import GatedRoute, require
from federation_api.web.schemas import MAX_SEQ, errors
from ledger.chain.entries import entry_hash
from ledger.codec import decode_body, decode_signed
from ledger.errors import NotFound
from ledger.transparency.checkpoints import parse_body
from ledger.transparency.cosigners import verified_cosigners
from ledger.transparency.notes import parse_note

router = APIRouter(prefix="/v1/ledger", tags=["auditors"], route_class=GatedRoute,
                   responses=errors(401, 403, 422))
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
Seq = Annotated[int, Query(ge=1, le=MAX_SEQ)]
OptionalSeq = Annotated[int | None, Query(ge=1, le=MAX_SEQ)]
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
            first: Annotated[int, Query(alias="from", ge=1, le=MAX_SEQ)] = 1,
            last: Annotated[int | None, Query(alias="to", ge=1, le=MAX_SEQ)] = None
            ) -> EntriesOut:
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


class RegistryOut(BaseModel):
    """The trust registry as the node holds it: genesis JSON and entries (base64 wire)."""

    genesis: str
    entries: list[str]


@router.get("/registry", response_model=RegistryOut, responses=errors(404))
def registry(request: Request, _: Auditor) -> RegistryOut:
    """The registry, for auditors to verify from a genesis they trust (404 on a node that
    never joined an Alliance: see /keys)."""
    files = request.app.state.node.registry_dir
    if not files.exists():
        raise NotFound("this node has no Alliance registry")
    return RegistryOut(genesis=files.genesis_path.read_text(),
                       entries=[base64.b64encode(w).decode() for w in files.entries()])


class HeadsOut(BaseModel):
    """Every ledger held here with its head seq, and the projection digest with the seq of
    each ledger that the digest covers."""

    heads: dict[str, int]
    projected: dict[str, int]
    digest: str


@router.get("/heads", response_model=HeadsOut)
def heads(request: Request, _: Auditor) -> HeadsOut:
    """What an auditor fetches first: which ledgers to read, how far, and the digest that
    replaying them must reproduce (equal when `projected` equals `heads`)."""
    node = request.app.state.node
    found = {a: (node.ledger.head(a) or (0, b""))[0] for a in node.ledger.associations()}
    digest = node.projector.digest()
    return HeadsOut(heads=found, projected=node.projector.positions(), digest=digest)


class CosignatureOut(BaseModel):
    """One witness's verified cosignature on the checkpoint (POSIX seconds)."""

    witness: str
    timestamp: int


class CheckpointsOut(BaseModel):
    """The latest checkpoint held here with every valid cosignature collected for it, and
    the latest one cosigned by the registry's witness quorum (C2SP notes as text)."""

    association: str
    origin: str
    size: int
    root_hash: str
    note: str
    witnesses: list[str]
    cosignatures: list[CosignatureOut]
    quorum: int
    witnessed: bool
    witnessed_size: int | None
    witnessed_note: str | None
    pending_sizes: list[int]


class RefusalOut(BaseModel):
    """A checkpoint this node refused to cosign, kept as evidence."""

    association: str
    size: int
    reason: str
    detail: str
    fork: bool
    received_at: str
    resolved_at: str | None
    note_base64: str
    conflicting_note_base64: str
    replica_root: str


def _publish_soon(request: Request) -> None:
    # Signed on demand: publish it to the witnesses now, not at the next interval.
    replicator = request.app.state.replicator
    if replicator is not None and replicator.checkpoints is not None:
        replicator.checkpoints.publish_soon()


@router.get("/{association}/checkpoints", response_model=CheckpointsOut,
            responses=errors(404))
def checkpoints(request: Request, association: AssociationId, _: Auditor) -> CheckpointsOut:
    """The latest checkpoint with its witnesses' cosignatures, whether the registry's quorum
    of distinct witnesses (never the origin) cosigned it, and the latest one that is."""
    node = request.app.state.node
    if association == node.association:
        node.log.sign_checkpoint(association, node.signer, now())
        _publish_soon(request)
    note = node.log.latest_checkpoint(association)
    if note is None:
        raise NotFound(f"no checkpoint of {association} here")
    body = parse_body(parse_note(note).text)
    registry = node.registry
    cosigners = verified_cosigners(note, registry) if registry is not None else {}
    quorum = registry.witness_quorum if registry is not None else 0
    witnessed_note = node.log.latest_witnessed_checkpoint(association)
    witnessed_size = (parse_body(parse_note(witnessed_note).text).size
                      if witnessed_note is not None else None)
    return CheckpointsOut(
        association=association, origin=body.origin, size=body.size,
        root_hash=body.root_hash.hex(), note=note.decode(), witnesses=sorted(cosigners),
        cosignatures=[CosignatureOut(witness=w, timestamp=t)
                      for w, t in sorted(cosigners.items())],
        quorum=quorum, witnessed=witnessed_size == body.size,
        witnessed_size=witnessed_size,
        witnessed_note=witnessed_note.decode() if witnessed_note is not None else None,
        pending_sizes=node.witness.pending(association))


@router.get("/{association}/witness-refusals", response_model=list[RefusalOut])
def witness_refusals(request: Request, association: AssociationId, _: Auditor
                     ) -> list[RefusalOut]:
    """Checkpoints of `association` this node refused to cosign, newest first: the note as
    received, the reason, and for a fork the conflicting note or this node's replica root."""
    return [RefusalOut(association=r.association, size=r.size, reason=r.reason,
                       detail=r.detail, fork=r.fork, received_at=r.received_at,
                       resolved_at=r.resolved_at,
                       note_base64=base64.b64encode(r.note).decode(),
                       conflicting_note_base64=base64.b64encode(r.other_note).decode(),
                       replica_root=r.other_root.hex())
            for r in request.app.state.node.witness.refusals(association)]


class InclusionOut(BaseModel):
    """Entry `seq` is leaf `seq - 1` of the tree of `size` entries whose root is `root`."""

    association: str
    seq: int
    size: int
    leaf_hash: str
    root: str
    proof: list[str]


class ConsistencyOut(BaseModel):
    """The tree of `from_size` entries is a prefix of the tree of `to_size` entries."""

    association: str
    from_size: int
    to_size: int
    from_root: str
    to_root: str
    proof: list[str]


def _size(request: Request, association: str, size: int | None) -> int:
    head = request.app.state.node.ledger.head(association)
    top = head[0] if head else 0
    if size is None:
        return top
    if not 1 <= size <= top:
        raise InvalidCommand(f"size must be in 1..{top}", field="size", rule="proof.size")
    return size


# response_class=Response: the 200 is the note as text/plain, the errors stay JSON (with
# PlainTextResponse as the class, FastAPI would document the error bodies as text/plain).
@router.get("/{association}/checkpoint", response_class=Response, responses={
    200: {"description": "the signed checkpoint, a C2SP note",
          "content": {"text/plain": {"schema": {"type": "string"}}}},
    **errors(404)})
def checkpoint(request: Request, association: AssociationId, _: Auditor) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP note); for this node's own ledger, signed now if
    the ledger grew since the last one."""
    node = request.app.state.node
    if association == node.association:
        note = node.log.sign_checkpoint(association, node.signer, now())
        _publish_soon(request)
    else:
        note = node.log.latest_checkpoint(association)
    if note is None:
        raise NotFound(f"no checkpoint of {association} here")
    return PlainTextResponse(note.decode(), media_type="text/plain; charset=utf-8")


@router.get("/{association}/proofs/inclusion", response_model=InclusionOut)
def inclusion(request: Request, association: AssociationId, _: Auditor,
              seq: Seq, size: OptionalSeq = None) -> InclusionOut:
    """Inclusion proof of one entry in the tree of `size` entries (default: all)."""
    log = request.app.state.node.log
    tree_size = _size(request, association, size)
    if seq > tree_size:
        raise InvalidCommand(f"seq must be in 1..{tree_size}", field="seq", rule="proof.seq")
    leaves = log.leaf_hashes(association, tree_size)
    return InclusionOut(association=association, seq=seq, size=tree_size,
                        leaf_hash=leaves[seq - 1].hex(),
                        root=log.root(association, tree_size)[1].hex(),
                        proof=[h.hex() for h in log.inclusion(association, seq, tree_size)])


@router.get("/{association}/proofs/consistency", response_model=ConsistencyOut)
def consistency(request: Request, association: AssociationId, _: Auditor,
                first: Annotated[int, Query(alias="from", ge=1, le=MAX_SEQ)],
                last: Annotated[int | None, Query(alias="to", ge=1, le=MAX_SEQ)] = None
                ) -> ConsistencyOut:
    """Consistency proof between two sizes of one ledger."""
    log = request.app.state.node.log
    to_size = _size(request, association, last)
    if first > to_size:
        raise InvalidCommand(f"from must be in 1..{to_size}", field="from", rule="proof.size")
    return ConsistencyOut(association=association, from_size=first, to_size=to_size,
                          from_root=log.root(association, first)[1].hex(),
                          to_root=log.root(association, to_size)[1].hex(),
                          proof=[h.hex() for h in log.consistency(association, first, to_size)])
