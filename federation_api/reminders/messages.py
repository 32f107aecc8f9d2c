"""The text of each reminder: plain text only, so no stored field can become markup."""

from __future__ import annotations

import datetime as dt

from domain.application import Application
from domain.policy import AssociationPolicy
from federation_api.people.return_notice import comments_text, how_to_answer
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


def returned_waiting_text(application: Application, *, given_name: str,
                          association_name: str, returned_on: dt.date, days: int,
                          status_url: str | None) -> tuple[str, str]:
    """(subject, body) of the reminder that a returned application still waits for the
    applicant's answer, `days` days after the return: the comments again, and where to
    answer them (the portal page, or the association)."""
    level = application.level
    subject = f"{association_name} is waiting for your answer about your application"
    body = (f"Hello {given_name},\n\n"
            f"On {returned_on.isoformat()} {association_name} returned your application for "
            f"{level.title} ({level.value}) with comments, and it has not been answered yet. "
            f"It stays returned, and is not reviewed, until you answer. These are the "
            f"comments:\n\n"
            + comments_text(application) + "\n" + how_to_answer(status_url)
            + f"\nThis is a required notice about your application ({days} days after its "
              f"return); it cannot be unsubscribed from.\n")
    return subject, body
