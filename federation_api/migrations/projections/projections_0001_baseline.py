"""Baseline: the projections tables exactly as the last release without migrations created them.

Holds every read model the projector builds from the ledgers, its faults and its
tracking.

Every statement is IF NOT EXISTS: a database that release wrote (no version table yet) whose
tables match this revision is brought to it by running it, which creates only the tables that
release had not made yet (see `federation_api.migrations.shapes`).
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "projections_0001"
down_revision = None
branch_labels = None
depends_on = None

SQL = """
-- as projections.tables created them
CREATE TABLE IF NOT EXISTS roster (
    endorsement_id TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    person_id TEXT NOT NULL,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT,
    status TEXT NOT NULL,
    granted_on TEXT NOT NULL,
    valid_through TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    aggregate_id TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS roster_person ON roster (person_id);
CREATE INDEX IF NOT EXISTS roster_association ON roster (association, status);
CREATE TABLE IF NOT EXISTS status_history (
    endorsement_id TEXT NOT NULL,
    effective_on TEXT NOT NULL,
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT,
    valid_through TEXT NOT NULL,
    PRIMARY KEY (endorsement_id, association, seq)
);
CREATE TABLE IF NOT EXISTS masters_prepared (
    endorsement_id TEXT PRIMARY KEY,
    since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
    application_id TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    person_id TEXT NOT NULL,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT,
    state TEXT NOT NULL,
    unmet TEXT NOT NULL,
    started_on TEXT NOT NULL,
    updated_on TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_association ON applications (association, state);
CREATE TABLE IF NOT EXISTS application_reviewers (
    application_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    association TEXT NOT NULL,
    position BIGINT NOT NULL,
    assigned_on TEXT NOT NULL,
    conflict_declared_on TEXT,
    decision TEXT,
    decided_on TEXT,
    PRIMARY KEY (application_id, reviewer)
);
CREATE INDEX IF NOT EXISTS application_reviewers_reviewer
    ON application_reviewers (association, reviewer);
CREATE TABLE IF NOT EXISTS exam_sittings (
    application_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    association TEXT NOT NULL,
    sat_on TEXT NOT NULL,
    passed BIGINT NOT NULL,
    retake_from TEXT,
    PRIMARY KEY (application_id, attempt)
);
CREATE TABLE IF NOT EXISTS projection_faults (
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (association, seq)
);
CREATE TABLE IF NOT EXISTS projection_tracking (
    association TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
"""


def upgrade() -> None:
    """Create the tables of the baseline."""
    run(SQL)


def downgrade() -> None:
    """Not offered: dropping a node's tables is not a step back but the end of its data."""
    raise NotImplementedError("the baseline is not downgraded")
