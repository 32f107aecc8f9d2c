"""Public endpoints of the portable credentials: the issuer's DID document, credential
downloads, and the status lists with every recorded version.

- `/.well-known/did.json` (and `/did.json`, where a did:web with a path resolves behind a
  proxy): this node's association only. A did:web names a host, so a node never serves another
  association's document; verifiers fetch each from its own host.
- `/v1/credentials/{endorsement_id}`: the latest credential issued for the endorsement, from
  the replicated ledger, so every node serves the same bytes (the origin signed them).
- `/v1/status-lists/{association}/{purpose}/{n}`: the association's own lists, signed, with
  `?version=N` for any recorded version (what `--as-of` needs). A list of another association
  is referred to its origin (307 to the URL its credentials name): a node signs only its own
  lists, and peers check what the origin serves against the ledger instead of re-serving it.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from domain.credentials import StatusPurpose
from federation_api.accounts.tokens import Principal, Role
from federation_api.clock import now
from federation_api.credentials.http_fetch import http_fetch
from federation_api.credentials.identity import did_document, key_windows
from federation_api.credentials.publisher import CACHE_SECONDS
from federation_api.node.root import Node
from federation_api.web.auth import GatedRoute, require
from federation_api.web.lookup import NOT_FOUND, LastName
from federation_api.web.schemas import errors
from ledger.codec import encode_json
from ledger.transparency.checkpoints import parse_body
from ledger.transparency.notes import parse_note
from projections.queries import fold_name

router = APIRouter(route_class=GatedRoute)
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
CHECK_TIMEOUT_SECONDS = 10.0

CREDENTIAL_MEDIA_TYPE = "application/ld+json"
DID_MEDIA_TYPE = "application/did+json"


class ListVersionOut(BaseModel):
    """One recorded version of a status list."""

    list_version: int
    list_hash: str = Field(description="hex SHA-256 of the list's uncompressed bits")
    set_bits_count: int
    seq: int = Field(description="seq of its StatusListPublished entry in the ledger")
    recorded_at: str
    entry: str = Field(description="the signed ledger entry, base64 of its wire bytes")
    inclusion: list[str] = Field(description="hex RFC 6962 inclusion proof of the entry under "
                                             "`heads.checkpoint`; empty when the entry is "
                                             "beyond it (recorded after that checkpoint)")


class LedgerHeadsOut(BaseModel):
    """What proves the versions under a witnessed checkpoint: the trust registry from its
    genesis, and the association's latest checkpoint held here that the registry's witness
    quorum cosigned (else the latest one, so a verifier can say what it lacks)."""

    genesis: str = Field(description="the Alliance genesis (JSON text)")
    registry: list[str] = Field(description="registry entries, base64 wire bytes, from seq 1")
    checkpoint: str | None = Field(description="a C2SP checkpoint note of the association's "
                                               "ledger with its witnesses' cosignatures")


class ListVersionsOut(BaseModel):
    """A status list's recorded versions, oldest first."""

    association: str
    purpose: str
    list_number: int
    versions: list[ListVersionOut]
    heads: LedgerHeadsOut | None = Field(description="null on a node outside an Alliance "
                                                     "(no trust registry, no witnesses)")


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


@router.get("/.well-known/did.json", tags=["credentials"], name="did_document", responses={
    200: {"content": {DID_MEDIA_TYPE: {}},
          "description": "the association's DID document (did:web), its keys as Multikeys"},
    **errors(404)})
@router.get("/did.json", tags=["credentials"], include_in_schema=False)
def did_document_route(request: Request) -> Response:
    """The DID document of this node's association: every registry key with its window."""
    node = _node(request)
    if node.issuer_identity is None:
        raise HTTPException(404, "this node issues no credentials: it has no public URL "
                                 "(ALLIANCE_PUBLIC_URL) for its did:web to name")
    keys = key_windows(node.association, node.keyring, node.registry_dir)
    document = did_document(node.issuer_identity, keys, now())
    # Keys change only with a registry entry, which restarts nothing here: a short cache.
    return Response(encode_json(document), media_type=DID_MEDIA_TYPE,
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/v1/credentials/{endorsement_id}", tags=["credentials"], name="credential",
            responses={200: {"content": {CREDENTIAL_MEDIA_TYPE: {}},
                             "description": "the signed OpenBadgeCredential (a file)"},
                       **errors(404, 422, 429)})
