"""Read-side queries over the projection tables: rosters, status on a date, the pipeline.

Every answer that depends on time takes the date as an argument; nothing here reads a clock
(DESIGN invariant 5). Results are ordered in Python, not by the database's collation, so both
backends return the same order.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence

from domain.application import ApplicationState
from domain.levels import EndorsementStatus
from domain.lookup import HeldEndorsement, NameMatch, RecordedEndorsement
from ledger.storage.database import Cursor, Database
from projections import digests
from projections.credential_queries import CredentialQueries
from projections.rows import ApplicationRow, HistoryRow, RosterRow, StatusAnswer, recorded_on
from projections.standing import Standing, standing_on
from projections.tables import (
    APPLICATION_COLUMNS,
    DDL,
    HISTORY_COLUMNS,
    REVIEWER_COLUMNS,
    ROSTER_COLUMNS,
    SITTING_COLUMNS,
    application_row,
    history_row,
    roster_row,
    select,
    select_in,
    with_parts,
)
from projections.transitions import OPEN_STATES
from projections.values import iso, parse_date

_ROSTER = select("roster", ROSTER_COLUMNS)
_HISTORY = select("status_history", HISTORY_COLUMNS)
_APPLICATIONS = select("applications", APPLICATION_COLUMNS)
_REVIEWERS = select("application_reviewers", REVIEWER_COLUMNS)
_SITTINGS = select("exam_sittings", SITTING_COLUMNS)
_STATUS_AS_OF = (
    f"SELECT {', '.join('r.' + c for c in ROSTER_COLUMNS)}, "
    f"{', '.join('h.' + c for c in HISTORY_COLUMNS)} FROM roster r "
    f"JOIN status_history h ON h.endorsement_id = r.endorsement_id AND h.effective_on <= ? "
    f"WHERE r.endorsement_id = ?")


def _by_id(row: RosterRow) -> str:
    return row.endorsement_id


def _by_due(row: RosterRow) -> tuple[dt.date, str]:
    return (row.valid_through, row.endorsement_id)


def fold_name(name: str) -> str:
    """A name as compared by the public search: case- and accent-insensitive, so "Garcia"
    finds "García" and "o'neil" finds "O'Neil" (the same folding as `GET /v1/verify`)."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _match_order(match: NameMatch) -> tuple[str, str, str]:
    return (match.association, match.endorsement_id or "", match.application_id or "")


def _folded(stored: str) -> str:
    # Most stored names are ASCII, whose folding is just casefold: skip the normalisation.
    plain = stored.strip().casefold()
    return plain if plain.isascii() else fold_name(stored)


def _same_name(stored: str, folded: str) -> bool:
    # Most stored names are ASCII, whose folding is just casefold: skip the normalisation.
    plain = stored.strip().casefold()
    return plain == folded if plain.isascii() else fold_name(stored) == folded


