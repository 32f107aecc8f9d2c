"""The hours an endorsed professional logs through the year: training and RS/C received.

A renewal asks for the year's hours all at once; people forget them by then. So the portal
keeps a private log (the node database, never the ledger) that the professional fills as the
hours happen, and the renewal page counts the entries that fall in the cycle being renewed
(`portal.renewal`). Only the renewal's evidence, built from these entries, reaches the ledger,
and there only as the salted commitment every evidence gets.

Every read and write names the owning account (`account_id = ?` in the statement), so an
entry id taken from another person's page finds nothing: `NotYours`, the same answer as an
id that does not exist. `parse_entry` is the one check of a typed entry: a clear message per
field, nothing written for bad input.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from federation_api.clock import stamp, unstamp
from federation_api.portal.errors import NotYours, PortalError
from ledger.storage.database import Cursor, Database

_DDL = """
CREATE TABLE IF NOT EXISTS portal_hours (
    entry_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    done_on TEXT NOT NULL,
    hours REAL NOT NULL,
    provider TEXT NOT NULL,
    description TEXT NOT NULL,
    rsc_topic INTEGER NOT NULL,
    logged_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_hours_account ON portal_hours (account_id, done_on)
"""
_COLUMNS = "entry_id, account_id, kind, done_on, hours, provider, description, rsc_topic, logged_at"
MAX_ENTRIES = 1000  # per account: a few a week for years; more is a script, not a person
MAX_HOURS = 200.0  # one entry: a long course, not a year's total typed as one line
MAX_TEXT = 200
EARLIEST = dt.date(2000, 1, 1)
Errors = list[tuple[str, str]]


class HoursKind(StrEnum):
    """What the hours were: training completed, or reflective supervision/consultation
    received (the two kinds of hours a renewal counts)."""

    TRAINING = "training"
    RSC = "rsc"

    @property
    def shown(self) -> str:
        """How the pages name the kind."""
        return {"training": "Training", "rsc": "RS/C received"}[self.value]


@dataclass(frozen=True)
class HoursEntry:
    """What a person typed for one entry, checked (not yet stored)."""

    kind: HoursKind
    done_on: dt.date
    hours: float
    provider: str  # who gave the training or the RS/C
    description: str
    rsc_topic: bool = False  # training about providing RS/C (Level III providers need 3 h)


@dataclass(frozen=True)
class LoggedHours:
    """One stored entry of one account's log."""

    entry_id: str
    account_id: str
    entry: HoursEntry
    logged_at: dt.datetime


def parse_entry(values: dict[str, str], *, today: dt.date) -> tuple[HoursEntry | None, Errors]:
    """The entry a posted form describes, or the errors (field, message) to show next to
    each input: an unknown kind, a date that is not one (or is in the future or before
    2000), hours that are not a number, not more than zero or more than 200, a missing
    provider, text too long."""
    errors: Errors = []
    raw_kind = values.get("kind", "").strip()
    kind = next((k for k in HoursKind if k.value == raw_kind), None)
    if kind is None:
        errors.append(("kind", "Choose training or RS/C received."))
    done_on = _date(values.get("done_on", ""), today, errors)
    hours = _hours(values.get("hours", ""), errors)
    provider = " ".join(values.get("provider", "").split())
    description = " ".join(values.get("description", "").split())
    if not provider:
        errors.append(("provider", "Enter who gave the training or the RS/C."))
    for name, text in (("provider", provider), ("description", description)):
        if len(text) > MAX_TEXT:
            errors.append((name, f"Use at most {MAX_TEXT} characters."))
        elif any(ord(c) < 32 or ord(c) == 127 for c in text):
            errors.append((name, "Use letters, digits and punctuation only."))
    if errors or kind is None or done_on is None or hours is None:
        return None, errors
    return HoursEntry(kind=kind, done_on=done_on, hours=hours, provider=provider,
                      description=description,
                      rsc_topic=kind is HoursKind.TRAINING and values.get("rsc_topic") == "on"
                      ), []


def _date(raw: str, today: dt.date, errors: Errors) -> dt.date | None:
    raw = raw.strip()
    if not raw:
        errors.append(("done_on", "Enter the date of the training or the RS/C."))
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        errors.append(("done_on", f"Enter a date such as {today.isoformat()}."))
        return None
    if day > today:
        errors.append(("done_on", "The date cannot be in the future: log hours once they "
                                  "are done."))
        return None
    if day < EARLIEST:
        errors.append(("done_on", f"Enter a date from {EARLIEST.isoformat()} on."))
        return None
    return day


def _hours(raw: str, errors: Errors) -> float | None:
    raw = raw.strip().replace(",", ".")
    try:
        hours = float(raw)
    except ValueError:
        errors.append(("hours", "Enter the clock hours as a number, such as 1.5."))
        return None
    if not math.isfinite(hours):
        errors.append(("hours", "Enter the clock hours as a number, such as 1.5."))
        return None
    if hours <= 0:
        errors.append(("hours", "Enter more than 0 hours."))
        return None
    if hours > MAX_HOURS:
        errors.append(("hours", f"Enter at most {MAX_HOURS:g} hours in one entry; log a "
                                "longer course as several."))
        return None
    return round(hours, 2)


class HoursLog:
    """Each account's logged hours."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    def of_account(self, account_id: str, *, start: dt.date | None = None,
                   end: dt.date | None = None) -> list[LoggedHours]:
        """The account's entries (those done within [start, end] when given), oldest first."""
        sql = f"SELECT {_COLUMNS} FROM portal_hours WHERE account_id = ?"
        params: list[Any] = [account_id]
        if start is not None:
            sql += " AND done_on >= ?"
            params.append(start.isoformat())
        if end is not None:
            sql += " AND done_on <= ?"
            params.append(end.isoformat())
        return [_logged(row) for row in self.db.query(sql + " ORDER BY done_on, logged_at, "
                                                            "entry_id", tuple(params))]

    def add(self, cur: Cursor, account_id: str, entry: HoursEntry, *,
            now: dt.datetime) -> LoggedHours:
        """Store a checked entry; PortalError past MAX_ENTRIES."""
        count = cur.execute("SELECT COUNT(*) FROM portal_hours WHERE account_id = ?",
                            (account_id,)).fetchone()
        if count is not None and int(count[0]) >= MAX_ENTRIES:
            raise PortalError(f"your log holds {MAX_ENTRIES} entries already; remove old ones "
                              "first", field="kind", rule="hours.limit")
        entry_id = "hrs_" + secrets.token_hex(8)
        cur.execute(f"INSERT INTO portal_hours ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry_id, account_id, entry.kind.value, entry.done_on.isoformat(),
                     entry.hours, entry.provider, entry.description, int(entry.rsc_topic),
                     stamp(now)))
        return LoggedHours(entry_id=entry_id, account_id=account_id, entry=entry,
                           logged_at=now)

    def remove(self, cur: Cursor, account_id: str, entry_id: str) -> None:
        """Delete one of the account's entries; NotYours if it has no such entry."""
        found = cur.execute("DELETE FROM portal_hours WHERE entry_id = ? AND account_id = ? "
                            "RETURNING entry_id", (entry_id[:64], account_id)).fetchone()
        if found is None:
            raise NotYours("no such entry", field="entry", rule="hours.owner")


def _logged(row: tuple[Any, ...]) -> LoggedHours:
    logged_at = unstamp(row[8])
    assert logged_at is not None
    return LoggedHours(entry_id=row[0], account_id=row[1], logged_at=logged_at,
                       entry=HoursEntry(kind=HoursKind(row[2]),
                                        done_on=dt.date.fromisoformat(row[3]),
                                        hours=float(row[4]), provider=row[5],
                                        description=row[6], rsc_topic=bool(row[7])))
