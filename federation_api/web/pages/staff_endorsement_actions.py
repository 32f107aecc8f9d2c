"""The coordinator's actions on one of the association's endorsements: relinquish (the holder
gives it up), reinstate after a lapse (with the missed cycle's evidence, as the association's
policy requires), correct a mistaken name or date; and recognition of a professional who
moves here, found by search in the replicated ledgers of the other associations.

Each form says what it will write to the ledger, and the page after names the entry written
(seq, hash), as the committee's actions do (`staff_endorsements`). The domain decides what is
allowed (a revoked endorsement is not relinquished, a second home is refused); its refusal is
shown next to the field it concerns and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.errors import DomainError
from domain.levels import EndorsementStatus
from domain.renewal import MIN_RSC_HOURS, MIN_TRAINING_HOURS
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.web.audited import Attempt, attempt
from federation_api.web.pages import evidence_form, people_picker
from federation_api.web.pages.endorsement_page import MAX_REASON, endorsement_page_of
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from ledger.errors import ConcurrencyConflict
from projections.queries import fold_name
from projections.rows import RosterRow
from projections.standing import Standing, standing_on

router = APIRouter(prefix="/staff", include_in_schema=False)
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
MAX_FOUND = 50
Errors = list[tuple[str, str]]


def _sentence(error: DomainError) -> str:
    text = error.message.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def _day(raw: str, field: str, errors: Errors, *, default: dt.date | None = None,
         not_after_today: bool = True) -> dt.date | None:
    if not raw.strip():
        return default
    try:
        day = dt.date.fromisoformat(raw.strip())
    except ValueError:
        errors.append((field, f"Enter a date such as {today().isoformat()}."))
        return None
    if not_after_today and day > today():
        errors.append((field, "The date cannot be in the future."))
    return day


def _own_row(request: Request, endorsement_id: str) -> RosterRow | None:
    node = request.app.state.node
    row: RosterRow | None = node.projector.endorsement(endorsement_id.upper())
    return row if row is not None and row.association == node.association else None


def _written(endorsement_id: str, done: str, outcome: Attempt) -> RedirectResponse:
    query = {"done": done}
    if outcome.entry is not None:
        query |= {"seq": str(outcome.entry.seq), "hash": outcome.entry.entry_hash}
    return RedirectResponse(f"/staff/endorsements/{quote(endorsement_id)}?{urlencode(query)}",
                            status_code=303, headers=SECURITY_HEADERS)


# -- relinquish and correct -----------------------------------------------------------------


@router.post("/endorsements/{endorsement_id}/relinquish", response_class=HTMLResponse)
def relinquish(request: Request, staff: Coordinator, endorsement_id: str,
               reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
               effective_on: Annotated[str, Form(max_length=20)] = "") -> Response:
    """The holder gives the endorsement up (their letter or request as the reason)."""
    form = {"reason": reason, "effective_on": effective_on}
    row = _own_row(request, endorsement_id)
    if row is None:
        return endorsement_page_of(request, endorsement_id)
    errors: Errors = []
    reason = " ".join(reason.split())
    if not reason:
        errors.append(("relinquish-reason", "Say how the holder asked, e.g. their letter of "
                                            "3 May."))
    day = _day(effective_on, "relinquish-effective_on", errors, default=today())
    if errors or day is None:
        return endorsement_page_of(request, endorsement_id, 422, errors, form, "relinquish")
    node = request.app.state.node
    outcome = attempt(node, actor=staff.signed.actor, action="endorsement.relinquish",
                      target=row.endorsement_id, client=client_address(request),
                      run=lambda: node.service.relinquish(row.endorsement_id, effective_on=day,
                                                          reason=reason, now=now()))
    if outcome.refusal is not None:
        return endorsement_page_of(request, endorsement_id, 422, [
            ("relinquish-reason", _sentence(outcome.refusal))], form, "relinquish")
    return _written(row.endorsement_id, "relinquish", outcome)


@router.post("/endorsements/{endorsement_id}/correct", response_class=HTMLResponse)
def correct(request: Request, staff: Coordinator, endorsement_id: str,
            version: Annotated[str, Form(max_length=20)] = "",
            given_name: Annotated[str, Form(max_length=200)] = "",
            family_name: Annotated[str, Form(max_length=200)] = "",
            valid_through: Annotated[str, Form(max_length=20)] = "",
            reason: Annotated[str, Form(max_length=MAX_REASON)] = "") -> Response:
    """Correct a mistaken recorded value by a correction entry (history is not edited):
    blank fields are left as recorded."""
    form = {"given_name": given_name, "family_name": family_name,
            "valid_through": valid_through, "reason": reason}
    row = _own_row(request, endorsement_id)
    if row is None:
        return endorsement_page_of(request, endorsement_id)
    errors: Errors = []
    reason = " ".join(reason.split())
    if not reason:
        errors.append(("correct-reason", "Say what was wrong, e.g. the name as on the "
                                         "passport."))
    given = " ".join(given_name.split()) or None
    family = " ".join(family_name.split()) or None
    through = _day(valid_through, "correct-valid_through", errors, not_after_today=False)
    changes = {k: v for k, v in (("given", given), ("family", family), ("through", through))
               if v is not None}
    if not errors and not changes:
        errors.append(("correct-given_name", "Enter at least one value to correct."))
    if changes and given in (None, row.given_name) and family in (None, row.family_name) \
            and through in (None, row.valid_through):
        errors.append(("correct-given_name", "These are the values recorded already."))
    if not version.isdigit():
        errors.append(("", "Reload the page: the form did not say which record it corrects."))
    if errors:
        return endorsement_page_of(request, endorsement_id, 422, errors, form, "correct")
    node = request.app.state.node
    try:
        outcome = attempt(node, actor=staff.signed.actor, action="endorsement.correct",
                          target=row.endorsement_id, client=client_address(request),
                          run=lambda: node.service.correct(
                              row.endorsement_id, corrects_version=int(version),
                              reason=reason, family_name=family, given_name=given,
                              valid_through=through, now=now(),
                              expected_version=int(version)))
    except ConcurrencyConflict:
        # The record changed since the form was loaded: the correction would name an old
        # version, so nothing is written and the page shows the record as it is now.
        return endorsement_page_of(request, endorsement_id, 409, [(
            "", "The endorsement changed since you opened this page. Nothing was recorded: "
                "check the record as it is now and correct it again.")], form, "correct")
    if outcome.refusal is not None:
        field = {"family_name": "correct-family_name", "given_name": "correct-given_name",
                 "reason": "correct-reason"}.get(outcome.refusal.field, "correct-reason")
        return endorsement_page_of(request, endorsement_id, 422,
                                   [(field, _sentence(outcome.refusal))], form, "correct")
    return _written(row.endorsement_id, "correct", outcome)


# -- reinstatement after a lapse ------------------------------------------------------------


def _reinstatement_page(request: Request, row: RosterRow, status: int = 200,
                        errors: Errors | None = None,
                        values: dict[str, str] | None = None,
                        picking: people_picker.Picking | None = None) -> Response:
    node = request.app.state.node
    endorsement = node.service.endorsement(row.endorsement_id)
    start, end = endorsement.renewal_cycle()
    spec = evidence_form.RENEWAL
    shown = values or {}
    return render("staff_reinstatement.html", status, **page_context(
        request, row=row, cycle_start=start, cycle_end=end, sections=spec.sections,
        flags=spec.flags, flags_title="Providing RS/C", values=shown,
        rows=evidence_form.rows_shown(shown, spec), field_id=evidence_form.field_id,
        checked=evidence_form.checked, errors=errors or [], unmet=(),
        **people_picker.shown_on_form(picking, shown, node.projector, today()),
        training_hours=MIN_TRAINING_HOURS, rsc_hours=MIN_RSC_HOURS))


@router.get("/endorsements/{endorsement_id}/reinstatement", response_class=HTMLResponse)
def reinstatement_page(request: Request, staff: Coordinator, endorsement_id: str) -> Response:
    """The reinstatement form of a lapsed endorsement: the missed cycle and its evidence."""
    row = _own_row(request, endorsement_id)
    if row is None or row.status is not EndorsementStatus.LAPSED:
        return endorsement_page_of(request, endorsement_id)
    return _reinstatement_page(request, row)


@router.post("/endorsements/{endorsement_id}/reinstatement", response_class=HTMLResponse)
async def reinstate(request: Request, staff: Coordinator, endorsement_id: str) -> Response:
    """Reinstate a lapsed endorsement with the missed cycle's evidence and a reason; each
    unmet requirement of the cycle is named, nothing written."""
    form = await request.form()
    posted = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 5000}
    reason = " ".join(posted.get("reason", "").split())[:MAX_REASON]

    def run() -> Response:
        row = _own_row(request, endorsement_id)
        if row is None or row.status is not EndorsementStatus.LAPSED:
            return endorsement_page_of(request, endorsement_id)
        node = request.app.state.node
        # Providers typed by name become person ids; nothing is written until each is
        # settled and the coordinator has seen whom the names found (`people_picker`).
        picking = people_picker.pick(posted, node.projector, today())
        values = picking.values
        evidence, errors = evidence_form.parse(values, evidence_form.RENEWAL)
        if not reason:
            errors = [*errors, ("reinstate-reason", "Give the reason for the reinstatement.")]
        if evidence is None or errors or not picking.settled:
            return _reinstatement_page(request, row, picking.status(errors),
                                       picking.errors + errors, values, picking)
        outcome = attempt(node, actor=staff.signed.actor, action="endorsement.reinstate",
                          target=row.endorsement_id, client=client_address(request),
                          run=lambda: node.service.reinstate(
                              row.endorsement_id, reinstated_on=today(), reason=reason,
                              evidence=evidence, by_committee=False, now=now()))
        if outcome.refusal is not None:
            unmet = [("", u.reason[:1].upper() + u.reason[1:].rstrip(".") + ".")
                     for u in getattr(outcome.refusal, "unmet", ())]
            return _reinstatement_page(request, row, 422,
                                       [("", _sentence(outcome.refusal)), *unmet], values)
        return _written(row.endorsement_id, "reinstate", outcome)

    return await run_in_threadpool(run)


# -- recognition of a professional who moves here -------------------------------------------


def _current_elsewhere(request: Request, query: str) -> list[RosterRow]:
    """Endorsements of the other associations, current today, whose id is `query` or whose
    holder's name contains it (folded)."""
    node = request.app.state.node
    wanted = fold_name(" ".join(query.split()))
    if len(wanted) < 2:
        return []
    on = today()
    found = []
    for row in node.projector.roster():
        if row.association == node.association:
            continue
        if row.endorsement_id.casefold() != wanted and wanted not in fold_name(
                f"{row.given_name} {row.family_name}"):
            continue
        if standing_on(row.status, row.valid_through, on) is Standing.CURRENT:
            found.append(row)
            if len(found) >= MAX_FOUND:
                break
    return found


