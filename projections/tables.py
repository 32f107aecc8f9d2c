"""The projection tables and the conversion of rows to and from their columns.

Dates are stored as ISO-8601 text and enums as their values, so the stored bytes (and the
digest over them) are the same on SQLite and PostgreSQL, and text comparison orders dates.
Column lists here are the single source for the writes, the reads and the digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from domain.exam import ExamSitting
from domain.review import Seat
from domain.unmet import Unmet
from ledger.codec import decode_json, encode_json
from ledger.storage.database import Cursor
from projections.rows import ApplicationRow, HistoryRow, RosterRow
from projections.values import (
    DECISIONS,
    LEVELS,
    STATES,
    STATUSES,
    iso,
    member,
    optional_date,
    optional_designation,
    optional_iso,
    parse_date,
    text,
)

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
-- The roster's keyset pages (id order within an association) and the renewals due.
CREATE INDEX IF NOT EXISTS roster_keyset ON roster (association, endorsement_id);
CREATE INDEX IF NOT EXISTS roster_due ON roster (association, status, valid_through);
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
CREATE TABLE IF NOT EXISTS masters_prepared (
    endorsement_id TEXT PRIMARY KEY,
    since TEXT NOT NULL
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
CREATE TABLE IF NOT EXISTS application_reviewers (
    application_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    association TEXT NOT NULL,
    position BIGINT NOT NULL,
    assigned_on TEXT NOT NULL,
    conflict_declared_on TEXT,
    decision TEXT,
    decided_on TEXT,
    PRIMARY KEY (application_id, reviewer)
);
CREATE INDEX IF NOT EXISTS application_reviewers_reviewer
    ON application_reviewers (association, reviewer);
CREATE TABLE IF NOT EXISTS exam_sittings (
    application_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    association TEXT NOT NULL,
    sat_on TEXT NOT NULL,
    passed BIGINT NOT NULL,
    retake_from TEXT,
    PRIMARY KEY (application_id, attempt)
);
CREATE TABLE IF NOT EXISTS status_lists (
    aggregate_id TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    purpose TEXT NOT NULL,
    list_number BIGINT NOT NULL,
    size BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS status_list_indexes (
    aggregate_id TEXT NOT NULL,
    list_index BIGINT NOT NULL,
    association TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    endorsement_id TEXT NOT NULL,
    PRIMARY KEY (aggregate_id, list_index)
);
CREATE TABLE IF NOT EXISTS status_list_versions (
    aggregate_id TEXT NOT NULL,
    list_version BIGINT NOT NULL,
    association TEXT NOT NULL,
    list_hash TEXT NOT NULL,
    set_bits_count BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (aggregate_id, list_version)
);
CREATE TABLE IF NOT EXISTS credentials (
    credential_id TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    endorsement_id TEXT NOT NULL,
    endorsement_version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_endorsement ON credentials (endorsement_id, seq);
-- The board report's counts, kept by the projector (projections.report_counts).
CREATE TABLE IF NOT EXISTS report_counts (
    association TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT NOT NULL,
    status TEXT NOT NULL,
    year_granted BIGINT NOT NULL,
    endorsements BIGINT NOT NULL,
    PRIMARY KEY (association, level, designation, status, year_granted)
);
CREATE TABLE IF NOT EXISTS report_active_through (
    association TEXT NOT NULL,
    valid_through TEXT NOT NULL,
    level TEXT NOT NULL,
    designation TEXT NOT NULL,
    year_granted BIGINT NOT NULL,
    endorsements BIGINT NOT NULL,
    PRIMARY KEY (association, valid_through, level, designation, year_granted)
);
CREATE INDEX IF NOT EXISTS report_active_through_day ON report_active_through (valid_through);
-- The roster rows an association's entries changed after a position (the county counts).
CREATE INDEX IF NOT EXISTS roster_changes ON roster (association, last_seq);
CREATE TABLE IF NOT EXISTS report_renewals (
    association TEXT NOT NULL,
    year BIGINT NOT NULL,
    renewed BIGINT NOT NULL,
    lapsed BIGINT NOT NULL,
    PRIMARY KEY (association, year)
);
CREATE TABLE IF NOT EXISTS projection_faults (
    association TEXT NOT NULL,
    seq BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (association, seq)
);
CREATE TABLE IF NOT EXISTS projection_tracking (
    association TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
)
"""

SECONDARY_INDEXES = ("roster_person", "roster_association", "roster_keyset", "roster_due",
                     "applications_association",
                     "application_reviewers_reviewer", "credentials_endorsement",
                     "report_active_through_day", "roster_changes")

ROSTER_COLUMNS = ("endorsement_id", "association", "person_id", "family_name", "given_name",
                  "level", "designation", "status", "granted_on", "valid_through", "last_seq",
                  "aggregate_id")
