"""Signing in by an emailed link, for the people an association serves (issue 12).

Applicants and endorsed professionals sign in a few times a year; a one-time link to their
inbox spares them a password they would forget, and proves they hold the address. It is for
self-service accounts only: an account with any staff role signs in with its password (and
TOTP where its role needs it), so a mailbox alone never opens the staff workspace.

`request(email)` answers the same whether or not the address has an account, and queues no
new link while the account's last one is live (unspent and under 15 minutes old), so asking
again does not flood the inbox; once that link is spent (the person signed in, and perhaps
out again) a new one is sent. `complete(token)` spends the link (15 minutes, once) and
returns a full session.
"""

from __future__ import annotations

import datetime as dt

from federation_api.accounts.audit_log import Actor, AuditLog
from federation_api.accounts.emails import AccountMail
from federation_api.accounts.errors import LinkInvalid
from federation_api.accounts.links import EXPIRED_MESSAGE, LinkPurpose, OneTimeLinks
from federation_api.accounts.policy import SignInPolicy
from federation_api.accounts.sessions import SessionStage, SessionStore
from federation_api.accounts.signin import SignedIn, SignInService
from federation_api.accounts.store import AccountStore
from ledger.storage.database import Database


class EmailSignIn:
    """Sign-in links for self-service accounts."""

    def __init__(self, db: Database, *, store: AccountStore, links: OneTimeLinks,
                 sessions: SessionStore, audit: AuditLog, mail: AccountMail,
                 policy: SignInPolicy, sign_in: SignInService) -> None:
        self.db = db
        self.store = store
        self.links = links
        self.sessions = sessions
        self.audit = audit
        self.mail = mail
        self.policy = policy
        self.sign_in = sign_in

    def request(self, email: str, *, now: dt.datetime, client: str = "") -> None:
        """Queue a sign-in link if the address has an enabled self-service account."""
        self.sign_in.charge(client, now)
        window = self.policy.window(now)
        with self.db.transaction() as cur:
            account = self.store.by_email(cur, email) if len(email) <= 320 else None
            if account is None or account.disabled or account.is_staff:
                return
            since = dt.datetime.fromtimestamp(
                int(window) * self.policy.mail_window.total_seconds(), dt.UTC)
            issued, live = self.links.issued_since(cur, account.account_id,
                                                   LinkPurpose.SIGN_IN, since=since, now=now)
            if live:
                return  # the last link still works: its mail is on its way
            if issued:  # the window's earlier links are spent: the next mail is a new one
                window = f"{window}.{issued}"
            if self.mail.outbox.queued(cur, f"account.sign_in_link:{account.account_id}:"
                                            f"{window}"):
                return
            lifetime = self.policy.sign_in_link_lifetime
            token = self.links.issue(cur, account_id=account.account_id,
                                     purpose=LinkPurpose.SIGN_IN,
                                     issued_by=Actor.account(account.account_id).label,
                                     now=now, lifetime=lifetime)
            self.mail.sign_in_link(cur, account, token, window=window,
                                   expires_at=now + lifetime, now=now)
        self.mail.outbox.notify()

    def complete(self, token: str, *, now: dt.datetime, client: str = "",
                 replaces: str | None = None) -> SignedIn:
        """Spend a sign-in link; a new full session. LinkInvalid if it is not live, or if the
        account has gained a staff role since the link was sent."""
        self.sign_in.charge(client, now)
        with self.db.transaction() as cur:
            info = self.links.spend(cur, token, LinkPurpose.SIGN_IN, now=now)
            account = self.store.get(cur, info.account_id)
            if account is None or account.disabled or account.is_staff:
                raise LinkInvalid(EXPIRED_MESSAGE, field="token", rule="link.live")
            if replaces:
                self.sessions.revoke(cur, replaces, now=now)
            self.store.mark_email_verified(cur, account.account_id, now=now)
            session_id, session = self.sessions.create(cur, account_id=account.account_id,
                                                       stage=SessionStage.FULL, now=now,
                                                       client=client)
            self.audit.record(cur, actor=Actor.account(account.account_id), action="sign_in",
                              detail="signed in with an emailed link", client=client, now=now)
            verified = self.store.get(cur, account.account_id)
        assert verified is not None
        return SignedIn(session_id, session, verified)