def _recognition_page(request: Request, status: int = 200, errors: Errors | None = None
                      ) -> Response:
    query = request.query_params.get("q", "")[:100]
    return render("staff_recognitions.html", status, **page_context(
        request, query=query, found=_current_elsewhere(request, query) if query else [],
        errors=errors or [], association=request.app.state.node.association))


@router.get("/recognitions", response_class=HTMLResponse)
def recognitions_page(request: Request, staff: Coordinator) -> Response:
    """Search the other associations' ledgers for a professional moving here."""
    return _recognition_page(request)


@router.post("/recognitions", response_class=HTMLResponse)
def recognize(request: Request, staff: Coordinator,
              origin_endorsement_id: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Become the home of the chosen endorsement: a recognition entry on this ledger, with
    the origin's level and dates; the origin records the transfer out when it sees it."""
    node = request.app.state.node
    origin = origin_endorsement_id.strip().upper()
    row = node.projector.endorsement(origin) if origin else None
    if row is None or row.association == node.association:
        return _recognition_page(request, 422, [("", "Choose an endorsement of another "
                                                     "association from the search.")])
    endorsement_id = new_endorsement_id(node.association)
    outcome = attempt(node, actor=staff.signed.actor, action="endorsement.recognize",
                      target=origin, client=client_address(request),
                      run=lambda: node.service.recognize(
                          origin, endorsement_id=endorsement_id, recognized_on=today(),
                          now=now(), replica=node.replica))
    if outcome.refusal is not None:
        return _recognition_page(request, 422, [("", _sentence(outcome.refusal))])
    return _written(endorsement_id, "recognize", outcome)