HISTORY_COLUMNS = ("endorsement_id", "effective_on", "association", "seq", "status", "level",
                   "designation", "valid_through")
# Level II endorsements whose association's record shows the holder Master's-prepared, and
# from when (the RS/C provider rule for Bachelor's-prepared applicants). A table of its own
# rather than a roster column: no entry sealed before it existed carries the fact, so an
# existing projection database is already correct with the table empty, and needs no rebuild.
MASTERS_COLUMNS = ("endorsement_id", "since")
APPLICATION_COLUMNS = ("application_id", "association", "person_id", "family_name",
                       "given_name", "level", "designation", "state", "unmet", "started_on",
                       "updated_on")
# The reviewers of each application (seat order kept in `position`) and its exam sittings:
# tables of their own, like masters_prepared, so a database made before the two-reviewer
# workflow is already correct with them empty (no entry sealed before it assigns anyone).
REVIEWER_COLUMNS = ("application_id", "reviewer", "association", "position", "assigned_on",
                    "conflict_declared_on", "decision", "decided_on")
SITTING_COLUMNS = ("application_id", "attempt", "association", "sat_on", "passed",
                   "retake_from")
# Portable credentials (issue 14): the status lists, whose bit is whose, every recorded list
# version, and the issued credentials themselves (public documents, as on the ledger).
STATUS_LIST_COLUMNS = ("aggregate_id", "association", "purpose", "list_number", "size")
LIST_INDEX_COLUMNS = ("aggregate_id", "list_index", "association", "credential_id",
                      "endorsement_id")
LIST_VERSION_COLUMNS = ("aggregate_id", "list_version", "association", "list_hash",
                        "set_bits_count", "seq", "recorded_at")
CREDENTIAL_COLUMNS = ("credential_id", "association", "endorsement_id", "endorsement_version",
                      "seq", "document")
TRACKING_COLUMNS = ("association", "seq")
FAULT_COLUMNS = ("association", "seq", "reason")

# Tables added after digests were first published join a digest only once they hold a row:
# a projection of ledgers that never used them keeps the digest that older software gave
# (and an audit of an older export finds no difference).
JOINS_DIGEST_WHEN_USED = frozenset({"application_reviewers", "exam_sittings", "status_lists",
                                    "status_list_indexes", "status_list_versions",
                                    "credentials"})
# The board report's kept counts (projections.report_counts): derived from roster and
# status_history in the same transaction, so not digested (the rows they count are), but
# cleared with the rest by a rebuild.
KEPT_COUNT_TABLES = ("report_counts", "report_active_through", "report_renewals")
# (table, columns, primary-key columns), in digest order.
TABLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("roster", ROSTER_COLUMNS, ("endorsement_id",)),
    ("status_history", HISTORY_COLUMNS, ("endorsement_id", "association", "seq")),
    ("masters_prepared", MASTERS_COLUMNS, ("endorsement_id",)),
    ("applications", APPLICATION_COLUMNS, ("application_id",)),
    ("application_reviewers", REVIEWER_COLUMNS, ("application_id", "reviewer")),
    ("exam_sittings", SITTING_COLUMNS, ("application_id", "attempt")),
    ("status_lists", STATUS_LIST_COLUMNS, ("aggregate_id",)),
    ("status_list_indexes", LIST_INDEX_COLUMNS, ("aggregate_id", "list_index")),
    ("status_list_versions", LIST_VERSION_COLUMNS, ("aggregate_id", "list_version")),
    ("credentials", CREDENTIAL_COLUMNS, ("credential_id",)),
    ("projection_faults", FAULT_COLUMNS, ("association", "seq")),
    ("projection_tracking", TRACKING_COLUMNS, ("association",)),
)


_IN_CHUNK = 500  # keys per IN (...) list: far below SQLite's and PostgreSQL's parameter limits


def select_in(cur: Cursor, sql: str, column: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """Rows of `sql WHERE column IN (...)` for every key, asked in chunks of keys."""
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start:start + _IN_CHUNK]
        found.extend(cur.execute(f"{sql} WHERE {column} IN ({', '.join('?' for _ in chunk)})",
                                 chunk).fetchall())
    return found


def select(table: str, columns: tuple[str, ...]) -> str:
    """SELECT of every column of a table, in the listed order."""
    return f"SELECT {', '.join(columns)} FROM {table}"


def insert(table: str, columns: tuple[str, ...]) -> str:
    """INSERT of one row with `?` placeholders."""
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})")


def upsert(table: str, columns: tuple[str, ...], key: str | tuple[str, ...]) -> str:
    """INSERT that replaces the row with the same key (SQLite >= 3.24 and PostgreSQL)."""
    keys = (key,) if isinstance(key, str) else key
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    return f"{insert(table, columns)} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"


