"""The node-database tables of employer notifications, created together.

They live in the node database (beside tokens and idempotency keys), not in the projections:
they are not a function of the ledgers alone (they depend on who subscribed when), so they
must survive a projection rebuild and stay out of the projection digest. The notifier writes
change rows, outbox rows and its tracking position in one transaction of this database.
"""

from __future__ import annotations

from ledger.storage.database import Database

DDL = """
CREATE TABLE IF NOT EXISTS employer_subscriptions (
    employer TEXT NOT NULL,
    endorsement_id TEXT NOT NULL,
    subscribed_at TEXT NOT NULL,
    from_change BIGINT NOT NULL,
    PRIMARY KEY (employer, endorsement_id)
);
CREATE INDEX IF NOT EXISTS employer_subscriptions_endorsement
    ON employer_subscriptions (endorsement_id);
CREATE TABLE IF NOT EXISTS status_changes (
    change_id BIGINT PRIMARY KEY,
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    endorsement_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    old_status TEXT,
    new_status TEXT NOT NULL,
    effective_on TEXT NOT NULL,
    valid_through TEXT NOT NULL,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT,
    endorsing_association TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (association, seq, endorsement_id)
);
CREATE INDEX IF NOT EXISTS status_changes_endorsement ON status_changes (endorsement_id);
CREATE TABLE IF NOT EXISTS notifier_tracking (
    association TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS employer_webhooks (
    employer TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    employer TEXT NOT NULL,
    change_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,  -- epoch milliseconds: compared as numbers
    created_at TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (employer, change_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_employer ON webhook_deliveries (employer, change_id);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
)
"""


def create(db: Database) -> None:
    """Create the tables if they are missing (idempotent)."""
    db.ddl(DDL)
