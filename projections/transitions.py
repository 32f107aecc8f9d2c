"""How each ledger event changes the read models: pure functions of rows and entries.

Nothing here touches a database, a clock or randomness; the projector loads the rows a batch
touches, runs them through `ViewBatch`, and writes back what changed. That keeps the result a
function of the entries alone (DESIGN invariant 5) and lets a whole batch be written with a
few statements instead of a read and a write per entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import msgspec

from domain.application import ApplicationState
from domain.levels import Designation, EndorsementStatus, Level, ReviewDecision
from domain.unmet import Unmet
from projections.entries import DecodedEntry
from projections.errors import (
    DuplicateAggregate,
    ForeignAggregate,
    MalformedPayload,
    UnhandledEvent,
    UnknownAggregate,
)
from projections.rows import ApplicationRow, HistoryRow, RosterRow


class EndorsementView(msgspec.Struct, frozen=True):
    """An endorsement's roster row with its latest history row (corrections need both)."""

    row: RosterRow
    latest: HistoryRow  # greatest (effective_on, seq) in status_history


_replace = msgspec.structs.replace
_T = TypeVar("_T")


def _date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date string, got {type(value).__name__}")
    return dt.date.fromisoformat(value)


def _designation(value: Any) -> Designation | None:
    return None if value is None else Designation(value)


def _history(row: RosterRow, entry: DecodedEntry, effective_on: dt.date) -> HistoryRow:
    return HistoryRow(endorsement_id=row.endorsement_id, effective_on=effective_on,
                      association=entry.association, seq=entry.seq, status=row.status,
                      level=row.level, designation=row.designation,
                      valid_through=row.valid_through)


# -- endorsement events ------------------------------------------------------------------------

_Step = Callable[[EndorsementView, DecodedEntry], tuple[RosterRow, HistoryRow | None]]


