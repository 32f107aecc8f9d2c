"""The text of each reminder: plain text only, so no stored field can become markup."""

from __future__ import annotations

import datetime as dt

from domain.policy import AssociationPolicy
from projections.rows import RosterRow


def renewal_due_text(row: RosterRow, *, given_name: str, association_name: str,
                     days_left: int, policy: AssociationPolicy) -> tuple[str, str]:
    """(subject, body) of the reminder `days_left` days before valid-through."""
    through = row.valid_through
    last_day = policy.lapses_on(through) - dt.timedelta(days=1)
    when = "today" if days_left == 0 else f"in {days_left} day{'' if days_left == 1 else 's'}"
    subject = f"Your endorsement renewal is due {when}"
    body = (f"Hello {given_name},\n\n"
            f"Your {row.level.title} ({row.level.value}) endorsement {row.endorsement_id} "
            f"with {association_name} is valid through {through.isoformat()}.\n\n"
            f"To keep it, renew by then with this year's training and RS/C hours, your "
            f"membership and the renewal fee. If it is not renewed by "
            f"{last_day.isoformat()}, the end of the grace period, it lapses and is no "
            f"longer shown as current.\n\n"
            f"This is a required notice about your endorsement; it cannot be unsubscribed "
            f"from.\n")
    return subject, body


def lapsed_text(row: RosterRow, *, given_name: str, association_name: str) -> tuple[str, str]:
    """(subject, body) of the notice that an endorsement has lapsed."""
    subject = "Your endorsement has lapsed"
    body = (f"Hello {given_name},\n\n"
            f"Your {row.level.title} ({row.level.value}) endorsement {row.endorsement_id} "
            f"with {association_name} was valid through {row.valid_through.isoformat()} and "
            f"was not renewed by the end of its grace period, so it has lapsed: it is no "
            f"longer shown as current.\n\n"
            f"Ask {association_name} how a lapsed endorsement is reinstated.\n\n"
            f"This is a required notice about your endorsement; it cannot be unsubscribed "
            f"from.\n")
    return subject, body
