"""One endorsement's staff page: its record and history as the ledger shows them, and the
Endorsement Committee's actions on it (suspend, revoke, lift a suspension), each with a
reason, each saying what it will write, and the page after naming the ledger entry it
produced (seq, hash).

Coordinators, committee members and auditors read the page (the roster's roles); only the
committee acts. An endorsement of another association is shown read-only: only its own
association's node may write its ledger.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.errors import DomainError
from domain.evidence import RenewalEvidence
from domain.renewal import MIN_RSC_HOURS, MIN_TRAINING_HOURS
from domain.unmet import Unmet
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.web.audited import attempt
from federation_api.web.pages import evidence_form, people_picker
from federation_api.web.pages.endorsement_page import MAX_REASON, endorsement_page_of
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render

router = APIRouter(prefix="/staff/endorsements", include_in_schema=False)
Reader = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR, AccountRole.COMMITTEE,
                                                AccountRole.AUDITOR))]
Committee = Annotated[StaffUser, Depends(StaffGate(AccountRole.COMMITTEE))]
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
@router.get("/{endorsement_id}", response_class=HTMLResponse)
def endorsement_page(request: Request, staff: Reader, endorsement_id: str) -> Response:
    """The endorsement's record, history and (for the committee) actions."""
    return endorsement_page_of(request, endorsement_id)


def _committee_action(request: Request, staff: StaffUser, endorsement_id: str, action: str,
                      reason: str, effective_on: str) -> Response:
    node = request.app.state.node
    row = node.projector.endorsement(endorsement_id.upper())
    form = {"reason": reason, "effective_on": effective_on}
    if row is None or row.association != node.association:
        return endorsement_page_of(request, endorsement_id, 404 if row is None else 409,
                     [("", "Only the endorsing association's node can act on this "
                           "endorsement.")] if row else None, form)
    errors: list[tuple[str, str]] = []
    reason = " ".join(reason.split())
    if not reason:
        errors.append((f"{action}-reason", "Give the committee's reason."))
    try:
        day = dt.date.fromisoformat(effective_on.strip()) if effective_on.strip() else today()
        if day > today():
            errors.append((f"{action}-effective_on", "The date cannot be in the future."))
    except ValueError:
        errors.append((f"{action}-effective_on", "Enter a date such as "
                                                 f"{today().isoformat()}."))
        day = today()
    if errors:
        return endorsement_page_of(request, endorsement_id, 422, errors, form, action)
    service = node.service
    runs = {"suspend": lambda: service.suspend(row.endorsement_id, effective_on=day,
                                               reason=reason, now=now()),
            "revoke": lambda: service.revoke(row.endorsement_id, effective_on=day,
                                             reason=reason, now=now()),
            "lift": lambda: service.reinstate(row.endorsement_id, reinstated_on=day,
                                              reason=reason, evidence=RenewalEvidence(),
                                              by_committee=True, now=now())}
    outcome = attempt(node, actor=staff.signed.actor, action=f"endorsement.{action}",
                      target=row.endorsement_id, client=client_address(request),
                      run=runs[action])
    if outcome.refusal is not None:
        return endorsement_page_of(request, endorsement_id, 422, [(f"{action}-reason",
                                                     _sentence(outcome.refusal))], form, action)
    query = {"done": action}
    if outcome.entry is not None:
        query |= {"seq": str(outcome.entry.seq), "hash": outcome.entry.entry_hash}
    return RedirectResponse(f"/staff/endorsements/{quote(row.endorsement_id)}?"
                            f"{urlencode(query)}", status_code=303, headers=SECURITY_HEADERS)


def _sentence(error: DomainError) -> str:
    text = error.message.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