def credential_route(request: Request, endorsement_id: Annotated[
        str, Path(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9-]+$")],
        last_name: LastName) -> Response:
    """The latest Open Badges 3.0 credential of an endorsement (public registry fields only),
    as a file for a wallet. Like `/v1/verify` it needs the id and the holder's last name, and a
    miss is the one 404 that does not say which was wrong: no credential is handed out by id
    alone, so ids cannot be walked for names."""
    node = _node(request)
    endorsement_id = endorsement_id.upper()
    row = node.projector.endorsement(endorsement_id)
    document = node.projector.latest_credential(endorsement_id) if row is not None else None
    if row is None or document is None or fold_name(row.family_name) != fold_name(last_name):
        raise HTTPException(404, NOT_FOUND)
    return Response(document.encode(), media_type=CREDENTIAL_MEDIA_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{endorsement_id}-credential.json"',
        "Cache-Control": "no-cache"})


ListNumber = Annotated[int, Path(ge=1, le=1_000_000)]
Association = Annotated[str, Path(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9-]+$")]


@router.get("/v1/status-lists/{association}/{purpose}/{list_number}", tags=["credentials"],
            name="status_list", responses={
                200: {"content": {CREDENTIAL_MEDIA_TYPE: {}},
                      "description": "the signed BitstringStatusListCredential"},
                304: {"description": "not modified (If-None-Match names this version)"},
                307: {"description": "another association's list: its origin's URL"},
                **errors(404, 422, 429)})
def status_list_route(request: Request, association: Association, purpose: StatusPurpose,
                      list_number: ListNumber,
                      version: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """A signed BitstringStatusListCredential: the latest recorded version, or `version`."""
    node = _node(request)
    row = node.projector.status_list(association, purpose, list_number)
    if row is None:
        raise HTTPException(404, "no such status list")
    if association != node.association:
        origin = _origin_url(node, row.aggregate_id, purpose)
        if origin is None:
            raise HTTPException(404, "no credential names that list yet")
        target = origin if version is None else f"{origin}?version={version}"
        return RedirectResponse(target, status_code=307)
    served = node.served_lists.get(row.aggregate_id, version)
    if served is None:
        raise HTTPException(404, "that version of the list is not published (yet)")
    etag = f'"{row.aggregate_id}-{served.list_version}"'
    modified = email.utils.format_datetime(
        dt.datetime.fromisoformat(served.signed_at).astimezone(dt.UTC), usegmt=True)
    # A recorded version never changes; the latest one may be replaced within seconds.
    cache = ("public, max-age=31536000, immutable" if version is not None
             else f"public, max-age={CACHE_SECONDS}")
    headers = {"ETag": etag, "Last-Modified": modified, "Cache-Control": cache,
               "X-Status-List-Version": str(served.list_version)}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(served.document, media_type=CREDENTIAL_MEDIA_TYPE, headers=headers)


def _ledger_heads(node: Node, association: str) -> tuple[LedgerHeadsOut | None, int]:
    """The registry and the checkpoint the versions are proven under, and its size (0: none).

    The latest witnessed checkpoint is preferred even when a newer unwitnessed one exists: only
    a witnessed one proves that the peers saw the same history. The size is capped at the
    entries held here (a cosigned note can arrive before the entries it covers)."""
    if node.registry is None:
        return None, 0
    note = (node.log.latest_witnessed_checkpoint(association)
            or node.log.latest_checkpoint(association))
    head = node.ledger.head(association)
    size = parse_body(parse_note(note).text).size if note is not None else 0
    if note is not None and size > (head[0] if head else 0):
        note, size = None, 0
    files = node.registry_dir
    return LedgerHeadsOut(genesis=files.genesis_path.read_text(),
                          registry=[base64.b64encode(w).decode() for w in files.entries()],
                          checkpoint=note.decode() if note is not None else None), size


def _origin_url(node: Node, list_id: str, purpose: StatusPurpose) -> str | None:
    """The list's URL as the origin's credentials name it."""
    return node.projector.list_url_of(list_id, purpose.value)


@router.get("/v1/status-lists/{association}/{purpose}/{list_number}/versions",
            tags=["credentials"], name="status_list_versions", response_model=ListVersionsOut,
            responses=errors(404, 422, 429))
def status_list_versions_route(request: Request, association: Association,
                               purpose: StatusPurpose, list_number: ListNumber) -> Response:
    """Every version of the list that the association's ledger records, each with its signed
    ledger entry (StatusListPublished), as this node holds the replicated ledger: any node
    answers, so a verifier can compare what the origin serves with what its peers hold. With
    them, the trust registry and the latest witnessed checkpoint of the ledger held here, and
    each entry's inclusion proof under it (`alliance verify-credential` checks them all)."""
    node = _node(request)
    row = node.projector.status_list(association, purpose, list_number)
    if row is None:
        raise HTTPException(404, "no such status list")
    heads, size = _ledger_heads(node, association)
    versions = []
    for version in node.projector.list_versions(row.aggregate_id):
        wire = next(iter(node.ledger.wires(association, version.seq, version.seq)), b"")
        path = node.log.inclusion(association, version.seq, size) if version.seq <= size else []
        versions.append(ListVersionOut(
            list_version=version.list_version, list_hash=version.list_hash,
            set_bits_count=version.set_bits_count, seq=version.seq,
            recorded_at=version.recorded_at, entry=base64.b64encode(wire).decode(),
            inclusion=[h.hex() for h in path]))
    answer = ListVersionsOut(association=association, purpose=purpose.value,
                             list_number=list_number, versions=versions, heads=heads)
    return Response(answer.model_dump_json(), media_type="application/json",
                    headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"})



class ListFindingOut(BaseModel):
    """What checking one list as its origin serves it found."""

    list_url: str
    outcome: str = Field(description="recorded, stale (an older recorded version, well after "
                                     "a newer one was recorded), split view, unsigned or "
                                     "unreachable")
    version: int = Field(description="the recorded version it is (outcome recorded)")
    detail: str


class ListForkOut(BaseModel):
    """A signed list its origin served that the origin's ledger does not record."""

    list_url: str
    served_hash: str
    document: str = Field(description="the signed list credential as served (JSON text)")
    found_at: str


@router.post("/v1/federation/status-list-checks/{association}", tags=["federation"],
             response_model=list[ListFindingOut], responses=errors(401, 403, 422))
def check_lists_route(request: Request, association: Association,
                      _: Auditor) -> list[ListFindingOut]:
    """Fetch each of the association's status lists from its origin and compare it with the
    versions this node's replica of its ledger records; a signed list that is no recorded
    version is a split view: kept as fork evidence, and the association is flagged forked.
    Auditors only."""
    node = _node(request)
    with http_fetch(CHECK_TIMEOUT_SECONDS) as fetch:
        findings = node.list_watch.check(association, fetch, now())
    return [ListFindingOut(list_url=f.list_url, outcome=f.outcome, version=f.version,
                           detail=f.detail) for f in findings]


@router.get("/v1/federation/status-list-forks/{association}", tags=["federation"],
            response_model=list[ListForkOut], responses=errors(401, 403, 422))
def list_forks_route(request: Request, association: Association,
                     _: Auditor) -> list[ListForkOut]:
    """The split views of the association's lists this node caught. Auditors only."""
    return [ListForkOut(list_url=u, served_hash=h, document=d.decode("utf-8", "replace"),
                        found_at=f)
            for u, h, d, f in _node(request).list_watch.evidence(association)]
