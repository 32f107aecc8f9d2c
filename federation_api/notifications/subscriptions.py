"""Employers' subscriptions to professionals, and the CSV form in which they arrive in bulk.

An employer is identified by its token's public id: an association issues the token, and
everything an employer owns (subscriptions, webhook, deliveries) hangs off that id, so one
employer can never name another's rows. A subscription needs the endorsement id AND the
holder's last name, matched exactly as `/v1/verify` matches them, so an employer token cannot
enumerate people any more than the public endpoint can.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from federation_api.errors import EdgeError
from federation_api.notifications import employer_tables
from ledger.storage.database import Cursor, Database

MAX_CSV_ROWS = 5000
MAX_CSV_BYTES = 1_000_000  # 5,000 rows of an id and a name fit in a few hundred KB
CSV_HEADER = ("endorsement_id", "last_name")
ENDORSEMENT_ID = re.compile(r"^[A-Za-z0-9-]{3,40}$")
MAX_LAST_NAME = 100


class SubscriptionRequest(msgspec.Struct, frozen=True):
    """One requested subscription: the endorsement id and the holder's last name."""

    endorsement_id: str
    last_name: str
    line: int = 0  # line in the uploaded CSV (1 is the header); 0 for a single request


class Subscription(msgspec.Struct, frozen=True):
    """A stored subscription."""

    endorsement_id: str
    subscribed_at: str


class CsvRejected(EdgeError, ValueError):
    """The uploaded file is not a valid subscription CSV; nothing was written."""

    def __init__(self, message: str, *, line: int = 0, field: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field


def parse_csv(data: bytes) -> list[SubscriptionRequest]:
    """Every row of a subscription CSV, or CsvRejected naming the first bad line.

    The whole file is checked before anything is written: a file with one malformed row is
    refused as a whole, so an employer never has to work out which half of an upload landed.
    """
    if len(data) > MAX_CSV_BYTES:
        raise CsvRejected(f"the file is larger than {MAX_CSV_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CsvRejected(f"the file is not UTF-8 text (byte {e.start})") from e
    if "\0" in text:
        raise CsvRejected("the file contains a NUL byte; it is not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as e:
        raise CsvRejected(f"not a valid CSV file: {e}", line=reader.line_num) from e
    if not rows:
        raise CsvRejected("the file is empty; the first line must be the header "
                          "endorsement_id,last_name", line=1)
    header = tuple(c.strip().lower() for c in rows[0])
    if header != CSV_HEADER:
        raise CsvRejected("the first line must be the header endorsement_id,last_name",
                          line=1, field="header")
    found: list[SubscriptionRequest] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue  # blank lines (e.g. a trailing one) carry nothing
        if len(row) != 2:
            raise CsvRejected(f"expected 2 fields, found {len(row)}", line=line, field="row")
        request = SubscriptionRequest(endorsement_id=row[0].strip(), last_name=row[1].strip(),
                                      line=line)
        check(request)
        found.append(request)
        if len(found) > MAX_CSV_ROWS:
            raise CsvRejected(f"more than {MAX_CSV_ROWS} rows", line=line, field="row")
    if not found:
        raise CsvRejected("the file has a header but no rows", line=2, field="row")
    return found


def check(request: SubscriptionRequest) -> None:
    """CsvRejected (with the line) if the id or the last name is not well-formed."""
    if not ENDORSEMENT_ID.match(request.endorsement_id):
        raise CsvRejected("endorsement_id must be 3 to 40 letters, digits or dashes",
                          line=request.line, field="endorsement_id")
    if not request.last_name or len(request.last_name) > MAX_LAST_NAME:
        raise CsvRejected(f"last_name must be 1 to {MAX_LAST_NAME} characters",
                          line=request.line, field="last_name")


class SubscriptionStore:
    """Subscriptions by employer; every method takes the employer, none lists across them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        employer_tables.create(db)

    def subscribe(self, employer: str, endorsement_ids: Sequence[str],
                  now: dt.datetime) -> dict[str, bool]:
        """Subscribe to each id in one transaction; id -> True if new, False if it existed.

        A subscription sees the changes recorded after it was made (`from_change`), so a late
        subscriber does not receive an old history as if it were news.
        """
        created: dict[str, bool] = {}
        with self.db.transaction() as cur:
            row = cur.execute("SELECT COALESCE(MAX(change_id), 0) FROM status_changes"
                              ).fetchone()
            from_change = int(row[0]) if row else 0
            existing = {r[0] for r in select_in(
                cur, "SELECT endorsement_id FROM employer_subscriptions WHERE employer = ? AND "
                     "endorsement_id IN ({})", (employer,), list(dict.fromkeys(endorsement_ids)))}
            new = [e for e in dict.fromkeys(endorsement_ids) if e not in existing]
            cur.executemany("INSERT INTO employer_subscriptions (employer, endorsement_id, "
                            "subscribed_at, from_change) VALUES (?, ?, ?, ?)",
                            [(employer, e, now.isoformat(), from_change) for e in new])
            for endorsement_id in endorsement_ids:
                created[endorsement_id] = endorsement_id in new
        return created

    def unsubscribe(self, employer: str, endorsement_id: str) -> bool:
        """Remove one subscription; False if the employer had none for that id."""
        with self.db.transaction() as cur:
            found = cur.execute("SELECT 1 FROM employer_subscriptions WHERE employer = ? AND "
                                "endorsement_id = ?", (employer, endorsement_id)).fetchone()
            if found:
                cur.execute("DELETE FROM employer_subscriptions WHERE employer = ? AND "
                            "endorsement_id = ?", (employer, endorsement_id))
        return found is not None

    def get(self, employer: str, endorsement_id: str) -> Subscription | None:
        """One subscription of this employer, or None."""
        rows = self.db.query("SELECT endorsement_id, subscribed_at FROM employer_subscriptions "
                             "WHERE employer = ? AND endorsement_id = ?",
                             (employer, endorsement_id))
        return Subscription(endorsement_id=rows[0][0], subscribed_at=rows[0][1]) if rows else None

    def list(self, employer: str, *, after: str = "", limit: int = 1000) -> list[Subscription]:
        """The employer's subscriptions in id order, after `after` (for paging)."""
        rows = self.db.query("SELECT endorsement_id, subscribed_at FROM employer_subscriptions "
                             "WHERE employer = ? AND endorsement_id > ? ORDER BY endorsement_id "
                             "LIMIT ?", (employer, after, limit))
        return [Subscription(endorsement_id=r[0], subscribed_at=r[1]) for r in rows]

    def count(self, employer: str) -> int:
        """How many subscriptions the employer has."""
        rows = self.db.query("SELECT COUNT(*) FROM employer_subscriptions WHERE employer = ?",
                             (employer,))
        return int(rows[0][0])


_IN_CHUNK = 500


def select_in(cur: Cursor, sql: str, params: tuple[str, ...],
              keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """Rows of `sql` (with one `IN ({})` after `params`) for every chunk of keys."""
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = list(keys[start:start + _IN_CHUNK])
        found.extend(cur.execute(sql.format(", ".join("?" for _ in chunk)),
                                 (*params, *chunk)).fetchall())
    return found
