"""Person records (issue 11): the association's private records of its applicants and
professionals, as `federation_api.people.store` creates them. Never on the ledger.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "node_0003"
down_revision = "node_0002"
branch_labels = None
depends_on = None

SQL = """
-- as federation_api.people.store creates them
CREATE TABLE IF NOT EXISTS people (
    person_id TEXT PRIMARY KEY,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    search_key TEXT NOT NULL,
    birth_date TEXT,
    other_identity TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    phone TEXT NOT NULL,
    street TEXT NOT NULL,
    city TEXT NOT NULL,
    county TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    membership_number TEXT NOT NULL,
    membership_expires TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS people_name_key ON people (name_key);
CREATE INDEX IF NOT EXISTS people_email_key ON people (email_key);
"""


def upgrade() -> None:
    """Create the people table and its indexes."""
    run(SQL)


def downgrade() -> None:
    """Not offered: dropping the table would destroy the association's person records."""
    raise NotImplementedError("person records are not downgraded")
