"""Endorsed professionals in the portal (issue 12): the hours they log through the year and
the portal's record of each renewal made there (the membership confirmed, the Code of Ethics
re-signed with its version and hash), as `federation_api.portal.hours_log` and
`federation_api.portal.renewal` create them. Private: never on the ledger.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "node_0005"
down_revision = "node_0004"
branch_labels = None
depends_on = None

SQL = """
-- as federation_api.portal.hours_log creates it
CREATE TABLE IF NOT EXISTS portal_hours (
    entry_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    done_on TEXT NOT NULL,
    hours REAL NOT NULL,
    provider TEXT NOT NULL,
    description TEXT NOT NULL,
    rsc_topic INTEGER NOT NULL,
    logged_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_hours_account ON portal_hours (account_id, done_on);
-- as federation_api.portal.renewal creates it
CREATE TABLE IF NOT EXISTS portal_renewals (
    endorsement_id TEXT NOT NULL,
    cycle_end TEXT NOT NULL,
    account_id TEXT NOT NULL,
    renewed_on TEXT NOT NULL,
    seq INTEGER,
    entry_hash TEXT,
    membership_association TEXT NOT NULL,
    membership_valid_through TEXT NOT NULL,
    provides_rsc INTEGER NOT NULL,
    document TEXT NOT NULL,
    text_version TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    signed_name TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (endorsement_id, cycle_end)
);
CREATE INDEX IF NOT EXISTS portal_renewals_account ON portal_renewals (account_id);
"""


def upgrade() -> None:
    """Create the hours log and the renewal records."""
    run(SQL)


def downgrade() -> None:
    """Not offered: dropping the tables would destroy professionals' logged hours."""
    raise NotImplementedError("portal hours are not downgraded")
