"""Reference ratings (issue 12): rating requests with their drafts and ratings, the links
emailed for them (SHA-256 hashes only) and the applicants' waivers, as
`federation_api.ratings.store` creates them. Private; never on the ledger.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "node_0007"
down_revision = "node_0006"
branch_labels = None
depends_on = None

SQL = """
-- as federation_api.ratings.store creates them
CREATE TABLE IF NOT EXISTS rating_requests (
    request_id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    rater_id TEXT NOT NULL,
    rater_name TEXT NOT NULL,
    recipient TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    links_sent INTEGER NOT NULL,
    last_mailed_at TEXT NOT NULL,
    reminders INTEGER NOT NULL,
    answers TEXT,
    saved_at TEXT,
    submitted_at TEXT,
    content_sha256 TEXT,
    UNIQUE (application_id, rater_id)
);
CREATE TABLE IF NOT EXISTS rating_links (
    link_hash TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES rating_requests (request_id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    superseded_at TEXT
);
CREATE INDEX IF NOT EXISTS rating_links_request ON rating_links (request_id);
CREATE TABLE IF NOT EXISTS rating_waivers (
    application_id TEXT PRIMARY KEY,
    signed_by TEXT NOT NULL,
    how TEXT NOT NULL,
    text_version TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
"""


def upgrade() -> None:
    """Create the ratings' tables and index."""
    run(SQL)


def downgrade() -> None:
    """Not offered: dropping the tables would destroy the ratings received."""
    raise NotImplementedError("ratings are not downgraded")
