"""Idempotency keys: a retried POST with the same key writes once and gets the same answer.

The stored answer is keyed by (token id, key) and bound to a fingerprint of the request, so a
key reused for a different request is refused rather than silently replayed.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from ledger.database import Database

_DDL = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body {blob} NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal, idem_key)
)
"""


class KeyReused(Exception):
    """The idempotency key was used before for a different request."""


class IdempotencyStore:
    """Remembers the response to each (principal, key)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    @staticmethod
    def fingerprint(method: str, path: str, body: bytes) -> str:
        """What makes two requests 'the same request'."""
        return hashlib.sha256(b"\0".join((method.encode(), path.encode(), body))).hexdigest()

    def recall(self, principal: str, key: str, fingerprint: str) -> tuple[int, bytes] | None:
        """The stored (status, body) for this key, None if new; KeyReused if it differs."""
        rows = self.db.query("SELECT fingerprint, status, body FROM idempotency_keys "
                             "WHERE principal = ? AND idem_key = ?", (principal, key))
        if not rows:
            return None
        if rows[0][0] != fingerprint:
            raise KeyReused(key)
        return int(rows[0][1]), bytes(rows[0][2])

    def remember(self, principal: str, key: str, fingerprint: str, status: int, body: bytes,
                 now: dt.datetime) -> None:
        """Store the answer (first writer wins)."""
        with self.db.transaction() as cur:
            exists = cur.execute("SELECT 1 FROM idempotency_keys WHERE principal = ? AND "
                                 "idem_key = ?", (principal, key)).fetchone()
            if not exists:
                cur.execute("INSERT INTO idempotency_keys (principal, idem_key, fingerprint, "
                            "status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                            (principal, key, fingerprint, status, body, now.isoformat()))
