"""The mail outbox: a table of messages to send, written inside the transaction of the action
that causes them.

`Outbox.enqueue(cur, ...)` takes the caller's open cursor, so a password-reset link, an
invitation or a renewal reminder is queued if and only if the action that causes it commits:
a crash loses no mail and a rolled-back action sends none. Each message has a `dedupe_key`
(UNIQUE), so one reminder or notice is queued once however often the code that queues it runs
(`enqueue` returns False for a duplicate, and the caller can tell).

The sender claims due messages in batches (`claim`), sends them, and records each outcome as
soon as it is known (`mark_sent`, `retry_later`, `give_up`). A claim is a lease: messages a
sender claimed and never marked (it crashed, or the machine did) become claimable again once
the lease has passed, and are sent again with the same Message-ID. See `sender` for what this
means for duplicates.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from federation_api.mail.errors import MailRejected
from ledger.storage.database import Cursor, Database

MAX_SUBJECT = 250
MAX_BODY = 1_000_000
MAX_DEDUPE_KEY = 200
_ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]{1,64}@([a-z0-9-]{1,63}\.)+[a-z0-9-]{1,63}$",
                      re.IGNORECASE)

_DDL = """
CREATE TABLE IF NOT EXISTS mail_outbox (
    mail_id TEXT PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_at TEXT,
    claim_token TEXT,
    sent_at TEXT,
    failed_at TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL
"""


def stamp(moment: dt.datetime) -> str:
    """An aware instant as stored text: UTC, fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class OutboxMail:
    """One queued message as the sender sees it."""

    mail_id: str
    recipient: str
    subject: str
    text_body: str
    html_body: str | None
    created_at: dt.datetime
    attempts: int


@dataclass(frozen=True)
class MailStatus:
    """Where one message stands (pages and tests)."""

    mail_id: str
    dedupe_key: str
    recipient: str
    subject: str
    attempts: int
    next_attempt_at: dt.datetime
    claimed: bool
    sent_at: dt.datetime | None
    failed_at: dt.datetime | None
    last_error: str | None


def check_address(address: str, *, field: str = "recipient") -> str:
    """A single plain address (no display name, no line breaks); MailRejected otherwise."""
    address = address.strip()
    if len(address) > 254 or not _ADDRESS.match(address):
        raise MailRejected(f"{field} is not a single email address")
    return address


def _one_line(value: str, field: str, limit: int) -> str:
    if "\r" in value or "\n" in value:
        raise MailRejected(f"{field} must be one line")
    value = value.strip()
    if not value or len(value) > limit:
        raise MailRejected(f"{field} must have 1 to {limit} characters")
    return value


class Outbox:
    """The outbox table and its state changes."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)
        # Called after a caller's transaction that queued mail has committed (`notify`):
        # the sender wakes at once instead of at its next poll.
        self.listeners: list[Callable[[], None]] = []

    def enqueue(self, cur: Cursor, *, dedupe_key: str, recipient: str, subject: str,
                text: str, now: dt.datetime, html: str | None = None,
                not_before: dt.datetime | None = None) -> bool:
        """Queue a message inside the caller's transaction; False if a message with this
        dedupe key was queued before (nothing is written then)."""
        key = _one_line(dedupe_key, "dedupe_key", MAX_DEDUPE_KEY)
        to = check_address(recipient)
        subject = _one_line(subject, "subject", MAX_SUBJECT)
        if not text.strip() or len(text) > MAX_BODY or (html is not None and len(html) > MAX_BODY):
            raise MailRejected(f"a message needs a text body of at most {MAX_BODY} characters")
        mail_id = secrets.token_hex(16)
        row = cur.execute(
            "INSERT INTO mail_outbox (mail_id, dedupe_key, recipient, subject, text_body, "
            "html_body, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING mail_id",
            (mail_id, key, to, subject, text, html, stamp(now),
             stamp(not_before or now))).fetchone()
        return row is not None

    def queued(self, cur: Cursor, dedupe_key: str) -> bool:
        """Whether a message with this dedupe key was ever queued."""
        return cur.execute("SELECT 1 FROM mail_outbox WHERE dedupe_key = ?",
                           (dedupe_key,)).fetchone() is not None

    def notify(self) -> None:
        """Tell the listeners (the sender) that mail was queued and committed."""
        for listener in self.listeners:
            listener()

    def claim(self, *, now: dt.datetime, limit: int, lease: dt.timedelta
              ) -> tuple[str, list[OutboxMail]]:
        """Claim up to `limit` due messages for `lease`; (the claim token, the messages),
        oldest first. Messages claimed by a sender that has not marked them within the lease
        are due again. On PostgreSQL, rows another sender is claiming at this instant are
        skipped, not waited for."""
        token = secrets.token_hex(8)
        at, expired = stamp(now), stamp(now - lease)
        # Two statements, not UPDATE ... WHERE IN (SELECT ... LIMIT): PostgreSQL may run such
        # a subquery more than once and so claim more than `limit` rows. The rows selected
        # are locked by this transaction (PostgreSQL) or the whole database is (SQLite).
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        live = "sent_at IS NULL AND failed_at IS NULL AND (claimed_at IS NULL OR claimed_at < ?)"
        with self.db.transaction() as cur:
            ids = [r[0] for r in cur.execute(
                f"SELECT mail_id FROM mail_outbox WHERE next_attempt_at <= ? AND {live} "
                f"ORDER BY next_attempt_at, created_at, mail_id LIMIT ?{lock}",
                (at, expired, limit)).fetchall()]
            rows = []
            for mail_id in ids:
                row = cur.execute(
                    f"UPDATE mail_outbox SET claimed_at = ?, claim_token = ? WHERE mail_id = ? "
                    f"AND {live} RETURNING mail_id, recipient, subject, text_body, html_body, "
                    f"created_at, attempts", (at, token, mail_id, expired)).fetchone()
                if row is not None:
                    rows.append(row)
        mails = [OutboxMail(mail_id=r[0], recipient=r[1], subject=r[2], text_body=r[3],
                            html_body=r[4], created_at=dt.datetime.fromisoformat(r[5]),
                            attempts=int(r[6])) for r in rows]
        mails.sort(key=lambda m: (m.created_at, m.mail_id))
        return token, mails

    def mark_sent(self, mail_id: str, *, now: dt.datetime) -> None:
        """The server accepted the message."""
        with self.db.transaction() as cur:
            cur.execute("UPDATE mail_outbox SET sent_at = ?, attempts = attempts + 1, "
                        "claimed_at = NULL, claim_token = NULL, last_error = NULL "
                        "WHERE mail_id = ? AND sent_at IS NULL", (stamp(now), mail_id))

    def retry_later(self, mail_id: str, *, error: str, at: dt.datetime) -> None:
        """A failed attempt: count it and make the message due again at `at`."""
        with self.db.transaction() as cur:
            cur.execute("UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ?, "
                        "claimed_at = NULL, claim_token = NULL, last_error = ? "
                        "WHERE mail_id = ? AND sent_at IS NULL", (stamp(at), error[:300],
                                                                 mail_id))

    def give_up(self, mail_id: str, *, error: str, now: dt.datetime) -> None:
        """Refused for good, or out of attempts: never tried again (a page can show it)."""
        with self.db.transaction() as cur:
            cur.execute("UPDATE mail_outbox SET attempts = attempts + 1, failed_at = ?, "
                        "claimed_at = NULL, claim_token = NULL, last_error = ? "
                        "WHERE mail_id = ? AND sent_at IS NULL", (stamp(now), error[:300],
                                                                 mail_id))

    def release(self, mail_ids: Sequence[str], *, claim_token: str) -> None:
        """Hand back claimed messages that were not attempted (no attempt is counted)."""
        with self.db.transaction() as cur:
            cur.executemany("UPDATE mail_outbox SET claimed_at = NULL, claim_token = NULL "
                            "WHERE mail_id = ? AND claim_token = ? AND sent_at IS NULL",
                            [(m, claim_token) for m in mail_ids])

    def status(self, dedupe_key: str) -> MailStatus | None:
        """Where the message with this dedupe key stands."""
        rows = self.db.query("SELECT mail_id, dedupe_key, recipient, subject, attempts, "
                             "next_attempt_at, claimed_at, sent_at, failed_at, last_error "
                             "FROM mail_outbox WHERE dedupe_key = ?", (dedupe_key,))
        if not rows:
            return None
        r = rows[0]
        return MailStatus(mail_id=r[0], dedupe_key=r[1], recipient=r[2], subject=r[3],
                          attempts=int(r[4]), next_attempt_at=dt.datetime.fromisoformat(r[5]),
                          claimed=r[6] is not None,
                          sent_at=dt.datetime.fromisoformat(r[7]) if r[7] else None,
                          failed_at=dt.datetime.fromisoformat(r[8]) if r[8] else None,
                          last_error=r[9])

    def purge(self, *, now: dt.datetime, keep_for: dt.timedelta = dt.timedelta(days=90)) -> int:
        """Delete messages sent or given up more than `keep_for` ago (their bodies hold
        personal data and spent links); how many."""
        before = stamp(now - keep_for)
        with self.db.transaction() as cur:
            rows = cur.execute("DELETE FROM mail_outbox WHERE sent_at < ? OR failed_at < ? "
                               "RETURNING mail_id", (before, before)).fetchall()
        return len(rows)

    def counts(self) -> dict[str, int]:
        """Messages by state: pending, sent, failed (for metrics and the status page)."""
        rows = self.db.query("SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent' WHEN failed_at "
                             "IS NOT NULL THEN 'failed' ELSE 'pending' END, COUNT(*) "
                             "FROM mail_outbox GROUP BY 1")
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({str(r[0]): int(r[1]) for r in rows})
        return counts