def roster_record(row: RosterRow) -> tuple[Any, ...]:
    """Column values of a roster row."""
    return (row.endorsement_id, row.association, row.person_id, row.family_name,
            row.given_name, str(row.level), text(row.designation), str(row.status),
            iso(row.granted_on), iso(row.valid_through), row.last_seq, row.aggregate_id)


def roster_row(record: tuple[Any, ...]) -> RosterRow:
    """A roster row from its column values."""
    (endorsement_id, association, person_id, family_name, given_name, level, designation,
     status, granted_on, valid_through, last_seq, aggregate_id) = record
    return RosterRow(endorsement_id=endorsement_id, association=association,
                     person_id=person_id, family_name=family_name, given_name=given_name,
                     level=member(LEVELS, level), designation=optional_designation(designation),
                     status=member(STATUSES, status), granted_on=parse_date(granted_on),
                     valid_through=parse_date(valid_through), last_seq=int(last_seq),
                     aggregate_id=aggregate_id)


def history_record(row: HistoryRow) -> tuple[Any, ...]:
    """Column values of a status_history row."""
    return (row.endorsement_id, iso(row.effective_on), row.association, row.seq,
            str(row.status), str(row.level), text(row.designation), iso(row.valid_through))


def history_row(record: tuple[Any, ...]) -> HistoryRow:
    """A status_history row from its column values."""
    (endorsement_id, effective_on, association, seq, status, level, designation,
     valid_through) = record
    return HistoryRow(endorsement_id=endorsement_id, effective_on=parse_date(effective_on),
                      association=association, seq=int(seq), status=member(STATUSES, status),
                      level=member(LEVELS, level), designation=optional_designation(designation),
                      valid_through=parse_date(valid_through))


def unmet_text(unmet: tuple[Unmet, ...]) -> str:
    """Canonical JSON (sorted keys, fixed layout) of an unmet list."""
    return encode_json(unmet).decode()


def application_record(row: ApplicationRow) -> tuple[Any, ...]:
    """Column values of an application row."""
    return (row.application_id, row.association, row.person_id, row.family_name,
            row.given_name, str(row.level), text(row.designation), str(row.state),
            unmet_text(row.unmet), iso(row.started_on), iso(row.updated_on))


def application_row(record: tuple[Any, ...]) -> ApplicationRow:
    """An application row from its column values."""
    (application_id, association, person_id, family_name, given_name, level, designation,
     state, unmet, started_on, updated_on) = record
    return ApplicationRow(application_id=application_id, association=association,
                          person_id=person_id, family_name=family_name, given_name=given_name,
                          level=member(LEVELS, level),
                          designation=optional_designation(designation),
                          state=member(STATES, state),
                          unmet=decode_json(unmet.encode(), tuple[Unmet, ...]),
                          started_on=parse_date(started_on), updated_on=parse_date(updated_on))


def reviewer_records(row: ApplicationRow) -> list[tuple[Any, ...]]:
    """Column values of an application's reviewer seats."""
    return [(row.application_id, seat.reviewer, row.association, position,
             iso(seat.assigned_on), optional_iso(seat.conflict_declared_on),
             text(seat.decision), optional_iso(seat.decided_on))
            for position, seat in enumerate(row.reviewers)]


def sitting_records(row: ApplicationRow) -> list[tuple[Any, ...]]:
    """Column values of an application's exam sittings (never a score: it is private)."""
    return [(row.application_id, s.attempt, row.association, iso(s.sat_on), int(s.passed),
             optional_iso(s.retake_from)) for s in row.exam_sittings]


def with_parts(rows: Iterable[ApplicationRow], reviewers: Iterable[tuple[Any, ...]],
               sittings: Iterable[tuple[Any, ...]]) -> list[ApplicationRow]:
    """Application rows with their reviewer seats and exam sittings (from their tables'
    column values, in any order) attached, in seat and attempt order."""
    seats: dict[str, list[tuple[int, Seat]]] = {}
    for (application_id, reviewer, _, position, assigned_on, conflict_on, decision,
         decided_on) in reviewers:
        seats.setdefault(application_id, []).append((int(position), Seat(
            reviewer=reviewer, assigned_on=parse_date(assigned_on),
            conflict_declared_on=optional_date(conflict_on),
            decision=None if decision is None else member(DECISIONS, decision),
            decided_on=optional_date(decided_on))))
    exams: dict[str, list[ExamSitting]] = {}
    for application_id, attempt, _, sat_on, passed, retake_from in sittings:
        exams.setdefault(application_id, []).append(ExamSitting(
            attempt=int(attempt), sat_on=parse_date(sat_on), passed=bool(passed),
            retake_from=optional_date(retake_from)))
    return [msgspec.structs.replace(
        row, reviewers=tuple(s for _, s in sorted(seats.get(row.application_id, []),
                                                  key=lambda p: p[0])),
        exam_sittings=tuple(sorted(exams.get(row.application_id, []),
                                   key=lambda e: e.attempt)))
        for row in rows]
