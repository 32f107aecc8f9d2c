"""Two reviewers per application: who may decide, and how their two decisions combine.

The coordinator assigns two reviewers (staff account ids: opaque references, so no reviewer's
name reaches the ledger). A reviewer with a conflict of interest declares it and steps aside;
the coordinator assigns another in that place. Each assigned reviewer without a conflict
records one decision per round; a round ends when the file changes (evidence resubmitted or
replaced while in review), because a decision speaks for the file its reviewer read.

How two decisions combine, as an association's review would settle them:
- both approve: approved (levels I, II) or approved for the exam (III, IV before the exam);
- either asks for more: returned, with both reviewers' comments in one round trip (a return
  gives the applicant a chance to answer, which beats a denial on one reviewer's word);
- both deny: denied. A denial closes the application for good, so it needs both;
- one approves and the other denies: a split, which the coordinator settles.
Nothing concludes until both active reviewers have decided.

These are pure functions over the panel's seats, shared by the Application aggregate (which
checks them before any event exists) and the projections (which replay the same seats from
the public ledger entries).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

import msgspec

from domain.errors import InvalidCommand, InvalidTransition
from domain.levels import ReviewDecision

REVIEWERS_PER_APPLICATION = 2


class Seat(msgspec.Struct, frozen=True, kw_only=True):
    """One reviewer's place on an application's panel: all of it is public on the ledger."""

    reviewer: str  # a staff account id: an opaque reference, never a name
    assigned_on: dt.date
    conflict_declared_on: dt.date | None = None
    decision: ReviewDecision | None = None  # in the current round
    decided_on: dt.date | None = None

    @property
    def active(self) -> bool:
        """Whether the reviewer is on the panel (no conflict of interest declared)."""
        return self.conflict_declared_on is None

    @property
    def awaiting(self) -> bool:
        """Whether the application waits on this reviewer's decision in this round."""
        return self.active and self.decision is None


class CommentAuthor(StrEnum):
    """Who wrote comments the applicant is sent."""

    REVIEWER = "reviewer"
    COORDINATOR = "coordinator"


class ReviewComment(msgspec.Struct, frozen=True, kw_only=True):
    """Comments for the applicant: private, kept in the association's store only."""

    author: str  # staff account id
    role: CommentAuthor
    comments: str
    written_on: dt.date
    decision: ReviewDecision | None = None


class PanelOutcome(StrEnum):
    """What the panel's decisions add up to in the current round."""

    PENDING = "pending"  # fewer than two active reviewers, or one has not decided yet
    APPROVE = ReviewDecision.APPROVE.value
    APPROVE_FOR_EXAM = ReviewDecision.APPROVE_FOR_EXAM.value
    RETURN_FOR_MORE = ReviewDecision.RETURN_FOR_MORE.value
    DENY = ReviewDecision.DENY.value
    SPLIT = "split"  # one approves, the other denies: the coordinator settles it

    @property
    def decision(self) -> ReviewDecision | None:
        """The decision the outcome concludes with; None while pending or split."""
        return _CONCLUSIONS.get(self)


_CONCLUSIONS = {PanelOutcome.APPROVE: ReviewDecision.APPROVE,
                PanelOutcome.APPROVE_FOR_EXAM: ReviewDecision.APPROVE_FOR_EXAM,
                PanelOutcome.RETURN_FOR_MORE: ReviewDecision.RETURN_FOR_MORE,
                PanelOutcome.DENY: ReviewDecision.DENY}
_APPROVING = frozenset({ReviewDecision.APPROVE, ReviewDecision.APPROVE_FOR_EXAM})


def active(seats: Sequence[Seat]) -> tuple[Seat, ...]:
    """The reviewers on the panel, in the order they were assigned."""
    return tuple(s for s in seats if s.active)


def seat_of(seats: Sequence[Seat], reviewer: str) -> Seat | None:
    """The seat of `reviewer`, or None if they were never assigned."""
    return next((s for s in seats if s.reviewer == reviewer), None)


def outcome(seats: Sequence[Seat]) -> PanelOutcome:
    """The panel's combined decision in the current round (see the module docstring)."""
    panel = active(seats)
    decisions = [s.decision for s in panel]
    if len(panel) < REVIEWERS_PER_APPLICATION or None in decisions:
        return PanelOutcome.PENDING
    if ReviewDecision.RETURN_FOR_MORE in decisions:
        return PanelOutcome.RETURN_FOR_MORE
    if all(d is ReviewDecision.DENY for d in decisions):
        return PanelOutcome.DENY
    if all(d in _APPROVING for d in decisions):
        # Both approve; if either saw the exam still to come, the exam comes first.
        if ReviewDecision.APPROVE_FOR_EXAM in decisions:
            return PanelOutcome.APPROVE_FOR_EXAM
        return PanelOutcome.APPROVE
    return PanelOutcome.SPLIT


