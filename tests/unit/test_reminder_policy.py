"""The reminder policy: which threshold is due on a day, the mandatory list, bad policies."""

from __future__ import annotations

import pytest

from federation_api.reminders.policy import (
    MANDATORY,
    WAITING_DAYS,
    ReminderKind,
    ReminderPolicy,
    waiting_threshold,
)


@pytest.mark.parametrize(("days_left", "due"), [
    (100, None), (61, None), (60, 60), (45, 60), (31, 60), (30, 30), (8, 30), (7, 7), (0, 7),
    (-1, None)])
def test_the_most_recently_crossed_threshold_is_the_one_due(days_left: int,
                                                            due: int | None) -> None:
    assert ReminderPolicy().threshold(days_left) == due


def test_a_policy_of_its_own_days() -> None:
    policy = ReminderPolicy(days_before=(14,))
    assert (policy.horizon, policy.threshold(20), policy.threshold(3)) == (14, None, 14)


@pytest.mark.parametrize("days", [(), (400,), (-1,), (30, 30)])
def test_a_policy_outside_the_rules_is_refused(days: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="reminder days"):
        ReminderPolicy(days_before=days)


def test_every_kind_sent_is_on_the_mandatory_list() -> None:
    """No kind this package sends carries an unsubscribe link, so each must be mandatory."""
    assert set(ReminderKind) == MANDATORY


@pytest.mark.parametrize(("days_since", "due"), [
    (-1, None), (0, None), (6, None), (7, 7), (20, 7), (21, 21), (51, 21), (52, None)])
def test_the_waiting_reminder_due_after_a_return(days_since: int, due: int | None) -> None:
    """7 and 21 days after a return; a threshold crossed over 30 days ago is not sent."""
    assert waiting_threshold(days_since) == due
    assert WAITING_DAYS == (7, 21)
