"""Signing in: password, then the second factor or its enrolment; sessions; sign-out.

The steps a browser goes through:

1. `sign_in(email, password)`: a new session at the stage the account needs next:
   `second_factor` if it has TOTP, `enrol_second_factor` if its roles require TOTP and it has
   none (a coordinator or committee member does nothing else until enrolled), else `full`.
2. `second_factor(session_id, code)` with a TOTP code or a recovery code: a new `full`
   session (new id).
3. `begin_enrolment` shows the seed, otpauth URI and QR code; `confirm_enrolment(code)` makes
   it the account's second factor, returns ten recovery codes (shown once) and a new `full`
   session.

Every answer that refuses says the same generic thing whether or not the account exists, is
locked or disabled, and does the same Argon2 work (`PasswordHasher.verify(None, ...)`).
Slow hashing runs outside database transactions, so one sign-in does not hold the node
database's connection for the length of a hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from federation_api.accounts import totp
from federation_api.accounts.audit_log import Actor, AuditLog, Outcome
from federation_api.accounts.emails import AccountMail
from federation_api.accounts.errors import (
    Forbidden,
    SecondFactorRefused,
    SessionInvalid,
    SignInRefused,
    TooManyAttempts,
)
from federation_api.accounts.passwords import PasswordHasher, check_password
from federation_api.accounts.policy import SignInPolicy
from federation_api.accounts.roles import AccountRole, needs_second_factor
from federation_api.accounts.secret_box import SecretBox
from federation_api.accounts.sessions import Session, SessionStage, SessionStore
from federation_api.accounts.store import Account, AccountStore
from federation_api.rate_buckets import TokenBuckets
from ledger.storage.database import Cursor, Database


@dataclass(frozen=True)
class SignedIn:
    """A session and its account: what a page acts as. `session_id` goes into the cookie
    when it has just been issued (sign-in, rotation); a looked-up session carries it too."""

    session_id: str
    session: Session
    account: Account

    @property
    def stage(self) -> SessionStage:
        """How far the sign-in has come."""
        return self.session.stage

    @property
    def actor(self) -> Actor:
        """The audit log's name for this account."""
        return Actor.account(self.account.account_id)

    def require(self, *roles: AccountRole) -> None:
        """Forbidden unless the session is complete and the account holds one of `roles`."""
        if self.stage is not SessionStage.FULL:
            raise Forbidden("finish signing in first", field="session", rule="session.full")
        if roles and not any(self.account.has(r) for r in roles):
            raise Forbidden(f"this needs the {' or '.join(sorted(roles))} role",
                            field="role", rule="role.required")


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the seed (for typing), the URI, the QR code."""

    secret: str
    grouped_secret: str
    uri: str
    qr_svg: str


def totp_context(account_id: str) -> str:
    """The sealed seed's binding to its account."""
    return f"totp:{account_id}"


