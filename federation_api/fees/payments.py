"""Payments: what is due, a checkout started, a provider callback applied, a cheque recorded.

These are the functions the applicants' portal calls (by application id, or endorsement id
and cycle): `application_due`, `renewal_due`, `start_application_payment`,
`start_renewal_payment`, `status`. The staff pages call `record_cheque`; the provider's
callback route calls `apply_callback`.

Pricing. A payment is priced from the current schedule when its record is made and again
each time a checkout starts while it is not paid, and records the schedule version it used.
A renewal paid after its valid-through carries the late fee (`renewal_due(on=...)`); a cheque
is priced on the day written on it.

Trust. A callback marks a payment paid only when its signature checks (the provider port),
it names a payment of this node, and its amount and currency are exactly the record's; each
provider event is applied once (a repeat changes nothing and is answered as done), and a paid
payment is never reopened by a later "failed".
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, replace

from federation_api.fees.errors import (
    CallbackRefused,
    FeesNotSet,
    InvalidFees,
    NoProvider,
    PaymentClosed,
)
from federation_api.fees.provider import CheckoutRequest, PaymentProvider
from federation_api.fees.schedule import StoredSchedule, parse_amount
from federation_api.fees.store import CLOSED, FeeStore, Payment, PaymentState, Purpose
from ledger.storage.database import Cursor

_CHEQUE = re.compile(r"^[A-Za-z0-9-]{1,20}$")
PROVIDER_ACTOR = "provider"


@dataclass(frozen=True)
class Due:
    """What is owed for one application or renewal, and by which schedule version."""

    amount_cents: int
    currency: str
    schedule_version: int
    late: bool


@dataclass(frozen=True)
class CallbackResult:
    """What a verified callback did."""

    payment: Payment
    applied: bool  # False: a repeat of an event applied before, or a closed payment


def _schedule(store: FeeStore, cur: Cursor | None = None) -> StoredSchedule:
    stored = store.current(cur=cur)
    if stored is None:
        raise FeesNotSet
    return stored


def application_due(store: FeeStore, *, cur: Cursor | None = None) -> Due:
    """The application and processing fee of the current schedule; FeesNotSet before one."""
    stored = _schedule(store, cur)
    return Due(stored.schedule.application_due(), stored.schedule.currency, stored.version,
               late=False)


def renewal_due(store: FeeStore, *, valid_through: dt.date, on: dt.date,
                cur: Cursor | None = None) -> Due:
    """The renewal fee of a cycle ending `valid_through` paid on `on`: with the late fee
    when `on` is after valid-through (DOMAIN: renewal is due by then; the grace period only
    delays the lapse)."""
    stored = _schedule(store, cur)
    late = on > valid_through
    return Due(stored.schedule.renewal_due(late=late), stored.schedule.currency,
               stored.version, late=late)


class Payments:
    """The payment records and their changes, over the fee store and a provider."""

    def __init__(self, store: FeeStore, provider: PaymentProvider | None) -> None:
        self.store = store
        self.provider = provider

    def status(self, purpose: Purpose, subject_id: str, cycle: str = "") -> Payment | None:
        """The payment record of this application (cycle '') or renewal cycle, if any."""
        return self.store.payment_for(purpose, subject_id, cycle)

    def _priced(self, cur: Cursor, purpose: Purpose, subject_id: str, cycle: str, due: Due,
                *, by: str, now: dt.datetime) -> Payment:
        """The subject's payment row, made or repriced to `due`; PaymentClosed if paid."""
        found = self.store.payment_for(purpose, subject_id, cycle, cur=cur)
        if found is None:
            found = self.store.insert(cur, Payment(
                payment_id=f"pay_{secrets.token_urlsafe(12)}", purpose=purpose,
                subject_id=subject_id, cycle=cycle, schedule_version=due.schedule_version,
                amount_cents=due.amount_cents, currency=due.currency, late=due.late,
                state=PaymentState.DUE, method="", provider_reference="", cheque_number="",
                paid_cents=None, paid_on=None, recorded_by=by, created_at=now, updated_at=now))
        if found.state in CLOSED:
            raise PaymentClosed(found.payment_id, found.state.value)
        if (found.amount_cents, found.currency, found.schedule_version, found.late) != (
                due.amount_cents, due.currency, due.schedule_version, due.late):
            found = replace(found, amount_cents=due.amount_cents, currency=due.currency,
                            schedule_version=due.schedule_version, late=due.late,
                            updated_at=now, recorded_by=by)
            self.store.save(cur, found)
        return found

    def _checkout(self, cur: Cursor, payment: Payment, *, description: str, return_url: str,
                  by: str, now: dt.datetime) -> str:
        if self.provider is None:
            raise NoProvider
        pending = replace(payment, state=PaymentState.PENDING, method="provider",
                          recorded_by=by, updated_at=now)
        self.store.save(cur, pending)
        return self.provider.checkout_url(CheckoutRequest(
            reference=payment.payment_id, amount_cents=payment.amount_cents,
            currency=payment.currency, description=description, return_url=return_url))

    def start_application_payment(self, application_id: str, *, by: str, return_url: str,
                                  now: dt.datetime) -> str:
        """Price the application's payment and start a checkout: the URL to send the payer to.
        PaymentClosed if it is paid, FeesNotSet before a schedule, NoProvider without one."""
        with self.store.db.transaction() as cur:
            due = application_due(self.store, cur=cur)
            payment = self._priced(cur, Purpose.APPLICATION, application_id, "", due, by=by,
                                   now=now)
            return self._checkout(cur, payment, description=f"Application {application_id}",
                                  return_url=return_url, by=by, now=now)

    def start_renewal_payment(self, endorsement_id: str, *, valid_through: dt.date, by: str,
                              return_url: str, now: dt.datetime) -> str:
        """The same for the renewal of the cycle ending `valid_through`, priced today."""
        with self.store.db.transaction() as cur:
            due = renewal_due(self.store, valid_through=valid_through, on=now.date(), cur=cur)
            payment = self._priced(cur, Purpose.RENEWAL, endorsement_id,
                                   valid_through.isoformat(), due, by=by, now=now)
            return self._checkout(cur, payment, description=f"Renewal {endorsement_id} "
                                  f"(cycle to {valid_through.isoformat()})",
                                  return_url=return_url, by=by, now=now)

    def apply_callback(self, cur: Cursor, body: bytes, signature: str, *,
                       now: dt.datetime) -> CallbackResult:
        """Verify a provider callback and apply it in the caller's transaction;
        CallbackRefused (nothing written) when any check fails."""
        if self.provider is None:
            raise CallbackRefused("this node has no payment provider")
        callback = self.provider.verify_callback(body, signature, now=now)
        payment = self.store.get(callback.reference, cur=cur, for_update=True)
        if payment is None:
            raise CallbackRefused("the callback names no payment of this node")
        if (callback.amount_cents, callback.currency) != (payment.amount_cents,
                                                          payment.currency):
            raise CallbackRefused("the callback's amount or currency is not the payment's")
        if not self.store.note_callback(cur, event_id=callback.event_id,
                                        payment_id=payment.payment_id,
                                        outcome=callback.outcome, now=now):
            return CallbackResult(payment, applied=False)
        if payment.state in CLOSED:
            return CallbackResult(payment, applied=False)
        paid = callback.outcome == "paid"
        changed = replace(payment, state=PaymentState.PAID if paid else PaymentState.FAILED,
                          method="provider", provider_reference=callback.provider_reference,
                          paid_cents=callback.amount_cents if paid else None,
                          paid_on=now.date() if paid else None, recorded_by=PROVIDER_ACTOR,
                          updated_at=now)
        self.store.save(cur, changed)
        return CallbackResult(changed, applied=True)

    def record_cheque(self, cur: Cursor, form: dict[str, str], *, application_id: str,
                      by: str, today: dt.date, now: dt.datetime) -> Payment:
        """The coordinator's "paid by cheque" for an application, in the caller's transaction
        (with its audit entry): cheque number, amount (exactly what is due) and date (not in
        the future). InvalidFees naming every wrong field; PaymentClosed if paid already."""
        errors: list[tuple[str, str]] = []
        number = form.get("cheque_number", "").strip()
        if not _CHEQUE.match(number):
            errors.append(("cheque_number", "Enter the cheque number: 1 to 20 letters, digits "
                                            "or hyphens."))
        amount = None
        try:
            amount = parse_amount(form.get("amount", ""))
        except ValueError as e:
            errors.append(("amount", str(e)))
        paid_on = None
        try:
            paid_on = dt.date.fromisoformat(form.get("paid_on", "").strip())
            if paid_on > today:
                errors.append(("paid_on", "The cheque's date cannot be in the future."))
        except ValueError:
            errors.append(("paid_on", "Enter the date on the cheque as YYYY-MM-DD."))
        due = application_due(self.store, cur=cur)
        if amount is not None and amount != due.amount_cents:
            errors.append(("amount", f"The amount due is {due.amount_cents // 100}."
                                     f"{due.amount_cents % 100:02d} {due.currency}; a cheque "
                                     f"for another amount is not recorded as payment."))
        if errors:
            raise InvalidFees(errors)
        assert paid_on is not None
        payment = self._priced(cur, Purpose.APPLICATION, application_id, "", due, by=by,
                               now=now)
        paid = replace(payment, state=PaymentState.PAID, method="cheque", cheque_number=number,
                       paid_cents=amount, paid_on=paid_on, recorded_by=by, updated_at=now)
        self.store.save(cur, paid)
        return paid

