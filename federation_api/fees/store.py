"""The fees' tables in the node database: schedule versions, payments, provider callbacks.

Writing methods take the caller's open cursor, so a payment's change and its audit entry (or
the callback that caused it) commit together or not at all. One payment row per application
and per renewal cycle (UNIQUE purpose, subject, cycle): starting a checkout twice reuses it.
Callbacks are kept by the provider's event id (PRIMARY KEY), so a repeated callback is seen as
a repeat by the insert itself, whichever process took the first one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from federation_api.clock import stamp, unstamp
from federation_api.fees.schedule import FeeSchedule, StoredSchedule
from ledger.storage.database import Cursor, Database

DDL = """
CREATE TABLE IF NOT EXISTS fee_schedules (
    version INTEGER PRIMARY KEY,
    currency TEXT NOT NULL,
    application_cents INTEGER NOT NULL,
    processing_cents INTEGER NOT NULL,
    renewal_cents INTEGER NOT NULL,
    late_cents INTEGER NOT NULL,
    set_at TEXT NOT NULL,
    set_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    cycle TEXT NOT NULL,
    schedule_version INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    late INTEGER NOT NULL,
    state TEXT NOT NULL,
    method TEXT NOT NULL,
    provider_reference TEXT NOT NULL,
    cheque_number TEXT NOT NULL,
    paid_cents INTEGER,
    paid_on TEXT,
    recorded_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (purpose, subject_id, cycle)
);
CREATE TABLE IF NOT EXISTS payment_callbacks (
    event_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    received_at TEXT NOT NULL
)
"""
_PAYMENT = ("payment_id, purpose, subject_id, cycle, schedule_version, amount_cents, currency, "
            "late, state, method, provider_reference, cheque_number, paid_cents, paid_on, "
            "recorded_by, created_at, updated_at")


class Purpose(StrEnum):
    """What a payment is for."""

    APPLICATION = "application"
    RENEWAL = "renewal"


class PaymentState(StrEnum):
    """Where a payment stands."""

    DUE = "due"
    PENDING = "pending"  # the payer was sent to the provider; no callback yet
    PAID = "paid"
    REFUNDED = "refunded"
    FAILED = "failed"  # the provider said no; a new checkout may be started


CLOSED = (PaymentState.PAID, PaymentState.REFUNDED)


@dataclass(frozen=True)
class Payment:
    """One payment record."""

    payment_id: str
    purpose: Purpose
    subject_id: str  # the application id, or the endorsement id of a renewal
    cycle: str  # '' for an application; the renewed cycle's valid-through for a renewal
    schedule_version: int
    amount_cents: int
    currency: str
    late: bool
    state: PaymentState
    method: str  # '', 'provider' or 'cheque'
    provider_reference: str
    cheque_number: str
    paid_cents: int | None
    paid_on: dt.date | None
    recorded_by: str  # the account (or 'provider') that recorded the last change
    created_at: dt.datetime
    updated_at: dt.datetime


class FeeStore:
    """The fee schedule's versions and the payment records."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(DDL)

    # -- the schedule --------------------------------------------------------------------------

    def set_schedule(self, cur: Cursor, schedule: FeeSchedule, *, by: str,
                     now: dt.datetime) -> int:
        """Save `schedule` as the next version; its number."""
        row = cur.execute("SELECT COALESCE(MAX(version), 0) FROM fee_schedules").fetchone()
        assert row is not None
        version = int(row[0]) + 1
        cur.execute("INSERT INTO fee_schedules (version, currency, application_cents, "
                    "processing_cents, renewal_cents, late_cents, set_at, set_by) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (version, schedule.currency, schedule.application, schedule.processing,
                     schedule.renewal, schedule.late, stamp(now), by))
        return version

    def current(self, *, cur: Cursor | None = None) -> StoredSchedule | None:
        """The latest version, or None before a coordinator set one."""
        sql = ("SELECT version, currency, application_cents, processing_cents, renewal_cents, "
               "late_cents, set_at, set_by FROM fee_schedules ORDER BY version DESC LIMIT 1")
        rows = cur.execute(sql).fetchall() if cur is not None else self.db.query(sql)
        if not rows:
            return None
        version, currency, app, proc, renewal, late, set_at, set_by = rows[0]
        at = unstamp(set_at)
        assert at is not None
        return StoredSchedule(int(version), FeeSchedule(str(currency), int(app), int(proc),
                                                        int(renewal), int(late)),
                              at, str(set_by))

    # -- payments ------------------------------------------------------------------------------

    def payment_for(self, purpose: Purpose, subject_id: str, cycle: str, *,
                    cur: Cursor | None = None) -> Payment | None:
        """The payment of this application or renewal cycle, if one was made."""
        sql = (f"SELECT {_PAYMENT} FROM payments WHERE purpose = ? AND subject_id = ? "
               f"AND cycle = ?")
        args = (purpose.value, subject_id, cycle)
        rows = cur.execute(sql, args).fetchall() if cur is not None else self.db.query(sql, args)
        return _payment(rows[0]) if rows else None

    def get(self, payment_id: str, *, cur: Cursor | None = None,
            for_update: bool = False) -> Payment | None:
        """One payment by id (`for_update`: locked on PostgreSQL until the commit)."""
        sql = f"SELECT {_PAYMENT} FROM payments WHERE payment_id = ?"
        if for_update and self.db.dialect == "postgres":
            sql += " FOR UPDATE"
        rows = (cur.execute(sql, (payment_id,)).fetchall() if cur is not None
                else self.db.query(sql, (payment_id,)))
        return _payment(rows[0]) if rows else None

    def insert(self, cur: Cursor, payment: Payment) -> Payment:
        """Add a payment row; the one already there for its subject if another process made
        it a moment ago (the UNIQUE constraint decides, not a prior read)."""
        added = cur.execute(
            f"INSERT INTO payments ({_PAYMENT}) VALUES "
            f"({', '.join('?' for _ in _PAYMENT.split(', '))}) "
            f"ON CONFLICT (purpose, subject_id, cycle) DO NOTHING RETURNING payment_id",
            _values(payment)).fetchone()
        if added is not None:
            return payment
        found = self.payment_for(payment.purpose, payment.subject_id, payment.cycle, cur=cur)
        assert found is not None
        return found

    def save(self, cur: Cursor, payment: Payment) -> None:
        """Write a changed payment row."""
        cur.execute("UPDATE payments SET schedule_version = ?, amount_cents = ?, currency = ?, "
                    "late = ?, state = ?, method = ?, provider_reference = ?, "
                    "cheque_number = ?, paid_cents = ?, paid_on = ?, recorded_by = ?, "
                    "updated_at = ? WHERE payment_id = ?",
                    (payment.schedule_version, payment.amount_cents, payment.currency,
                     int(payment.late), payment.state.value, payment.method,
                     payment.provider_reference, payment.cheque_number, payment.paid_cents,
                     payment.paid_on.isoformat() if payment.paid_on else None,
                     payment.recorded_by, stamp(payment.updated_at), payment.payment_id))

    def note_callback(self, cur: Cursor, *, event_id: str, payment_id: str, outcome: str,
                      now: dt.datetime) -> bool:
        """Record a provider event; False if it was recorded before (a repeat)."""
        row = cur.execute("INSERT INTO payment_callbacks (event_id, payment_id, outcome, "
                          "received_at) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING "
                          "RETURNING event_id", (event_id, payment_id, outcome, stamp(now))
                          ).fetchone()
        return row is not None

    def callbacks(self) -> int:
        """How many provider events were recorded (tests and pages)."""
        return int(self.db.query("SELECT COUNT(*) FROM payment_callbacks")[0][0])


def _values(p: Payment) -> tuple[Any, ...]:
    return (p.payment_id, p.purpose.value, p.subject_id, p.cycle, p.schedule_version,
            p.amount_cents, p.currency, int(p.late), p.state.value, p.method,
            p.provider_reference, p.cheque_number, p.paid_cents,
            p.paid_on.isoformat() if p.paid_on else None, p.recorded_by, stamp(p.created_at),
            stamp(p.updated_at))


def _payment(row: tuple[Any, ...]) -> Payment:
    (payment_id, purpose, subject_id, cycle, version, amount, currency, late, state, method,
     provider_reference, cheque_number, paid_cents, paid_on, recorded_by, created_at,
     updated_at) = row
    made, changed = unstamp(created_at), unstamp(updated_at)
    assert made is not None and changed is not None
    return Payment(str(payment_id), Purpose(purpose), str(subject_id), str(cycle), int(version),
                   int(amount), str(currency), bool(late), PaymentState(state), str(method),
                   str(provider_reference), str(cheque_number),
                   None if paid_cents is None else int(paid_cents),
                   dt.date.fromisoformat(paid_on) if paid_on else None, str(recorded_by),
                   made, changed)
