"""Browser sessions, stored in the node database.

Because sessions live in the database, a restart signs nobody out, and several `alliance
serve` processes on one PostgreSQL database share them. The cookie holds a session id of 256
random bits; the table holds only its SHA-256, so a copy of the table cannot be replayed as a
cookie.

A session has a stage: `second_factor` (password accepted, the authenticator code comes
next), `enrol_second_factor` (password accepted, the account must set up TOTP before anything
else) or `full`. Pages admit only `full` sessions except the few that move a session along.
Each change of stage, and every sign-in, issues a new id and revokes the old one (`rotate`):
an id planted in a victim's browser before sign-in (session fixation) is worthless after it.

Expiry: idle (no request for `idle`, default 30 minutes) and absolute (`absolute` after
sign-in, default 8 hours, a working day), whichever comes first; stages before `full` live
only `pending` (15 minutes). Revocation is immediate: a revoked row is never accepted.
`last_seen_at` is written at most once a minute (`touch_every`), so pages do not each cost a
write.

CSRF: each session has its own random secret. A form carries `csrf_token(session)`, a fresh
random mask and the secret XORed with it, so the token differs on every page (nothing for a
compression side channel to learn) while `check_csrf` accepts any of them for this session.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from federation_api.accounts.errors import CsrfRefused
from federation_api.clock import stamp, unstamp
from ledger.storage.database import Cursor, Database

SESSION_PREFIX = "ses_"


class SessionStage(StrEnum):
    """How far a sign-in has come."""

    SECOND_FACTOR = "second_factor"
    ENROL_SECOND_FACTOR = "enrol_second_factor"
    FULL = "full"


@dataclass(frozen=True)
class SessionPolicy:
    """Session lifetimes."""

    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=8)
    pending: dt.timedelta = dt.timedelta(minutes=15)
    touch_every: dt.timedelta = dt.timedelta(minutes=1)

    def __post_init__(self) -> None:
        if not dt.timedelta(0) < self.idle <= self.absolute:
            raise ValueError("a session's idle lifetime must be positive and at most its "
                             "absolute lifetime")


@dataclass(frozen=True)
class Session:
    """A live session (the id itself is known only to the browser and is not kept here)."""

    key: str  # SHA-256 of the id: how the row is named in the table
    account_id: str
    stage: SessionStage
    csrf_secret: str
    client: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    idle_expires_at: dt.datetime
    absolute_expires_at: dt.datetime


def session_key(session_id: str) -> str:
    """How a session id is stored."""
    return hashlib.sha256(session_id.encode()).hexdigest()


_COLUMNS = ("session_hash, account_id, stage, csrf_secret, client, created_at, last_seen_at, "
            "idle_expires_at, absolute_expires_at")


class SessionStore:
    """Create, find, rotate and revoke sessions."""

    def __init__(self, db: Database, policy: SessionPolicy | None = None) -> None:
        self.db = db
        self.policy = policy or SessionPolicy()

    def create(self, cur: Cursor, *, account_id: str, stage: SessionStage, now: dt.datetime,
               client: str = "") -> tuple[str, Session]:
        """A new session; returns (the id for the cookie, the session)."""
        session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
        lifetime = self.policy.absolute if stage is SessionStage.FULL else self.policy.pending
        absolute = now + lifetime
        idle = min(now + self.policy.idle, absolute)
        session = Session(key=session_key(session_id), account_id=account_id, stage=stage,
                          csrf_secret=secrets.token_hex(32), client=client[:100],
                          created_at=now, last_seen_at=now, idle_expires_at=idle,
                          absolute_expires_at=absolute)
        cur.execute(f"INSERT INTO account_sessions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (session.key, account_id, stage.value, session.csrf_secret, session.client,
                     stamp(now), stamp(now), stamp(idle), stamp(absolute)))
        return session_id, session

    def get(self, cur: Cursor, session_id: str, *, now: dt.datetime) -> Session | None:
        """The live session with this id (not revoked, not expired), or None."""
        if not session_id.startswith(SESSION_PREFIX) or len(session_id) > 100:
            return None
        at = stamp(now)
        row = cur.execute(f"SELECT {_COLUMNS} FROM account_sessions WHERE session_hash = ? AND "
                          f"revoked_at IS NULL AND idle_expires_at > ? AND "
                          f"absolute_expires_at > ?", (session_key(session_id), at, at)
                          ).fetchone()
        return None if row is None else _session(row)

    def lookup(self, session_id: str, *, now: dt.datetime) -> Session | None:
        """`get`, and note the request (pushing the idle expiry on) when the last note is
        older than `touch_every`."""
        with self.db.transaction(read_only=True) as cur:
            session = self.get(cur, session_id, now=now)
        if session is None or now - session.last_seen_at < self.policy.touch_every:
            return session
        idle = min(now + self.policy.idle, session.absolute_expires_at)
        with self.db.transaction() as cur:
            cur.execute("UPDATE account_sessions SET last_seen_at = ?, idle_expires_at = ? "
                        "WHERE session_hash = ? AND revoked_at IS NULL",
                        (stamp(now), stamp(idle), session.key))
        return Session(**{**session.__dict__, "last_seen_at": now, "idle_expires_at": idle})

    def rotate(self, cur: Cursor, session: Session, *, stage: SessionStage,
               now: dt.datetime) -> tuple[str, Session]:
        """Replace a session by a new one (new id, new CSRF secret) at `stage`."""
        self.revoke_key(cur, session.key, now=now)
        return self.create(cur, account_id=session.account_id, stage=stage, now=now,
                           client=session.client)

    def revoke(self, cur: Cursor, session_id: str, *, now: dt.datetime) -> None:
        """End a session (sign-out)."""
        self.revoke_key(cur, session_key(session_id), now=now)

    def revoke_key(self, cur: Cursor, key: str, *, now: dt.datetime) -> None:
        """End a session named by its stored key (a "sign out that browser" button)."""
        cur.execute("UPDATE account_sessions SET revoked_at = ? WHERE session_hash = ? AND "
                    "revoked_at IS NULL", (stamp(now), key))

    def revoke_all(self, cur: Cursor, account_id: str, *, now: dt.datetime,
                   keep: str | None = None) -> int:
        """End every session of an account, except the one whose key is `keep`; how many."""
        rows = cur.execute("UPDATE account_sessions SET revoked_at = ? WHERE account_id = ? AND "
                           "revoked_at IS NULL AND session_hash <> ? RETURNING session_hash",
                           (stamp(now), account_id, keep or "")).fetchall()
        return len(rows)

    def live(self, account_id: str, *, now: dt.datetime) -> list[Session]:
        """The account's live sessions, newest first (for a "where you are signed in" page)."""
        at = stamp(now)
        rows = self.db.query(f"SELECT {_COLUMNS} FROM account_sessions WHERE account_id = ? AND "
                             f"revoked_at IS NULL AND idle_expires_at > ? AND "
                             f"absolute_expires_at > ? ORDER BY created_at DESC",
                             (account_id, at, at))
        return [_session(row) for row in rows]

    def purge(self, *, now: dt.datetime, keep_for: dt.timedelta = dt.timedelta(days=30)) -> int:
        """Delete rows that ended more than `keep_for` ago; how many."""
        before = stamp(now - keep_for)
        with self.db.transaction() as cur:
            rows = cur.execute("DELETE FROM account_sessions WHERE absolute_expires_at < ? OR "
                               "idle_expires_at < ? OR revoked_at < ? RETURNING session_hash",
                               (before, before, before)).fetchall()
        return len(rows)


