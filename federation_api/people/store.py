"""The `people` table in the node database: the association's person records, searchable.

Each writing method takes the caller's open cursor, so that a record's change and its audit
entry (who did it) commit together or not at all. Every change bumps `version`; an edit names
the version it was made from, so two staff editing one record at once cannot silently
overwrite each other (the second is told to reload).

`name_key` (folded family and given names) and `email_key` (case-folded address) are stored
beside the text as typed: they are what search and duplicate detection compare, with an
index each, so neither needs to fold every row of a large association on every query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from federation_api.clock import stamp, unstamp
from federation_api.people.errors import NoSuchPerson, PersonExists
from federation_api.people.records import FIELDS, PersonDetails, fold
from ledger.storage.database import Cursor, Database

MAX_RESULTS = 200

_DDL = """
CREATE TABLE IF NOT EXISTS people (
    person_id TEXT PRIMARY KEY,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    search_key TEXT NOT NULL,
    birth_date TEXT,
    other_identity TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    phone TEXT NOT NULL,
    street TEXT NOT NULL,
    city TEXT NOT NULL,
    county TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    membership_number TEXT NOT NULL,
    membership_expires TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS people_name_key ON people (name_key);
CREATE INDEX IF NOT EXISTS people_email_key ON people (email_key)
"""
_COLUMNS = (", ".join(FIELDS) + ", version, created_at, created_by, updated_at, updated_by")


@dataclass(frozen=True)
class PersonRecord:
    """A stored person record: the details and who changed them when."""

    details: PersonDetails
    version: int
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str

    @property
    def person_id(self) -> str:
        """The professional id the ledger knows the person by."""
        return self.details.person_id

    @property
    def name(self) -> str:
        """Given and family name, as a page shows them."""
        return f"{self.details.given_name} {self.details.family_name}"


def name_key(family_name: str, given_name: str) -> str:
    """The folded (family, given) pair that duplicate detection compares."""
    return f"{fold(family_name)}|{fold(given_name)}"


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _values(details: PersonDetails) -> tuple[Any, ...]:
    return (details.given_name, details.family_name,
            name_key(details.family_name, details.given_name),
            fold(f"{details.given_name} {details.family_name}"),
            details.birth_date.isoformat() if details.birth_date else None,
            details.other_identity, details.email, details.email.casefold(), details.phone,
            details.street, details.city, details.county, details.postal_code,
            details.membership_number,
            details.membership_expires.isoformat() if details.membership_expires else None)


class PeopleStore:
    """Create, change, read and search the association's person records."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    def create(self, cur: Cursor, details: PersonDetails, *, by: str,
               now: dt.datetime) -> PersonRecord:
        """Add a record; PersonExists if its professional id is taken (also when another
        transaction took it a moment ago: the insert, not a prior read, decides)."""
        at = stamp(now)
        added = cur.execute(
            "INSERT INTO people (person_id, given_name, family_name, name_key, search_key, "
            "birth_date, other_identity, email, email_key, phone, street, city, county, "
            "postal_code, membership_number, membership_expires, version, created_at, "
            "created_by, updated_at, updated_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) "
            "ON CONFLICT (person_id) DO NOTHING RETURNING person_id",
            (details.person_id, *_values(details), at, by, at, by)).fetchone()
        if added is None:
            raise PersonExists(details.person_id)
        return PersonRecord(details, 1, now, by, now, by)

    def update(self, cur: Cursor, details: PersonDetails, *, version: int, by: str,
               now: dt.datetime) -> bool:
        """Change a record made from `version`; False if it changed since (nothing is
        written), NoSuchPerson if there is none."""
        row = cur.execute(
            "UPDATE people SET given_name = ?, family_name = ?, name_key = ?, search_key = ?, "
            "birth_date = ?, other_identity = ?, email = ?, email_key = ?, phone = ?, "
            "street = ?, city = ?, county = ?, postal_code = ?, membership_number = ?, "
            "membership_expires = ?, version = version + 1, updated_at = ?, updated_by = ? "
            "WHERE person_id = ? AND version = ? RETURNING version",
            (*_values(details), stamp(now), by, details.person_id, version)).fetchone()
        if row is not None:
            return True
        if self.get(details.person_id, cur=cur) is None:
            raise NoSuchPerson(details.person_id)
        return False

    def get(self, person_id: str, *, cur: Cursor | None = None) -> PersonRecord | None:
        """The record with this professional id, if any."""
        sql = f"SELECT {_COLUMNS} FROM people WHERE person_id = ?"
        rows = (cur.execute(sql, (person_id,)).fetchall() if cur is not None
                else self.db.query(sql, (person_id,)))
        return _record(rows[0]) if rows else None

    def many(self, person_ids: list[str]) -> dict[str, PersonRecord]:
        """The records of these professional ids that exist, by id."""
        found: dict[str, PersonRecord] = {}
        for start in range(0, len(person_ids), 500):  # bounded IN lists on both backends
            chunk = person_ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in self.db.query(f"SELECT {_COLUMNS} FROM people WHERE person_id IN "
                                     f"({marks})", chunk):
                record = _record(row)
                found[record.person_id] = record
        return found

    def search(self, text: str, *, limit: int = MAX_RESULTS) -> list[PersonRecord]:
        """Records whose name, email or professional id contains `text` (folded), by family
        name; every record (up to `limit`) when `text` is empty."""
        wanted = " ".join(text.split())
        if not wanted:
            rows = self.db.query(f"SELECT {_COLUMNS} FROM people ORDER BY name_key, "
                                 f"person_id LIMIT ?", (limit,))
        else:
            rows = self.db.query(
                f"SELECT {_COLUMNS} FROM people WHERE search_key LIKE ? ESCAPE '\\' "
                f"OR email_key LIKE ? ESCAPE '\\' OR UPPER(person_id) LIKE ? ESCAPE '\\' "
                f"ORDER BY name_key, person_id LIMIT ?",
                (_like(fold(wanted)), _like(wanted.casefold()), _like(wanted.upper()), limit))
        return [_record(row) for row in rows]

    def same_name_or_email(self, record: PersonRecord) -> list[PersonRecord]:
        """Other records with the same folded names or the same email address."""
        d = record.details
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM people WHERE person_id <> ? AND (name_key = ? "
            f"OR (email_key <> '' AND email_key = ?)) ORDER BY person_id LIMIT ?",
            (d.person_id, name_key(d.family_name, d.given_name), d.email.casefold(),
             MAX_RESULTS))
        return [_record(row) for row in rows]

    def clashes(self, *, limit: int = MAX_RESULTS) -> list[tuple[PersonRecord, PersonRecord]]:
        """Pairs of records (first id smaller) sharing folded names and a date of birth, or
        an email address: the node's own possible duplicates."""
        left = ", ".join(f"a.{c}" for c in _COLUMNS.split(", "))
        right = ", ".join(f"b.{c}" for c in _COLUMNS.split(", "))
        rows = self.db.query(
            f"SELECT {left}, {right} FROM people a JOIN people b ON a.person_id < b.person_id "
            f"AND ((a.name_key = b.name_key AND a.birth_date = b.birth_date) "
            f"OR (a.email_key <> '' AND a.email_key = b.email_key)) "
            f"ORDER BY a.person_id, b.person_id LIMIT ?", (limit,))
        width = len(_COLUMNS.split(", "))
        return [(_record(row[:width]), _record(row[width:])) for row in rows]

    def counties(self) -> dict[str, str]:
        """The county of every record (as typed, possibly empty), by person id: for the
        board's counts by county, which only this node can make."""
        return {str(p): str(c) for p, c in self.db.query("SELECT person_id, county FROM people")}

    def generation(self) -> tuple[int, int]:
        """(records, sum of their versions): every create adds a record and every edit bumps
        a version, and nothing deletes one, so this changes whenever any record changes, in
        whichever process changed it. What a cache of figures from these records keys on."""
        count, versions = self.db.query("SELECT COUNT(*), COALESCE(SUM(version), 0) "
                                        "FROM people")[0]
        return int(count), int(versions)

    def all_names(self) -> list[tuple[str, str, str]]:
        """(person_id, family, given) of every record: for the Alliance-wide name matches."""
        return [(str(p), str(f), str(g)) for p, f, g in self.db.query(
            "SELECT person_id, family_name, given_name FROM people ORDER BY person_id")]


def _record(row: tuple[Any, ...]) -> PersonRecord:
    values = dict(zip(FIELDS, row[:len(FIELDS)], strict=True))
    for name in ("birth_date", "membership_expires"):
        values[name] = dt.date.fromisoformat(values[name]) if values[name] else None
    version, created_at, created_by, updated_at, updated_by = row[len(FIELDS):]
    made, changed = unstamp(created_at), unstamp(updated_at)
    assert made is not None and changed is not None
    return PersonRecord(PersonDetails(**values), int(version), made, str(created_by), changed,
                        str(updated_by))
