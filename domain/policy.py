"""Association policy: the parts of renewal, lapse, reapplication and the written exam that each
association configures."""

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


class FirstCycleHours(StrEnum):
    """From when training and RS/C hours count toward the first renewal after a grant."""

    APPLICATION_START = "application_start"  # from the day the application was started
    GRANT = "grant"  # from the grant only
    LOOKBACK = "lookback"  # from `first_cycle_lookback_days` before the grant


class RevocationReapply(StrEnum):
    """Whether, and when, a person whose endorsement was revoked may be endorsed again."""

    NEVER = "never"
    AFTER_YEARS = "after_years"  # once `reapply_after_years` have passed since the revocation
    COMMITTEE_DISCRETION = "committee_discretion"  # only the Endorsement Committee may grant


class AssociationPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Renewal date, first cycle, grace period, reinstatement, reapplication and exam rules.

    Defaults, and why a careful association would choose them:
    - the first cycle lasts at least 12 months (`first_cycle_min_months`): an endorsement
      granted on 2 December is not "renewal due" four weeks later, and the holder has a
      whole year to document the 15 hours; on a fixed renewal date the first cycle runs to
      the first renewal date at least 12 months after the grant (2 Dec 2026 -> 31 Dec 2027);
    - hours for the first renewal count from the day the application was started
      (`first_cycle_hours_from`), so training taken while the application was under review
      is not lost;
    - after a revocation only the Endorsement Committee may grant again
      (`reapply_after_revocation`): the committee that upholds the Code of Ethics decides
      whether the person may come back, nobody escapes its decision by reapplying, and no
      one is barred for life without that committee having weighed it;
    - the written exam (levels III and IV) is passed with 70 of 100 points, may be sat three
      times per application, and a retake comes at least 30 days after the sitting before:
      time to study between attempts, and a bound on attempts so that an application does not
      stay open for years. These only apply to sittings recorded from now on; each sitting
      records the pass mark it was measured against, so changing the policy rewrites nothing.
    """

    cycle: RenewalCycle = RenewalCycle.FIXED_DATE
    fixed_month: int = 12
    fixed_day: int = 31
    grace_days: int = 60
    reinstatement: ReinstatementRule = ReinstatementRule.CATCH_UP_HOURS
    first_cycle_min_months: int = 12
    first_cycle_hours_from: FirstCycleHours = FirstCycleHours.APPLICATION_START
    first_cycle_lookback_days: int = 365
    reapply_after_revocation: RevocationReapply = RevocationReapply.COMMITTEE_DISCRETION
    reapply_after_years: int = 5
    exam_pass_mark: float = 70.0
    exam_max_score: float = 100.0
    exam_max_attempts: int = 3
    exam_retake_wait_days: int = 30

    def __post_init__(self) -> None:
        # Parse, don't validate: a policy with an impossible date cannot exist.
        dt.date(2000, self.fixed_month, self.fixed_day)  # a leap year, so 29 Feb is allowed
        if not 0 <= self.grace_days <= 366:
            raise ValueError("grace_days must be between 0 and 366")
        if not 0 <= self.first_cycle_min_months <= 24:
            raise ValueError("first_cycle_min_months must be between 0 and 24")
        if not 0 <= self.first_cycle_lookback_days <= 730:
            raise ValueError("first_cycle_lookback_days must be between 0 and 730")
        if not 1 <= self.reapply_after_years <= 50:
            raise ValueError("reapply_after_years must be between 1 and 50")
        if not 0 < self.exam_max_score <= 10_000:
            raise ValueError("exam_max_score must be above 0 and at most 10000")
        if not 0 < self.exam_pass_mark <= self.exam_max_score:
            raise ValueError("exam_pass_mark must be above 0 and at most exam_max_score")
        if not 1 <= self.exam_max_attempts <= 10:
            raise ValueError("exam_max_attempts must be between 1 and 10")
        if not 0 <= self.exam_retake_wait_days <= 730:
            raise ValueError("exam_retake_wait_days must be between 0 and 730")

    def first_valid_through(self, granted_on: dt.date) -> dt.date:
        """End of the first cycle for an endorsement granted on `granted_on`: the first
        cycle end of the renewal calendar that leaves at least `first_cycle_min_months`."""
        if self.cycle is RenewalCycle.ANNIVERSARY:
            end = _add_year(granted_on) - dt.timedelta(days=1)
        else:
            end = _fixed(granted_on.year, self.fixed_month, self.fixed_day)
            # Granted on or after this year's renewal date: the first cycle ends next year.
            if granted_on >= end:
                end = _fixed(granted_on.year + 1, self.fixed_month, self.fixed_day)
        shortest = add_months(granted_on, self.first_cycle_min_months) - dt.timedelta(days=1)
        while end < shortest:
            end = self.next_valid_through(end)
        return end

    def first_cycle_start(self, granted_on: dt.date, applied_on: dt.date | None) -> dt.date:
        """From when hours count toward the first renewal of an endorsement granted on
        `granted_on` from an application started on `applied_on` (None: no application)."""
        if self.first_cycle_hours_from is FirstCycleHours.LOOKBACK:
            lookback = dt.timedelta(days=self.first_cycle_lookback_days)
            return granted_on - lookback if granted_on - dt.date.min > lookback else dt.date.min
        if self.first_cycle_hours_from is FirstCycleHours.APPLICATION_START and applied_on:
            return min(applied_on, granted_on)
        return granted_on

    def next_valid_through(self, valid_through: dt.date) -> dt.date:
        """End of the cycle that follows one ending on `valid_through`."""
        if self.cycle is RenewalCycle.ANNIVERSARY:
            return _add_year(valid_through + dt.timedelta(days=1)) - dt.timedelta(days=1)
        return _fixed(valid_through.year + 1, self.fixed_month, self.fixed_day)

    def lapses_on(self, valid_through: dt.date) -> dt.date:
        """First day on which an unrenewed endorsement lapses (after the grace period)."""
        return valid_through + dt.timedelta(days=self.grace_days + 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved on by whole calendar months; a day the month lacks becomes its last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


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
