"""The board report's kept counts (issue 11): three tables the projector keeps beside the
rows they count, as `projections.tables` creates them, filled here from the rows an existing
node already has.

The cold board report used to GROUP BY the whole roster and run a window over the whole
status history; with these tables it sums a few hundred keys (`projections.report_counts`
says what each key counts). An existing database gains the tables already counted, by the
same aggregates the report used to run, so a node upgraded in place shows the figures it
showed before, with no rebuild. The tables are derived from roster and status_history and
are not part of the projection digest, so no digest changes.

With them, the index `roster_changes` (association, last_seq): the roster rows an
association's entries changed after a position, which the counts by county read to follow
the projection instead of reading every current endorsement again.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "projections_0004"
down_revision = "projections_0003"
branch_labels = None
depends_on = None

SQL = """
-- as projections.tables creates them
CREATE TABLE IF NOT EXISTS report_counts (
    association TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT NOT NULL,
    status TEXT NOT NULL,
    year_granted BIGINT NOT NULL,
    endorsements BIGINT NOT NULL,
    PRIMARY KEY (association, level, designation, status, year_granted)
);
CREATE TABLE IF NOT EXISTS report_active_through (
    association TEXT NOT NULL,
    valid_through TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT NOT NULL,
    year_granted BIGINT NOT NULL,
    endorsements BIGINT NOT NULL,
    PRIMARY KEY (association, valid_through, level, designation, year_granted)
);
CREATE INDEX IF NOT EXISTS report_active_through_day ON report_active_through (valid_through);
-- The roster rows an association's entries changed after a position (the county counts).
CREATE INDEX IF NOT EXISTS roster_changes ON roster (association, last_seq);
CREATE TABLE IF NOT EXISTS report_renewals (
    association TEXT NOT NULL,
    year BIGINT NOT NULL,
    renewed BIGINT NOT NULL,
    lapsed BIGINT NOT NULL,
    PRIMARY KEY (association, year)
);
-- the counts of the rows already projected (no designation is '': a key is never NULL)
INSERT INTO report_counts (association, level, designation, status, year_granted, endorsements)
SELECT association, level, COALESCE(designation, ''), status,
       CAST(substr(granted_on, 1, 4) AS BIGINT), COUNT(*)
FROM roster
GROUP BY association, level, COALESCE(designation, ''), status,
         CAST(substr(granted_on, 1, 4) AS BIGINT);
INSERT INTO report_active_through (association, valid_through, level, designation,
                                   year_granted, endorsements)
SELECT association, valid_through, level, COALESCE(designation, ''),
       CAST(substr(granted_on, 1, 4) AS BIGINT), COUNT(*)
FROM roster WHERE status = 'active'
GROUP BY association, valid_through, level, COALESCE(designation, ''),
         CAST(substr(granted_on, 1, 4) AS BIGINT);
INSERT INTO report_renewals (association, year, renewed, lapsed)
SELECT association, CAST(year AS BIGINT),
       SUM(CASE WHEN status = 'active' AND prev_status = 'active'
                 AND valid_through > prev_through AND effective_on > prev_on
            THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'lapsed' AND (prev_status IS NULL OR prev_status <> 'lapsed')
            THEN 1 ELSE 0 END)
FROM (SELECT substr(effective_on, 1, 4) AS year, association, status, valid_through,
             effective_on, LAG(status) OVER w AS prev_status,
             LAG(valid_through) OVER w AS prev_through, LAG(effective_on) OVER w AS prev_on
      FROM status_history
      WINDOW w AS (PARTITION BY endorsement_id ORDER BY effective_on, seq, association)) h
GROUP BY association, year
HAVING SUM(CASE WHEN status = 'active' AND prev_status = 'active'
                 AND valid_through > prev_through AND effective_on > prev_on
            THEN 1 ELSE 0 END)
     + SUM(CASE WHEN status = 'lapsed' AND (prev_status IS NULL OR prev_status <> 'lapsed')
            THEN 1 ELSE 0 END) > 0;
"""


def upgrade() -> None:
    """Create the tables and count the rows already there."""
    run(SQL)


def downgrade() -> None:
    """Not offered: a rollback is a restore (docs/storage.md)."""
    raise NotImplementedError("no downgrades")
