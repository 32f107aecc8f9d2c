"""What a coordinator does to other accounts: roles, disable/enable, unlock, remove a lost
authenticator. Each change is audited in its own transaction with the change.

A change of roles or a disable ends every session of the account at once (a privilege change
takes effect on the next request, not at the next sign-in), and a node never loses its last
active coordinator that way: someone must be able to invite and unlock the others
(`alliance staff add` at the server's shell remains for a node that has none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from federation_api.accounts.audit_log import AuditLog
from federation_api.accounts.emails import AccountMail
from federation_api.accounts.errors import AccountNotFound, LastCoordinator
from federation_api.accounts.links import OneTimeLinks
from federation_api.accounts.roles import SELF_SERVICE_ROLES, AccountRole, parse_roles
from federation_api.accounts.sessions import SessionStore
from federation_api.accounts.signin import SignedIn
from federation_api.accounts.store import Account, AccountStore
from ledger.storage.database import Cursor, Database


class AccountAdmin:
    """Coordinators' changes to accounts."""

    def __init__(self, db: Database, *, store: AccountStore, sessions: SessionStore,
                 links: OneTimeLinks, audit: AuditLog, mail: AccountMail) -> None:
        self.db = db
        self.store = store
        self.sessions = sessions
        self.links = links
        self.audit = audit
        self.mail = mail

    def _target(self, cur: Cursor, by: SignedIn, account_id: str) -> Account:
        by.require(AccountRole.COORDINATOR)
        account = self.store.get(cur, account_id)
        if account is None:
            raise AccountNotFound("no such account", field="account_id", rule="account.exists")
        return account

    def _keeps_a_coordinator(self, cur: Cursor, account: Account, *, losing: bool) -> None:
        if losing and self.store.active_coordinators(cur) <= {account.account_id}:
            raise LastCoordinator("this is the association's last active coordinator; make "
                                  "someone else coordinator first", field="roles",
                                  rule="coordinator.last")

    def set_roles(self, by: SignedIn, account_id: str, roles: Iterable[str], *,
                  now: dt.datetime, client: str = "") -> Account:
        """Replace an account's staff roles; its sessions end."""
        wanted = parse_roles(roles)
        with self.db.transaction() as cur:
            account = self._target(cur, by, account_id)
            # Staff roles are replaced; an applicant or professional role the person holds
            # on their own behalf stays.
            new = wanted | (account.roles & SELF_SERVICE_ROLES)
            self._keeps_a_coordinator(cur, account, losing=account.has(AccountRole.COORDINATOR)
                                      and AccountRole.COORDINATOR not in new)
            self.store.set_roles(cur, account_id, new, now=now)
            ended = self.sessions.revoke_all(cur, account_id, now=now)
            self.audit.record(cur, actor=by.actor, action="account.roles", target=account_id,
                              detail=f"{', '.join(sorted(account.roles)) or 'none'} -> "
                                     f"{', '.join(sorted(new))}; {ended} sessions ended",
                              client=client, now=now)
            result = self.store.get(cur, account_id)
        assert result is not None
        return result

    def disable(self, by: SignedIn, account_id: str, *, now: dt.datetime,
                client: str = "") -> None:
        """Nobody can sign in as the account; its sessions and open links end."""
        with self.db.transaction() as cur:
            account = self._target(cur, by, account_id)
            self._keeps_a_coordinator(cur, account,
                                      losing=account.has(AccountRole.COORDINATOR))
            self.store.set_disabled(cur, account_id, True, now=now)
            ended = self.sessions.revoke_all(cur, account_id, now=now)
            self.links.cancel(cur, account_id, now=now)
            self.audit.record(cur, actor=by.actor, action="account.disable", target=account_id,
                              detail=f"{ended} sessions ended", client=client, now=now)

    def enable(self, by: SignedIn, account_id: str, *, now: dt.datetime,
               client: str = "") -> None:
        """Undo `disable`."""
        with self.db.transaction() as cur:
            self._target(cur, by, account_id)
            self.store.set_disabled(cur, account_id, False, now=now)
            self.audit.record(cur, actor=by.actor, action="account.enable", target=account_id,
                              client=client, now=now)

    def unlock(self, by: SignedIn, account_id: str, *, now: dt.datetime,
               client: str = "") -> None:
        """Lift a lock-out before it runs out."""
        with self.db.transaction() as cur:
            self._target(cur, by, account_id)
            self.store.unlock(cur, account_id, now=now)
            self.audit.record(cur, actor=by.actor, action="account.unlock", target=account_id,
                              client=client, now=now)

    def reset_second_factor(self, by: SignedIn, account_id: str, *, now: dt.datetime,
                            client: str = "") -> None:
        """Remove a lost authenticator and its recovery codes; the account's sessions end and
        it enrols again at its next sign-in. The owner is told by email."""
        with self.db.transaction() as cur:
            account = self._target(cur, by, account_id)
            self.store.clear_totp(cur, account_id, now=now)
            ended = self.sessions.revoke_all(cur, account_id, now=now)
            self.mail.second_factor_reset(cur, account, by=by.account.display_name, now=now)
            self.audit.record(cur, actor=by.actor, action="account.second_factor_reset",
                              target=account_id, detail=f"{ended} sessions ended",
                              client=client, now=now)
        self.mail.outbox.notify()
