"""The applicant portal (issue 12): draft applications and the texts signed in them, as
`federation_api.portal.drafts` creates them. Private: never on the ledger.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "node_0004"
down_revision = "node_0003"
branch_labels = None
depends_on = None

SQL = """
-- as federation_api.portal.drafts creates them
CREATE TABLE IF NOT EXISTS portal_drafts (
    draft_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    application_id TEXT NOT NULL UNIQUE,
    level TEXT NOT NULL,
    designation TEXT,
    form_values TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT
);
CREATE INDEX IF NOT EXISTS portal_drafts_account ON portal_drafts (account_id);
CREATE TABLE IF NOT EXISTS portal_signatures (
    draft_id TEXT NOT NULL,
    document TEXT NOT NULL,
    text_version TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    signed_by TEXT NOT NULL,
    signed_name TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (draft_id, document)
);
"""


def upgrade() -> None:
    """Create the portal's tables."""
    run(SQL)


def downgrade() -> None:
    """Not offered: dropping the tables would destroy applicants' unsubmitted drafts."""
    raise NotImplementedError("portal drafts are not downgraded")
