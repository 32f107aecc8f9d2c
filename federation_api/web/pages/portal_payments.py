"""Paying a fee in the portal: the applicant's application fee, the professional's renewal
fee, through the association's payment provider.

"Pay" (a POST behind the portal gate, so with the session's CSRF token) prices the payment
and starts a checkout (`node.payments.start_*_payment`), then sends the payer to the
provider's page (303). The provider sends them back to the return page here, which reads
the node's own payment record and says paid, pending or failed. Its query is never read:
the payment is marked paid only by the provider's signed callback (`routes/payments.py`),
so a return address typed by hand, or a forged "paid", changes nothing.

Own records only: an application is the account's when its draft is (submitted or not: the
fee may be paid before submitting); an endorsement when `portal.renewal.own_endorsement`
admits it. Anything else answers the portal's one 404. Without a provider the node takes
cheques only: "Pay" then writes nothing and the page says how to send a cheque, which the
coordinator records on the staff payment page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.application import ApplicationState
from federation_api.clock import now
from federation_api.fees.errors import FeesNotSet, NoProvider, PaymentClosed
from federation_api.portal.drafts import Draft
from federation_api.portal.errors import NotYours
from federation_api.portal.renewal import own_endorsement
from federation_api.web.pages.portal_fees import (
    NOT_SET,
    FeeView,
    PortalRenewalFees,
    application_view,
    pay_headers,
    renewal_view,
)
from federation_api.web.pages.portal_session import (
    Member,
    PortalMember,
    message_page,
    not_found,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from projections.rows import RosterRow

router = APIRouter(prefix="/portal/payments", include_in_schema=False)


def install(app: FastAPI) -> None:
    """Install the renewal page's fee sentence (`portal.renewal.RenewalFees`)."""
    app.state.renewal_fees = PortalRenewalFees(app.state.node)


def _base(request: Request) -> str:
    """Where the provider sends the payer back: the node's public URL, else the origin the
    payer reached (the trusted proxy's, when there is one)."""
    public = request.app.state.node.settings.public_url
    return str(public or request.base_url).rstrip("/")


def _own_draft(request: Request, member: PortalMember, application_id: str) -> Draft | None:
    """The account's draft of this application, submitted or not (the account's few drafts
    are read: `DraftStore.by_application` knows the submitted ones only)."""
    try:
        parsed = uuid.UUID(application_id)
    except ValueError:
        return None
    drafts: list[Draft] = request.app.state.portal.drafts.of_account(member.account_id)
    return next((d for d in drafts if d.application_id == parsed), None)


def _own_row(request: Request, member: PortalMember, endorsement_id: str) -> RosterRow | None:
    node = request.app.state.node
    try:
        return own_endorsement(node.projector, node.association, member.person_id,
                               endorsement_id)
    except NotYours:
        return None


def _return_page(request: Request, fee: FeeView, back: str, back_text: str,
                 status: int = 200) -> Response:
    return render("portal_payment.html", status, pay_headers(request), **page_context(
        request, fee=fee, back=back, back_text=back_text))


def _checkout(request: Request, fee: FeeView, start: Callable[[], str], back: str,
              back_text: str) -> Response:
    """Start the checkout and send the payer to the provider, or say why not (nothing is
    written then: a refused start rolls its transaction back)."""
    if not fee.can_pay and not fee.paid:
        return _return_page(request, fee, back, back_text, 409)
    try:
        url = start()
    except PaymentClosed:
        return RedirectResponse(f"{fee.action}/return", status_code=303,
                                headers=SECURITY_HEADERS)
    except FeesNotSet:
        return message_page(request, 409, "No fee to pay yet", NOT_SET)
    except NoProvider:  # the provider was removed since the page was shown
        return _return_page(request, fee, back, back_text, 409)
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


# -- the application fee ------------------------------------------------------------------


def _ended(request: Request, draft: Draft) -> bool:
    """Whether the draft's application was withdrawn or denied (nothing to pay then)."""
    if not draft.submitted:
        return False
    state = request.app.state.node.service.application(draft.application_id).state
    return state in (ApplicationState.WITHDRAWN, ApplicationState.DENIED)


def _application_fee(request: Request, draft: Draft) -> FeeView:
    """The fee of the draft's application, as both the pay button and the return page
    read it (nothing to pay once the application ended)."""
    return application_view(request, str(draft.application_id), ended=_ended(request, draft))


def _application_back(draft: Draft) -> tuple[str, str]:
    if draft.submitted:
        return f"/portal/applications/{draft.application_id}", "Back to your application"
    return f"/portal/drafts/{draft.draft_id}#fee-title", "Back to your draft"


@router.post("/application/{application_id}", response_class=HTMLResponse)
async def pay_application(request: Request, member: Member, application_id: str) -> Response:
    """Start paying the application fee: to the provider's checkout page."""
    def run() -> Response:
        draft = _own_draft(request, member, application_id)
        if draft is None:
            return not_found(request)
        subject = str(draft.application_id)
        fee = _application_fee(request, draft)
        return _checkout(request, fee, lambda: request.app.state.node.payments
                         .start_application_payment(
                             subject, by=member.account_id, now=now(),
                             return_url=f"{_base(request)}/portal/payments/application/"
                                        f"{subject}/return"),
                         *_application_back(draft))
    return await run_in_threadpool(run)


@router.get("/application/{application_id}/return", response_class=HTMLResponse)
async def application_return(request: Request, member: Member,
                             application_id: str) -> Response:
    """Back from the provider: where the payment stands by the node's own record."""
    def show() -> Response:
        draft = _own_draft(request, member, application_id)
        if draft is None:
            return not_found(request)
        return _return_page(request, _application_fee(request, draft),
                            *_application_back(draft))
    return await run_in_threadpool(show)


# -- the renewal fee ----------------------------------------------------------------------


def _renewal_fee(request: Request, row: RosterRow) -> tuple[FeeView, dt.date]:
    """The renewal fee of the cycle a renewal now would renew, and that cycle's end (the
    pay button and the return page price the same cycle)."""
    cycle_end = request.app.state.node.service.endorsement(
        row.endorsement_id).renewal_cycle()[1]
    return renewal_view(request, row.endorsement_id, cycle_end), cycle_end


def _renewal_back(row: RosterRow) -> tuple[str, str]:
    return f"/portal/renewal/{quote(row.endorsement_id)}#fee-title", "Back to your renewal"


@router.post("/renewal/{endorsement_id}", response_class=HTMLResponse)
async def pay_renewal(request: Request, member: Member, endorsement_id: str) -> Response:
    """Start paying the renewal fee of the cycle a renewal now would renew."""
    def run() -> Response:
        row = _own_row(request, member, endorsement_id)
        if row is None:
            return not_found(request)
        fee, cycle_end = _renewal_fee(request, row)
        return _checkout(request, fee, lambda: request.app.state.node.payments
                         .start_renewal_payment(
                             row.endorsement_id, valid_through=cycle_end,
                             by=member.account_id, now=now(),
                             return_url=f"{_base(request)}/portal/payments/renewal/"
                                        f"{quote(row.endorsement_id)}/return"),
                         *_renewal_back(row))
    return await run_in_threadpool(run)


@router.get("/renewal/{endorsement_id}/return", response_class=HTMLResponse)
async def renewal_return(request: Request, member: Member, endorsement_id: str) -> Response:
    """Back from the provider: the renewal fee's payment by the node's own record."""
    def show() -> Response:
        row = _own_row(request, member, endorsement_id)
        if row is None:
            return not_found(request)
        return _return_page(request, _renewal_fee(request, row)[0], *_renewal_back(row))
    return await run_in_threadpool(show)
