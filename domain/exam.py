"""The written exam of levels III and IV: sittings, the pass mark and retakes.

An application approved for the exam records each sitting: its date and score. Whether the
applicant passed, the attempt number and the earliest retake are public on the ledger ("exam
passed on date D"); the score and the pass mark it was measured against are private evidence
(DESIGN invariant 7) and stay in the association's store, under the entry's commitment.

Association policy sets the pass mark, the attempts allowed per application and the wait
before a retake. A failed last attempt closes the application as denied: the applicant may
apply again, but one application does not stay open for ever.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec

from domain.errors import InvalidCommand, InvalidTransition
from domain.evidence import ExamResult
from domain.policy import AssociationPolicy


class ExamSitting(msgspec.Struct, frozen=True, kw_only=True):
    """One sitting of the written exam.

    `score` and `pass_mark` are private: they are None where the sitting is read from the
    public ledger (the projections), and set in the association's own store.
    """

    attempt: int  # 1 for the first sitting of this application
    sat_on: dt.date
    passed: bool
    retake_from: dt.date | None  # earliest retake after a failure; None: passed, or no retake
    score: float | None = None
    pass_mark: float | None = None

    @property
    def final(self) -> bool:
        """Whether this sitting ends the exam: passed, or failed with no attempt left."""
        return self.passed or self.retake_from is None


def next_sitting(policy: AssociationPolicy, sittings: Sequence[ExamSitting], *,
                 approved_on: dt.date | None, sat_on: dt.date, score: float) -> ExamSitting:
    """The sitting to record, under the association's policy; refused if the rules forbid it.

    `approved_on` is the day the application was approved for the exam (None if it never
    was: recorded exams follow that approval). The caller checks the application's state.
    """
    if not 0 <= score <= policy.exam_max_score:  # also refuses NaN
        raise InvalidCommand(f"score must be between 0 and {policy.exam_max_score:g}",
                             field="score", rule="exam.score_range")
    if approved_on is not None and sat_on < approved_on:
        raise InvalidCommand(f"the sitting ({sat_on}) is before the application was approved "
                             f"for the exam ({approved_on})", field="sat_on",
                             rule="exam.before_approval")
    attempt = len(sittings) + 1
    if sittings:
        last = sittings[-1]
        if last.final:
            raise InvalidTransition("the exam of this application is already decided",
                                    field="sat_on", rule="exam.decided")
        if attempt > policy.exam_max_attempts:
            raise InvalidTransition(f"all {policy.exam_max_attempts} attempts the association "
                                    "allows have been used", field="sat_on",
                                    rule="exam.attempts_used")
        if last.retake_from is not None and sat_on < last.retake_from:
            raise InvalidTransition(f"a retake is allowed from {last.retake_from} on "
                                    f"({policy.exam_retake_wait_days} days after the last "
                                    "sitting)", field="sat_on", rule="exam.retake_too_soon")
    passed = score >= policy.exam_pass_mark
    retake_from = None
    if not passed and attempt < policy.exam_max_attempts:
        retake_from = sat_on + dt.timedelta(days=policy.exam_retake_wait_days)
    return ExamSitting(attempt=attempt, sat_on=sat_on, passed=passed, retake_from=retake_from,
                       score=score, pass_mark=policy.exam_pass_mark)


def exam_result(sittings: Sequence[ExamSitting]) -> ExamResult | None:
    """The evidence's exam as the recorded sittings show it: the latest one (None if none)."""
    if not sittings:
        return None
    last = sittings[-1]
    return ExamResult(taken_on=last.sat_on, passed=last.passed, score=last.score)
