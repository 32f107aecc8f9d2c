"""Portable credentials (issue 14): the signed status list versions the node serves, and the
split views of peers' lists it caught, as `federation_api.credentials.served_lists` and
`list_watch` create them.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "node_0002"
down_revision = "node_0001"
branch_labels = None
depends_on = None

SQL = """
-- as federation_api.credentials.served_lists and list_watch create them
CREATE TABLE IF NOT EXISTS served_status_lists (
    list_id TEXT NOT NULL,
    list_version BIGINT NOT NULL,
    signed_at TEXT NOT NULL,
    document {blob} NOT NULL,
    PRIMARY KEY (list_id, list_version)
);
CREATE TABLE IF NOT EXISTS status_list_forks (
    association TEXT NOT NULL,
    list_url TEXT NOT NULL,
    served_hash TEXT NOT NULL,
    document {blob} NOT NULL,
    found_at TEXT NOT NULL,
    resolved_at TEXT,
    PRIMARY KEY (association, list_url, served_hash)
);
"""


def upgrade() -> None:
    """Create the tables."""
    run(SQL)


def downgrade() -> None:
    """Not offered: a rollback is a restore (docs/storage.md)."""
    raise NotImplementedError("no downgrades")
