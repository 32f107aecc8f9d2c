"""Per-association bearer tokens with roles; only their SHA-256 is stored.

Tokens carry 256 bits of randomness, so a plain SHA-256 is enough to make the stored table
useless to a thief (no password-style stretching needed) and lets a lookup be one index probe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from enum import StrEnum

import msgspec

from ledger.storage.database import Database

TOKEN_PREFIX = "alt_"  # noqa: S105 - a prefix that makes leaked tokens greppable

_DDL = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
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
    """Who is calling: the token's public id, label and role."""

    token_id: str
    label: str
    role: Role


class TokenStore:
    """Issue, list, revoke and authenticate staff tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    def issue(self, *, label: str, role: Role, now: dt.datetime) -> tuple[str, str]:
        """Create a token; returns (token_id, secret token). The secret is shown once only."""
        if not label.strip():
            raise ValueError("a token needs a label naming its holder")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(6)
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO api_tokens (token_hash, token_id, label, role, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (_hash(token), token_id, label.strip(), role.value, now.isoformat()))
        return token_id, token

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a live token, or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = _hash(token)
        rows = self.db.query("SELECT token_hash, token_id, label, role FROM api_tokens "
                             "WHERE token_hash = ? AND revoked_at IS NULL", (digest,))
        if not rows or not hmac.compare_digest(rows[0][0], digest):
            return None
        return Principal(token_id=rows[0][1], label=rows[0][2], role=Role(rows[0][3]))

    def revoke(self, token_id: str, *, now: dt.datetime) -> bool:
        """Revoke by public id; False if no live token has it."""
        with self.db.transaction() as cur:
            found = cur.execute("SELECT 1 FROM api_tokens WHERE token_id = ? AND revoked_at IS "
                                "NULL", (token_id,)).fetchone()
            if found:
                cur.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?",
                            (now.isoformat(), token_id))
        return found is not None

    def list(self) -> list[tuple[str, str, str, str, str | None]]:
        """(token_id, label, role, created_at, revoked_at) of every token; never the secrets."""
        return [(r[0], r[1], r[2], r[3], r[4]) for r in self.db.query(
            "SELECT token_id, label, role, created_at, revoked_at FROM api_tokens "
            "ORDER BY created_at, token_id")]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
