"""Association policy: the parts of renewal and lapse each association configures."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import msgspec


class RenewalCycle(StrEnum):
    """Whether every endorsement renews on one fixed date or on its own anniversary."""

    FIXED_DATE = "fixed_date"
    ANNIVERSARY = "anniversary"


class ReinstatementRule(StrEnum):
    """How a lapsed professional comes back."""

    CATCH_UP_HOURS = "catch_up_hours"  # document the missed cycles' hours, then reinstate
    REAPPLY = "reapply"  # a new application is required
    COMMITTEE_DISCRETION = "committee_discretion"


class AssociationPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Renewal date, grace period and reinstatement rule of one association."""

    cycle: RenewalCycle = RenewalCycle.FIXED_DATE
    fixed_month: int = 12
    fixed_day: int = 31
    grace_days: int = 60
    reinstatement: ReinstatementRule = ReinstatementRule.CATCH_UP_HOURS

    def __post_init__(self) -> None:
        # Parse, don't validate: a policy with an impossible date cannot exist.
        dt.date(2000, self.fixed_month, self.fixed_day)  # a leap year, so 29 Feb is allowed
        if not 0 <= self.grace_days <= 366:
            raise ValueError("grace_days must be between 0 and 366")

    def first_valid_through(self, granted_on: dt.date) -> dt.date:
        """End of the first cycle for an endorsement granted on `granted_on`."""
        if self.cycle is RenewalCycle.ANNIVERSARY:
            return _add_year(granted_on) - dt.timedelta(days=1)
        end = _fixed(granted_on.year, self.fixed_month, self.fixed_day)
        # Granted on or after this year's renewal date: the first cycle ends next year.
        return end if granted_on < end else _fixed(granted_on.year + 1, self.fixed_month,
                                                   self.fixed_day)

    def next_valid_through(self, valid_through: dt.date) -> dt.date:
        """End of the cycle that follows one ending on `valid_through`."""
        if self.cycle is RenewalCycle.ANNIVERSARY:
            return _add_year(valid_through + dt.timedelta(days=1)) - dt.timedelta(days=1)
        return _fixed(valid_through.year + 1, self.fixed_month, self.fixed_day)

    def lapses_on(self, valid_through: dt.date) -> dt.date:
        """First day on which an unrenewed endorsement lapses (after the grace period)."""
        return valid_through + dt.timedelta(days=self.grace_days + 1)


def _fixed(year: int, month: int, day: int) -> dt.date:
    if month == 2 and day == 29:
        try:
            return dt.date(year, 2, 29)
        except ValueError:
            return dt.date(year, 2, 28)
    return dt.date(year, month, day)


def _add_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 Feb
        return day.replace(year=day.year + 1, day=28)
