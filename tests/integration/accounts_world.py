"""An association's accounts on a real database, for the accounts tests (a fixtures module)."""

from __future__ import annotations

import datetime as dt
import re

from federation_api.accounts import totp
from federation_api.accounts.bootstrap import Accounts
from federation_api.accounts.passwords import Argon2Parameters, PasswordHasher
from federation_api.accounts.policy import SignInPolicy
from federation_api.accounts.secret_box import SecretBox
from federation_api.accounts.signin import Enrolment, SignedIn
from federation_api.accounts.tokens import TokenStore
from federation_api.mail.outbox import Outbox
from ledger.storage.database import Database, DatabaseUrl

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PASSWORD = "tulip harbour seventeen"
# Real Argon2id, at a cost that keeps the suite quick; the parameters themselves are tested in
# tests/unit/test_passwords.py.
QUICK = PasswordHasher(Argon2Parameters(time_cost=1, memory_kib=1024))
KEY = SecretBox(b"k" * 32)


class World:
    """One node database with its outbox, token store and accounts; a clock to move."""

    def __init__(self, url: str, *, policy: SignInPolicy | None = None) -> None:
        self.db = Database(DatabaseUrl.parse(url))
        self.outbox = Outbox(self.db)
        self.token_store = TokenStore(self.db)
        self.accounts = Accounts.open(
            self.db, association="AK", association_name="Alaska Association",
            public_url="https://ak.example.org/", outbox=self.outbox, box=KEY,
            tokens=self.token_store, hasher=QUICK,
            policy=policy or SignInPolicy(client_burst=10_000))
        self.now = T0

    def tick(self, **delta: float) -> dt.datetime:
        """Move the clock on."""
        self.now += dt.timedelta(**delta)
        return self.now

    def add(self, email: str, *roles: str, password: str = PASSWORD) -> str:
        """An account made by `alliance staff add` with a password; its id."""
        added = self.accounts.invitations.staff_add(email=email, display_name=email.split("@")[0],
                                                    roles=roles, password=password, now=self.now)
        return added.account.account_id

    def enrolled(self, email: str, *roles: str) -> tuple[SignedIn, Enrolment]:
        """Sign in an account that must enrol, and enrol it; (full session, enrolment)."""
        pending = self.accounts.sign_in.sign_in(email, PASSWORD, now=self.now)
        enrolment = self.accounts.sign_in.begin_enrolment(pending.session_id, now=self.now)
        signed, _ = self.accounts.sign_in.confirm_enrolment(
            pending.session_id, self.code(enrolment), now=self.now)
        return signed, enrolment

    def code(self, enrolment: Enrolment, steps: int = 0) -> str:
        """The authenticator app's code now (or `steps` later)."""
        return totp.code_at(enrolment.secret, totp.step_of(self.now) + steps)

    def coordinator(self, email: str = "coord@ak.example.org") -> tuple[SignedIn, Enrolment]:
        """A signed-in, enrolled coordinator."""
        self.add(email, "coordinator")
        return self.enrolled(email)

    def mails(self) -> list[tuple[str, str, str]]:
        """(recipient, subject, text) of every queued message, oldest first."""
        rows = self.db.query("SELECT recipient, subject, text_body FROM mail_outbox "
                             "ORDER BY created_at, mail_id")
        return [(r[0], r[1], r[2]) for r in rows]

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


def link_token(text: str) -> str:
    """The token of the one-time link in an email's text."""
    found = re.search(r"\?token=([A-Za-z0-9_-]+)", text)
    assert found, text
    return found.group(1)