class ProjectionReader(CredentialQueries):
    """Answers questions from the projection tables (creating them if they are missing)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(DDL)

    # -- endorsements ----------------------------------------------------------------------

    def roster(self, association: str | None = None,
               status: str | None = None) -> list[RosterRow]:
        """Roster rows, optionally of one association and/or one recorded status."""
        where: list[str] = []
        params: list[str] = []
        if association is not None:
            where.append("association = ?")
            params.append(association)
        if status is not None:
            where.append("status = ?")
            params.append(EndorsementStatus(status).value)
        sql = _ROSTER + (f" WHERE {' AND '.join(where)}" if where else "")
        return sorted((roster_row(r) for r in self.db.query(sql, params)), key=_by_id)

    def endorsement(self, endorsement_id: str) -> RosterRow | None:
        """The roster row of one endorsement, or None."""
        rows = self.db.query(f"{_ROSTER} WHERE endorsement_id = ?", (endorsement_id,))
        return roster_row(rows[0]) if rows else None

    def history(self, endorsement_id: str) -> list[HistoryRow]:
        """Every status-history row of one endorsement (each names the entry behind it)."""
        return [history_row(r) for r in self.db.query(f"{_HISTORY} WHERE endorsement_id = ?",
                                                      (endorsement_id,))]

    def masters_prepared_since(self, endorsement_id: str) -> dt.date | None:
        """From when the endorsing association's record shows the holder of this (Level II)
        endorsement Master's-prepared; None if it does not."""
        rows = self.db.query("SELECT since FROM masters_prepared WHERE endorsement_id = ?",
                             (endorsement_id,))
        return parse_date(rows[0][0]) if rows else None

    def status_as_of(self, endorsement_id: str, on: dt.date) -> StatusAnswer | None:
        """The endorsement's recorded status and standing on `on`; None if not yet granted."""
        # One statement (one snapshot, one round trip): the roster row beside each history
        # row in effect by `on`; none at all when either is missing.
        rows = self.db.query(_STATUS_AS_OF, (iso(on), endorsement_id))
        if not rows:
            return None
        found = rows[0][:len(ROSTER_COLUMNS)]
        history = [r[len(ROSTER_COLUMNS):] for r in rows]
        row = roster_row(found)
        then = recorded_on((history_row(r) for r in history), on)
        if then is None:
            return None
        return StatusAnswer(endorsement_id=row.endorsement_id, family_name=row.family_name,
                            given_name=row.given_name, level=then.level,
                            designation=then.designation, association=row.association,
                            status=then.status, valid_through=then.valid_through, as_of=on,
                            standing=standing_on(then.status, then.valid_through, on))

    def named(self, association: str, given_name: str, family_name: str,
              limit: int) -> list[RosterRow]:
        """Endorsements of one association whose holder has exactly these given and family
        names (folded), in id order, at most `limit`.

        For the public search by name and state: an exact match on both names only, never a
        prefix or pattern, so it cannot list people. Folding happens in Python (the same on
        both backends), over the association's names only.
        """
        given, family = fold_name(given_name), fold_name(family_name)
        if not given or not family or limit < 1:
            return []
        names = self.db.query("SELECT endorsement_id, family_name, given_name FROM roster "
                              "WHERE association = ?", (association,))
        ids = sorted(str(r[0]) for r in names
                     if _same_name(r[1], family) and _same_name(r[2], given))[:limit]
        found = (self.endorsement(endorsement_id) for endorsement_id in ids)
        return [row for row in found if row is not None]

    def holders_named(self, text: str, limit: int) -> list[RosterRow]:
        """Endorsements of every association whose holder's names (folded) have a word
        starting with each word of `text` ("riv" and "maria rivera" both find Maria Rivera),
        in id order, at most `limit`.

        For the staff's pickers of RS/C providers and raters across the Alliance: the names
        are the ledgers' public fields, so every node answers the same; folding happens in
        Python, as in `named`.
        """
        words = fold_name(" ".join(text.split())).split()
        if not words or limit < 1:
            return []
        names = self.db.query("SELECT endorsement_id, family_name, given_name FROM roster")
        ids = []
        for endorsement_id, family_name, given_name in names:
            plain = f"{given_name} {family_name}".casefold()
            # Most names are ASCII, whose folding is just casefold: skip the normalisation.
            held = (plain if plain.isascii() else fold_name(plain)).split()
            if all(any(name.startswith(word) for name in held) for word in words):
                ids.append(str(endorsement_id))
        found = (self.endorsement(endorsement_id) for endorsement_id in sorted(ids)[:limit])
        return [row for row in found if row is not None]

    def held_on(self, person_id: str, on: dt.date) -> tuple[HeldEndorsement, ...]:
        """Endorsements the person held in good standing ("current") on `on`.

        This is the domain's EndorsementLookup port, answered across every projected ledger.
        """
        held = []
        for row, then, granted_on, masters_since in self._history_of(person_id, on):
            if standing_on(then.status, then.valid_through, on) is Standing.CURRENT:
                held.append(HeldEndorsement(
                    person_id=person_id, endorsement_id=row, association=then.association,
                    level=then.level, designation=then.designation, granted_on=granted_on,
                    masters_prepared_since=masters_since))
        return tuple(held)

    def recorded_for(self, person_id: str, on: dt.date) -> tuple[RecordedEndorsement, ...]:
        """Every endorsement of the person in any association, with the status recorded in
        force on `on` (a transfer stays final): the one-standing rule's view of a person."""
        return tuple(
            RecordedEndorsement(person_id=person_id, endorsement_id=endorsement_id,
                                association=then.association, level=then.level,
                                designation=then.designation, status=then.status,
                                since=then.effective_on, valid_through=then.valid_through)
            for endorsement_id, then, _, _ in self._history_of(person_id, on))

    def _history_of(self, person_id: str, on: dt.date
                    ) -> list[tuple[str, HistoryRow, dt.date, dt.date | None]]:
        """(endorsement id, history row in force on `on`, grant date, Master's-prepared
        since) for each endorsement of the person granted by `on`, in id order."""
        columns = ", ".join(f"h.{c}" for c in HISTORY_COLUMNS)
        records = self.db.query(
            f"SELECT {columns}, r.granted_on, m.since FROM status_history h "
            "JOIN roster r ON r.endorsement_id = h.endorsement_id "
            "LEFT JOIN masters_prepared m ON m.endorsement_id = h.endorsement_id "
            "WHERE r.person_id = ? AND h.effective_on <= ?", (person_id, iso(on)))
        by_endorsement: dict[str, list[HistoryRow]] = {}
        extra: dict[str, tuple[dt.date, dt.date | None]] = {}
        for record in records:
            row = history_row(record[:-2])
            by_endorsement.setdefault(row.endorsement_id, []).append(row)
            since = record[-1]
            extra[row.endorsement_id] = (parse_date(record[-2]),
                                         parse_date(since) if since is not None else None)
        found = []
        for endorsement_id in sorted(by_endorsement):
            then = recorded_on(by_endorsement[endorsement_id], on)
            if then is not None:
                found.append((endorsement_id, then, *extra[endorsement_id]))
        return found

    def same_names(self, names: Sequence[tuple[str, str]],
                   association: str) -> tuple[tuple[NameMatch, ...], ...]:
        """For each (family, given) pair: the endorsements of every association and the
        applications with `association` recorded under the same names, folded as the public
        search folds them (`fold_name`), in a fixed order.

        One pass over the names of the roster and of the association's applications, for
        any number of pairs: a coordinator's list of possible duplicates asks for all of its
        open applications at once.
        """
        wanted: dict[tuple[str, str], list[NameMatch]] = {
            (fold_name(family), fold_name(given)): [] for family, given in names}
        for endorsement_id, owner, person_id, family, given in self.db.query(
                "SELECT endorsement_id, association, person_id, family_name, given_name "
                "FROM roster"):
            matches = wanted.get((_folded(family), _folded(given)))
            if matches is not None:
                matches.append(NameMatch(person_id=person_id, association=owner,
                                         endorsement_id=endorsement_id))
        for application_id, person_id, family, given in self.db.query(
                "SELECT application_id, person_id, family_name, given_name FROM applications "
                "WHERE association = ?", (association,)):
            matches = wanted.get((_folded(family), _folded(given)))
            if matches is not None:
                matches.append(NameMatch(person_id=person_id, association=association,
                                         application_id=application_id))
        return tuple(tuple(sorted(wanted[(fold_name(f), fold_name(g))], key=_match_order))
                     for f, g in names)

    def renewals(self, association: str, on: dt.date,
                 within_days: int) -> tuple[list[RosterRow], list[RosterRow]]:
        """Active endorsements (due, overdue): due ends within `within_days` of `on`,
        overdue ended before `on` (in its grace period, or lapse not yet recorded)."""
        if within_days < 0:
            raise ValueError("within_days must not be negative")
        rows = [roster_row(r) for r in self.db.query(
            f"{_ROSTER} WHERE association = ? AND status = ? AND valid_through <= ?",
            (association, EndorsementStatus.ACTIVE.value,
             iso(on + dt.timedelta(days=within_days))))]
        due = sorted((r for r in rows if r.valid_through >= on), key=_by_due)
        overdue = sorted((r for r in rows if r.valid_through < on), key=_by_due)
        return due, overdue

    # -- applications ----------------------------------------------------------------------

    def pipeline(self, association: str) -> list[ApplicationRow]:
        """Open applications of an association (not denied, withdrawn or granted), oldest
        first, with their reviewers and exam sittings."""
        states = sorted(s.value for s in OPEN_STATES)
        with self.db.transaction(read_only=True) as cur:  # rows and parts read together
            rows = cur.execute(
                f"{_APPLICATIONS} WHERE association = ? AND state IN "
                f"({', '.join('?' for _ in states)})", (association, *states)).fetchall()
            found = _with_parts(cur, [application_row(r) for r in rows])
        return sorted(found, key=lambda a: (a.started_on, a.application_id))

    def application(self, application_id: str) -> ApplicationRow | None:
        """One application (in any state), with its reviewers and exam sittings, or None."""
        with self.db.transaction(read_only=True) as cur:
            rows = cur.execute(f"{_APPLICATIONS} WHERE application_id = ?",
                               (application_id,)).fetchall()
            return _with_parts(cur, [application_row(rows[0])])[0] if rows else None

    def reviewer_queue(self, association: str, reviewer: str) -> list[ApplicationRow]:
        """The reviewer's queue: applications of `association` in review on which
        `reviewer` (a staff account id) sits without a declared conflict and has not
        decided in the current round, with their reviewers; longest assigned first."""
        columns = ", ".join(f"a.{c}" for c in APPLICATION_COLUMNS)
        with self.db.transaction(read_only=True) as cur:
            rows = cur.execute(
                f"SELECT {columns}, r.assigned_on FROM applications a "
                "JOIN application_reviewers r ON r.application_id = a.application_id "
                "WHERE r.association = ? AND r.reviewer = ? AND a.state = ? "
                "AND r.conflict_declared_on IS NULL AND r.decision IS NULL",
                (association, reviewer, ApplicationState.IN_REVIEW.value)).fetchall()
            found = _with_parts(cur, [application_row(r[:-1]) for r in rows])
        assigned = {str(r[0]): str(r[-1]) for r in rows}
        return sorted(found, key=lambda a: (assigned[a.application_id], a.application_id))

    # -- for followers of the projected ledgers (the employer notifier) ---------------------

    def fault_seqs(self, association: str, first: int, last: int) -> set[int]:
        """Seqs of `association`'s ledger in first..last that the projector skipped as
        projection faults (they changed no row)."""
        return {int(r[0]) for r in self.db.query(
            "SELECT seq FROM projection_faults WHERE association = ? AND seq BETWEEN ? AND ?",
            (association, first, last))}

    def endorsement_ids_of(self, aggregate_ids: Sequence[str]) -> dict[str, str]:
        """Aggregate id -> endorsement id, for those of these aggregates the roster holds."""
        with self.db.transaction(read_only=True) as cur:
            return {str(a): str(i) for a, i in select_in(
                cur, "SELECT aggregate_id, endorsement_id FROM roster", "aggregate_id",
                aggregate_ids)}

    def histories(self, endorsement_ids: Sequence[str]
                  ) -> tuple[dict[str, list[HistoryRow]], dict[str, RosterRow]]:
        """Every status-history row and the roster row of each of these endorsements (those
        the roster holds), read in one transaction so both come from one snapshot."""
        history: dict[str, list[HistoryRow]] = {}
        with self.db.transaction(read_only=True) as cur:
            for record in select_in(cur, _HISTORY, "endorsement_id", endorsement_ids):
                row = history_row(record)
                history.setdefault(row.endorsement_id, []).append(row)
            roster = {row.endorsement_id: row for row in (
                roster_row(r) for r in select_in(cur, _ROSTER, "endorsement_id",
                                                 endorsement_ids))}
        return history, roster

    # -- tracking and digests --------------------------------------------------------------

    def faults(self) -> list[tuple[str, int, str]]:
        """Verified peer entries that broke a projection rule and were skipped."""
        return [(r[0], int(r[1]), r[2]) for r in self.db.query(
            "SELECT association, seq, reason FROM projection_faults ORDER BY association, seq")]

    def position(self, association: str) -> int:
        """Last seq of `association` applied to the projections (0 before the first)."""
        rows = self.db.query("SELECT seq FROM projection_tracking WHERE association = ?",
                             (association,))
        return int(rows[0][0]) if rows else 0

    def positions(self) -> dict[str, int]:
        """Last applied seq of every projected association."""
        return dict(sorted((str(a), int(s)) for a, s in self.db.query(
            "SELECT association, seq FROM projection_tracking")))

    def table_digests(self) -> dict[str, str]:
        """Hex SHA-256 of each projection table (see `projections.digests`)."""
        return digests.table_digests(self.db)

    def digest(self) -> str:
        """Hex SHA-256 of the whole projection state; equal on every node with equal ledgers."""
        return digests.digest(self.db)


def _with_parts(cur: Cursor, rows: list[ApplicationRow]) -> list[ApplicationRow]:
    """The rows with their reviewer seats and exam sittings, read in the caller's transaction."""
    ids = [r.application_id for r in rows]
    return with_parts(rows,
                      select_in(cur, _REVIEWERS, "application_id", ids),
                      select_in(cur, _SITTINGS, "application_id", ids))
