"""The emails the accounts send, queued in the outbox inside the caller's transaction.

Links are built from the node's configured public URL (ALLIANCE_PUBLIC_URL), never from the
request's Host header: a forged Host would otherwise put an attacker's site into a password
reset email. The token travels in the query string; the pages that receive it answer with
`Referrer-Policy: no-referrer` and `Cache-Control: no-store`, and the request log never
records query strings.

Bodies are plain text only: names and addresses are shown as typed, with no markup to inject.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import urlencode, urlsplit

from federation_api.accounts.store import Account
from federation_api.mail.outbox import Outbox
from ledger.storage.database import Cursor

# Where the pages engineer serves the link targets (GET shows the form, POST acts).
INVITATION_PATH = "/staff/invitation"
PASSWORD_RESET_PATH = "/staff/password-reset"  # noqa: S105 - a URL path, not a password
SIGN_IN_LINK_PATH = "/portal/sign-in/link"  # the portal pages (issue 12)


class AccountMail:
    """Composes and queues the accounts' emails."""

    def __init__(self, outbox: Outbox, *, public_url: str, association_name: str) -> None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError("the public URL must be http(s)://host[:port][/path] (set "
                             "ALLIANCE_PUBLIC_URL)")
        self.outbox = outbox
        self.public_url = public_url.rstrip("/")
        self.name = association_name

    def link(self, path: str, token: str) -> str:
        """The absolute URL of a one-time link."""
        return f"{self.public_url}{path}?{urlencode({'token': token})}"

    def invitation(self, cur: Cursor, account: Account, token: str, *, invited_by: str,
                   expires_at: dt.datetime, now: dt.datetime) -> None:
        """Invite a person to set their password."""
        text = (f"Hello {account.display_name},\n\n"
                f"{invited_by} has invited you to the {self.name} endorsement workspace.\n"
                f"Open this link to choose your password:\n\n"
                f"{self.link(INVITATION_PATH, token)}\n\n"
                f"The link works once, until {_when(expires_at)}. If you did not expect this "
                f"invitation, ignore this email.\n")
        self.outbox.enqueue(cur, dedupe_key=f"account.invitation:{_tag(token)}",
                            recipient=account.email,
                            subject=f"Your invitation to the {self.name} workspace",
                            text=text, now=now)

    def password_reset(self, cur: Cursor, account: Account, token: str, *, window: str,
                       expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Send a reset link; False (nothing queued) if one went to this account in the same
        window already, so a form cannot be used to flood an inbox."""
        text = (f"Hello {account.display_name},\n\n"
                f"Someone asked to reset the password of your {self.name} account. If it was "
                f"you, open this link to choose a new password:\n\n"
                f"{self.link(PASSWORD_RESET_PATH, token)}\n\n"
                f"The link works once, until {_when(expires_at)}. If it was not you, ignore "
                f"this email: your password stays as it is.\n")
        return self.outbox.enqueue(cur, dedupe_key=f"account.reset:{account.account_id}:"
                                                   f"{window}",
                                   recipient=account.email,
                                   subject=f"Reset your {self.name} password", text=text,
                                   now=now)

    def reset_window_taken(self, cur: Cursor, account: Account, window: str) -> bool:
        """Whether a reset email went to this account in this window already."""
        return self.outbox.queued(cur, f"account.reset:{account.account_id}:{window}")

    def password_changed(self, cur: Cursor, account: Account, *, now: dt.datetime) -> None:
        """Tell the owner their password changed (a stolen session changing it is noticed)."""
        text = (f"Hello {account.display_name},\n\n"
                f"The password of your {self.name} account was changed on {_when(now)}, and "
                f"every other signed-in browser was signed out. If this was not you, reset "
                f"your password at once and tell your coordinator.\n")
        self.outbox.enqueue(cur, dedupe_key=f"account.password_changed:{account.account_id}:"
                                            f"{now.isoformat()}",
                            recipient=account.email,
                            subject=f"Your {self.name} password was changed", text=text,
                            now=now)

    def second_factor_reset(self, cur: Cursor, account: Account, *, by: str,
                            now: dt.datetime) -> None:
        """Tell the owner a coordinator removed their authenticator."""
        text = (f"Hello {account.display_name},\n\n"
                f"{by} removed the authenticator app from your {self.name} account on "
                f"{_when(now)}. You will be asked to set one up at your next sign-in. If you "
                f"did not ask for this, tell your coordinator.\n")
        self.outbox.enqueue(cur, dedupe_key=f"account.second_factor_reset:"
                                            f"{account.account_id}:{now.isoformat()}",
                            recipient=account.email,
                            subject=f"Your {self.name} sign-in was changed", text=text, now=now)

    def sign_in_link(self, cur: Cursor, account: Account, token: str, *, window: str,
                     expires_at: dt.datetime, now: dt.datetime) -> bool:
        """A sign-in link for a self-service account (issue 12); one per window."""
        text = (f"Hello {account.display_name},\n\n"
                f"Open this link to sign in to your {self.name} account:\n\n"
                f"{self.link(SIGN_IN_LINK_PATH, token)}\n\n"
                f"The link works once, until {_when(expires_at)}. If you did not ask for it, "
                f"ignore this email.\n")
        return self.outbox.enqueue(cur, dedupe_key=f"account.sign_in_link:"
                                                   f"{account.account_id}:{window}",
                                   recipient=account.email,
                                   subject=f"Sign in to {self.name}", text=text, now=now)


def _tag(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%d %B %Y, %H:%M UTC")
