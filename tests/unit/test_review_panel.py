"""The review panel's pure rules: who may join, who may decide, how two decisions combine."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import review as panel
from domain.errors import DomainError, InvalidCommand, InvalidTransition
from domain.levels import ReviewDecision
from domain.review import PanelOutcome, Seat

D = dt.date(2025, 3, 1)
A, R, X, E = (ReviewDecision.APPROVE, ReviewDecision.RETURN_FOR_MORE, ReviewDecision.DENY,
              ReviewDecision.APPROVE_FOR_EXAM)


def seats(*specs: tuple[str, ReviewDecision | None, bool]) -> tuple[Seat, ...]:
    """Seats from (reviewer, decision, conflicted)."""
    return tuple(Seat(reviewer=r, assigned_on=D, decision=d, decided_on=D if d else None,
                      conflict_declared_on=D if c else None) for r, d, c in specs)


@pytest.mark.parametrize(("first", "second", "expected"), [
    (A, A, PanelOutcome.APPROVE),
    (E, E, PanelOutcome.APPROVE_FOR_EXAM),
    (A, E, PanelOutcome.APPROVE_FOR_EXAM),  # the exam first if either saw it still to come
    (R, R, PanelOutcome.RETURN_FOR_MORE),
    (R, A, PanelOutcome.RETURN_FOR_MORE),  # either return: returned with both comments
    (A, R, PanelOutcome.RETURN_FOR_MORE),
    (R, X, PanelOutcome.RETURN_FOR_MORE),  # a return beats one reviewer's denial
    (X, R, PanelOutcome.RETURN_FOR_MORE),
    (X, X, PanelOutcome.DENY),  # a denial needs both
    (A, X, PanelOutcome.SPLIT),  # the coordinator settles
    (X, A, PanelOutcome.SPLIT),
    (E, X, PanelOutcome.SPLIT),
    (A, None, PanelOutcome.PENDING),
    (None, X, PanelOutcome.PENDING),
    (None, None, PanelOutcome.PENDING),
])
def test_two_decisions_combine(first: ReviewDecision | None, second: ReviewDecision | None,
                               expected: PanelOutcome) -> None:
    assert panel.outcome(seats(("r1", first, False), ("r2", second, False))) is expected


@pytest.mark.parametrize("specs", [
    pytest.param((), id="nobody"),
    pytest.param((("r1", A, False),), id="one-reviewer"),
    pytest.param((("r1", A, False), ("r2", A, True)), id="one-conflicted"),
    pytest.param((("r1", X, True), ("r2", X, True)), id="both-conflicted"),
])
def test_nothing_concludes_without_two_active_decisions(
        specs: tuple[tuple[str, ReviewDecision | None, bool], ...]) -> None:
    assert panel.outcome(seats(*specs)) is PanelOutcome.PENDING


def test_a_conflicted_reviewers_place_is_taken_by_the_next() -> None:
    panel_seats = seats(("r1", A, False), ("r2", None, True), ("r3", A, False))
    assert panel.outcome(panel_seats) is PanelOutcome.APPROVE
    assert [s.reviewer for s in panel.active(panel_seats)] == ["r1", "r3"]


@pytest.mark.parametrize(("outcome", "decision"), [
    (PanelOutcome.APPROVE, A), (PanelOutcome.APPROVE_FOR_EXAM, E),
    (PanelOutcome.RETURN_FOR_MORE, R), (PanelOutcome.DENY, X),
    (PanelOutcome.SPLIT, None), (PanelOutcome.PENDING, None),
])
def test_an_outcome_concludes_with_its_decision(outcome: PanelOutcome,
                                               decision: ReviewDecision | None) -> None:
    assert outcome.decision is decision


# -- assignment --------------------------------------------------------------------------------

TWO = seats(("r1", None, False), ("r2", None, False))
ONE_CONFLICTED = seats(("r1", A, False), ("r2", None, True))


@pytest.mark.parametrize(("current", "reviewers", "error", "rule"), [
    ((), (), InvalidCommand, "review.reviewer_required"),
    ((), ("r1", " "), InvalidCommand, "review.reviewer_required"),
    ((), ("r1", "r1"), InvalidCommand, "review.reviewers_repeated"),
    ((), ("r1", "r2", "r3"), InvalidTransition, "review.panel_full"),
    (TWO, ("r3",), InvalidTransition, "review.panel_full"),
    (TWO, ("r1",), InvalidTransition, "review.already_assigned"),
    (ONE_CONFLICTED, ("r2",), InvalidTransition, "review.conflicted"),
    (ONE_CONFLICTED, ("r1",), InvalidTransition, "review.already_assigned"),
    (ONE_CONFLICTED, ("r3", "r4"), InvalidTransition, "review.panel_full"),
])
def test_assignments_the_rules_refuse(current: tuple[Seat, ...], reviewers: tuple[str, ...],
                                      error: type[DomainError], rule: str) -> None:
    with pytest.raises(error) as raised:
        panel.check_assignment(current, reviewers)
    assert (raised.value.rule, raised.value.field) == (rule, "reviewers")


@pytest.mark.parametrize(("current", "reviewers"), [
    ((), ("r1", "r2")),
    ((), ("r1",)),
    (seats(("r1", None, False)), ("r2",)),
    (ONE_CONFLICTED, ("r3",)),  # in the conflicted reviewer's place
])
def test_assignments_the_rules_allow(current: tuple[Seat, ...],
                                     reviewers: tuple[str, ...]) -> None:
    panel.check_assignment(current, reviewers)
    after = panel.assigned(current, reviewers, D)
    assert [s.reviewer for s in after] == [s.reviewer for s in current] + list(reviewers)
    assert len(panel.active(after)) <= panel.REVIEWERS_PER_APPLICATION


@pytest.mark.parametrize(("current", "reviewer", "rule"), [
    (TWO, "r9", "review.not_assigned"),
    (TWO, "", "review.reviewer_required"),
    (ONE_CONFLICTED, "r2", "review.conflicted"),
])
def test_only_an_assigned_unconflicted_reviewer_is_on_the_panel(
        current: tuple[Seat, ...], reviewer: str, rule: str) -> None:
    with pytest.raises(DomainError) as raised:
        panel.check_on_panel(current, reviewer)
    assert raised.value.rule == rule


def test_a_reviewer_decides_once_per_round() -> None:
    decided = panel.with_decision(TWO, "r1", A, D)
    with pytest.raises(InvalidTransition) as raised:
        panel.check_undecided(panel.check_on_panel(decided, "r1"))
    assert raised.value.rule == "review.already_decided"
    again = panel.new_round(decided)
    panel.check_undecided(panel.check_on_panel(again, "r1"))
    assert [s.decision for s in again] == [None, None]


def test_a_conflict_voids_the_reviewers_decision() -> None:
    decided = panel.with_decision(TWO, "r1", X, D)
    after = panel.with_conflict(decided, "r1", D)
    assert (after[0].decision, after[0].active, after[0].awaiting) == (None, False, False)
    assert panel.active(after) == (after[1],)


def test_changing_a_seat_nobody_holds_is_a_bug_not_a_silent_change() -> None:
    with pytest.raises(ValueError):
        panel.with_decision(TWO, "r9", A, D)


# -- property: the panel never holds more than two, never decides twice -------------------------

_OPS = st.lists(st.tuples(st.sampled_from(["assign", "conflict", "decide", "round"]),
                          st.sampled_from(["r1", "r2", "r3", "r4"]),
                          st.sampled_from(list(ReviewDecision))), max_size=30)


@given(ops=_OPS)
def test_checked_changes_keep_the_panel_sound(
        ops: list[tuple[str, str, ReviewDecision]]) -> None:
    current: tuple[Seat, ...] = ()
    for op, reviewer, decision in ops:
        try:
            if op == "assign":
                panel.check_assignment(current, (reviewer,))
                current = panel.assigned(current, (reviewer,), D)
            elif op == "conflict":
                panel.check_on_panel(current, reviewer)
                current = panel.with_conflict(current, reviewer, D)
            elif op == "decide":
                panel.check_undecided(panel.check_on_panel(current, reviewer))
                current = panel.with_decision(current, reviewer, decision, D)
            else:
                current = panel.new_round(current)
        except DomainError:
            continue
        names = [s.reviewer for s in current]
        assert len(names) == len(set(names))
        assert len(panel.active(current)) <= panel.REVIEWERS_PER_APPLICATION
        assert all(s.decision is None for s in current if not s.active)
        result = panel.outcome(current)
        decisions = [s.decision for s in panel.active(current)]
        if result is not PanelOutcome.PENDING:
            assert len(decisions) == 2 and None not in decisions
