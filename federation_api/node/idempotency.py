"""Idempotency keys: a retried POST with the same key writes once and gets the same answer.

The stored answer is keyed by (token id, key) and bound to a fingerprint of the request, so a
key reused for a different request is refused rather than silently replayed.

The answer can only be stored after the command committed, in another database than the
command's events, so a crash in between would lose it. Therefore, before a keyed command
stores its events, it records here which events it is about to store (an *intent*: aggregate,
version and digest of each stored event, see `ledger.service.StoredMark`). A retry that finds
an intent but no answer asks the event store whether exactly those events are there: if they
are, the command committed, and its answer is rebuilt from the aggregates at those versions;
if not, it never committed, and runs again.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import msgspec

from federation_api.errors import EdgeError
from ledger.service import StoredMark
from ledger.storage.database import Database

_DDL = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body {blob} NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE TABLE IF NOT EXISTS idempotency_intents (
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    marks {blob} NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal, idem_key)
)
"""
_marks_decoder = msgspec.json.Decoder(tuple[StoredMark, ...])


class KeyReused(EdgeError):
    """The idempotency key was used before for a different request."""


class Recalled(msgspec.Struct, frozen=True, kw_only=True):
    """What is known of an earlier attempt with a key: its answer, or the events it was about
    to store when it was last seen (the answer was never stored)."""

    status: int = 0
    body: bytes = b""
    marks: tuple[StoredMark, ...] = ()

    @property
    def answered(self) -> bool:
        """Whether the answer itself was stored."""
        return self.status != 0


class IdempotencyStore:
    """Remembers the response to each (principal, key), and each keyed command's intent."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    @staticmethod
    def fingerprint(method: str, path: str, body: bytes) -> str:
        """What makes two requests 'the same request'."""
        return hashlib.sha256(b"\0".join((method.encode(), path.encode(), body))).hexdigest()

    def recall(self, principal: str, key: str, fingerprint: str) -> Recalled | None:
        """The stored answer, else the last intent, for this key; None if the key is new;
        KeyReused if it was used for a different request."""
        rows = self.db.query("SELECT fingerprint, status, body FROM idempotency_keys "
                             "WHERE principal = ? AND idem_key = ?", (principal, key))
        if rows:
            if rows[0][0] != fingerprint:
                raise KeyReused(key)
            return Recalled(status=int(rows[0][1]), body=bytes(rows[0][2]))
        rows = self.db.query("SELECT fingerprint, marks FROM idempotency_intents "
                             "WHERE principal = ? AND idem_key = ?", (principal, key))
        if not rows:
            return None
        if rows[0][0] != fingerprint:
            raise KeyReused(key)
        return Recalled(marks=_marks_decoder.decode(bytes(rows[0][1])))

    def intend(self, principal: str, key: str, fingerprint: str,
               marks: tuple[StoredMark, ...], now: dt.datetime) -> None:
        """Record, durably and before they are stored, the events this attempt will store."""
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM idempotency_intents WHERE principal = ? AND idem_key = ?",
                        (principal, key))
            cur.execute("INSERT INTO idempotency_intents (principal, idem_key, fingerprint, "
                        "marks, created_at) VALUES (?, ?, ?, ?, ?)",
                        (principal, key, fingerprint, msgspec.json.encode(marks),
                         now.isoformat()))

    def forget(self, principal: str, key: str) -> None:
        """Drop the intent of an attempt that stored nothing (no stored answer is touched)."""
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM idempotency_intents WHERE principal = ? AND idem_key = ?",
                        (principal, key))

    def remember(self, principal: str, key: str, fingerprint: str, status: int, body: bytes,
                 now: dt.datetime) -> None:
        """Store the answer (first writer wins); the intent has served its purpose."""
        with self.db.transaction() as cur:
            exists = cur.execute("SELECT 1 FROM idempotency_keys WHERE principal = ? AND "
                                 "idem_key = ?", (principal, key)).fetchone()
            if not exists:
                cur.execute("INSERT INTO idempotency_keys (principal, idem_key, fingerprint, "
                            "status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                            (principal, key, fingerprint, status, body, now.isoformat()))
            cur.execute("DELETE FROM idempotency_intents WHERE principal = ? AND idem_key = ?",
                        (principal, key))
