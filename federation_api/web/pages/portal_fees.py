"""The fee as the portal shows it: what is due for an application or a renewal, where its
payment stands, and the evidence filler that sets `fee_paid` from the node's own record.

The payment record is the only source of "paid". It changes when the provider's callback,
signed with the shared secret, checks (`routes/payments.py`), or when the coordinator records
a cheque; nothing the payer's browser sends (the return page's query included) is read here.
So an applicant cannot mark their own fee paid, and a checklist that says "met" means the
association has the money.

This module is not a route module: the draft page's panel and the filler plug into the hook
tuples of `portal_evidence`, which the draft and application route modules import, and the
renewal page reads the same views, so they live apart from the payment routes
(`portal_payments`), which a route module may not import.

Without a payment provider the node takes cheques only: the views then say how to pay the
association by cheque and offer no "Pay" button (a checkout would raise `NoProvider`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
from fastapi import Request

from domain.evidence import ApplicationEvidence
from federation_api.clock import today
from federation_api.fees.errors import FeesNotSet
from federation_api.fees.payments import Due, application_due, renewal_due
from federation_api.fees.schedule import money
from federation_api.fees.store import Payment, PaymentState, Purpose
from federation_api.node.root import Node
from federation_api.portal.drafts import Draft
from federation_api.web.pages.templating import SECURITY_HEADERS, association_name

ENDED = "This application is withdrawn or denied: its fee is no longer asked for."
NOT_SET = ("The association has not set its fees yet: nothing is due until it does. Check "
           "back later, or ask the association.")


def pay_headers(request: Request) -> dict[str, str]:
    """The security headers of a page with a "Pay" form: forms may also lead to the payment
    provider's origin. "Pay" posts to this node, which answers with a redirect to the
    provider's checkout, and browsers apply the page's `form-action` to where a form's
    redirect leads too; without a provider, the usual headers (forms post only here)."""
    configured = request.app.state.node.settings.payment_url
    if not configured:
        return {}
    parts = urlsplit(configured)
    policy = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")
    return {"Content-Security-Policy": policy}


@dataclass(frozen=True)
class FeeView:
    """One fee as a page shows it."""

    purpose: Purpose
    subject_id: str  # the application id, or the renewed endorsement's id
    due: str  # "100.50 USD"; '' before the association set its fees
    late: bool  # a renewal after valid-through carries the late fee
    state: PaymentState | None  # None: no payment started yet
    words: str  # where the payment stands, in one or two sentences
    paid: bool
    can_pay: bool  # a provider is configured, fees are set and the payment is open
    other_way: str  # how to pay without the provider (cheque); '' when one is configured
    action: str  # where the "Pay" form posts

    @property
    def requirement(self) -> str:
        """The checklist line of the fee."""
        return ("The renewal fee is paid." if self.purpose is Purpose.RENEWAL
                else "The application and processing fee is paid.")


def _words(payment: Payment | None, due: Due | None, what: str) -> str:
    if payment is not None and payment.state is PaymentState.PAID:
        how = (f"by cheque number {payment.cheque_number}" if payment.method == "cheque"
               else "through the payment provider")
        amount = money(payment.paid_cents or payment.amount_cents, payment.currency)
        on = f" on {payment.paid_on.isoformat()}" if payment.paid_on else ""
        return f"Paid: {amount} {how}{on}. The association has your {what}."
    if payment is not None and payment.state is PaymentState.REFUNDED:
        return f"The {what} was refunded. Ask the association what to do next."
    if due is None:
        return NOT_SET
    amount = money(due.amount_cents, due.currency)
    late = " It includes the late fee: the renewal is after valid-through." if due.late else ""
    if payment is not None and payment.state is PaymentState.PENDING:
        return (f"Due: {amount}.{late} A payment was started with the payment provider and "
                f"it has not confirmed it yet; this page says paid once it does. If you "
                f"left the provider's page without paying, you can pay again.")
    if payment is not None and payment.state is PaymentState.FAILED:
        return (f"Due: {amount}.{late} The payment provider declined the last payment, so "
                f"nothing was taken. You can try again.")
    return f"Due: {amount}.{late} Not paid yet."


def _view(request: Request, purpose: Purpose, subject_id: str, payment: Payment | None,
          due: Due | None, *, what: str, action: str, reference: str) -> FeeView:
    node = request.app.state.node
    closed = payment is not None and payment.state in (PaymentState.PAID,
                                                       PaymentState.REFUNDED)
    provider = node.payments.provider is not None
    other = ""
    if not provider and not closed and due is not None:
        name = association_name(request, node.association)
        other = (f"This association takes the {what} by cheque: make it out to {name} for "
                 f"{money(due.amount_cents, due.currency)}, write {reference} on it and send "
                 f"it to the association. The coordinator records it when it arrives, and "
                 f"this page then says it is paid.")
    return FeeView(purpose=purpose, subject_id=subject_id,
                   due="" if due is None else money(due.amount_cents, due.currency),
                   late=bool(due and due.late),
                   state=None if payment is None else payment.state,
                   words=_words(payment, due, what),
                   paid=payment is not None and payment.state is PaymentState.PAID,
                   can_pay=provider and not closed and due is not None, other_way=other,
                   action=action)


def application_view(request: Request, application_id: str, *, ended: bool = False
                     ) -> FeeView:
    """The application's fee (application + processing) and its payment. The caller has
    checked that the application is the signed-in account's; `ended`: it was withdrawn or
    denied, so an unpaid fee is no longer asked for."""
    view = _application_view(request, application_id)
    if ended and not view.paid and view.state is not PaymentState.REFUNDED:
        return replace(view, can_pay=False, other_way="", words=ENDED)
    return view


def _application_view(request: Request, application_id: str) -> FeeView:
    node = request.app.state.node
    payment = node.payments.status(Purpose.APPLICATION, application_id)
    try:
        due: Due | None = application_due(node.fees)
    except FeesNotSet:
        due = None
    return _view(request, Purpose.APPLICATION, application_id, payment, due,
                 what="application fee", action=f"/portal/payments/application/"
                                                f"{quote(application_id)}",
                 reference=f"your application id {application_id}")


def renewal_view(request: Request, endorsement_id: str, cycle_end: dt.date) -> FeeView:
    """The renewal fee of the cycle ending `cycle_end` (with the late fee after it), and
    its payment. The caller has checked that the endorsement is the account's."""
    node = request.app.state.node
    payment = node.payments.status(Purpose.RENEWAL, endorsement_id, cycle_end.isoformat())
    try:
        due: Due | None = renewal_due(node.fees, valid_through=cycle_end, on=today())
    except FeesNotSet:
        due = None
    return _view(request, Purpose.RENEWAL, endorsement_id, payment, due, what="renewal fee",
                 action=f"/portal/payments/renewal/{quote(endorsement_id)}",
                 reference=f"your endorsement id {endorsement_id}")


