"""The written exam's rules: pass mark, attempts and the wait before a retake, per policy."""

from __future__ import annotations

import datetime as dt
import itertools

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, InvalidCommand, InvalidTransition
from domain.evidence import ExamResult
from domain.exam import ExamSitting, exam_result, next_sitting
from domain.policy import AssociationPolicy

D = dt.date
APPROVED = D(2025, 1, 10)
POLICY = AssociationPolicy()  # 70 of 100, three attempts, 30 days between


def failed(attempt: int, sat_on: dt.date, retake_from: dt.date | None) -> ExamSitting:
    return ExamSitting(attempt=attempt, sat_on=sat_on, passed=False, retake_from=retake_from,
                       score=50, pass_mark=70)


FIRST_FAILED = (failed(1, D(2025, 2, 1), D(2025, 3, 3)),)
TWO_FAILED = (*FIRST_FAILED, failed(2, D(2025, 3, 3), D(2025, 4, 2)))


@pytest.mark.parametrize(("sittings", "sat_on", "score", "expected"), [
    pytest.param((), D(2025, 2, 1), 70, (1, True, None), id="pass-mark-exactly"),
    pytest.param((), D(2025, 2, 1), 100, (1, True, None), id="full-marks"),
    pytest.param((), D(2025, 2, 1), 69.5, (1, False, D(2025, 3, 3)), id="just-below"),
    pytest.param((), APPROVED, 0, (1, False, D(2025, 2, 9)), id="on-the-approval-day"),
    pytest.param(FIRST_FAILED, D(2025, 3, 3), 85, (2, True, None), id="retake-on-the-day"),
    pytest.param(FIRST_FAILED, D(2025, 3, 3), 10, (2, False, D(2025, 4, 2)), id="second-fail"),
    pytest.param(TWO_FAILED, D(2025, 4, 2), 40, (3, False, None), id="last-attempt-fails"),
    pytest.param(TWO_FAILED, D(2025, 5, 1), 71, (3, True, None), id="last-attempt-passes"),
])
def test_a_sitting_is_scored_against_the_policy(
        sittings: tuple[ExamSitting, ...], sat_on: dt.date, score: float,
        expected: tuple[int, bool, dt.date | None]) -> None:
    sitting = next_sitting(POLICY, sittings, approved_on=APPROVED, sat_on=sat_on, score=score)
    assert (sitting.attempt, sitting.passed, sitting.retake_from) == expected
    assert (sitting.score, sitting.pass_mark, sitting.sat_on) == (score, 70, sat_on)
    assert sitting.final is (sitting.passed or sitting.retake_from is None)


@pytest.mark.parametrize(("sittings", "sat_on", "score", "error", "rule"), [
    pytest.param((), D(2025, 2, 1), -1, InvalidCommand, "exam.score_range", id="negative"),
    pytest.param((), D(2025, 2, 1), 100.5, InvalidCommand, "exam.score_range", id="above-max"),
    pytest.param((), D(2025, 2, 1), float("nan"), InvalidCommand, "exam.score_range", id="nan"),
    pytest.param((), D(2025, 1, 9), 90, InvalidCommand, "exam.before_approval",
                 id="before-approval"),
    pytest.param(FIRST_FAILED, D(2025, 3, 2), 90, InvalidTransition, "exam.retake_too_soon",
                 id="retake-a-day-early"),
    pytest.param((ExamSitting(attempt=1, sat_on=D(2025, 2, 1), passed=True, retake_from=None),),
                 D(2025, 6, 1), 90, InvalidTransition, "exam.decided", id="already-passed"),
    pytest.param((*TWO_FAILED, failed(3, D(2025, 4, 2), None)), D(2025, 6, 1), 90,
                 InvalidTransition, "exam.decided", id="no-attempt-left"),
])
def test_sittings_the_rules_refuse(sittings: tuple[ExamSitting, ...], sat_on: dt.date,
                                   score: float, error: type[DomainError], rule: str) -> None:
    with pytest.raises(error) as raised:
        next_sitting(POLICY, sittings, approved_on=APPROVED, sat_on=sat_on, score=score)
    assert raised.value.rule == rule


def test_a_lowered_attempt_limit_stops_further_retakes() -> None:
    strict = AssociationPolicy(exam_max_attempts=2)
    with pytest.raises(InvalidTransition) as raised:
        next_sitting(strict, TWO_FAILED, approved_on=APPROVED, sat_on=D(2025, 5, 1), score=99)
    assert raised.value.rule == "exam.attempts_used"


def test_a_single_attempt_policy_gives_no_retake() -> None:
    once = AssociationPolicy(exam_max_attempts=1, exam_pass_mark=60, exam_max_score=80)
    sitting = next_sitting(once, (), approved_on=None, sat_on=D(2025, 2, 1), score=59)
    assert (sitting.passed, sitting.retake_from, sitting.final) == (False, None, True)
    assert next_sitting(once, (), approved_on=None, sat_on=D(2025, 2, 1), score=60).passed


@pytest.mark.parametrize("changes", [
    {"exam_pass_mark": 0}, {"exam_pass_mark": 101}, {"exam_max_score": 0},
    {"exam_max_score": 20_000}, {"exam_max_attempts": 0}, {"exam_max_attempts": 11},
    {"exam_retake_wait_days": -1}, {"exam_retake_wait_days": 731},
])
def test_an_impossible_exam_policy_cannot_exist(changes: dict[str, float]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(changes, AssociationPolicy)


def test_a_policy_saved_before_the_exam_settings_decodes_with_the_defaults() -> None:
    old = msgspec.json.encode({"grace_days": 30})
    policy = msgspec.json.decode(old, type=AssociationPolicy)
    assert (policy.exam_pass_mark, policy.exam_max_attempts, policy.exam_retake_wait_days) == (
        70, 3, 30)


def test_the_evidence_exam_is_the_latest_sitting() -> None:
    assert exam_result(()) is None
    assert exam_result(TWO_FAILED) == ExamResult(taken_on=D(2025, 3, 3), passed=False, score=50)


@given(scores=st.lists(st.floats(0, 100), min_size=1, max_size=5),
       gaps=st.lists(st.integers(0, 90), min_size=5, max_size=5))
def test_retakes_never_exceed_the_policy(scores: list[float], gaps: list[int]) -> None:
    sittings: list[ExamSitting] = []
    day = APPROVED
    for score, gap in zip(scores, gaps, strict=False):
        day += dt.timedelta(days=gap)
        try:
            sittings.append(next_sitting(POLICY, sittings, approved_on=APPROVED, sat_on=day,
                                         score=score))
        except DomainError:
            continue
    assert len(sittings) <= POLICY.exam_max_attempts
    assert [s.attempt for s in sittings] == list(range(1, len(sittings) + 1))
    assert all(s.passed is (s.score is not None and s.score >= 70) for s in sittings)
    assert sum(s.final for s in sittings) <= 1 and all(not s.final for s in sittings[:-1])
    for before, after in itertools.pairwise(sittings):
        assert before.retake_from is not None and after.sat_on >= before.retake_from