@router.post("/{endorsement_id}/suspend", response_class=HTMLResponse)
def suspend(request: Request, staff: Committee, endorsement_id: str,
            reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
            effective_on: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Committee: suspend, with a reason."""
    return _committee_action(request, staff, endorsement_id, "suspend", reason, effective_on)


@router.post("/{endorsement_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, staff: Committee, endorsement_id: str,
           reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
           effective_on: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Committee: revoke, with a reason (final)."""
    return _committee_action(request, staff, endorsement_id, "revoke", reason, effective_on)


@router.post("/{endorsement_id}/lift", response_class=HTMLResponse)
def lift(request: Request, staff: Committee, endorsement_id: str,
         reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
         effective_on: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Committee: lift a suspension, with a reason."""
    return _committee_action(request, staff, endorsement_id, "lift", reason, effective_on)


# -- renewal --------------------------------------------------------------------------------


def _renewal_page(request: Request, endorsement_id: str, status: int = 200,
                  errors: list[tuple[str, str]] | None = None,
                  values: dict[str, str] | None = None, unmet: tuple[object, ...] = (),
                  picking: people_picker.Picking | None = None) -> Response:
    node = request.app.state.node
    row = node.projector.endorsement(endorsement_id.upper())
    if row is None or row.association != node.association:
        # 404, or the read-only page of a peer's endorsement
        return endorsement_page_of(request, endorsement_id)
    endorsement = node.service.endorsement(row.endorsement_id)
    start, end = endorsement.renewal_cycle()
    spec = evidence_form.RENEWAL
    shown = values or {}
    return render("staff_renewal.html", status, **page_context(
        request, row=row, cycle_start=start, cycle_end=end, sections=spec.sections,
        flags=spec.flags, flags_title="Providing RS/C", values=shown,
        rows=evidence_form.rows_shown(shown, spec), field_id=evidence_form.field_id,
        checked=evidence_form.checked, errors=errors or [], unmet=unmet,
        **people_picker.shown_on_form(picking, shown, node.projector, today()),
        training_hours=MIN_TRAINING_HOURS, rsc_hours=MIN_RSC_HOURS))


# Where the form shows an unmet renewal requirement: next to the input a coordinator
# changes to meet it (the hours of the section's first row; the membership's date).
_UNMET_INPUT = {"evidence.trainings": "trainings-0-hours", "evidence.rsc": "rsc-0-hours",
                "evidence.memberships": "memberships-0-valid_through"}


def _unmet_by_field(unmet: tuple[Unmet, ...]) -> dict[str, str]:
    """Each unmet requirement's reason under the input it concerns (several: one text)."""
    placed: dict[str, str] = {}
    for u in unmet:
        if u.field in _UNMET_INPUT:
            key = _UNMET_INPUT[u.field]
            reason = (u.reason[:1].upper() + u.reason[1:]).rstrip(".") + "."
            placed[key] = f"{placed[key]} {reason}" if key in placed else reason
    return placed


@router.get("/{endorsement_id}/renewal", response_class=HTMLResponse)
def renewal_page(request: Request, staff: Coordinator, endorsement_id: str) -> Response:
    """The renewal form: the cycle being renewed, its dates and hours, the evidence."""
    return _renewal_page(request, endorsement_id)


@router.post("/{endorsement_id}/renewal", response_class=HTMLResponse)
async def renew(request: Request, staff: Coordinator, endorsement_id: str) -> Response:
    """Renew for the cycle with its evidence; refused (nothing written) with each unmet
    requirement in the rule's words."""
    form = await request.form()
    posted = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 5000}

    def run() -> Response:
        node = request.app.state.node
        row = node.projector.endorsement(endorsement_id.upper())
        if row is None or row.association != node.association:
            return endorsement_page_of(request, endorsement_id)
        # A provider typed by name becomes a person id first; until each is settled (and
        # the coordinator has seen whom a name found) nothing is written.
        picking = people_picker.pick(posted, node.projector, today())
        values = picking.values
        evidence, errors = evidence_form.parse(values, evidence_form.RENEWAL)
        if evidence is None or not picking.settled:
            return _renewal_page(request, endorsement_id, picking.status(errors),
                                 picking.errors + errors, values, picking=picking)
        outcome = attempt(node, actor=staff.signed.actor, action="endorsement.renew",
                          target=row.endorsement_id, client=client_address(request),
                          run=lambda: node.service.renew(row.endorsement_id, evidence,
                                                         renewed_on=today(), now=now()))
        if outcome.refusal is not None:
            unmet = tuple(getattr(outcome.refusal, "unmet", ()))
            placed = _unmet_by_field(unmet)
            return _renewal_page(request, endorsement_id, 422,
                                 [("", _sentence(outcome.refusal)), *placed.items()], values,
                                 unmet)
        query = {"done": "renew"}
        if outcome.entry is not None:
            query |= {"seq": str(outcome.entry.seq), "hash": outcome.entry.entry_hash}
        return RedirectResponse(f"/staff/endorsements/{quote(row.endorsement_id)}?"
                                f"{urlencode(query)}", status_code=303,
                                headers=SECURITY_HEADERS)

    return await run_in_threadpool(run)
