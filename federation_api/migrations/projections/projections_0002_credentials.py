"""Portable credentials (issue 14): the status lists, whose bit is whose, every recorded list
version, and the issued credentials, as `projections.tables` creates them.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "projections_0002"
down_revision = "projections_0001"
branch_labels = None
depends_on = None

SQL = """
-- as projections.tables creates them
CREATE TABLE IF NOT EXISTS status_lists (
    aggregate_id TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    purpose TEXT NOT NULL,
    list_number BIGINT NOT NULL,
    size BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS status_list_indexes (
    aggregate_id TEXT NOT NULL,
    list_index BIGINT NOT NULL,
    association TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    endorsement_id TEXT NOT NULL,
    PRIMARY KEY (aggregate_id, list_index)
);
CREATE TABLE IF NOT EXISTS status_list_versions (
    aggregate_id TEXT NOT NULL,
    list_version BIGINT NOT NULL,
    association TEXT NOT NULL,
    list_hash TEXT NOT NULL,
    set_bits_count BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (aggregate_id, list_version)
);
CREATE TABLE IF NOT EXISTS credentials (
    credential_id TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    endorsement_id TEXT NOT NULL,
    endorsement_version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_endorsement ON credentials (endorsement_id, seq);
"""


def upgrade() -> None:
    """Create the tables."""
    run(SQL)


def downgrade() -> None:
    """Not offered: a rollback is a restore (docs/storage.md)."""
    raise NotImplementedError("no downgrades")
