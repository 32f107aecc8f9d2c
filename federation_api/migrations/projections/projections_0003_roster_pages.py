"""The roster's keyset pages and the renewals due (issue 11): two indexes on the roster, as
`projections.tables` creates them.

`roster_keyset` (association, endorsement_id) lets a roster page read its 100 rows in id
order after the last one shown instead of sorting the association's whole roster;
`roster_due` (association, status, valid_through) lets "active and ending by a date" read
only the endorsements due. Indexes only: no table or row changes, so no digest changes.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "projections_0003"
down_revision = "projections_0002"
branch_labels = None
depends_on = None

SQL = """
CREATE INDEX IF NOT EXISTS roster_keyset ON roster (association, endorsement_id);
CREATE INDEX IF NOT EXISTS roster_due ON roster (association, status, valid_through);
"""


def upgrade() -> None:
    """Create the indexes."""
    run(SQL)


def downgrade() -> None:
    """Not offered: a rollback is a restore (docs/storage.md)."""
    raise NotImplementedError("no downgrades")