class SignInService:
    """Sign-in, second factor, enrolment, session lookup and sign-out."""

    def __init__(self, db: Database, *, store: AccountStore, sessions: SessionStore,
                 audit: AuditLog, hasher: PasswordHasher, box: SecretBox, mail: AccountMail,
                 policy: SignInPolicy, issuer: str) -> None:
        self.db = db
        self.store = store
        self.sessions = sessions
        self.audit = audit
        self.hasher = hasher
        self.box = box
        self.mail = mail
        self.policy = policy
        self.issuer = issuer
        self.clients = TokenBuckets(capacity=policy.client_burst,
                                    per_second=policy.client_per_hour / 3600,
                                    max_keys=100_000)

    def charge(self, client: str, now: dt.datetime) -> None:
        """Count one attempt from a client address; TooManyAttempts when its budget is gone.
        Shared by every form a guesser could use: sign-in, code, reset, link pages."""
        wait = self.clients.take(f"client:{client}", 1, now.timestamp())
        if wait:
            raise TooManyAttempts(wait)

    # -- step 1: password -----------------------------------------------------------------

    def sign_in(self, email: str, password: str, *, now: dt.datetime, client: str = "",
                replaces: str | None = None) -> SignedIn:
        """Check email and password; a new session (see the module docstring for its stage).
        `replaces` is the browser's previous session id, if any: it is revoked, so a planted
        id never becomes a signed-in one."""
        self.charge(client, now)
        with self.db.transaction(read_only=True) as cur:
            account = self.store.by_email(cur, email) if len(email) <= 320 else None
            hashed = (self.store.credentials(cur, account.account_id).password_hash
                      if account is not None else None)
        usable = (account is not None and not account.disabled and not account.locked(now)
                  and hashed is not None)
        verdict = self.hasher.verify(hashed if usable else None, password)
        if account is None:
            raise SignInRefused()  # no audit entry: the email field may hold a mistyped password
        if not verdict.ok:
            reason = ("disabled" if account.disabled else "locked" if account.locked(now)
                      else "no password yet" if hashed is None else "wrong password")
            with self.db.transaction() as cur:
                if usable:
                    self._failure(cur, account, now=now, client=client, action="sign_in",
                                  reason=reason)
                else:
                    self.audit.record(cur, actor=Actor.account(account.account_id),
                                      action="sign_in", outcome=Outcome.REFUSED, detail=reason,
                                      client=client, now=now)
            raise SignInRefused()
        stage = (SessionStage.SECOND_FACTOR if account.second_factor
                 else SessionStage.ENROL_SECOND_FACTOR if needs_second_factor(account.roles)
                 else SessionStage.FULL)
        rehashed = self.hasher.hash(password) if verdict.rehash else None
        with self.db.transaction() as cur:
            if rehashed is not None:
                self.store.rehash(cur, account.account_id, rehashed)
            if replaces:
                self.sessions.revoke(cur, replaces, now=now)
            if stage is SessionStage.FULL:
                self.store.clear_failures(cur, account.account_id)
            session_id, session = self.sessions.create(cur, account_id=account.account_id,
                                                       stage=stage, now=now, client=client)
            self.audit.record(cur, actor=Actor.account(account.account_id), action="sign_in",
                              detail=f"password accepted; next: {stage}", client=client,
                              now=now)
        return SignedIn(session_id, session, account)

    def _failure(self, cur: Cursor, account: Account, *, now: dt.datetime, client: str,
                 action: str, reason: str) -> bool:
        locked = self.store.record_failure(cur, account.account_id, now=now,
                                           max_failures=self.policy.max_failures,
                                           lock_for=self.policy.lock_for)
        actor = Actor.account(account.account_id)
        self.audit.record(cur, actor=actor, action=action, outcome=Outcome.REFUSED,
                          detail=reason, client=client, now=now)
        if locked:
            self.audit.record(cur, actor=actor, action="account.locked",
                              detail=f"{self.policy.max_failures} failed attempts; paused "
                                     f"for {self.policy.lock_for}", client=client, now=now)
        return locked

    # -- step 2: the code -----------------------------------------------------------------

    def second_factor(self, session_id: str, code: str, *, now: dt.datetime,
                      client: str = "") -> SignedIn:
        """Check a TOTP or recovery code for a `second_factor` session; a new full session.
        A wrong code counts as a failed attempt of the account (lock-out)."""
        self.charge(client, now)
        pending = self._pending(session_id, SessionStage.SECOND_FACTOR, now)
        account = pending.account
        with self.db.transaction(read_only=True) as cur:
            sealed = self.store.credentials(cur, account.account_id)
        if account.disabled or account.locked(now) or sealed.totp_secret is None:
            with self.db.transaction() as cur:
                self.sessions.revoke(cur, session_id, now=now)
            raise SignInRefused()
        secret = self.box.open(sealed.totp_secret, context=totp_context(account.account_id))
        step = totp.matching_step(secret.decode(), code, now=now,
                                  after_step=sealed.totp_last_step)
        recovery = totp.normalise_recovery_code(code) if step is None else None
        with self.db.transaction() as cur:
            if step is not None:
                accepted = self.store.use_totp_step(cur, account.account_id, step)
                how = "authenticator code"
            elif recovery is not None:
                accepted = self.store.use_recovery_code(
                    cur, account.account_id, totp.recovery_code_hash(recovery), now=now)
                how = "recovery code"
            else:
                accepted, how = False, "code"
            if not accepted and self._failure(cur, account, now=now, client=client,
                                              action="sign_in.code",
                                              reason=f"wrong or reused {how}"):
                self.sessions.revoke(cur, session_id, now=now)  # locked: start again later
        if not accepted:
            raise SecondFactorRefused("the code is not right, or was used already; enter the "
                                      "code your app shows now", field="code",
                                      rule="second_factor")
        with self.db.transaction() as cur:
            self.store.clear_failures(cur, account.account_id)
            new_id, session = self.sessions.rotate(cur, pending.session,
                                                   stage=SessionStage.FULL, now=now)
            self.audit.record(cur, actor=pending.actor, action="sign_in",
                              detail=f"signed in with {how}", client=client, now=now)
        return SignedIn(new_id, session, account)

    def _pending(self, session_id: str, stage: SessionStage, now: dt.datetime) -> SignedIn:
        signed = self.current(session_id, now=now, stage=None)
        if signed is None or signed.stage is not stage:
            raise SessionInvalid("this sign-in has expired; sign in again", field="session",
                                 rule="session.stage")
        return signed

    # -- enrolment ------------------------------------------------------------------------

    def begin_enrolment(self, session_id: str, *, now: dt.datetime) -> Enrolment:
        """A new seed for the account of an `enrol_second_factor` or `full` session; it
        becomes the second factor only when `confirm_enrolment` sees a code from it."""
        signed = self.current(session_id, now=now, stage=None)
        if signed is None or signed.stage is SessionStage.SECOND_FACTOR:
            raise SessionInvalid("sign in again to set up an authenticator", field="session",
                                 rule="session.stage")
        secret = totp.new_secret()
        sealed = self.box.seal(secret.encode(), context=totp_context(signed.account.account_id))
        with self.db.transaction() as cur:
            self.store.set_pending_totp(cur, signed.account.account_id, sealed)
        uri = totp.otpauth_uri(secret, account=signed.account.email, issuer=self.issuer)
        return Enrolment(secret=secret, grouped_secret=totp.grouped(secret), uri=uri,
                         qr_svg=totp.qr_svg(uri))

    def confirm_enrolment(self, session_id: str, code: str, *, now: dt.datetime,
                          client: str = "") -> tuple[SignedIn, tuple[str, ...]]:
        """Check a code from the new seed; then it is the account's second factor. Returns a
        new full session and ten recovery codes (shown once, stored hashed)."""
        self.charge(client, now)
        signed = self.current(session_id, now=now, stage=None)
        if signed is None or signed.stage is SessionStage.SECOND_FACTOR:
            raise SessionInvalid("sign in again to set up an authenticator", field="session",
                                 rule="session.stage")
        account = signed.account
        with self.db.transaction(read_only=True) as cur:
            sealed = self.store.credentials(cur, account.account_id).totp_pending
        if sealed is None:
            raise SessionInvalid("start setting up the authenticator again", field="code",
                                 rule="second_factor.pending")
        secret = self.box.open(sealed, context=totp_context(account.account_id)).decode()
        step = totp.matching_step(secret, code, now=now, after_step=None)
        if step is None:
            raise SecondFactorRefused("the code does not match; check that the app shows the "
                                      "account you just added and enter its current code",
                                      field="code", rule="second_factor.enrol")
        codes = totp.new_recovery_codes()
        with self.db.transaction() as cur:
            self.store.enrol_totp(cur, account.account_id, sealed, step=step, now=now)
            self.store.replace_recovery_codes(
                cur, account.account_id,
                [totp.recovery_code_hash(c.replace("-", "")) for c in codes], now=now)
            self.store.clear_failures(cur, account.account_id)
            new_id, session = self.sessions.rotate(cur, signed.session,
                                                   stage=SessionStage.FULL, now=now)
            self.audit.record(cur, actor=signed.actor, action="account.second_factor_enrolled",
                              target=account.account_id, client=client, now=now)
            updated = self.store.get(cur, account.account_id)
        assert updated is not None
        return SignedIn(new_id, session, updated), codes

    def new_recovery_codes(self, session_id: str, *, now: dt.datetime,
                           client: str = "") -> tuple[str, ...]:
        """Replace the account's recovery codes (a full session of an enrolled account)."""
        signed = self.require(session_id, now=now)
        if not signed.account.second_factor:
            raise Forbidden("set up an authenticator first", field="code",
                            rule="second_factor.enrolled")
        codes = totp.new_recovery_codes()
        with self.db.transaction() as cur:
            self.store.replace_recovery_codes(
                cur, signed.account.account_id,
                [totp.recovery_code_hash(c.replace("-", "")) for c in codes], now=now)
            self.audit.record(cur, actor=signed.actor, action="account.recovery_codes_replaced",
                              target=signed.account.account_id, client=client, now=now)
        return codes

    # -- sessions -------------------------------------------------------------------------

    def current(self, session_id: str | None, *, now: dt.datetime,
                stage: SessionStage | None = SessionStage.FULL) -> SignedIn | None:
        """The live session with this id and its enabled account, or None; with `stage`
        (default `full`) only a session at that stage. What every page calls first."""
        if not session_id:
            return None
        session = self.sessions.lookup(session_id, now=now)
        if session is None or (stage is not None and session.stage is not stage):
            return None
        account = self.store.find(session.account_id)
        if account is None or account.disabled:
            return None
        return SignedIn(session_id, session, account)

    def require(self, session_id: str | None, *roles: AccountRole,
                now: dt.datetime) -> SignedIn:
        """`current`, or SessionInvalid; then Forbidden unless it holds one of `roles`."""
        signed = self.current(session_id, now=now)
        if signed is None:
            raise SessionInvalid("sign in to continue", field="session", rule="session.live")
        signed.require(*roles)
        return signed

    def sign_out(self, session_id: str | None, *, now: dt.datetime, client: str = "") -> None:
        """End the session (harmless if it is not live)."""
        if not session_id:
            return
        signed = self.current(session_id, now=now, stage=None)
        with self.db.transaction() as cur:
            self.sessions.revoke(cur, session_id, now=now)
            if signed is not None:
                self.audit.record(cur, actor=signed.actor, action="sign_out", client=client,
                                  now=now)

    def change_password(self, session_id: str, current: str, new: str, *, now: dt.datetime,
                        client: str = "") -> SignedIn:
        """Change one's own password (knowing the current one); every other session ends and
        this one gets a new id; the owner is told by email."""
        self.charge(client, now)
        signed = self.require(session_id, now=now)
        account = signed.account
        with self.db.transaction(read_only=True) as cur:
            hashed = self.store.credentials(cur, account.account_id).password_hash
        if not self.hasher.verify(hashed, current).ok:
            with self.db.transaction() as cur:
                self._failure(cur, account, now=now, client=client, action="account.password",
                              reason="wrong current password")
            raise SignInRefused("the current password is not right", field="current_password",
                                rule="password.current")
        check_password(new, email=account.email)
        new_hash = self.hasher.hash(new)
        with self.db.transaction() as cur:
            self.store.set_password(cur, account.account_id, new_hash, now=now)
            self.sessions.revoke_all(cur, account.account_id, now=now, keep=signed.session.key)
            new_id, session = self.sessions.rotate(cur, signed.session, stage=SessionStage.FULL,
                                                   now=now)
            self.mail.password_changed(cur, account, now=now)
            self.audit.record(cur, actor=signed.actor, action="account.password_changed",
                              target=account.account_id, client=client, now=now)
        self.mail.outbox.notify()
        return SignedIn(new_id, session, account)
