"""The named raters of one application as the staff page lists them: whether each held an
endorsement on the day of the rating (anywhere in the Alliance, from the replicated ledgers)
and whether the coordinator has vetted them.

Level I accepts a rater the Endorsement Coordinator vetted in place of an endorsed one, so
the page must show which raters are neither: those are the ones a coordinator may vet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domain.application import Application
from domain.lookup import EndorsementLookup


@dataclass(frozen=True)
class RaterRow:
    """One rater named by the application's evidence (a rater named twice is one row)."""

    rater_id: str
    rater_name: str
    role: str
    rated_on: dt.date
    endorsed_as: str  # e.g. "AK Infant Mental Health Specialist (IMHS)" that day; "" if none
    vetted: bool
    awaited: bool = False  # named in the portal, not rated yet (`rated_on` is the day named)


def raters_of(application: Application, lookup: EndorsementLookup
              ) -> list[RaterRow]:
    """The application's raters, in the order the evidence names them."""
    rows: dict[str, RaterRow] = {}
    vetted = set(application.vetted_rater_ids)
    for rating in application.evidence.ratings:
        if rating.rater_id in rows:
            continue
        held = lookup.held_on(rating.rater_id, rating.rated_on)
        endorsed = ", ".join(f"{h.association} {h.level.title} ({h.level.value})"
                             for h in held)
        rows[rating.rater_id] = RaterRow(
            rater_id=rating.rater_id, rater_name=rating.rater_name,
            role=rating.role.value.replace("_", " "), rated_on=rating.rated_on,
            endorsed_as=endorsed, vetted=rating.rater_id in vetted,
            awaited=rating.received is False)
    return list(rows.values())
