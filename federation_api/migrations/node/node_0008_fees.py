"""Fees and payments (issue 12): the fee schedule's versions, a payment record per
application and per renewal cycle, and the provider callbacks seen, as
`federation_api.fees.store` creates them. Private node data, never on the ledger.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "node_0008"
down_revision = "node_0007"
branch_labels = None
depends_on = None

SQL = """
-- as federation_api.fees.store creates them
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
);
"""


def upgrade() -> None:
    """Create the fee schedule, payments and payment callbacks tables."""
    run(SQL)


def downgrade() -> None:
    """Not offered: dropping the tables would destroy the association's payment records."""
    raise NotImplementedError("payment records are not downgraded")
