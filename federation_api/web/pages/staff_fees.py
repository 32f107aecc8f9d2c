"""The coordinator's fee pages: the association's fee schedule, and an application's
payment with the "paid by cheque" form.

Fees and payments are the association's private business, so only coordinators reach these
pages (least privilege). Each change is written with its audit entry in one transaction:
a new schedule version, or a cheque (number, amount, date) recorded under the account that
entered it. A wrong field is named next to it and nothing is written.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.fees.errors import FeesNotSet, InvalidFees, PaymentClosed
from federation_api.fees.payments import application_due
from federation_api.fees.schedule import FIELDS, LABELS, as_form, money, parse_schedule
from federation_api.fees.store import Purpose
from federation_api.web.fee_evidence import record_paid
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render

router = APIRouter(prefix="/staff", include_in_schema=False)
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
Errors = list[tuple[str, str]]
MAX_FIELD = 40
CHEQUE_FIELDS = ("cheque_number", "amount", "paid_on")


async def _posted(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name, ""))[:MAX_FIELD] for name in names}


def _schedule_page(request: Request, status: int = 200, form: dict[str, str] | None = None,
                   errors: Errors | None = None, message: str = "") -> Response:
    stored = request.app.state.node.fees.current()
    return render("staff_fees.html", status, **page_context(
        request, stored=stored, form=form or as_form(stored.schedule if stored else None),
        labels=LABELS, errors=errors or [], message=message, money=money))


@router.get("/fees", response_class=HTMLResponse)
def fees_page(request: Request, staff: Coordinator) -> Response:
    """The current fee schedule and the form to change it."""
    saved = request.query_params.get("done") == "saved"
    return _schedule_page(request, message="The new fee schedule is saved." if saved else "")


@router.post("/fees", response_class=HTMLResponse)
async def set_fees(request: Request, staff: Coordinator) -> Response:
    """Save the schedule as a new version (payments keep the version they were priced by)."""
    form = await _posted(request, FIELDS)
    node = request.app.state.node
    try:
        schedule = parse_schedule(form)
    except InvalidFees as e:
        return _schedule_page(request, 422, form, e.errors)
    with node.fees.db.transaction() as cur:
        version = node.fees.set_schedule(cur, schedule, by=staff.account_id, now=now())
        node.accounts.audit.record(cur, actor=staff.signed.actor, action="fees.schedule",
                                   target=f"version {version}", now=now(),
                                   client=client_address(request))
    return RedirectResponse("/staff/fees?done=saved", status_code=303,
                            headers=SECURITY_HEADERS)


def _application(request: Request, application_id: str) -> str | None:
    """The application's id as the ledger spells it, if this association has it."""
    try:
        parsed = str(uuid.UUID(application_id))
    except ValueError:
        return None
    row = request.app.state.node.projector.application(parsed)
    if row is None or row.association != request.app.state.node.association:
        return None
    return parsed


def _payment_page(request: Request, application_id: str, status: int = 200,
                  form: dict[str, str] | None = None, errors: Errors | None = None,
                  message: str = "") -> Response:
    node = request.app.state.node
    try:
        due = application_due(node.fees)
    except FeesNotSet:
        due = None
    return render("staff_payment.html", status, **page_context(
        request, application_id=application_id, due=due, money=money,
        payment=node.payments.status(Purpose.APPLICATION, application_id),
        form=form or {"paid_on": today().isoformat()}, errors=errors or [], message=message,
        today=today()))


def _missing(request: Request) -> Response:
    return render("message.html", 404, **page_context(
        request, title="No such application",
        message="This association has no application with this id."))


@router.get("/applications/{application_id}/payment", response_class=HTMLResponse)
def payment_page(request: Request, staff: Coordinator, application_id: str) -> Response:
    """An application's payment: what is due, what was paid, how, and the cheque form."""
    found = _application(request, application_id)
    if found is None:
        return _missing(request)
    done = request.query_params.get("done") == "cheque"
    return _payment_page(request, found, message="The cheque is recorded; the application's "
                                                 "fee is paid." if done else "")


@router.post("/applications/{application_id}/payment", response_class=HTMLResponse)
async def record_cheque(request: Request, staff: Coordinator, application_id: str
                        ) -> Response:
    """Record that the application's fee was paid by cheque."""
    found = _application(request, application_id)
    if found is None:
        return _missing(request)
    form = await _posted(request, CHEQUE_FIELDS)
    node = request.app.state.node
    try:
        with node.fees.db.transaction() as cur:
            paid = node.payments.record_cheque(cur, form, application_id=found,
                                               by=staff.account_id, today=today(), now=now())
            node.accounts.audit.record(
                cur, actor=staff.signed.actor, action="payment.cheque", target=found,
                detail=f"{paid.payment_id}: cheque {paid.cheque_number}, "
                       f"{money(paid.amount_cents, paid.currency)}", now=now(),
                client=client_address(request))
    except InvalidFees as e:
        return _payment_page(request, found, 422, form, e.errors)
    except FeesNotSet:
        return _payment_page(request, found, 422, form, [
            ("", "The association has not set its fees yet: set them on the Fees page.")])
    except PaymentClosed:
        return _payment_page(request, found, 409, form, [
            ("", "This application's fee is paid already; nothing was recorded.")])
    # A submitted application's evidence takes the fee now (web/fee_evidence).
    record_paid(node, paid, actor=staff.signed.actor, client=client_address(request),
                now=now())
    return RedirectResponse(f"/staff/applications/{found}/payment?done=cheque",
                            status_code=303, headers=SECURITY_HEADERS)
