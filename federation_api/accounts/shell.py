"""What the server's shell may do to accounts (`alliance staff ...`), with the node's own
rights: the audit log names the actor `cli`.

The shell is the way back in when the pages cannot help: the first coordinator
(`Invitations.staff_add`), a coordinator who lost both password and phone, a node whose
coordinators are all unavailable. So it needs no signed-in account, but each change is
audited and ends the account's sessions exactly as the same change in the pages does.
"""

from __future__ import annotations

import datetime as dt

from federation_api.accounts.audit_log import CLI
from federation_api.accounts.bootstrap import Accounts
from federation_api.accounts.emails import PASSWORD_RESET_PATH
from federation_api.accounts.errors import AccountNotFound, LastCoordinator
from federation_api.accounts.links import LinkPurpose
from federation_api.accounts.passwords import check_password
from federation_api.accounts.roles import AccountRole
from federation_api.accounts.store import Account
from ledger.storage.database import Cursor


class ShellAdmin:
    """Account changes from the server's shell."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.db = accounts.store.db

    def find(self, email_or_id: str) -> Account:
        """The account with this email address or id; AccountNotFound otherwise."""
        store = self.accounts.store
        with self.db.transaction(read_only=True) as cur:
            account = store.get(cur, email_or_id) or store.by_email(cur, email_or_id)
        if account is None:
            raise AccountNotFound(f"no account {email_or_id!r} in {store.association}",
                                  field="account", rule="account.exists")
        return account

    def disable(self, email_or_id: str, *, now: dt.datetime) -> Account:
        """Nobody can sign in as the account; its sessions and open links end. The last
        active coordinator is kept (add another first)."""
        account = self.find(email_or_id)
        with self.db.transaction() as cur:
            if (account.has(AccountRole.COORDINATOR)
                    and self.accounts.store.active_coordinators(cur) <= {account.account_id}):
                raise LastCoordinator("this is the association's last active coordinator; "
                                      "add another with `alliance staff add` first",
                                      field="account", rule="coordinator.last")
            self.accounts.store.set_disabled(cur, account.account_id, True, now=now)
            ended = self._end_sessions(cur, account, now)
            self.accounts.links.cancel(cur, account.account_id, now=now)
            self.accounts.audit.record(cur, actor=CLI, action="account.disable",
                                       target=account.account_id,
                                       detail=f"{ended} sessions ended", now=now)
        return self.find(account.account_id)

    def reset_password(self, email_or_id: str, *, now: dt.datetime,
                       password: str | None = None) -> str | None:
        """Set a new password (checked against the policy), or with none issue a one-time
        reset link (one hour) to hand over; every session of the account ends, and a lock-out
        is lifted by the new password. Returns the link, if one was made."""
        account = self.find(email_or_id)
        hashed = None
        if password is not None:
            check_password(password, email=account.email)
            hashed = self.accounts.sign_in.hasher.hash(password)
        policy = self.accounts.sign_in.policy
        with self.db.transaction() as cur:
            link = None
            if hashed is not None:
                self.accounts.store.set_password(cur, account.account_id, hashed, now=now)
                self.accounts.mail.password_changed(cur, account, now=now)
            else:
                token = self.accounts.links.issue(
                    cur, account_id=account.account_id, purpose=LinkPurpose.PASSWORD_RESET,
                    issued_by=CLI.label, now=now, lifetime=policy.reset_lifetime)
                link = self.accounts.mail.link(PASSWORD_RESET_PATH, token)
            ended = self._end_sessions(cur, account, now)
            self.accounts.audit.record(
                cur, actor=CLI, action="account.password_reset", target=account.account_id,
                detail=("password set" if hashed else "reset link printed")
                + f"; {ended} sessions ended", now=now)
        self.accounts.mail.outbox.notify()
        return link

    def remove_second_factor(self, email_or_id: str, *, now: dt.datetime) -> Account:
        """Remove a lost authenticator and its recovery codes; the owner sets up a new one at
        the next sign-in, and is told by email."""
        account = self.find(email_or_id)
        with self.db.transaction() as cur:
            self.accounts.store.clear_totp(cur, account.account_id, now=now)
            ended = self._end_sessions(cur, account, now)
            self.accounts.mail.second_factor_reset(cur, account, by="The server's "
                                                   "administrator", now=now)
            self.accounts.audit.record(cur, actor=CLI, action="account.second_factor_reset",
                                       target=account.account_id,
                                       detail=f"{ended} sessions ended", now=now)
        self.accounts.mail.outbox.notify()
        return self.find(account.account_id)

    def _end_sessions(self, cur: Cursor, account: Account, now: dt.datetime) -> int:
        ended: int = self.accounts.sessions.revoke_all(cur, account.account_id, now=now)
        return ended
