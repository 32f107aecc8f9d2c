"""Read-side queries over the projection tables: rosters, status on a date, the pipeline.

Every answer that depends on time takes the date as an argument; nothing here reads a clock
(DESIGN invariant 5). Results are ordered in Python, not by the database's collation, so both
backends return the same order.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from domain.levels import EndorsementStatus
from domain.lookup import HeldEndorsement
from ledger.database import Database
from projections import digests
from projections.rows import ApplicationRow, HistoryRow, RosterRow, StatusAnswer
from projections.schema import (
    APPLICATION_COLUMNS,
    DDL,
    HISTORY_COLUMNS,
    ROSTER_COLUMNS,
    application_row,
    history_row,
    roster_row,
    select,
)
from projections.standing import Standing, recorded_on, standing_on
from projections.transitions import OPEN_STATES
from projections.values import iso, parse_date

_ROSTER = select("roster", ROSTER_COLUMNS)
_HISTORY = select("status_history", HISTORY_COLUMNS)
_APPLICATIONS = select("applications", APPLICATION_COLUMNS)
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


def _same_name(stored: str, folded: str) -> bool:
    # Most stored names are ASCII, whose folding is just casefold: skip the normalisation.
    plain = stored.strip().casefold()
    return plain == folded if plain.isascii() else fold_name(stored) == folded


class ProjectionReader:
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

    def held_on(self, person_id: str, on: dt.date) -> tuple[HeldEndorsement, ...]:
        """Endorsements the person held in good standing ("current") on `on`.

        This is the domain's EndorsementLookup port, answered across every projected ledger.
        """
        columns = ", ".join(f"h.{c}" for c in HISTORY_COLUMNS)
        records = self.db.query(
            f"SELECT {columns}, r.granted_on FROM status_history h "
            "JOIN roster r ON r.endorsement_id = h.endorsement_id "
            "WHERE r.person_id = ? AND h.effective_on <= ?", (person_id, iso(on)))
        by_endorsement: dict[str, list[HistoryRow]] = {}
        granted: dict[str, dt.date] = {}
        for record in records:
            row = history_row(record[:-1])
            by_endorsement.setdefault(row.endorsement_id, []).append(row)
            granted[row.endorsement_id] = parse_date(record[-1])
        held = []
        for endorsement_id in sorted(by_endorsement):
            then = recorded_on(by_endorsement[endorsement_id], on)
            if then is None:
                continue
            if standing_on(then.status, then.valid_through, on) is Standing.CURRENT:
                held.append(HeldEndorsement(
                    person_id=person_id, endorsement_id=endorsement_id,
                    association=then.association, level=then.level,
                    designation=then.designation, granted_on=granted[endorsement_id]))
        return tuple(held)

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
        """Open applications of an association (not denied, withdrawn or granted), oldest first."""
        states = sorted(s.value for s in OPEN_STATES)
        rows = self.db.query(
            f"{_APPLICATIONS} WHERE association = ? AND state IN "
            f"({', '.join('?' for _ in states)})", (association, *states))
        return sorted((application_row(r) for r in rows),
                      key=lambda a: (a.started_on, a.application_id))

    def application(self, application_id: str) -> ApplicationRow | None:
        """One application (in any state), or None."""
        rows = self.db.query(f"{_APPLICATIONS} WHERE application_id = ?", (application_id,))
        return application_row(rows[0]) if rows else None

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
