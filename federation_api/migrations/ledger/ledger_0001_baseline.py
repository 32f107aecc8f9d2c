"""Baseline: the ledger tables exactly as the last release without migrations created them.

Holds the signed entries with their tracking and high-water mark, the checkpoints and
cosignatures, the witness's state, the quarantine and the fork evidence.

Every statement is IF NOT EXISTS: a database that release wrote (no version table yet) whose
tables match this revision is brought to it by running it, which creates only the tables that
release had not made yet (see `federation_api.migrations.shapes`).
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "ledger_0001"
down_revision = None
branch_labels = None
depends_on = None

SQL = """
-- as ledger.chain.store created them
CREATE TABLE IF NOT EXISTS ledger_entries (
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    entry_hash {blob} NOT NULL,
    wire {blob} NOT NULL,
    PRIMARY KEY (association, seq)
);
CREATE TABLE IF NOT EXISTS ledger_tracking (
    follower TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_high_water (
    association TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    entry_hash {blob} NOT NULL,
    sealed_seq BIGINT NOT NULL,
    position BIGINT NOT NULL
);
-- as ledger.ingest created them
CREATE TABLE IF NOT EXISTS quarantine (
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    reason TEXT NOT NULL,
    source TEXT NOT NULL,
    wire {blob} NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fork_evidence (
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    stored_hash {blob} NOT NULL,
    other_wire {blob} NOT NULL,
    detected_at TEXT NOT NULL,
    resolved_at TEXT,
    resolution TEXT,
    PRIMARY KEY (association, seq, stored_hash)
);
-- as ledger.transparency.log created them
CREATE TABLE IF NOT EXISTS checkpoints (
    association TEXT NOT NULL,
    size BIGINT NOT NULL,
    root_hash {blob} NOT NULL,
    note {blob} NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (association, size)
);
CREATE TABLE IF NOT EXISTS checkpoint_cosignatures (
    association TEXT NOT NULL,
    size BIGINT NOT NULL,
    root_hash {blob} NOT NULL,
    witness TEXT NOT NULL,
    cosigned_at BIGINT NOT NULL,
    line {blob} NOT NULL,
    PRIMARY KEY (association, size, root_hash, witness)
);
-- as ledger.transparency.witness created them
CREATE TABLE IF NOT EXISTS witness_state (
    association TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    root_hash {blob} NOT NULL,
    note {blob} NOT NULL,
    cosigned {blob} NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS witness_pending (
    association TEXT NOT NULL,
    size BIGINT NOT NULL,
    root_hash {blob} NOT NULL,
    note {blob} NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (association, size, root_hash)
);
CREATE TABLE IF NOT EXISTS witness_refusals (
    association TEXT NOT NULL,
    note_hash {blob} NOT NULL,
    size BIGINT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    note {blob} NOT NULL,
    other_note {blob} NOT NULL,
    other_root {blob} NOT NULL,
    fork INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    resolved_at TEXT,
    resolution TEXT,
    PRIMARY KEY (association, note_hash)
);
"""


def upgrade() -> None:
    """Create the tables of the baseline."""
    run(SQL)


def downgrade() -> None:
    """Not offered: dropping a node's tables is not a step back but the end of its data."""
    raise NotImplementedError("the baseline is not downgraded")
