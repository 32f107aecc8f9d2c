"""The public verification page: server-rendered HTML over the same answer as `GET /v1/verify`.

The page has no JavaScript (it works with scripting off, and its Content-Security-Policy
forbids scripts, so a name that contains markup can never run). A search needs either an
endorsement id and the last name, or the exact first and last name and a state; a miss is one
"not found" page that does not say which part was wrong, and a name search shows at most a
handful of people, so the page cannot be used to list anyone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from domain.levels import EndorsementStatus
from federation_api.clock import now
from federation_api.web.lookup import verify
from federation_api.web.pages.level_titles import DESIGNATIONS, level_title
from federation_api.web.pages.templating import association_name, render
from federation_api.web.schemas import VerifyOut
from federation_api.web.urls import GENESIS_PATH
from ledger.codec import decode_json, decode_payload, decode_stored

MAX_NAME_RESULTS = 5
ENDORSEMENT_ID = re.compile(r"[A-Za-z0-9-]{3,40}")
MAX_NAME = 100

# (headline, explanation) per standing. Every word is shown as text; colour and icon only
# repeat what the words say.
STANDINGS = {
    "current": ("Current", "Endorsed and in good standing on this date."),
    "expired": ("Not current: expired", "The endorsement period has ended and it has not been "
                "renewed."),
    "lapsed": ("Not current: lapsed", "The endorsement was not renewed and has lapsed."),
    "suspended": ("Not current: suspended", "The endorsing association has suspended this "
                  "endorsement."),
    "revoked": ("Not current: revoked", "The endorsing association has revoked this "
                "endorsement."),
    "relinquished": ("Not current: relinquished", "The holder has given up this endorsement."),
    "transferred": ("Not current here: transferred", "This endorsement moved to another "
                    "association."),
}
TRANSFERRED_OUT = "EndorsementTransferredOut"
RECOGNIZED = "EndorsementRecognized"


@dataclass(frozen=True)
class Move:
    """Where a transferred endorsement went: the association (id and full name) and the
    endorsement it holds there now."""

    association: str
    association_name: str
    endorsement_id: str
    verify_url: str


def moved_to(request: Request, endorsement_id: str, last_name: str) -> Move | None:
    """The new home of a transferred endorsement, read from the signed entry that moved it:
    the new association's recognition (the endorsement it created) or the origin's transfer
    out (which names it). None if this node holds neither entry."""
    node = request.app.state.node
    transfers = sorted((h.association, h.seq) for h in node.projector.history(endorsement_id)
                       if h.status is EndorsementStatus.TRANSFERRED)
    for association, seq in transfers:
        wire = next(node.ledger.wires(association, seq, seq), None)
        if wire is None:
            continue
        body = decode_stored(wire)
        payload = decode_payload(body)
        if body.event_type == RECOGNIZED:
            target = (body.association, str(payload["endorsement_id"]))
        elif body.event_type == TRANSFERRED_OUT:
            target = (str(payload["to_association"]), str(payload["to_endorsement_id"]))
        else:
            continue
        query = urlencode({"by": "id", "endorsement_id": target[1], "last_name": last_name})
        return Move(association=target[0], association_name=association_name(request, target[0]),
                    endorsement_id=target[1], verify_url=f"/verify?{query}")
    return None


def states(request: Request) -> list[tuple[str, str]]:
    """(id, full name) of every association this node answers for, by name."""
    node = request.app.state.node
    return sorted(((a, association_name(request, a)) for a in node.peers()),
                  key=lambda pair: (pair[1].casefold(), pair[0]))


@dataclass(frozen=True)
class Result:
    """One answer as the page shows it."""

    endorsement_id: str
    name: str
    level: str
    designation: str
    association: str
    current: bool
    headline: str
    explanation: str
    valid_through: dt.date
    as_of: dt.date
    warnings: list[str]
    receipt_url: str
    printable_url: str
    moved: Move | None = None
    credential_url: str = ""  # the wallet file (Open Badges 3.0), when one was issued
    linkedin_url: str = ""  # LinkedIn's "add to profile" form, filled in


def result(answer: VerifyOut, *, endorsement_id: str, last_name: str,
           association: str, moved: Move | None = None) -> Result:
    """The page's view of a public answer (`association`: the full name), with receipt links;
    `moved` names where a transferred endorsement went."""
    headline, explanation = STANDINGS.get(answer.status, (f"Not current: {answer.status}", ""))
    if moved is not None:
        explanation = (f"This endorsement moved to {moved.association_name} "
                       f"({moved.association}), which holds it now as {moved.endorsement_id}.")
    query = urlencode({"endorsement_id": endorsement_id, "last_name": last_name})
    return Result(endorsement_id=endorsement_id, name=answer.name,
                  level=level_title(answer.level, answer.designation),
                  designation=(f"{DESIGNATIONS[answer.designation]} ({answer.designation.value})"
                               if answer.designation else "None (Levels I to III have none)"),
                  association=f"{association} ({answer.association})",
                  current=answer.status == "current", headline=headline,
                  explanation=explanation, valid_through=answer.valid_through,
                  as_of=answer.as_of, warnings=list(answer.warnings),
                  receipt_url=f"/receipts/download?{query}",
                  printable_url=f"/receipts/view?{query}",
                  moved=moved)


def with_credential(request: Request, shown: Result, last_name: str) -> Result:
    """`shown` with the links to its credential: the file for a wallet, and LinkedIn's "add
    to profile" form filled in with the credential's own facts (name, issuer, dates, id), so a
    profile links back to what an employer can verify."""
    node = request.app.state.node
    document = node.projector.latest_credential(shown.endorsement_id)
    if document is None or node.issuer_identity is None:
        return shown
    credential = decode_json(document.encode(), dict[str, Any])
    query = urlencode({"last_name": last_name})
    path = f"/v1/credentials/{shown.endorsement_id}?{query}"
    # LinkedIn links to the verification result, where an employer sees the current status.
    result_url = (f"{node.issuer_identity.base_url}/verify?" + urlencode(
        {"by": "id", "endorsement_id": shown.endorsement_id, "last_name": last_name}))
    issued = dt.date.fromisoformat(str(credential["validFrom"])[:10])
    until = dt.date.fromisoformat(str(credential["validUntil"])[:10])
    linkedin = urlencode({
        "startTask": "CERTIFICATION_NAME", "name": credential["name"],
        "organizationName": credential["issuer"]["name"], "issueYear": issued.year,
        "issueMonth": issued.month, "expirationYear": until.year,
        "expirationMonth": until.month, "certUrl": result_url,
        "certId": shown.endorsement_id})
    return replace(shown, credential_url=path,
                   linkedin_url=f"https://www.linkedin.com/profile/add?{linkedin}")


def _answer(request: Request, endorsement_id: str, last_name: str) -> VerifyOut | None:
    try:
        return verify(request, endorsement_id, last_name)
    except HTTPException as e:
        if e.status_code == 404:
            return None
        raise


router = APIRouter(include_in_schema=False)


def _page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    form = {"by": "", "endorsement_id": "", "last_name": "", "first_name": "", "state": ""}
    form.update(context.pop("form", {}))
    values: dict[str, Any] = {"results": [], "searched": False, "errors": [], "more": False}
    values.update(context)
    node = request.app.state.node
    # Receipts need the trust registry (they carry it); without one, say so, offer no link.
    return render("search.html", status, form=form, states=states(request),
                  node_name=association_name(request, node.association),
                  answered_at=now(), genesis_url=GENESIS_PATH if node.registry else "",
                  **values)


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request) -> HTMLResponse:
    """The search form."""
    return _page(request)


@router.get("/verify", response_class=HTMLResponse)
def search(request: Request) -> HTMLResponse:
    """Answer a search by endorsement id and last name, or by first and last name and state.

    Parameters are read by hand so that bad input is shown on the page, next to its field,
    rather than as a JSON error.
    """
    params = request.query_params
    form = {k: params.get(k, "").strip() for k in
            ("by", "endorsement_id", "last_name", "first_name", "state")}
    by_name = form["by"] == "name"
    errors = _by_name_errors(request, form) if by_name else _by_id_errors(form)
    if errors:
        return _page(request, 422, form=form, errors=errors)
    if by_name:
        rows = request.app.state.node.projector.named(
            form["state"], form["first_name"], form["last_name"], MAX_NAME_RESULTS + 1)
        found = [(r.endorsement_id, r.family_name) for r in rows]
    else:
        found = [(form["endorsement_id"].upper(), form["last_name"])]
    results = []
    for endorsement_id, last_name in found[:MAX_NAME_RESULTS]:
        answer = _answer(request, endorsement_id, last_name)
        if answer is not None:
            moved = (moved_to(request, endorsement_id, last_name)
                     if answer.status == "transferred" else None)
            shown = result(answer, endorsement_id=endorsement_id, last_name=last_name,
                           association=association_name(request, answer.association),
                           moved=moved)
            results.append(with_credential(request, shown, last_name) if shown.current
                           else shown)
    return _page(request, 200 if results else 404, form=form, results=results, searched=True,
                 more=len(found) > MAX_NAME_RESULTS)


def _name_error(form: dict[str, str], field: str, label: str) -> list[tuple[str, str]]:
    value = form[field]
    if not value:
        return [(field, f"Enter the {label}.")]
    if len(value) > MAX_NAME:
        return [(field, f"The {label} must be at most {MAX_NAME} characters.")]
    return []


def _by_id_errors(form: dict[str, str]) -> list[tuple[str, str]]:
    errors = []
    if not ENDORSEMENT_ID.fullmatch(form["endorsement_id"]):
        errors.append(("endorsement_id", "Enter the endorsement id as printed on the "
                                         "certificate, for example AK-7Q4M2XKD."))
    return errors + _name_error(form, "last_name", "last name")


def _by_name_errors(request: Request, form: dict[str, str]) -> list[tuple[str, str]]:
    errors = _name_error(form, "first_name", "first name") + _name_error(
        form, "last_name", "last name")
    if form["state"] not in {a for a, _ in states(request)}:
        errors.append(("state", "Choose the state association from the list."))
    return errors
