"""How each ledger event changes the read models: pure functions of rows and entries.

Nothing here touches a database, a clock or randomness; the projector loads the rows a batch
touches, runs them through `ViewBatch`, and writes back what changed. That keeps the result a
function of the entries alone (DESIGN invariant 5) and lets a whole batch be written with a
few statements instead of a read and a write per entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from domain import review as panel
from domain.application import (
    CLOSED_STATES,
    DECISION_STATE,
    NO_EVIDENCE,
    ApplicationState,
    state_after_resubmission,
    state_after_sitting,
)
from domain.errors import DomainError
from domain.exam import ExamSitting
from domain.levels import EndorsementStatus, ReviewDecision
from domain.unmet import Unmet
from projections.credential_rules import CREDENTIAL_EVENTS, CredentialBatch
from projections.decoded_entries import DecodedEntry
from projections.errors import (
    DuplicateAggregate,
    ForeignAggregate,
    MalformedPayload,
    UnhandledEvent,
    UnknownAggregate,
)
from projections.rows import ApplicationRow, HistoryRow, RosterRow
from projections.values import (
    DECISIONS,
    LEVELS,
    iso,
    member,
    optional_date,
    optional_designation,
    parse_date,
)


class EndorsementView(msgspec.Struct, frozen=True):
    """An endorsement's roster row, and its latest history row when that is known.

    Only a correction needs the latest history row (greatest effective_on, then seq), so
    the projector loads it only for endorsements that a batch corrects; None means not
    loaded. Once known, it is kept up to date as rows are added.
    """

    row: RosterRow
    latest: HistoryRow | None = None


_replace = msgspec.structs.replace


def _history(row: RosterRow, entry: DecodedEntry, effective_on: dt.date) -> HistoryRow:
    return HistoryRow(endorsement_id=row.endorsement_id, effective_on=effective_on,
                      association=entry.association, seq=entry.seq, status=row.status,
                      level=row.level, designation=row.designation,
                      valid_through=row.valid_through)


# -- endorsement events ------------------------------------------------------------------------

_Step = Callable[[EndorsementView, DecodedEntry], tuple[RosterRow, HistoryRow | None]]


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _granted(entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
    p = entry.payload
    if p["association"] != entry.association:
        raise ForeignAggregate(f"grants an endorsement of {p['association']!r}",
                               association=entry.association, seq=entry.seq)
    row = RosterRow(endorsement_id=_text(p, "endorsement_id"), association=entry.association,
                    person_id=_text(p, "person_id"), family_name=_text(p, "family_name"),
                    given_name=_text(p, "given_name"), level=member(LEVELS, p["level"]),
                    designation=optional_designation(p["designation"]),
                    status=EndorsementStatus.ACTIVE, granted_on=parse_date(p["granted_on"]),
                    valid_through=parse_date(p["valid_through"]), last_seq=entry.seq,
                    aggregate_id=entry.aggregate_id)
    # A recognised endorsement keeps its original grant date, but is at home here only from
    # the day of recognition.
    effective = parse_date(p["recognized_on"]) if "recognized_on" in p else row.granted_on
    return row, _history(row, entry, effective)


def _renewed(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
    p = entry.payload
    row = _replace(view.row, valid_through=parse_date(p["valid_through"]), last_seq=entry.seq)
    return row, _history(row, entry, parse_date(p["renewed_on"]))


def _lapsed(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
    p = entry.payload
    row = _replace(view.row, status=EndorsementStatus.LAPSED,
                   valid_through=parse_date(p["valid_through"]), last_seq=entry.seq)
    return row, _history(row, entry, parse_date(p["lapsed_on"]))


def _reinstated(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
    p = entry.payload
    row = _replace(view.row, status=EndorsementStatus.ACTIVE,
                   valid_through=parse_date(p["valid_through"]), last_seq=entry.seq)
    return row, _history(row, entry, parse_date(p["reinstated_on"]))


def _status_change(status: EndorsementStatus) -> _Step:
    def step(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow]:
        row = _replace(view.row, status=status, last_seq=entry.seq)
        return row, _history(row, entry, parse_date(entry.payload["effective_on"]))
    return step


def _corrected(view: EndorsementView, entry: DecodedEntry) -> tuple[RosterRow, HistoryRow | None]:
    p = entry.payload
    row = view.row
    changes: dict[str, Any] = {"last_seq": entry.seq}
    for name in ("family_name", "given_name"):
        if p[name] is not None:
            changes[name] = _text(p, name)
    valid_through = p["valid_through"]
    if valid_through is None:
        return _replace(row, **changes), None
    changes["valid_through"] = parse_date(valid_through)
    row = _replace(row, **changes)
    # A correction does not say from when it holds, so it takes effect where the history
    # currently ends, keeping that row's status: answers for earlier dates are unchanged.
    latest = view.latest
    if latest is None:  # a projector bug, not a bad entry: it loads this for corrections
        raise RuntimeError("the latest history row must be loaded to apply a correction")
    return row, _replace(latest, association=entry.association, seq=entry.seq,
                         level=row.level, designation=row.designation,
                         valid_through=row.valid_through)


def _degree_attested(view: EndorsementView,
                     entry: DecodedEntry) -> tuple[RosterRow, HistoryRow | None]:
    # The status is unchanged; the fact itself goes to the masters_prepared table.
    return _replace(view.row, last_seq=entry.seq), None


def _flag(payload: dict[str, Any], name: str) -> bool:
    value = payload.get(name, False)  # absent from entries sealed before the field existed
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a boolean, got {type(value).__name__}")
    return value


def masters_change(row: RosterRow, entry: DecodedEntry) -> tuple[bool, dt.date | None]:
    """Whether `entry` changes the record of the holder being Master's-prepared, and from
    when (None: no longer), for the endorsement `row` after the entry."""
    p = entry.payload
    if entry.event_type == GRANTED:
        return (True, row.granted_on) if _flag(p, "masters_prepared") else (False, None)
    if entry.event_type == RECOGNIZED:
        since = p.get("masters_prepared_since")
        return (True, parse_date(since)) if since is not None else (False, None)
    if entry.event_type == DEGREE_ATTESTED:
        return True, parse_date(p["effective_on"]) if _flag(p, "masters_prepared") else None
    return False, None


def origin_transferred(entry: DecodedEntry) -> HistoryRow:
    """The history row that a recognition adds to the ORIGIN endorsement.

    It is written whether or not the origin's own entries have been projected yet, and it is
    sticky (see standing.recorded_on), so every node shows at most one current home for the
    professional from the recognition date on, in whatever order the ledgers arrive.
    """
    p = entry.payload
    return HistoryRow(endorsement_id=_text(p, "origin_endorsement_id"),
                      effective_on=parse_date(p["recognized_on"]), association=entry.association,
                      seq=entry.seq, status=EndorsementStatus.TRANSFERRED,
                      level=member(LEVELS, p["level"]),
                      designation=optional_designation(p["designation"]),
                      valid_through=parse_date(p["valid_through"]))


GRANTED = "EndorsementGranted"
RECOGNIZED = "EndorsementRecognized"
CREATED = frozenset({GRANTED, RECOGNIZED})
CORRECTED = "EndorsementCorrected"
DEGREE_ATTESTED = "EndorsementDegreeAttested"
_ENDORSEMENT_STEPS: dict[str, _Step] = {
    "EndorsementRenewed": _renewed,
    "EndorsementLapsed": _lapsed,
    "EndorsementReinstated": _reinstated,
    "EndorsementSuspended": _status_change(EndorsementStatus.SUSPENDED),
    "EndorsementRevoked": _status_change(EndorsementStatus.REVOKED),
    "EndorsementRelinquished": _status_change(EndorsementStatus.RELINQUISHED),
    "EndorsementTransferredOut": _status_change(EndorsementStatus.TRANSFERRED),
    CORRECTED: _corrected,
    DEGREE_ATTESTED: _degree_attested,
}
ENDORSEMENT_EVENTS = frozenset({*CREATED, *_ENDORSEMENT_STEPS})


def apply_endorsement(view: EndorsementView | None,
                      entry: DecodedEntry) -> tuple[EndorsementView, HistoryRow | None]:
    """The endorsement after `entry`, and the status_history row it adds (if any).

    `view` is None before the endorsement's EndorsementGranted.
    """
    if entry.event_type in CREATED:
        if view is not None:
            raise DuplicateAggregate(f"endorsement aggregate {entry.aggregate_id} exists",
                                     association=entry.association, seq=entry.seq)
        try:
            row, first = _granted(entry)
        except _PAYLOAD_ERRORS as e:
            raise _malformed(entry, e) from e
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
    try:
        row, added = step(view, entry)
    except _PAYLOAD_ERRORS as e:
        raise _malformed(entry, e) from e
    latest = view.latest
    if added is not None and latest is not None and (
            (added.effective_on, added.seq, added.association)
            > (latest.effective_on, latest.seq, latest.association)):
        latest = added
    return EndorsementView(row=row, latest=latest), added


# -- application events ------------------------------------------------------------------------

_unmet_type = tuple[Unmet, ...]


def _started(entry: DecodedEntry) -> ApplicationRow:
    p = entry.payload
    if p["association"] != entry.association:
        raise ForeignAggregate(f"starts an application with {p['association']!r}",
                               association=entry.association, seq=entry.seq)
    started_on = parse_date(p["started_on"])
    return ApplicationRow(application_id=entry.aggregate_id, association=entry.association,
                          person_id=_text(p, "person_id"), family_name=_text(p, "family_name"),
                          given_name=_text(p, "given_name"), level=member(LEVELS, p["level"]),
                          designation=optional_designation(p["designation"]),
                          state=ApplicationState.OPEN, unmet=NO_EVIDENCE, started_on=started_on,
                          updated_on=started_on)


def _new_round(row: ApplicationRow, **changes: Any) -> ApplicationRow:
    return _replace(row, reviewers=panel.new_round(row.reviewers), **changes)


def _evidence_submitted(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    # As the aggregate: submitting while returned resubmits (to the reviewers, if any), and
    # while in review the reviewers decide again on the changed file.
    changes: dict[str, Any] = {"unmet": msgspec.convert(p["unmet"], _unmet_type),
                               "updated_on": parse_date(p["submitted_on"])}
    if row.state is ApplicationState.RETURNED:
        return _new_round(row, state=state_after_resubmission(row.reviewers), **changes)
    if row.state is ApplicationState.IN_REVIEW:
        return _new_round(row, **changes)
    return _replace(row, **changes)


def _rater_vetted(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _replace(row, unmet=msgspec.convert(p["unmet"], _unmet_type),
                    updated_on=parse_date(p["vetted_on"]))


def _decision(value: Any) -> ReviewDecision:
    return member(DECISIONS, value)


def _reviewed(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _replace(row, state=DECISION_STATE[_decision(p["decision"])],
                    updated_on=parse_date(p["decided_on"]))


def _reviewers_assigned(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    reviewers = p["reviewers"]
    if not isinstance(reviewers, list) or not all(isinstance(r, str) for r in reviewers):
        raise TypeError("reviewers must be a list of strings")
    # Seats are keyed by reviewer: a panel the domain could not have assigned (a reviewer
    # twice, three on the panel) would make the stored rows differ from these.
    try:
        panel.check_assignment(row.reviewers, reviewers)
    except DomainError as e:
        raise ValueError(e.message) from e
    on = parse_date(p["assigned_on"])
    state = ApplicationState.IN_REVIEW if row.state is ApplicationState.OPEN else row.state
    return _replace(row, reviewers=panel.assigned(row.reviewers, reviewers, on), state=state,
                    updated_on=on)


def _conflict_declared(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    on = parse_date(p["declared_on"])
    return _replace(row, reviewers=panel.with_conflict(row.reviewers, _text(p, "reviewer"), on),
                    updated_on=on)


def _reviewer_decided(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    on = parse_date(p["decided_on"])
    return _replace(row, reviewers=panel.with_decision(
        row.reviewers, _text(p, "reviewer"), _decision(p["decision"]), on), updated_on=on)


def _returned(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _replace(row, state=ApplicationState.RETURNED,
                    updated_on=parse_date(p["returned_on"]))


def _resubmitted(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _new_round(row, state=state_after_resubmission(row.reviewers),
                      updated_on=parse_date(p["resubmitted_on"]))


def _exam_sitting(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    attempt, passed = p["attempt"], p["passed"]
    if not isinstance(passed, bool) or not isinstance(attempt, int) or isinstance(attempt, bool):
        raise TypeError("attempt must be an integer and passed a boolean")
    # Sittings are keyed by attempt, so attempts must run 1, 2, 3 ... as the domain numbers them.
    if attempt != len(row.exam_sittings) + 1:
        raise ValueError(f"attempt {attempt} does not follow {len(row.exam_sittings)} sittings")
    sitting = ExamSitting(attempt=attempt, sat_on=parse_date(p["sat_on"]), passed=passed,
                          retake_from=optional_date(p["retake_from"]))
    return _replace(row, exam_sittings=(*row.exam_sittings, sitting),
                    unmet=msgspec.convert(p["unmet"], _unmet_type),
                    state=state_after_sitting(sitting.passed, sitting.retake_from),
                    updated_on=sitting.sat_on)


def _withdrawn(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _replace(row, state=ApplicationState.WITHDRAWN, updated_on=parse_date(p["withdrawn_on"]))


def _application_granted(row: ApplicationRow, p: dict[str, Any]) -> ApplicationRow:
    return _replace(row, state=ApplicationState.GRANTED, updated_on=parse_date(p["granted_on"]))


_APPLICATION_STEPS: dict[str, Callable[[ApplicationRow, dict[str, Any]], ApplicationRow]] = {
    "ApplicationEvidenceSubmitted": _evidence_submitted,
    "RaterVetted": _rater_vetted,
    "ApplicationReviewed": _reviewed,
    "ApplicationReviewersAssigned": _reviewers_assigned,
    "ApplicationReviewerConflictDeclared": _conflict_declared,
    "ApplicationReviewerDecided": _reviewer_decided,
    "ApplicationReviewConcluded": _reviewed,  # the panel's (or coordinator's) conclusion
    "ApplicationReturned": _returned,
    "ApplicationResubmitted": _resubmitted,
    "ApplicationExamSittingRecorded": _exam_sitting,
    "ApplicationWithdrawn": _withdrawn,
    "ApplicationGranted": _application_granted,
}
STARTED = "ApplicationStarted"
APPLICATION_EVENTS = frozenset({STARTED, *_APPLICATION_STEPS})
OPEN_STATES = frozenset(ApplicationState) - CLOSED_STATES


def apply_application(row: ApplicationRow | None, entry: DecodedEntry) -> ApplicationRow:
    """The application after `entry`; `row` is None before its ApplicationStarted."""
    if entry.event_type == STARTED:
        if row is not None:
            raise DuplicateAggregate(f"application {entry.aggregate_id} exists",
                                     association=entry.association, seq=entry.seq)
        try:
            return _started(entry)
        except _PAYLOAD_ERRORS as e:
            raise _malformed(entry, e) from e
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
    try:
        return step(row, entry.payload)
    except _PAYLOAD_ERRORS as e:
        raise _malformed(entry, e) from e


# What reading a payload the domain could not have written raises (a missing field, a bad
# date or enum value, a wrong type); it is reported with the entry's position instead.
_PAYLOAD_ERRORS = (KeyError, ValueError, TypeError, msgspec.ValidationError)


def _malformed(entry: DecodedEntry, error: Exception) -> MalformedPayload:
    return MalformedPayload(f"{entry.event_type}: {type(error).__name__}: {error}",
                            association=entry.association, seq=entry.seq)


# -- one batch ---------------------------------------------------------------------------------


class ViewBatch:
    """The rows one batch of entries touches, held in memory while the entries apply.

    Built from the rows loaded for the batch (`endorsements` and `applications` by aggregate
    id, `taken_endorsement_ids` for uniqueness); after `apply`, `changed_*` and `history` are
    what to write back.
    """

    def __init__(self, endorsements: Mapping[str, EndorsementView],
                 applications: Mapping[str, ApplicationRow],
                 taken_endorsement_ids: Iterable[str] = (),
                 credentials: CredentialBatch | None = None) -> None:
        self.credentials = credentials or CredentialBatch((), (), {}, ())
        self.endorsements = dict(endorsements)
        self.applications = dict(applications)
        self._taken = set(taken_endorsement_ids)
        self._taken.update(v.row.endorsement_id for v in self.endorsements.values())
        self.changed_endorsements: set[str] = set()
        self.changed_applications: set[str] = set()
        self.history: list[HistoryRow] = []
        # endorsement id -> Master's-prepared since (None: the record no longer shows it)
        self.masters: dict[str, dt.date | None] = {}

    def apply(self, entry: DecodedEntry) -> None:
        """Apply one entry to the rows in memory.

        A verified entry that breaks a projection rule (a peer granting an id that exists, a
        change to an unknown endorsement ...) raises a ProjectionError before anything in the
        batch changes, so the caller may record it as a fault and go on.
        """
        if entry.event_type in ENDORSEMENT_EVENTS:
            before = self.endorsements.get(entry.aggregate_id)
            after, added = apply_endorsement(before, entry)
            extra = None
            try:
                if entry.event_type == RECOGNIZED:
                    extra = origin_transferred(entry)
                masters = masters_change(after.row, entry)
            except _PAYLOAD_ERRORS as e:
                raise _malformed(entry, e) from e
            if before is None:
                # Roster rows are keyed by the public id, so a second grant of one id (under
                # another aggregate, or from another association) must not overwrite the first.
                if after.row.endorsement_id in self._taken:
                    raise DuplicateAggregate(f"endorsement {after.row.endorsement_id} exists",
                                             association=entry.association, seq=entry.seq)
                self._taken.add(after.row.endorsement_id)
            if added is not None:
                self.history.append(added)
            if extra is not None:
                self.history.append(extra)
            if masters[0]:
                self.masters[after.row.endorsement_id] = masters[1]
            self.endorsements[entry.aggregate_id] = after
            self.changed_endorsements.add(entry.aggregate_id)
        elif entry.event_type in APPLICATION_EVENTS:
            self.applications[entry.aggregate_id] = apply_application(
                self.applications.get(entry.aggregate_id), entry)
            self.changed_applications.add(entry.aggregate_id)
        elif entry.event_type in CREDENTIAL_EVENTS:
            self.credentials.apply(entry)
        else:
            raise UnhandledEvent(f"no projection rule for {entry.event_type}",
                                 association=entry.association, seq=entry.seq)

    def roster_rows(self) -> list[RosterRow]:
        """Changed roster rows, in a fixed order."""
        return sorted((self.endorsements[a].row for a in self.changed_endorsements),
                      key=lambda r: r.endorsement_id)

    def masters_rows(self) -> tuple[list[tuple[str, str]], list[str]]:
        """Changed Master's-prepared records: (rows to write, endorsement ids to delete)."""
        ids = sorted(self.masters)
        return ([(i, iso(since)) for i in ids if (since := self.masters[i]) is not None],
                [i for i in ids if self.masters[i] is None])

    def application_rows(self) -> list[ApplicationRow]:
        """Changed application rows, in a fixed order."""
        return sorted((self.applications[a] for a in self.changed_applications),
                      key=lambda r: r.application_id)