def _session(row: tuple[Any, ...]) -> Session:
    times = [unstamp(v) for v in row[5:9]]
    assert all(t is not None for t in times)
    created, seen, idle, absolute = (t for t in times if t is not None)
    return Session(key=row[0], account_id=row[1], stage=SessionStage(row[2]),
                   csrf_secret=row[3], client=row[4], created_at=created, last_seen_at=seen,
                   idle_expires_at=idle, absolute_expires_at=absolute)


def csrf_token(session: Session) -> str:
    """A token for one form of this session (different every time, each one valid)."""
    secret = bytes.fromhex(session.csrf_secret)
    mask = secrets.token_bytes(len(secret))
    masked = bytes(a ^ b for a, b in zip(mask, secret, strict=True))
    return base64.urlsafe_b64encode(mask + masked).decode().rstrip("=")


def check_csrf(session: Session, token: str | None) -> None:
    """CsrfRefused unless `token` is one of this session's CSRF tokens."""
    secret = bytes.fromhex(session.csrf_secret)
    try:
        raw = base64.urlsafe_b64decode((token or "") + "=" * (-len(token or "") % 4))
    except ValueError:
        raw = b""
    if len(raw) == 2 * len(secret):
        mask, masked = raw[:len(secret)], raw[len(secret):]
        unmasked = bytes(a ^ b for a, b in zip(mask, masked, strict=True))
        if hmac.compare_digest(unmasked, secret):
            return
    raise CsrfRefused("this form has expired or did not come from this site; reload the page "
                      "and send it again", field="csrf_token", rule="csrf")