def draft_panel(request: Request, draft: Draft) -> dict[str, Any]:
    """The draft page's "Fee" panel (`portal_evidence.DRAFT_PANELS`): the draft already has
    the id its application will have, so the fee can be paid before submitting."""
    return {"fee": application_view(request, str(draft.application_id))}


def fee_paid(request: Request, draft: Draft, evidence: ApplicationEvidence
             ) -> ApplicationEvidence:
    """`fee_paid` from the application's payment record (`portal_evidence.EVIDENCE_FILLERS`):
    true only once the record is paid, whatever the form said."""
    payment = request.app.state.node.payments.status(Purpose.APPLICATION,
                                                     str(draft.application_id))
    return msgspec.structs.replace(
        evidence, fee_paid=payment is not None and payment.state is PaymentState.PAID)


class PortalRenewalFees:
    """The renewal page's fee sentence (`portal.renewal.RenewalFees`, installed as
    `app.state.renewal_fees` by `portal_payments.install`), from the payment record."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def fee_note(self, account_id: str, endorsement_id: str, cycle_end: dt.date) -> str:
        """One sentence: the renewal fee paid, or what is due and that it is paid above."""
        payment = self.node.payments.status(Purpose.RENEWAL, endorsement_id,
                                            cycle_end.isoformat())
        if payment is not None and payment.state is PaymentState.PAID:
            paid = money(payment.paid_cents or payment.amount_cents, payment.currency)
            return f"Renewal fee: paid ({paid})."
        try:
            due = renewal_due(self.node.fees, valid_through=cycle_end, on=today())
        except FeesNotSet:
            return "Renewal fee: the association has not set its fees yet."
        return (f"Renewal fee: {money(due.amount_cents, due.currency)} due, not paid yet; "
                f"see \"Renewal fee\" on this page for how to pay it.")
