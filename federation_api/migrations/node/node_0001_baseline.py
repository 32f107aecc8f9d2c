"""Baseline: the node tables exactly as the last release without migrations created them.

Holds API tokens, idempotency keys and intents, employer subscriptions, webhooks and
the change feed, the mail outbox, staff accounts with their sessions, links and audit log.

Every statement is IF NOT EXISTS: a database that release wrote (no version table yet) whose
tables match this revision is brought to it by running it, which creates only the tables that
release had not made yet (see `federation_api.migrations.shapes`).
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "node_0001"
down_revision = None
branch_labels = None
depends_on = None

SQL = """
-- as federation_api.accounts.tokens created them
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    expires_at TEXT,
    issued_by TEXT
);
-- as federation_api.node.idempotency created them
CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body {blob} NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE TABLE IF NOT EXISTS idempotency_intents (
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    marks {blob} NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
-- as federation_api.notifications.employer_tables created them
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
);
-- as federation_api.mail.outbox created them
CREATE TABLE IF NOT EXISTS mail_outbox (
    mail_id TEXT PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_at TEXT,
    claim_token TEXT,
    sent_at TEXT,
    failed_at TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
-- as federation_api.accounts.tables created them
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    password_changed_at TEXT,
    totp_secret {blob},
    totp_pending {blob},
    totp_last_step BIGINT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    disabled_at TEXT,
    email_verified_at TEXT,
    person_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (association, email_key)
);
CREATE TABLE IF NOT EXISTS account_roles (
    account_id TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (account_id, role)
);
CREATE TABLE IF NOT EXISTS account_recovery_codes (
    code_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX IF NOT EXISTS account_recovery_codes_account
    ON account_recovery_codes (account_id);
CREATE TABLE IF NOT EXISTS account_links (
    link_hash TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    account_id TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX IF NOT EXISTS account_links_account ON account_links (account_id, purpose);
CREATE TABLE IF NOT EXISTS account_sessions (
    session_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    csrf_secret TEXT NOT NULL,
    client TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    idle_expires_at TEXT NOT NULL,
    absolute_expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS account_sessions_account ON account_sessions (account_id);
CREATE TABLE IF NOT EXISTS staff_audit (
    audit_id {serial},
    actor TEXT NOT NULL,
    account_id TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    client TEXT NOT NULL,
    ledger_association TEXT,
    ledger_seq BIGINT,
    ledger_hash TEXT,
    recorded_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS staff_audit_account ON staff_audit (account_id, audit_id);
"""


def upgrade() -> None:
    """Create the tables of the baseline."""
    run(SQL)


def downgrade() -> None:
    """Not offered: dropping a node's tables is not a step back but the end of its data."""
    raise NotImplementedError("the baseline is not downgraded")
