"""The accounts tables in the node database, and how times are stored in them.

Times are UTC ISO-8601 text of one fixed width (`2026-03-01T09:30:00.000000+00:00`), so SQL
compares them as strings correctly on SQLite and PostgreSQL alike.

- `accounts`: one row per person who signs in; the email is unique per association after
  case folding (`email_key`). No password yet means invited, not yet accepted. TOTP seeds
  are sealed (secret_box); `totp_last_step` is the last time step a code was used for.
- `account_roles`: the set of roles of each account.
- `account_recovery_codes`: SHA-256 of each unused or used recovery code.
- `account_links`: one-time tokens sent by email (invitation, password reset, sign-in link),
  stored as SHA-256 of purpose and token, single-use, expiring, with who issued them.
- `account_sessions`: signed-in browsers; the session id is stored as its SHA-256 only.
- `staff_audit`: every staff action, with the account that did it and what it produced.
"""

from __future__ import annotations

from ledger.storage.database import Database

_DDL = """
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
CREATE INDEX IF NOT EXISTS staff_audit_account ON staff_audit (account_id, audit_id)
"""


def create_tables(db: Database) -> None:
    """Create the accounts tables if they are missing (idempotent)."""
    db.ddl(_DDL.replace("{serial}", serial_primary_key(db)))


def serial_primary_key(db: Database) -> str:
    """An auto-numbered primary key column type: the audit log's order of recording."""
    if db.dialect == "sqlite":
        return "INTEGER PRIMARY KEY AUTOINCREMENT"
    return "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"


