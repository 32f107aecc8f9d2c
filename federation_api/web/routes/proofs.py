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
can list anyone, with or without a token.

A proof needs a signed checkpoint covering each entry behind the answer. For its own ledger
the node signs one on the spot (and has it published to the witnesses at once, so their
cosignatures follow within moments; until they arrive the receipt says the checkpoint is not
witnessed yet). For a peer's entries only the peer can sign, so the node asks it over NATS
(`checkpoint-wanted`) and waits up to `PEER_CHECKPOINT_WAIT` seconds for the checkpoint to
arrive and be witnessed here; a node without replication, or a peer that does not answer in
time, gets 409 `proof_unavailable` with `Retry-After` rather than a proof that will not
verify. The pages never send a browser to those JSON answers: their "Download receipt" link
is `/receipts/download`, which gives the same file or a plain-language page saying why not.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param

from federation_api.accounts.tokens import Principal, Role
from federation_api.clock import now
from federation_api.node.root import Node
from federation_api.proofs.receipts import check_own, filename, make_receipt
from federation_api.proofs.status import (
    CheckpointWanted,
    ProofUnavailable,
    build_status_proof,
    checkpoint_size,
    covered,
)
from federation_api.replication.checkpoint_gossip import CheckpointGossip
from federation_api.web.auth import STAFF, GatedRoute, require
from federation_api.web.errors import error_body
from federation_api.web.lookup import EndorsementId, LastName, lookup
from federation_api.web.pages.receipts import render_view
from federation_api.web.pages.templating import association_name, render
from federation_api.web.schemas import EARLIEST, LATEST, errors
from ledger.proofs.receipts import ReceiptKind, SignedReceipt, encode_receipt
from ledger.proofs.status import StatusProof, encode_status_proof
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


PEER_CHECKPOINT_WAIT = 5.0  # seconds a request waits for a peer's checkpoint it asked for
MAX_WAITING = 8  # requests waiting at once; the rest answer 409 at once (worker threads)
_POLL = 0.05
_ASK_AGAIN = 1.0  # a want may be lost (core NATS): ask again this often while waiting
_T = TypeVar("_T", StatusProof, SignedReceipt)


def _retry_after(request: Request) -> str:
    """Seconds until a checkpoint will have come by itself: the gossip interval."""
    gossip = _gossip(request)
    seconds = (gossip.interval if gossip is not None
               else request.app.state.node.settings.checkpoint_seconds)
    return str(max(1, round(seconds)))


def _unavailable(request: Request, e: ProofUnavailable) -> JSONResponse:
    return JSONResponse(error_body("proof_unavailable", str(e), rule="proof.unavailable"),
                        status_code=409, headers={"Retry-After": _retry_after(request)})


def _gossip(request: Request) -> CheckpointGossip | None:
    replicator = request.app.state.replicator
    gossip: CheckpointGossip | None = None if replicator is None else replicator.checkpoints
    return gossip


class _Waits:
    """Who may wait for a peer's checkpoint: at most `MAX_WAITING` requests at once, and none
    for a peer that let one wait in vain within the last checkpoint interval (it is offline
    or cut off; its periodic checkpoint will come when it is back). Each waiting request
    holds a worker thread, so an unanswering peer must not tie them all up."""

    def __init__(self) -> None:
        self.slots = threading.BoundedSemaphore(MAX_WAITING)
        self.unanswered: dict[str, float] = {}  # association -> monotonic time of a timeout
        self.lock = threading.Lock()

    def may_wait(self, association: str, interval: float) -> bool:
        with self.lock:
            since = self.unanswered.get(association)
            return since is None or time.monotonic() - since >= interval

    def timed_out(self, association: str) -> None:
        with self.lock:
            self.unanswered[association] = time.monotonic()


def _waits(request: Request) -> _Waits:
    state = request.app.state
    with _WAITS_LOCK:
        if not hasattr(state, "checkpoint_waits"):
            state.checkpoint_waits = _Waits()
    waits: _Waits = state.checkpoint_waits
    return waits


_WAITS_LOCK = threading.Lock()


