"""When reminders go out, and which messages no unsubscribe can stop.

The days before valid-through are association policy (`ReminderPolicy.days_before`, default
60, 30 and 7). On any day, an endorsement gets at most the one reminder whose threshold it
has most recently crossed: after a node was down for a week, a professional 25 days from
valid-through gets the 30-day reminder, not the 60-day one as well.

MANDATORY lists the kinds of message that go to a professional whatever they chose about
optional mail: they tell of a duty (renew, answer a returned application) or a change to
their standing (lapsed), which an association must be able to show it sent. Every kind
this package sends is mandatory, so no message of it carries an unsubscribe link; an
optional kind added later must carry one and be left out of this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReminderKind(StrEnum):
    """A kind of reminder; its value is part of the dedupe key."""

    BEFORE_VALID_THROUGH = "renewal-due"
    LAPSED = "lapsed"
    RETURNED_WAITING = "returned-waiting"  # the coordinator waits on the applicant's answer


MANDATORY: frozenset[ReminderKind] = frozenset({ReminderKind.BEFORE_VALID_THROUGH,
                                                ReminderKind.LAPSED,
                                                ReminderKind.RETURNED_WAITING})
LAPSE_NOTICE_DAYS = 30  # a lapse recorded more than this long ago is not noticed any more

# A returned application not yet answered: a reminder this many days after the return. The
# association waits on the applicant; each reminder tells them so once. Like the renewal
# reminders, a day gets at most the one whose threshold was crossed most recently, and one
# crossed more than WAITING_NOTICE_DAYS ago is not sent any more (a node upgraded with old
# returns on its books does not mail about each of them at once).
WAITING_DAYS: tuple[int, ...] = (7, 21)
WAITING_NOTICE_DAYS = 30


def waiting_threshold(days_since: int, days: tuple[int, ...] = WAITING_DAYS) -> int | None:
    """The waiting reminder due `days_since` days after a return: the largest threshold at
    or below it, if crossed at most WAITING_NOTICE_DAYS ago (None: none is due)."""
    crossed = [d for d in days if d <= days_since]
    if not crossed or days_since - max(crossed) > WAITING_NOTICE_DAYS:
        return None
    return max(crossed)


@dataclass(frozen=True)
class ReminderPolicy:
    """The days before valid-through on which a renewal reminder is due."""

    days_before: tuple[int, ...] = (60, 30, 7)

    def __post_init__(self) -> None:
        if not self.days_before or any(not 0 <= d <= 366 for d in self.days_before):
            raise ValueError("reminder days must be 0 to 366 days before valid-through")
        if len(set(self.days_before)) != len(self.days_before):
            raise ValueError("reminder days must not repeat")

    @property
    def horizon(self) -> int:
        """How far ahead of valid-through the first reminder goes."""
        return max(self.days_before)

    def threshold(self, days_left: int) -> int | None:
        """The reminder due with `days_left` days to valid-through: the smallest threshold
        at or above it (None: none is due yet, or valid-through has passed)."""
        if days_left < 0:
            return None
        crossed = [d for d in self.days_before if d >= days_left]
        return min(crossed) if crossed else None

