"""Which roster rows a status filter selects, for the API and `alliance roster export`.

The public page speaks of standings ("current", "expired"), the ledger of recorded statuses
("active", "lapsed" ...). A coordinator asking for the `current` roster means what the page
means: recorded active and on or before valid-through on the day asked (DESIGN invariant 5),
so the filter is computed with `standing_on`, the same function the public answer uses.
`active` keeps its recorded meaning (current and expired together).
"""

from __future__ import annotations

import datetime as dt

from domain.levels import EndorsementStatus
from federation_api.web.schemas import RosterStatus
from projections.queries import ProjectionReader
from projections.rows import RosterRow
from projections.standing import standing_on


def select_roster(projector: ProjectionReader, association: str, status: RosterStatus | None,
                  on: dt.date) -> list[RosterRow]:
    """`association`'s roster rows with `status` on `on` (all rows when None), by id."""
    if status is None:
        return projector.roster(association)
    if status is RosterStatus.ACTIVE:
        return projector.roster(association, EndorsementStatus.ACTIVE.value)
    if status in (RosterStatus.CURRENT, RosterStatus.EXPIRED):
        return [r for r in projector.roster(association, EndorsementStatus.ACTIVE.value)
                if standing_on(r.status, r.valid_through, on).value == status.value]
    return projector.roster(association, EndorsementStatus(status.value).value)
