"""The accounts of one association: rows, roles, credentials and lock-out counters.

Every writing method takes the open cursor of the caller's transaction, so that an account
change, its emailed notice (the outbox), its one-time link and its audit entry commit
together or not at all. Reads that stand alone use the database directly.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from federation_api.accounts.errors import EmailTaken, InvalidAccountInput
from federation_api.accounts.roles import STAFF_ROLES, AccountRole
from federation_api.accounts.tables import create_tables
from federation_api.clock import stamp, unstamp
from ledger.storage.database import Cursor, Database

MAX_EMAIL = 254
MAX_NAME = 200
_EMAIL = re.compile(r"^[^@\s<>,;:\"()\[\]\\]{1,64}@([a-z0-9-]{1,63}\.)+[a-z0-9-]{1,63}$",
                    re.IGNORECASE)
_COLUMNS = ("account_id, association, email, display_name, password_hash IS NOT NULL, "
            "totp_secret IS NOT NULL, failed_attempts, locked_until, disabled_at, "
            "email_verified_at, person_id, created_at, updated_at")


@dataclass(frozen=True)
class Account:
    """What the pages may know of an account (never its password hash or TOTP seed)."""

    account_id: str
    association: str
    email: str
    display_name: str
    roles: frozenset[AccountRole]
    has_password: bool
    second_factor: bool
    failed_attempts: int
    locked_until: dt.datetime | None
    disabled: bool
    email_verified: bool
    person_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def has(self, role: AccountRole) -> bool:
        """Whether the account holds `role`."""
        return role in self.roles

    @property
    def is_staff(self) -> bool:
        """Whether the account holds any staff role."""
        return bool(self.roles & STAFF_ROLES)

    def locked(self, now: dt.datetime) -> bool:
        """Whether sign-in is paused after too many failures."""
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True)
class Credentials:
    """The secret half of an account row, for the sign-in service only."""

    password_hash: str | None
    totp_secret: bytes | None
    totp_pending: bytes | None
    totp_last_step: int | None


def normalise_email(text: str, *, field: str = "email") -> tuple[str, str]:
    """(email as given but trimmed, case-folded key); InvalidAccountInput if it is not an
    email address."""
    email = unicodedata.normalize("NFC", text.strip())
    if not email or len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise InvalidAccountInput("enter an email address such as name@example.org",
                                  field=field, rule="email.format")
    return email, email.casefold()


def check_display_name(text: str, *, field: str = "display_name") -> str:
    """The trimmed name; InvalidAccountInput if empty, too long or with control characters."""
    name = " ".join(text.split())
    if not name:
        raise InvalidAccountInput("enter the person's name", field=field, rule="name.required")
    if len(name) > MAX_NAME:
        raise InvalidAccountInput(f"use at most {MAX_NAME} characters", field=field,
                                  rule="name.length")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidAccountInput("the name contains characters that cannot be shown",
                                  field=field, rule="name.characters")
    return name


class AccountStore:
    """Accounts of one association in the node database."""

    def __init__(self, db: Database, *, association: str) -> None:
        self.db = db
        self.association = association
        create_tables(db)

    # -- reading ------------------------------------------------------------------------

    def get(self, cur: Cursor, account_id: str) -> Account | None:
        """The account with this id in this association, or None."""
        row = cur.execute(f"SELECT {_COLUMNS} FROM accounts WHERE account_id = ? AND "
                          f"association = ?", (account_id, self.association)).fetchone()
        return None if row is None else self._account(cur, row)

    def by_email(self, cur: Cursor, email: str) -> Account | None:
        """The account with this email (any case), or None; never raises on a malformed one."""
        key = unicodedata.normalize("NFC", email.strip()).casefold()
        row = cur.execute(f"SELECT {_COLUMNS} FROM accounts WHERE association = ? AND "
                          f"email_key = ?", (self.association, key)).fetchone()
        return None if row is None else self._account(cur, row)

    def credentials(self, cur: Cursor, account_id: str) -> Credentials:
        """The password hash and TOTP state of an account."""
        row = cur.execute("SELECT password_hash, totp_secret, totp_pending, totp_last_step "
                          "FROM accounts WHERE account_id = ?", (account_id,)).fetchone()
        if row is None:
            return Credentials(None, None, None, None)
        return Credentials(row[0], row[1], row[2], row[3])

    def find(self, account_id: str) -> Account | None:
        """`get` in its own read transaction."""
        with self.db.transaction(read_only=True) as cur:
            return self.get(cur, account_id)

    def all(self) -> list[Account]:
        """Every account of the association, by name."""
        with self.db.transaction(read_only=True) as cur:
            rows = cur.execute(f"SELECT {_COLUMNS} FROM accounts WHERE association = ? "
                               f"ORDER BY display_name, email_key",
                               (self.association,)).fetchall()
            return [self._account(cur, row) for row in rows]

    def with_role(self, cur: Cursor, role: AccountRole) -> list[Account]:
        """Enabled accounts holding `role`."""
        rows = cur.execute(f"SELECT {_COLUMNS} FROM accounts WHERE association = ? AND "
                           f"disabled_at IS NULL AND account_id IN (SELECT account_id FROM "
                           f"account_roles WHERE role = ?) ORDER BY display_name",
                           (self.association, role.value)).fetchall()
        return [self._account(cur, row) for row in rows]

    def tied_to(self, cur: Cursor, person_id: str) -> Account | None:
        """The account tied to this person record (issue 12: at most one), or None."""
        row = cur.execute(f"SELECT {_COLUMNS} FROM accounts WHERE association = ? AND "
                          f"person_id = ?", (self.association, person_id)).fetchone()
        return None if row is None else self._account(cur, row)

    def _account(self, cur: Cursor, row: tuple[Any, ...]) -> Account:
        roles = frozenset(AccountRole(r[0]) for r in cur.execute(
            "SELECT role FROM account_roles WHERE account_id = ?", (row[0],)).fetchall())
        locked = unstamp(row[7])
        created = unstamp(row[11])
        updated = unstamp(row[12])
        assert created is not None and updated is not None
        return Account(account_id=row[0], association=row[1], email=row[2], display_name=row[3],
                       roles=roles, has_password=bool(row[4]), second_factor=bool(row[5]),
                       failed_attempts=int(row[6]), locked_until=locked,
                       disabled=row[8] is not None, email_verified=row[9] is not None,
                       person_id=row[10], created_at=created, updated_at=updated)

    # -- writing ------------------------------------------------------------------------

    def create(self, cur: Cursor, *, email: str, display_name: str,
               roles: Iterable[AccountRole], now: dt.datetime, password_hash: str | None = None,
               email_verified: bool = False) -> Account:
        """A new account; EmailTaken if the association has one with this email."""
        email, key = normalise_email(email)
        name = check_display_name(display_name)
        if cur.execute("SELECT 1 FROM accounts WHERE association = ? AND email_key = ?",
                       (self.association, key)).fetchone():
            raise EmailTaken("an account with this email address exists already",
                             field="email", rule="email.unique")
        account_id = "acc_" + secrets.token_hex(8)
        at = stamp(now)
        cur.execute("INSERT INTO accounts (account_id, association, email, email_key, "
                    "display_name, password_hash, password_changed_at, email_verified_at, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (account_id, self.association, email, key, name, password_hash,
                     at if password_hash else None, at if email_verified else None, at, at))
        self._write_roles(cur, account_id, roles)
        account = self.get(cur, account_id)
        assert account is not None
        return account

    def set_password(self, cur: Cursor, account_id: str, password_hash: str, *,
                     now: dt.datetime, email_verified: bool = False) -> None:
        """Replace the password hash; clears the failure count and any lock."""
        at = stamp(now)
        cur.execute("UPDATE accounts SET password_hash = ?, password_changed_at = ?, "
                    "failed_attempts = 0, locked_until = NULL, updated_at = ?, "
                    "email_verified_at = CASE WHEN ? THEN COALESCE(email_verified_at, ?) "
                    "ELSE email_verified_at END WHERE account_id = ?",
                    (password_hash, at, at, email_verified, at, account_id))

    def rehash(self, cur: Cursor, account_id: str, password_hash: str) -> None:
        """Store a hash of the same password made with the current parameters."""
        cur.execute("UPDATE accounts SET password_hash = ? WHERE account_id = ?",
                    (password_hash, account_id))

    def record_failure(self, cur: Cursor, account_id: str, *, now: dt.datetime,
                       max_failures: int, lock_for: dt.timedelta) -> bool:
        """Count a failed attempt; at `max_failures` lock the account for `lock_for` and start
        counting again. True when this failure locked it. The increment is one statement, so
        concurrent attempts (two processes) are all counted."""
        row = cur.execute("UPDATE accounts SET failed_attempts = failed_attempts + 1 "
                          "WHERE account_id = ? RETURNING failed_attempts",
                          (account_id,)).fetchone()
        if row is None or int(row[0]) < max_failures:
            return False
        cur.execute("UPDATE accounts SET failed_attempts = 0, locked_until = ?, updated_at = ? "
                    "WHERE account_id = ?", (stamp(now + lock_for), stamp(now), account_id))
        return True

    def clear_failures(self, cur: Cursor, account_id: str) -> None:
        """A complete sign-in: forget earlier failures."""
        cur.execute("UPDATE accounts SET failed_attempts = 0 WHERE account_id = ? AND "
                    "failed_attempts <> 0", (account_id,))

    def unlock(self, cur: Cursor, account_id: str, *, now: dt.datetime) -> None:
        """Lift a lock-out early (a coordinator's action)."""
        cur.execute("UPDATE accounts SET failed_attempts = 0, locked_until = NULL, "
                    "updated_at = ? WHERE account_id = ?", (stamp(now), account_id))

    def set_roles(self, cur: Cursor, account_id: str, roles: Iterable[AccountRole], *,
                  now: dt.datetime) -> None:
        """Replace the account's roles."""
        cur.execute("DELETE FROM account_roles WHERE account_id = ?", (account_id,))
        self._write_roles(cur, account_id, roles)
        cur.execute("UPDATE accounts SET updated_at = ? WHERE account_id = ?",
                    (stamp(now), account_id))

    def set_disabled(self, cur: Cursor, account_id: str, disabled: bool, *,
                     now: dt.datetime) -> None:
        """Disable (nobody can sign in as it) or enable an account."""
        at = stamp(now)
        cur.execute("UPDATE accounts SET disabled_at = ?, updated_at = ? WHERE account_id = ?",
                    (at if disabled else None, at, account_id))

    def mark_email_verified(self, cur: Cursor, account_id: str, *, now: dt.datetime) -> None:
        """The person opened a link sent to the address."""
        cur.execute("UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, ?) "
                    "WHERE account_id = ?", (stamp(now), account_id))

    def link_person(self, cur: Cursor, account_id: str, person_id: str | None, *,
                    now: dt.datetime) -> None:
        """Tie the account to a person record once identity is confirmed (issue 12)."""
        cur.execute("UPDATE accounts SET person_id = ?, updated_at = ? WHERE account_id = ?",
                    (person_id, stamp(now), account_id))

    def _write_roles(self, cur: Cursor, account_id: str, roles: Iterable[AccountRole]) -> None:
        cur.executemany("INSERT INTO account_roles (account_id, role) VALUES (?, ?)",
                        [(account_id, AccountRole(r).value) for r in sorted(set(roles))])

    # -- second factor ------------------------------------------------------------------

    def set_pending_totp(self, cur: Cursor, account_id: str, sealed: bytes | None) -> None:
        """Keep a seed being enrolled until the person proves their app has it."""
        cur.execute("UPDATE accounts SET totp_pending = ? WHERE account_id = ?",
                    (sealed, account_id))

    def enrol_totp(self, cur: Cursor, account_id: str, sealed: bytes, *, step: int,
                   now: dt.datetime) -> None:
        """Make the pending seed the account's second factor; `step` was just used."""
        cur.execute("UPDATE accounts SET totp_secret = ?, totp_pending = NULL, "
                    "totp_last_step = ?, updated_at = ? WHERE account_id = ?",
                    (sealed, step, stamp(now), account_id))

    def use_totp_step(self, cur: Cursor, account_id: str, step: int) -> bool:
        """Record that a code of `step` was used; False if that step (or a later one) was used
        already. One conditional statement, so two processes cannot both accept a code."""
        row = cur.execute("UPDATE accounts SET totp_last_step = ? WHERE account_id = ? AND "
                          "(totp_last_step IS NULL OR totp_last_step < ?) RETURNING account_id",
                          (step, account_id, step)).fetchone()
        return row is not None

    def clear_totp(self, cur: Cursor, account_id: str, *, now: dt.datetime) -> None:
        """Remove the second factor and its recovery codes (a lost phone)."""
        cur.execute("UPDATE accounts SET totp_secret = NULL, totp_pending = NULL, "
                    "totp_last_step = NULL, updated_at = ? WHERE account_id = ?",
                    (stamp(now), account_id))
        cur.execute("DELETE FROM account_recovery_codes WHERE account_id = ?", (account_id,))

    def replace_recovery_codes(self, cur: Cursor, account_id: str, hashes: Iterable[str], *,
                               now: dt.datetime) -> None:
        """Store a fresh set of recovery code hashes; earlier codes stop working."""
        cur.execute("DELETE FROM account_recovery_codes WHERE account_id = ?", (account_id,))
        cur.executemany("INSERT INTO account_recovery_codes (code_hash, account_id, created_at) "
                        "VALUES (?, ?, ?)", [(h, account_id, stamp(now)) for h in hashes])

    def use_recovery_code(self, cur: Cursor, account_id: str, code_hash: str, *,
                          now: dt.datetime) -> bool:
        """Spend one recovery code; False if it is not one of this account's unused codes."""
        row = cur.execute("UPDATE account_recovery_codes SET used_at = ? WHERE code_hash = ? "
                          "AND account_id = ? AND used_at IS NULL RETURNING code_hash",
                          (stamp(now), code_hash, account_id)).fetchone()
        return row is not None

    def recovery_codes_left(self, account_id: str) -> int:
        """How many unused recovery codes the account has (the page warns when few are left)."""
        rows = self.db.query("SELECT COUNT(*) FROM account_recovery_codes WHERE account_id = ? "
                             "AND used_at IS NULL", (account_id,))
        return int(rows[0][0])

    def active_coordinators(self, cur: Cursor) -> set[str]:
        """Ids of enabled accounts holding the coordinator role."""
        return {a.account_id for a in self.with_role(cur, AccountRole.COORDINATOR)}
