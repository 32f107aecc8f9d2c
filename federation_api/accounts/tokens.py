"""Per-association bearer tokens with roles; only their SHA-256 is stored.

Tokens carry 256 bits of randomness, so a plain SHA-256 is enough to make the stored table
useless to a thief (no password-style stretching needed) and lets a lookup be one index probe.

Tokens issued in the browser (issue 11) also record who issued them (`issued_by`, the audit
log's actor label) and when they stop working (`expires_at`); CLI tokens have neither and
never expire. A table made before those columns existed gains them when the store opens.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from enum import StrEnum

import msgspec

from federation_api.clock import now as clock_now
from ledger.errors import StorageError
from ledger.storage.database import Cursor, Database

TOKEN_PREFIX = "alt_"  # noqa: S105 - a prefix that makes leaked tokens greppable

_DDL = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    expires_at TEXT,
    issued_by TEXT
)
"""


class Role(StrEnum):
    """Staff roles; each endpoint names the roles it admits."""

    COORDINATOR = "coordinator"
    REVIEWER = "reviewer"
    COMMITTEE = "committee"
    AUDITOR = "auditor"
    # Not staff: an employer checks credentials in bulk and subscribes to status changes of
    # the professionals it employs. Issued by an association; admitted only where named.
    EMPLOYER = "employer"


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the token's public id, label and role, and who issued it (the audit
    log's actor label, for a token issued in the browser; None for a CLI token)."""

    token_id: str
    label: str
    role: Role
    issued_by: str | None = None


class TokenStore:
    """Issue, list, revoke and authenticate staff tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)
        for column in ("expires_at", "issued_by"):
            _add_column(db, column)

    def issue(self, *, label: str, role: Role, now: dt.datetime,
              expires_at: dt.datetime | None = None, issued_by: str | None = None,
              within: Callable[[Cursor, str], None] | None = None) -> tuple[str, str]:
        """Create a token; returns (token_id, secret token). The secret is shown once only.
        `within(cursor, token_id)` runs in the same transaction (the audit log entry)."""
        if not label.strip():
            raise ValueError("a token needs a label naming its holder")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(6)
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO api_tokens (token_hash, token_id, label, role, created_at, "
                        "expires_at, issued_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (_hash(token), token_id, label.strip(), role.value, now.isoformat(),
                         None if expires_at is None else _instant(expires_at), issued_by))
            if within is not None:
                within(cur, token_id)
        return token_id, token

    def authenticate(self, token: str, *, now: dt.datetime | None = None) -> Principal | None:
        """The principal of a live token (not revoked, not expired), or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = _hash(token)
        rows = self.db.query("SELECT token_hash, token_id, label, role, issued_by FROM api_tokens "
                             "WHERE token_hash = ? AND revoked_at IS NULL AND (expires_at IS "
                             "NULL OR expires_at > ?)", (digest, _instant(now or clock_now())))
        if not rows or not hmac.compare_digest(rows[0][0], digest):
            return None
        return Principal(token_id=rows[0][1], label=rows[0][2], role=Role(rows[0][3]),
                         issued_by=rows[0][4])

    def revoke(self, token_id: str, *, now: dt.datetime,
               within: Callable[[Cursor], None] | None = None) -> bool:
        """Revoke by public id; False if no live token has it. `within(cursor)` runs in the
        same transaction when a token was revoked."""
        with self.db.transaction() as cur:
            found = cur.execute("SELECT 1 FROM api_tokens WHERE token_id = ? AND revoked_at IS "
                                "NULL", (token_id,)).fetchone()
            if found:
                cur.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?",
                            (now.isoformat(), token_id))
                if within is not None:
                    within(cur)
        return found is not None

    def details(self) -> list[TokenDetails]:
        """Every token with who issued it and its expiry; never the secrets."""
        return [TokenDetails(token_id=r[0], label=r[1], role=Role(r[2]), created_at=r[3],
                             revoked_at=r[4], expires_at=r[5], issued_by=r[6])
                for r in self.db.query("SELECT token_id, label, role, created_at, revoked_at, "
                                       "expires_at, issued_by FROM api_tokens "
                                       "ORDER BY created_at, token_id")]

    def list(self) -> list[tuple[str, str, str, str, str | None]]:
        """(token_id, label, role, created_at, revoked_at) of every token; never the secrets."""
        return [(r[0], r[1], r[2], r[3], r[4]) for r in self.db.query(
            "SELECT token_id, label, role, created_at, revoked_at FROM api_tokens "
            "ORDER BY created_at, token_id")]


class TokenDetails(msgspec.Struct, frozen=True):
    """One token as the token pages list it (times as stored, ISO text)."""

    token_id: str
    label: str
    role: Role
    created_at: str
    revoked_at: str | None
    expires_at: str | None
    issued_by: str | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _instant(moment: dt.datetime) -> str:
    # One fixed width in UTC, so expiry compares correctly as text on both backends.
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _add_column(db: Database, column: str) -> None:
    """Add a nullable text column to a table made before it existed (both backends)."""
    try:
        db.query(f"SELECT {column} FROM api_tokens WHERE 1 = 0")
        return
    except StorageError:
        pass
    try:
        with db.transaction() as cur:
            cur.execute(f"ALTER TABLE api_tokens ADD COLUMN {column} TEXT")
    except StorageError:
        db.query(f"SELECT {column} FROM api_tokens WHERE 1 = 0")  # another process added it
