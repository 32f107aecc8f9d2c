"""Wiring: one `Accounts` object holding every accounts service over one node database.

The node builds it once (`Accounts.open`) from its node database, the mail outbox on the same
database (so account changes and their emails commit together), the node's account secret
key (`SecretBox.load_or_create(data_dir / "keys" / "accounts.key")`) and its API token store.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation_api.accounts.admin import AccountAdmin
from federation_api.accounts.audit_log import AuditLog
from federation_api.accounts.browser_tokens import BrowserTokens
from federation_api.accounts.email_sign_in import EmailSignIn
from federation_api.accounts.emails import AccountMail
from federation_api.accounts.invitations import Invitations
from federation_api.accounts.links import OneTimeLinks
from federation_api.accounts.password_reset import PasswordResets
from federation_api.accounts.passwords import PasswordHasher
from federation_api.accounts.policy import SignInPolicy
from federation_api.accounts.secret_box import SecretBox
from federation_api.accounts.sessions import SessionPolicy, SessionStore
from federation_api.accounts.signin import SignInService
from federation_api.accounts.store import AccountStore
from federation_api.accounts.tokens import TokenStore
from federation_api.mail.outbox import Outbox
from ledger.storage.database import Database


@dataclass(frozen=True)
class Accounts:
    """Every accounts service of a node."""

    store: AccountStore
    sessions: SessionStore
    links: OneTimeLinks
    audit: AuditLog
    sign_in: SignInService
    invitations: Invitations
    resets: PasswordResets
    admin: AccountAdmin
    tokens: BrowserTokens
    mail: AccountMail
    email_sign_in: EmailSignIn

    @classmethod
    def open(cls, db: Database, *, association: str, association_name: str, public_url: str,
             outbox: Outbox, box: SecretBox, tokens: TokenStore,
             policy: SignInPolicy | None = None, session_policy: SessionPolicy | None = None,
             hasher: PasswordHasher | None = None) -> Accounts:
        """Create the tables if needed and wire the services. `outbox` and `tokens` must use
        the same `db`, so that one transaction covers an action, its email and its audit."""
        if outbox.db is not db or tokens.db is not db:
            raise ValueError("the outbox and the token store must share the accounts database")
        policy = policy or SignInPolicy()
        hasher = hasher or PasswordHasher()
        store = AccountStore(db, association=association)
        sessions = SessionStore(db, session_policy)
        links = OneTimeLinks(db)
        audit = AuditLog(db)
        mail = AccountMail(outbox, public_url=public_url, association_name=association_name)
        sign_in = SignInService(db, store=store, sessions=sessions, audit=audit, hasher=hasher,
                                box=box, mail=mail, policy=policy,
                                issuer=f"{association_name} ({association})")
        return cls(store=store, sessions=sessions, links=links, audit=audit, sign_in=sign_in,
                   invitations=Invitations(db, store=store, links=links, audit=audit,
                                           hasher=hasher, mail=mail, policy=policy),
                   resets=PasswordResets(db, store=store, links=links, sessions=sessions,
                                         audit=audit, hasher=hasher, mail=mail, policy=policy,
                                         sign_in=sign_in),
                   admin=AccountAdmin(db, store=store, sessions=sessions, links=links,
                                      audit=audit, mail=mail),
                   tokens=BrowserTokens(tokens, audit), mail=mail,
                   email_sign_in=EmailSignIn(db, store=store, links=links, sessions=sessions,
                                             audit=audit, mail=mail, policy=policy,
                                             sign_in=sign_in))
