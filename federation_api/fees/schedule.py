"""The fee schedule: what the association charges, in integer cents of one currency.

Amounts are parsed from what a coordinator types ("125", "125.50") into integer cents, never
floats, so a sum is exact. A schedule is saved as a new version (the store numbers them); a
payment records the version it was priced with, so changing the fees later never changes
what an applicant was asked for.

There is no built-in default schedule: any figure the code shipped would be invented. Until a
coordinator sets one, `FeeStore.current` is None and the portal says the fees are not set.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from federation_api.fees.errors import InvalidFees

FIELDS = ("currency", "application", "processing", "renewal", "late")
MAX_CENTS = 10_000_000  # 100,000.00: far above any fee, far below an integer's limits
_AMOUNT = re.compile(r"^([0-9]{1,6})(?:\.([0-9]{2}))?$")  # ASCII digits only
_CURRENCY = re.compile(r"^[A-Z]{3}$")
LABELS = {"application": "Application fee", "processing": "Processing fee",
          "renewal": "Renewal fee", "late": "Late fee"}


@dataclass(frozen=True)
class FeeSchedule:
    """One version of the association's fees (amounts in cents)."""

    currency: str
    application: int
    processing: int
    renewal: int
    late: int

    def application_due(self) -> int:
        """What an application costs: the application and the processing fee."""
        return self.application + self.processing

    def renewal_due(self, *, late: bool) -> int:
        """What a renewal costs; the late fee on top when paid after valid-through."""
        return self.renewal + (self.late if late else 0)


@dataclass(frozen=True)
class StoredSchedule:
    """A saved version of the schedule, and who set it when."""

    version: int
    schedule: FeeSchedule
    set_at: dt.datetime
    set_by: str


def parse_amount(text: str) -> int:
    """'125' or '125.50' as cents; ValueError with the rule otherwise."""
    match = _AMOUNT.match(text.strip())
    if match is None:
        raise ValueError("Enter an amount like 125 or 125.50 (no currency sign, no commas).")
    cents = int(match.group(1)) * 100 + int(match.group(2) or 0)
    if cents > MAX_CENTS:
        raise ValueError("Enter an amount of at most 100000.00.")
    return cents


def money(cents: int, currency: str) -> str:
    """Cents as a page shows them: '125.50 USD'."""
    return f"{cents // 100}.{cents % 100:02d} {currency}"


def as_form(schedule: FeeSchedule | None) -> dict[str, str]:
    """A schedule as the form's text fields (blank when none is set)."""
    if schedule is None:
        return {"currency": "USD", **dict.fromkeys(LABELS, "")}
    return {"currency": schedule.currency,
            **{name: f"{getattr(schedule, name) // 100}.{getattr(schedule, name) % 100:02d}"
               for name in LABELS}}


def parse_schedule(form: dict[str, str]) -> FeeSchedule:
    """The schedule a coordinator typed; InvalidFees naming every wrong field."""
    errors: list[tuple[str, str]] = []
    currency = form.get("currency", "").strip().upper()
    if not _CURRENCY.match(currency):
        errors.append(("currency", "Enter a three-letter currency code such as USD."))
    amounts: dict[str, int] = {}
    for name in LABELS:
        try:
            amounts[name] = parse_amount(form.get(name, ""))
        except ValueError as e:
            errors.append((name, f"{LABELS[name]}: {e}"))
    if errors:
        raise InvalidFees(errors)
    return FeeSchedule(currency=currency, **amounts)