def grant(entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
    """EndorsementGranted: a new roster row, active from `granted_on`."""
    p = entry.payload
    if p["association"] != entry.association:
        raise ForeignAggregate(f"grants an endorsement of {p['association']!r}",
                               association=entry.association, seq=entry.seq)
    row = RosterRow(endorsement_id=p["endorsement_id"], association=entry.association,
                    person_id=p["person_id"], family_name=p["family_name"],
                    given_name=p["given_name"], level=Level(p["level"]),
                    designation=_designation(p["designation"]),
                    status=EndorsementStatus.ACTIVE, granted_on=_date(p["granted_on"]),
                    valid_through=_date(p["valid_through"]), last_seq=entry.seq,
                    aggregate_id=entry.aggregate_id)
    return row, _history(row, entry, row.granted_on)


def _renewed(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
    p = entry.payload
    row = _replace(view.row, valid_through=_date(p["valid_through"]), last_seq=entry.seq)
    return row, _history(row, entry, _date(p["renewed_on"]))


def _lapsed(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
    p = entry.payload
    row = _replace(view.row, status=EndorsementStatus.LAPSED,
                   valid_through=_date(p["valid_through"]), last_seq=entry.seq)
    return row, _history(row, entry, _date(p["lapsed_on"]))


def _reinstated(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
    p = entry.payload
    row = _replace(view.row, status=EndorsementStatus.ACTIVE,
                   valid_through=_date(p["valid_through"]), last_seq=entry.seq)
    return row, _history(row, entry, _date(p["reinstated_on"]))


def _status_change(status: EndorsementStatus) -> _Step:
    def step(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
        row = _replace(view.row, status=status, last_seq=entry.seq)
        return row, _history(row, entry, _date(entry.payload["effective_on"]))
    return step


def _corrected(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow | None]:
    p = entry.payload
    row = view.row
    changes: dict[str, Any] = {"last_seq": entry.seq}
    for name in ("family_name", "given_name"):
        if p[name] is not None:
            changes[name] = str(p[name])
    valid_through = p["valid_through"]
    if valid_through is None:
        return _replace(row, **changes), None
    changes["valid_through"] = _date(valid_through)
    row = _replace(row, **changes)
    # A correction does not say from when it holds, so it takes effect where the history
    # currently ends, keeping that row's status: answers for earlier dates are unchanged.
    latest = view.latest
    return row, _replace(latest, association=entry.association, seq=entry.seq,
                         level=row.level, designation=row.designation,
                         valid_through=row.valid_through)


_ENDORSEMENT_STEPS: dict[str, _Step] = {
    "EndorsementRenewed": _renewed,
    "EndorsementLapsed": _lapsed,
    "EndorsementReinstated": _reinstated,
    "EndorsementSuspended": _status_change(EndorsementStatus.SUSPENDED),
    "EndorsementRevoked": _status_change(EndorsementStatus.REVOKED),
    "EndorsementRelinquished": _status_change(EndorsementStatus.RELINQUISHED),
    "EndorsementCorrected": _corrected,
}
GRANTED = "EndorsementGranted"
ENDORSEMENT_EVENTS = frozenset({GRANTED, *_ENDORSEMENT_STEPS})


def apply_endorsement(view: EndorsementView | None,
                      entry: DecodedEntry) -> tuple[EndorsementView, HistoryRow | None]:
    """The endorsement after `entry`, and the status_history row it adds (if any).

    `view` is None before the endorsement's EndorsementGranted.
    """
    if entry.event_type == GRANTED:
        if view is not None:
            raise DuplicateAggregate(f"endorsement aggregate {entry.aggregate_id} exists",
                                     association=entry.association, seq=entry.seq)
        row, first = _guarded(grant, entry)
        return EndorsementView(row=row, latest=first), first
    step = _ENDORSEMENT_STEPS.get(entry.event_type)
    if step is None:
        raise UnhandledEvent(f"no endorsement rule for {entry.event_type}",
                             association=entry.association, seq=entry.seq)
    if view is None:
        raise UnknownAggregate(f"{entry.event_type} for unknown endorsement "
                               f"{entry.aggregate_id}", association=entry.association,
                               seq=entry.seq)
    if view.row.association != entry.association:
        raise ForeignAggregate(f"changes endorsement {view.row.endorsement_id} of "
                               f"{view.row.association}", association=entry.association,
                               seq=entry.seq)
    current = view
    row, added = _guarded(lambda e: step(current, e), entry)
    latest = view.latest if added is None else max(view.latest, added, key=_history_order)
    return EndorsementView(row=row, latest=latest), added


def _history_order(row: HistoryRow) -> tuple[dt.date, int, str]:
    return row.order


# -- application events ------------------------------------------------------------------------

_DECISION_STATE = {
    ReviewDecision.APPROVE: ApplicationState.APPROVED,
    ReviewDecision.RETURN_FOR_MORE: ApplicationState.RETURNED,
    ReviewDecision.DENY: ApplicationState.DENIED,
    ReviewDecision.APPROVE_FOR_EXAM: ApplicationState.APPROVED_FOR_EXAM,
}
_unmet_type = tuple[Unmet, ...]


def _started(entry: DecodedEntry) -> ApplicationRow:
    p = entry.payload
    if p["association"] != entry.association:
        raise ForeignAggregate(f"starts an application with {p['association']!r}",
                               association=entry.association, seq=entry.seq)
    started_on = _date(p["started_on"])
    return ApplicationRow(application_id=entry.aggregate_id, association=entry.association,
                          person_id=p["person_id"], family_name=p["family_name"],
                          given_name=p["given_name"], level=Level(p["level"]),
                          designation=_designation(p["designation"]),
                          state=ApplicationState.OPEN, unmet=(), started_on=started_on,
                          updated_on=started_on)


def _evidence_submitted(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    state = ApplicationState.OPEN if row.state is ApplicationState.RETURNED else row.state
    return _replace(row, state=state, unmet=msgspec.convert(p["unmet"], _unmet_type),
                    updated_on=_date(p["submitted_on"]))


def _rater_vetted(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _replace(row, unmet=msgspec.convert(p["unmet"], _unmet_type),
                    updated_on=_date(p["vetted_on"]))


def _reviewed(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _replace(row, state=_DECISION_STATE[ReviewDecision(p["decision"])],
                    updated_on=_date(p["decided_on"]))


def _withdrawn(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _replace(row, state=ApplicationState.WITHDRAWN, updated_on=_date(p["withdrawn_on"]))


def _application_granted(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _replace(row, state=ApplicationState.GRANTED, updated_on=_date(p["granted_on"]))


_APPLICATION_STEPS: dict[str, Callable[[ApplicationRow, dict[str, Any]], ApplicationRow]] = {
    "ApplicationEvidenceSubmitted": _evidence_submitted,
    "RaterVetted": _rater_vetted,
    "ApplicationReviewed": _reviewed,
    "ApplicationWithdrawn": _withdrawn,
    "ApplicationGranted": _application_granted,
}
STARTED = "ApplicationStarted"
APPLICATION_EVENTS = frozenset({STARTED, *_APPLICATION_STEPS})
OPEN_STATES = frozenset(ApplicationState) - {ApplicationState.DENIED, ApplicationState.WITHDRAWN,
                                             ApplicationState.GRANTED}


def apply_application(row: ApplicationRow | None, entry: DecodedEntry) -> ApplicationRow:
    """The application after `entry`; `row` is None before its ApplicationStarted."""
    if entry.event_type == STARTED:
        if row is not None:
            raise DuplicateAggregate(f"application {entry.aggregate_id} exists",
                                     association=entry.association, seq=entry.seq)
        return _guarded(_started, entry)
    step = _APPLICATION_STEPS.get(entry.event_type)
    if step is None:
        raise UnhandledEvent(f"no application rule for {entry.event_type}",
                             association=entry.association, seq=entry.seq)
    if row is None:
        raise UnknownAggregate(f"{entry.event_type} for unknown application "
                               f"{entry.aggregate_id}", association=entry.association,
                               seq=entry.seq)
    if row.association != entry.association:
        raise ForeignAggregate(f"changes application {row.application_id} of "
                               f"{row.association}", association=entry.association,
                               seq=entry.seq)
    current = row
    return _guarded(lambda e: step(current, e.payload), entry)


def _guarded(step: Callable[[DecodedEntry], _T], entry: DecodedEntry) -> _T:
    # A payload the domain could not have written: name the entry instead of a bare KeyError.
    try:
        return step(entry)
    except (KeyError, ValueError, TypeError, msgspec.ValidationError) as e:
        raise MalformedPayload(f"{entry.event_type}: {type(e).__name__}: {e}",
                               association=entry.association, seq=entry.seq) from e


# -- one batch ---------------------------------------------------------------------------------


class ViewBatch:
    """The rows one batch of entries touches, held in memory while the entries apply.

    Built from the rows loaded for the batch (`endorsements` and `applications` by aggregate
    id, `taken_endorsement_ids` for uniqueness); after `apply`, `changed_*` and `history` are
    what to write back.
    """

    def __init__(self, endorsements: Mapping[str, EndorsementView],
                 applications: Mapping[str, ApplicationRow],
                 taken_endorsement_ids: Iterable[str] = ()) -> None:
        self.endorsements = dict(endorsements)
        self.applications = dict(applications)
        self._taken = set(taken_endorsement_ids)
        self._taken.update(v.row.endorsement_id for v in self.endorsements.values())
        self.changed_endorsements: set[str] = set()
        self.changed_applications: set[str] = set()
        self.history: list[HistoryRow] = []

    def apply(self, entry: DecodedEntry) -> None:
        """Apply one entry to the rows in memory."""
        if entry.event_type in ENDORSEMENT_EVENTS:
            before = self.endorsements.get(entry.aggregate_id)
            after, added = apply_endorsement(before, entry)
            if before is None:
                # Roster rows are keyed by the public id, so a second grant of one id (under
                # another aggregate, or from another association) must not overwrite the first.
                if after.row.endorsement_id in self._taken:
                    raise DuplicateAggregate(f"endorsement {after.row.endorsement_id} exists",
                                             association=entry.association, seq=entry.seq)
                self._taken.add(after.row.endorsement_id)
            if added is not None:
                self.history.append(added)
            self.endorsements[entry.aggregate_id] = after
            self.changed_endorsements.add(entry.aggregate_id)
        elif entry.event_type in APPLICATION_EVENTS:
            self.applications[entry.aggregate_id] = apply_application(
                self.applications.get(entry.aggregate_id), entry)
            self.changed_applications.add(entry.aggregate_id)
        else:
            raise UnhandledEvent(f"no projection rule for {entry.event_type}",
                                 association=entry.association, seq=entry.seq)

    def roster_rows(self) -> list[RosterRow]:
        """Changed roster rows, in a fixed order."""
        return sorted((self.endorsements[a].row for a in self.changed_endorsements),
                      key=lambda r: r.endorsement_id)

    def application_rows(self) -> list[ApplicationRow]:
        """Changed application rows, in a fixed order."""
        return sorted((self.applications[a] for a in self.changed_applications),
                      key=lambda r: r.application_id)
