"""The rows of the read models, as immutable values.

The same structs are what the pure transitions compute and what the queries return, so a row
read back from the database is equal to the row that was written. `recorded_on` picks, from an
endorsement's history rows, the one in force on a date (the queries and the standing of an
answer both start from it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec

from domain.application import ApplicationState
from domain.exam import ExamSitting
from domain.levels import Designation, EndorsementStatus, Level
from domain.review import Seat
from domain.unmet import Unmet
from projections.standing import Standing


class RosterRow(msgspec.Struct, frozen=True, kw_only=True):
    """One endorsement as it stands after the last entry that touched it."""

    endorsement_id: str
    association: str
    person_id: str
    family_name: str
    given_name: str
    level: Level
    designation: Designation | None
    status: EndorsementStatus  # recorded status; see StatusAnswer.standing for "current"
    granted_on: dt.date
    valid_through: dt.date
    last_seq: int  # seq (in `association`'s ledger) of the last entry that changed this row
    aggregate_id: str  # the entry's aggregate id: how later events find the endorsement


class HistoryRow(msgspec.Struct, frozen=True, kw_only=True):
    """One status-affecting entry: the endorsement's status from `effective_on` on."""

    endorsement_id: str
    effective_on: dt.date
    association: str
    seq: int
    status: EndorsementStatus
    level: Level
    designation: Designation | None
    valid_through: dt.date

    @property
    def order(self) -> tuple[dt.date, int, str]:
        """Position in the endorsement's history: by effective date, then ledger order."""
        return (self.effective_on, self.seq, self.association)


def recorded_on(history: Iterable[HistoryRow], on: dt.date) -> HistoryRow | None:
    """The history row in force on `on`: the last one effective by then, by effective date
    and then ledger order; None if the endorsement had not been granted yet.

    A transfer is final: once another association recognised the endorsement (or its home
    recorded the move), nothing its old home records later makes it current again.
    """
    found: HistoryRow | None = None
    transferred: HistoryRow | None = None
    for row in history:
        if row.effective_on > on:
            continue
        if row.status is EndorsementStatus.TRANSFERRED and (
                transferred is None or row.order < transferred.order):
            transferred = row
        if found is None or row.order > found.order:
            found = row
    return transferred or found


class ApplicationRow(msgspec.Struct, frozen=True, kw_only=True):
    """One application in the pipeline, with what it still leaves unmet.

    `reviewers` and `exam_sittings` come from tables of their own (`application_reviewers`,
    `exam_sittings`), so that databases made before they existed need no change; the
    sittings carry no score (it is private).
    """

    application_id: str
    association: str
    person_id: str
    family_name: str
    given_name: str
    level: Level
    designation: Designation | None
    state: ApplicationState
    unmet: tuple[Unmet, ...]
    started_on: dt.date
    updated_on: dt.date
    reviewers: tuple[Seat, ...] = ()
    exam_sittings: tuple[ExamSitting, ...] = ()


class StatusAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The public answer about one endorsement on one date."""

    endorsement_id: str
    family_name: str
    given_name: str
    level: Level
    designation: Designation | None
    association: str
    status: EndorsementStatus  # as recorded on `as_of`
    valid_through: dt.date  # as recorded on `as_of`
    as_of: dt.date
    standing: Standing  # what to show: never "current" after valid_through