# -- rules -------------------------------------------------------------------------------------


def check_reviewer_id(reviewer: str, field: str = "reviewer") -> None:
    """A reviewer is named by a non-empty staff account id."""
    if not reviewer.strip():
        raise InvalidCommand("a reviewer is named by a staff account id", field=field,
                             rule="review.reviewer_required")


def check_assignment(seats: Sequence[Seat], reviewers: Sequence[str]) -> None:
    """Whether `reviewers` may join the panel: new names, no declared conflict, two at most."""
    if not reviewers:
        raise InvalidCommand("name at least one reviewer to assign", field="reviewers",
                             rule="review.reviewer_required")
    for reviewer in reviewers:
        check_reviewer_id(reviewer, "reviewers")
    if len(set(reviewers)) != len(reviewers):
        raise InvalidCommand("a reviewer is named twice", field="reviewers",
                             rule="review.reviewers_repeated")
    for reviewer in reviewers:
        seat = seat_of(seats, reviewer)
        if seat is not None and not seat.active:
            raise InvalidTransition(f"reviewer {reviewer} declared a conflict of interest on "
                                    "this application and cannot be assigned to it again",
                                    field="reviewers", rule="review.conflicted")
        if seat is not None:
            raise InvalidTransition(f"reviewer {reviewer} is already assigned",
                                    field="reviewers", rule="review.already_assigned")
    if len(active(seats)) + len(reviewers) > REVIEWERS_PER_APPLICATION:
        raise InvalidTransition(f"an application has {REVIEWERS_PER_APPLICATION} reviewers; "
                                f"{len(active(seats))} are assigned already", field="reviewers",
                                rule="review.panel_full")


def check_on_panel(seats: Sequence[Seat], reviewer: str) -> Seat:
    """The seat of an assigned reviewer without a declared conflict; refused otherwise."""
    check_reviewer_id(reviewer)
    seat = seat_of(seats, reviewer)
    if seat is None:
        raise InvalidTransition(f"reviewer {reviewer} is not assigned to this application",
                                field="reviewer", rule="review.not_assigned")
    if not seat.active:
        raise InvalidTransition(f"reviewer {reviewer} declared a conflict of interest and "
                                "cannot decide this application", field="reviewer",
                                rule="review.conflicted")
    return seat


def check_undecided(seat: Seat) -> None:
    """A reviewer decides once per round (the round restarts when the file changes)."""
    if seat.decision is not None:
        raise InvalidTransition(f"reviewer {seat.reviewer} already decided ({seat.decision}) "
                                "in this round", field="reviewer", rule="review.already_decided")


# -- changes -----------------------------------------------------------------------------------


def assigned(seats: Sequence[Seat], reviewers: Sequence[str], on: dt.date) -> tuple[Seat, ...]:
    """The panel with `reviewers` added (checked by `check_assignment`)."""
    return (*seats, *(Seat(reviewer=r, assigned_on=on) for r in reviewers))


def _changed(seats: Sequence[Seat], reviewer: str, **changes: object) -> tuple[Seat, ...]:
    if seat_of(seats, reviewer) is None:
        raise ValueError(f"reviewer {reviewer!r} is not on the panel")
    return tuple(msgspec.structs.replace(s, **changes) if s.reviewer == reviewer else s
                 for s in seats)


def with_conflict(seats: Sequence[Seat], reviewer: str, on: dt.date) -> tuple[Seat, ...]:
    """The panel after `reviewer` declared a conflict of interest (their decision is void)."""
    return _changed(seats, reviewer, conflict_declared_on=on, decision=None, decided_on=None)


def with_decision(seats: Sequence[Seat], reviewer: str, decision: ReviewDecision,
                  on: dt.date) -> tuple[Seat, ...]:
    """The panel after `reviewer` decided."""
    return _changed(seats, reviewer, decision=decision, decided_on=on)


def new_round(seats: Sequence[Seat]) -> tuple[Seat, ...]:
    """The panel with every decision cleared: the file changed since they were made."""
    return tuple(msgspec.structs.replace(s, decision=None, decided_on=None) for s in seats)
