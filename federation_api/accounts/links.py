"""One-time links sent by email: invitations, password resets, sign-in links.

A link carries a token of 256 random bits. Only SHA-256 of "<purpose>:<token>" is stored, so
the table is useless to a thief, and a token issued for one purpose cannot even be found
under another (a reset token is not an invitation). Each token expires, works once (spent by
a single conditional UPDATE, so two clicks in two processes cannot both succeed), and records
who issued it. Issuing a new token of a purpose cancels the account's earlier unspent ones of
the same purpose: only the latest email works.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from federation_api.accounts.errors import LinkInvalid
from federation_api.clock import stamp, unstamp
from ledger.storage.database import Cursor, Database

LINK_PREFIX = "olt_"  # one-time link token; greppable if one leaks into a log


class LinkPurpose(StrEnum):
    """What a one-time link lets its holder do."""

    INVITATION = "invitation"  # set the first password of an invited account
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose name, not a password
    SIGN_IN = "sign_in"  # sign in without a password (issue 12, self-service accounts only)


@dataclass(frozen=True)
class LinkInfo:
    """What a live link is for: shown on the page before the holder acts on it."""

    account_id: str
    purpose: LinkPurpose
    expires_at: dt.datetime
    issued_by: str


EXPIRED_MESSAGE = ("This link has been used already or has expired. Ask for a new one; only "
                   "the most recent email's link works.")


def _digest(purpose: LinkPurpose, token: str) -> str:
    return hashlib.sha256(f"{purpose.value}:{token}".encode()).hexdigest()


class OneTimeLinks:
    """Issue, inspect and spend one-time link tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def issue(self, cur: Cursor, *, account_id: str, purpose: LinkPurpose, issued_by: str,
              now: dt.datetime, lifetime: dt.timedelta) -> str:
        """A new token (returned once, for the email); earlier unspent ones are cancelled."""
        at = stamp(now)
        cur.execute("UPDATE account_links SET used_at = ? WHERE account_id = ? AND purpose = ? "
                    "AND used_at IS NULL", (at, account_id, purpose.value))
        token = LINK_PREFIX + secrets.token_urlsafe(32)
        cur.execute("INSERT INTO account_links (link_hash, purpose, account_id, issued_by, "
                    "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (_digest(purpose, token), purpose.value, account_id, issued_by, at,
                     stamp(now + lifetime)))
        return token

    def peek(self, token: str, purpose: LinkPurpose, *, now: dt.datetime) -> LinkInfo:
        """The live link's details, without spending it; LinkInvalid if it is not live."""
        with self.db.transaction(read_only=True) as cur:
            row = cur.execute("SELECT account_id, expires_at, issued_by FROM account_links "
                              "WHERE link_hash = ? AND purpose = ? AND used_at IS NULL AND "
                              "expires_at > ?", (_digest(purpose, token.strip()),
                                                 purpose.value, stamp(now))).fetchone()
        return self._info(row, purpose)

    def spend(self, cur: Cursor, token: str, purpose: LinkPurpose, *,
              now: dt.datetime) -> LinkInfo:
        """Use the link up; LinkInvalid if it is unknown, used, expired or for another purpose."""
        row = cur.execute("UPDATE account_links SET used_at = ? WHERE link_hash = ? AND "
                          "purpose = ? AND used_at IS NULL AND expires_at > ? "
                          "RETURNING account_id, expires_at, issued_by",
                          (stamp(now), _digest(purpose, token.strip()), purpose.value,
                           stamp(now))).fetchone()
        return self._info(row, purpose)

    def issued_since(self, cur: Cursor, account_id: str, purpose: LinkPurpose, *,
                     since: dt.datetime, now: dt.datetime) -> tuple[int, bool]:
        """How many links of `purpose` the account was sent since `since`, and whether the
        latest of them is still live (unspent, not expired)."""
        rows = cur.execute("SELECT used_at, expires_at FROM account_links WHERE account_id = ? "
                           "AND purpose = ? AND created_at >= ? ORDER BY created_at DESC",
                           (account_id, purpose.value, stamp(since))).fetchall()
        live = bool(rows) and rows[0][0] is None and str(rows[0][1]) > stamp(now)
        return len(rows), live

    def cancel(self, cur: Cursor, account_id: str, *, now: dt.datetime) -> None:
        """Cancel every unspent link of an account (it was disabled or its password reset)."""
        cur.execute("UPDATE account_links SET used_at = ? WHERE account_id = ? AND used_at IS "
                    "NULL", (stamp(now), account_id))

    @staticmethod
    def _info(row: tuple[object, ...] | None, purpose: LinkPurpose) -> LinkInfo:
        if row is None:
            raise LinkInvalid(EXPIRED_MESSAGE, field="token", rule="link.live")
        expires = unstamp(str(row[1]))
        assert expires is not None
        return LinkInfo(account_id=str(row[0]), purpose=purpose, expires_at=expires,
                        issued_by=str(row[2]))
