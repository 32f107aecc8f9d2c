"""The numbers of the sign-in rules, in one place."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class SignInPolicy:
    """Lock-out, per-client limits and link lifetimes.

    Lock-out is per account and lives in the database, so every process sees it: after
    `max_failures` wrong passwords or codes in a row the account is paused for `lock_for`,
    whoever tries. Failures are forgiven only by a complete sign-in (password and, where
    enrolled, the code), so knowing the password does not buy unlimited code guesses. The
    per-client limit (`client_burst` attempts at once, then `client_per_hour`) is kept in
    the process (token buckets); it stops one address spraying guesses over many accounts.
    """

    max_failures: int = 5
    lock_for: dt.timedelta = dt.timedelta(minutes=15)
    client_burst: int = 20
    client_per_hour: int = 120
    invitation_lifetime: dt.timedelta = dt.timedelta(days=7)
    reset_lifetime: dt.timedelta = dt.timedelta(hours=1)
    sign_in_link_lifetime: dt.timedelta = dt.timedelta(minutes=15)
    mail_window: dt.timedelta = dt.timedelta(minutes=15)  # at most one reset mail per window

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.client_burst < 1 or self.client_per_hour < 1:
            raise ValueError("sign-in limits must be at least 1")

    def window(self, now: dt.datetime) -> str:
        """The mail window `now` falls in, as a dedupe key part."""
        return str(int(now.timestamp() // self.mail_window.total_seconds()))
