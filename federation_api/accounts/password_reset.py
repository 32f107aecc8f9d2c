"""Password reset by an emailed one-time link.

`request(email)` answers the same for every address: the page says "if this address has an
account, a link is on its way" whether or not it has. For an enabled account a link (one
hour, single use) is queued, at most one email per account per quarter hour so the form
cannot flood an inbox. `complete(token, password)` sets the new password, lifts any lock-out,
ends every session of the account, spends the link and tells the owner by email.
"""

from __future__ import annotations

import datetime as dt

from federation_api.accounts.audit_log import Actor, AuditLog
from federation_api.accounts.emails import AccountMail
from federation_api.accounts.errors import LinkInvalid
from federation_api.accounts.links import EXPIRED_MESSAGE, LinkInfo, LinkPurpose, OneTimeLinks
from federation_api.accounts.passwords import PasswordHasher, check_password
from federation_api.accounts.policy import SignInPolicy
from federation_api.accounts.sessions import SessionStore
from federation_api.accounts.signin import SignInService
from federation_api.accounts.store import Account, AccountStore
from ledger.storage.database import Database


class PasswordResets:
    """Ask for and complete password resets."""

    def __init__(self, db: Database, *, store: AccountStore, links: OneTimeLinks,
                 sessions: SessionStore, audit: AuditLog, hasher: PasswordHasher,
                 mail: AccountMail, policy: SignInPolicy, sign_in: SignInService) -> None:
        self.db = db
        self.store = store
        self.links = links
        self.sessions = sessions
        self.audit = audit
        self.hasher = hasher
        self.mail = mail
        self.policy = policy
        self.sign_in = sign_in

    def request(self, email: str, *, now: dt.datetime, client: str = "") -> None:
        """Queue a reset link if the address has an enabled account; say nothing either way."""
        self.sign_in.charge(client, now)
        window = self.policy.window(now)
        queued = False
        with self.db.transaction() as cur:
            account = self.store.by_email(cur, email) if len(email) <= 320 else None
            if account is None or account.disabled:
                return
            if self.mail.reset_window_taken(cur, account, window):
                return
            token = self.links.issue(cur, account_id=account.account_id,
                                     purpose=LinkPurpose.PASSWORD_RESET,
                                     issued_by=Actor.account(account.account_id).label,
                                     now=now, lifetime=self.policy.reset_lifetime)
            queued = self.mail.password_reset(cur, account, token, window=window,
                                              expires_at=now + self.policy.reset_lifetime,
                                              now=now)
            self.audit.record(cur, actor=Actor.account(account.account_id),
                              action="account.password_reset_requested",
                              target=account.account_id, client=client, now=now)
        if queued:
            self.mail.outbox.notify()

    def check(self, token: str, *, now: dt.datetime) -> LinkInfo:
        """The reset behind a link, before the form is shown; LinkInvalid if it is not live."""
        return self.links.peek(token, LinkPurpose.PASSWORD_RESET, now=now)

    def complete(self, token: str, password: str, *, now: dt.datetime,
                 client: str = "") -> Account:
        """Set a new password through a reset link (checked against the policy before the
        link is spent); every session of the account ends."""
        self.sign_in.charge(client, now)
        info = self.check(token, now=now)
        account = self.store.find(info.account_id)
        if account is None or account.disabled:
            raise LinkInvalid(EXPIRED_MESSAGE, field="token", rule="link.live")
        check_password(password, email=account.email)
        hashed = self.hasher.hash(password)
        with self.db.transaction() as cur:
            self.links.spend(cur, token, LinkPurpose.PASSWORD_RESET, now=now)
            self.store.set_password(cur, account.account_id, hashed, now=now,
                                    email_verified=True)
            ended = self.sessions.revoke_all(cur, account.account_id, now=now)
            self.mail.password_changed(cur, account, now=now)
            self.audit.record(cur, actor=Actor.account(account.account_id),
                              action="account.password_reset", target=account.account_id,
                              detail=f"{ended} sessions ended", client=client, now=now)
            result = self.store.get(cur, account.account_id)
        self.mail.outbox.notify()
        assert result is not None
        return result
