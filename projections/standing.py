"""Standing: what an endorsement may be shown as on a date, computed from its recorded status.

A lapse is an explicit ledger event that arrives after the grace period (or late, from an
offline peer), so the recorded status alone could still say "active" after `valid_through`.
The standing closes that window: it is "current" only while active and within valid-through
(DESIGN invariant 5). It takes the date as an argument; nothing here reads a clock.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from domain.levels import EndorsementStatus


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
