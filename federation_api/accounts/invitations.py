"""New staff accounts: a coordinator's emailed invitation, or `alliance staff add` at the
server's shell.

An invited account exists from the invitation on, with its roles but no password; the
emailed link (one-time, seven days) lets the person choose the password. Inviting an address
again while the invitation is open sends a fresh link and cancels the old one. The roles take
effect only when the person has signed in (with TOTP where the role needs it).

`alliance staff add` is how the first coordinator of a node comes to exist, so it needs no
signed-in account: it runs with the server's own rights (the audit log says `cli`). It either
takes the password (read from standard input by the CLI, checked against the policy) or
returns a one-time set-password link to print.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from federation_api.accounts.audit_log import CLI, Actor, AuditLog
from federation_api.accounts.emails import INVITATION_PATH, AccountMail
from federation_api.accounts.errors import EmailTaken
from federation_api.accounts.links import LinkInfo, LinkPurpose, OneTimeLinks
from federation_api.accounts.passwords import PasswordHasher, check_password
from federation_api.accounts.policy import SignInPolicy
from federation_api.accounts.roles import AccountRole, parse_roles
from federation_api.accounts.signin import SignedIn
from federation_api.accounts.store import Account, AccountStore, normalise_email
from ledger.storage.database import Database


@dataclass(frozen=True)
class StaffAdded:
    """What `alliance staff add` prints: the account, and the set-password link when no
    password was given."""

    account: Account
    link: str | None
    link_expires_at: dt.datetime | None


class Invitations:
    """Invite staff, accept invitations, add staff from the CLI."""

    def __init__(self, db: Database, *, store: AccountStore, links: OneTimeLinks,
                 audit: AuditLog, hasher: PasswordHasher, mail: AccountMail,
                 policy: SignInPolicy) -> None:
        self.db = db
        self.store = store
        self.links = links
        self.audit = audit
        self.hasher = hasher
        self.mail = mail
        self.policy = policy

    def invite(self, by: SignedIn, *, email: str, display_name: str, roles: Iterable[str],
               now: dt.datetime, client: str = "") -> Account:
        """Invite a person by email (coordinators only). EmailTaken if the address already
        belongs to an account that has a password."""
        by.require(AccountRole.COORDINATOR)
        wanted = parse_roles(roles)
        normalise_email(email)
        with self.db.transaction() as cur:
            existing = self.store.by_email(cur, email)
            if existing is not None and existing.has_password:
                raise EmailTaken("this person has an account already; change their roles on "
                                 "their page instead", field="email", rule="email.unique")
            if existing is None:
                account = self.store.create(cur, email=email, display_name=display_name,
                                            roles=wanted, now=now)
            else:  # an open invitation: send it again, with these roles
                self.store.set_roles(cur, existing.account_id, wanted, now=now)
                account = existing
            token = self.links.issue(cur, account_id=account.account_id,
                                     purpose=LinkPurpose.INVITATION, issued_by=by.actor.label,
                                     now=now, lifetime=self.policy.invitation_lifetime)
            self.mail.invitation(cur, account, token, invited_by=by.account.display_name,
                                 expires_at=now + self.policy.invitation_lifetime, now=now)
            self.audit.record(cur, actor=by.actor, action="account.invite",
                              target=account.account_id,
                              detail=f"roles {', '.join(sorted(wanted))}"
                                     + ("; sent again" if existing else ""),
                              client=client, now=now)
            result = self.store.get(cur, account.account_id)
        self.mail.outbox.notify()
        assert result is not None
        return result

    def check(self, token: str, *, now: dt.datetime) -> LinkInfo:
        """The invitation behind a link, before the form is shown; LinkInvalid if it is used
        or expired (the page says so plainly)."""
        return self.links.peek(token, LinkPurpose.INVITATION, now=now)

    def accept(self, token: str, password: str, *, now: dt.datetime,
               client: str = "") -> Account:
        """Set the first password through an invitation link. The password is checked before
        the link is spent, so a refused password leaves the link usable."""
        info = self.check(token, now=now)
        account = self.store.find(info.account_id)
        if account is None:
            raise EmailTaken("this invitation's account no longer exists", field="token",
                             rule="link.account")
        check_password(password, email=account.email)
        hashed = self.hasher.hash(password)
        with self.db.transaction() as cur:
            self.links.spend(cur, token, LinkPurpose.INVITATION, now=now)
            self.store.set_password(cur, account.account_id, hashed, now=now,
                                    email_verified=True)
            self.audit.record(cur, actor=Actor.account(account.account_id),
                              action="account.invitation_accepted", target=account.account_id,
                              detail=f"invited by {info.issued_by}", client=client, now=now)
            result = self.store.get(cur, account.account_id)
        assert result is not None
        return result

    def staff_add(self, *, email: str, display_name: str, roles: Iterable[str],
                  now: dt.datetime, password: str | None = None) -> StaffAdded:
        """Create a staff account from the server's shell (`alliance staff add`): with the
        given password, or with a one-time set-password link to print (seven days)."""
        wanted = parse_roles(roles)
        email, _ = normalise_email(email)
        if password is not None:
            check_password(password, email=email)
        hashed = self.hasher.hash(password) if password is not None else None
        with self.db.transaction() as cur:
            account = self.store.create(cur, email=email, display_name=display_name,
                                        roles=wanted, now=now, password_hash=hashed)
            link = None
            if hashed is None:
                token = self.links.issue(cur, account_id=account.account_id,
                                         purpose=LinkPurpose.INVITATION, issued_by=CLI.label,
                                         now=now, lifetime=self.policy.invitation_lifetime)
                link = self.mail.link(INVITATION_PATH, token)
            self.audit.record(cur, actor=CLI, action="account.create",
                              target=account.account_id,
                              detail=f"roles {', '.join(sorted(wanted))}; "
                                     + ("password given" if hashed else "set-password link"),
                              now=now)
        return StaffAdded(account=account, link=link,
                          link_expires_at=None if link is None
                          else now + self.policy.invitation_lifetime)
