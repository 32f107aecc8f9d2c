"""Standing: what an endorsement may be shown as on a date, computed from its recorded status.

A lapse is an explicit ledger event that arrives after the grace period (or late, from an
offline peer), so the recorded status alone could still say "active" after `valid_through`.
The standing closes that window: it is "current" only while active and within valid-through
(DESIGN invariant 5). It takes the date as an argument; nothing here reads a clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.levels import EndorsementStatus

if TYPE_CHECKING:  # rows.py imports Standing from here
    from projections.rows import HistoryRow


class Standing(StrEnum):
    """The word shown for an endorsement on a date."""

    CURRENT = "current"
    EXPIRED = "expired"  # recorded active, but past valid-through (lapse not recorded yet)
    LAPSED = "lapsed"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    RELINQUISHED = "relinquished"
    TRANSFERRED = "transferred"


def standing_on(status: EndorsementStatus, valid_through: dt.date, on: dt.date) -> Standing:
    """The standing of an endorsement with this recorded status and valid-through, on `on`."""
    if status is EndorsementStatus.ACTIVE:
        return Standing.CURRENT if on <= valid_through else Standing.EXPIRED
    return Standing(status.value)


def recorded_on(history: Iterable[HistoryRow], on: dt.date) -> HistoryRow | None:
    """The history row in force on `on`: the last one effective by then, by effective date
    and then ledger order; None if the endorsement had not been granted yet.

    A transfer is final: once another association recognised the endorsement (or its home
    recorded the move), nothing its old home records later makes it current again.
    """
    found: HistoryRow | None = None
    transferred: HistoryRow | None = None
    for row in history:
        if row.effective_on > on:
            continue
        if row.status is EndorsementStatus.TRANSFERRED and (
                transferred is None or row.order < transferred.order):
            transferred = row
        if found is None or row.order > found.order:
            found = row
    return transferred or found
