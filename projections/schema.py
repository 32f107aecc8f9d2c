"""The projection tables and the conversion of rows to and from their columns.

Dates are stored as ISO-8601 text and enums as their values, so the stored bytes (and the
digest over them) are the same on SQLite and PostgreSQL, and text comparison orders dates.
Column lists here are the single source for the writes, the reads and the digest.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.application import ApplicationState
from domain.levels import Designation, EndorsementStatus, Level
from domain.unmet import Unmet
from ledger.codec import decode_json, encode_json
from projections.rows import ApplicationRow, HistoryRow, RosterRow

DDL = """
CREATE TABLE IF NOT EXISTS roster (
    endorsement_id TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    person_id TEXT NOT NULL,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT,
    status TEXT NOT NULL,
    granted_on TEXT NOT NULL,
    valid_through TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    aggregate_id TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS roster_person ON roster (person_id);
CREATE INDEX IF NOT EXISTS roster_association ON roster (association, status);
CREATE TABLE IF NOT EXISTS status_history (
    endorsement_id TEXT NOT NULL,
    effective_on TEXT NOT NULL,
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT,
    valid_through TEXT NOT NULL,
    PRIMARY KEY (endorsement_id, association, seq)
);
CREATE TABLE IF NOT EXISTS applications (
    application_id TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    person_id TEXT NOT NULL,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT,
    state TEXT NOT NULL,
    unmet TEXT NOT NULL,
    started_on TEXT NOT NULL,
    updated_on TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_association ON applications (association, state);
CREATE TABLE IF NOT EXISTS projection_tracking (
    association TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
)
"""

ROSTER_COLUMNS = ("endorsement_id", "association", "person_id", "family_name", "given_name",
                  "level", "designation", "status", "granted_on", "valid_through", "last_seq",
                  "aggregate_id")
HISTORY_COLUMNS = ("endorsement_id", "effective_on", "association", "seq", "status", "level",
                   "designation", "valid_through")
APPLICATION_COLUMNS = ("application_id", "association", "person_id", "family_name",
                       "given_name", "level", "designation", "state", "unmet", "started_on",
                       "updated_on")
TRACKING_COLUMNS = ("association", "seq")

# (table, columns, primary-key columns), in digest order.
TABLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("roster", ROSTER_COLUMNS, ("endorsement_id",)),
    ("status_history", HISTORY_COLUMNS, ("endorsement_id", "association", "seq")),
    ("applications", APPLICATION_COLUMNS, ("application_id",)),
    ("projection_tracking", TRACKING_COLUMNS, ("association",)),
)


def select(table: str, columns: tuple[str, ...]) -> str:
    """SELECT of every column of a table, in the listed order."""
    return f"SELECT {', '.join(columns)} FROM {table}"


def insert(table: str, columns: tuple[str, ...]) -> str:
    """INSERT of one row with `?` placeholders."""
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})")


def upsert(table: str, columns: tuple[str, ...], key: str) -> str:
    """INSERT that replaces the row with the same key (SQLite >= 3.24 and PostgreSQL)."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return f"{insert(table, columns)} ON CONFLICT ({key}) DO UPDATE SET {updates}"


def _designation(value: str | None) -> Designation | None:
    return None if value is None else Designation(value)


def roster_record(row: RosterRow) -> tuple[Any, ...]:
    """Column values of a roster row."""
    return (row.endorsement_id, row.association, row.person_id, row.family_name,
            row.given_name, row.level.value,
            None if row.designation is None else row.designation.value, row.status.value,
            row.granted_on.isoformat(), row.valid_through.isoformat(), row.last_seq,
            row.aggregate_id)


def roster_row(record: tuple[Any, ...]) -> RosterRow:
    """A roster row from its column values."""
    (endorsement_id, association, person_id, family_name, given_name, level, designation,
     status, granted_on, valid_through, last_seq, aggregate_id) = record
    return RosterRow(endorsement_id=endorsement_id, association=association,
                     person_id=person_id, family_name=family_name, given_name=given_name,
                     level=Level(level), designation=_designation(designation),
                     status=EndorsementStatus(status),
                     granted_on=dt.date.fromisoformat(granted_on),
                     valid_through=dt.date.fromisoformat(valid_through),
                     last_seq=int(last_seq), aggregate_id=aggregate_id)


def history_record(row: HistoryRow) -> tuple[Any, ...]:
    """Column values of a status_history row."""
    return (row.endorsement_id, row.effective_on.isoformat(), row.association, row.seq,
            row.status.value, row.level.value,
            None if row.designation is None else row.designation.value,
            row.valid_through.isoformat())


def history_row(record: tuple[Any, ...]) -> HistoryRow:
    """A status_history row from its column values."""
    (endorsement_id, effective_on, association, seq, status, level, designation,
     valid_through) = record
    return HistoryRow(endorsement_id=endorsement_id,
                      effective_on=dt.date.fromisoformat(effective_on), association=association,
                      seq=int(seq), status=EndorsementStatus(status), level=Level(level),
                      designation=_designation(designation),
                      valid_through=dt.date.fromisoformat(valid_through))


def unmet_text(unmet: tuple[Unmet, ...]) -> str:
    """Canonical JSON (sorted keys, fixed layout) of an unmet list."""
    return encode_json(unmet).decode()


def application_record(row: ApplicationRow) -> tuple[Any, ...]:
    """Column values of an application row."""
    return (row.application_id, row.association, row.person_id, row.family_name,
            row.given_name, row.level.value,
            None if row.designation is None else row.designation.value, row.state.value,
            unmet_text(row.unmet), row.started_on.isoformat(), row.updated_on.isoformat())


def application_row(record: tuple[Any, ...]) -> ApplicationRow:
    """An application row from its column values."""
    (application_id, association, person_id, family_name, given_name, level, designation,
     state, unmet, started_on, updated_on) = record
    return ApplicationRow(application_id=application_id, association=association,
                          person_id=person_id, family_name=family_name, given_name=given_name,
                          level=Level(level), designation=_designation(designation),
                          state=ApplicationState(state),
                          unmet=decode_json(unmet.encode(), tuple[Unmet, ...]),
                          started_on=dt.date.fromisoformat(started_on),
                          updated_on=dt.date.fromisoformat(updated_on))