def proven(request: Request, make: Callable[[], _T]) -> _T:
    """`make()` a proof or receipt. When it needs a peer's checkpoint that has not arrived,
    ask that peer for one and try again as soon as it is here, for at most
    `PEER_CHECKPOINT_WAIT` seconds; then let `ProofUnavailable` through. Runs in a worker
    thread (the routes are plain functions), so waiting blocks no event loop."""
    node: Node = request.app.state.node
    gossip = _gossip(request)
    deadline = time.monotonic() + PEER_CHECKPOINT_WAIT
    own_before = checkpoint_size(node, node.association)
    while True:
        try:
            made = make()
        except CheckpointWanted as e:
            waits = _waits(request)
            if gossip is None or time.monotonic() >= deadline or not waits.may_wait(
                    e.association, gossip.interval) or not waits.slots.acquire(blocking=False):
                raise
            try:
                asked = float("-inf")
                while not covered(node, e.association, e.seq) and time.monotonic() < deadline:
                    if time.monotonic() - asked >= _ASK_AGAIN:
                        gossip.want_checkpoint(e.association)
                        asked = time.monotonic()
                    time.sleep(_POLL)
                if not covered(node, e.association, e.seq):
                    waits.timed_out(e.association)
            finally:
                waits.slots.release()
            continue
        if gossip is not None and checkpoint_size(node, node.association) > own_before:
            gossip.publish_soon()  # signed for this request: let the witnesses cosign it now
        return made


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
        proof = proven(request, lambda: build_status_proof(node, found[0], moment))
    except ProofUnavailable as e:
        return _unavailable(request, e)
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
        signed = proven(request, lambda: make_receipt(node, found[0], found[1], moment, kind))
    except ProofUnavailable as e:
        return _unavailable(request, e)
    return _download(signed)


def _download(signed: SignedReceipt) -> Response:
    return Response(encode_receipt(signed), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename(signed)}"',
                             "Cache-Control": "no-store"})


def _page_receipt(request: Request, endorsement_id: str,
                  last_name: str) -> SignedReceipt | HTMLResponse:
    """A fresh public receipt of today's answer for the pages, or the page saying in plain
    words why there is none (never a JSON error: a person clicked a link)."""
    node: Node = request.app.state.node
    moment = now()
    query = urlencode({"endorsement_id": endorsement_id, "last_name": last_name})
    back = "/verify?" + urlencode({"by": "id", "endorsement_id": endorsement_id,
                                   "last_name": last_name})
    found = _find(node, endorsement_id, last_name, moment.date())
    if found is None:
        return render("receipt_message.html", status=404, title="Not found",
                      message="No endorsement matches that id and last name.", detail="",
                      retry_url="", back_url="/")
    try:
        return proven(request, lambda: make_receipt(node, found[0], found[1], moment,
                                                    ReceiptKind.PUBLIC))
    except ProofUnavailable as e:
        if node.registry is None:
            return render("receipt_message.html", status=409, title="No receipts from this node",
                          message="This node is not part of the Alliance trust registry, so it "
                                  "cannot sign a receipt that anyone could check. The "
                                  "verification result is still its answer.",
                          detail="", retry_url="", back_url=back)
        wait = _retry_after(request)
        if isinstance(e, CheckpointWanted):
            message = (f"The answer rests on {association_name(request, e.association)}'s "
                       f"ledger, and this node has not yet received a signed checkpoint of "
                       f"that ledger covering its latest entry. One normally arrives within "
                       f"{wait} seconds: try again shortly.")
        else:
            message = ("Part of the record this answer rests on has not reached this node yet, "
                       f"so it cannot sign a receipt that would check out. Try again in "
                       f"{wait} seconds or so.")
        return render("receipt_message.html", status=409, headers={"Retry-After": wait},
                      title="Receipt not ready yet", message=message, detail=str(e),
                      retry_url=f"{request.url.path}?{query}", back_url=back)


@router.get("/receipts/view", response_class=HTMLResponse, include_in_schema=False)
def receipt_view(request: Request, endorsement_id: EndorsementId,
                 last_name: LastName) -> HTMLResponse:
    """A printable page of a fresh public receipt of today's answer."""
    signed = _page_receipt(request, endorsement_id, last_name)
    if isinstance(signed, HTMLResponse):
        return signed
    download = "/receipts/download?" + urlencode({"endorsement_id": endorsement_id,
                                                 "last_name": last_name})
    return render_view(signed, check_own(signed), download,
                       lambda association: association_name(request, association))


@router.get("/receipts/download", include_in_schema=False, response_model=None)
def receipt_download(request: Request, endorsement_id: EndorsementId,
                     last_name: LastName) -> Response:
    """The pages' "Download receipt": the public receipt file (as `GET /v1/receipts` gives
    it), or, when none can be made yet, a page that says why instead of a failed download."""
    signed = _page_receipt(request, endorsement_id, last_name)
    return signed if isinstance(signed, HTMLResponse) else _download(signed)
