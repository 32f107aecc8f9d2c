"""What the staff pages say about an application: stage, next step, whose move, checklist."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain.application import NO_EVIDENCE, Application, ApplicationState
from domain.checklist import EVIDENCE_MISSING
from domain.evidence import ApplicationEvidence
from domain.exam import ExamSitting
from domain.levels import Level, ReviewDecision
from domain.lookup import NoEndorsements
from domain.progress import STAGE_OF_STATE, Stage, WaitsOn, draft_progress, of_application, progress
from domain.review import Seat
from domain.unmet import Unmet

D = dt.date(2025, 3, 1)
S = ApplicationState
A, X = ReviewDecision.APPROVE, ReviewDecision.DENY
UNMET = (Unmet(code="fee", field="evidence.fee_paid", reason="The processing fee is unpaid."),)


def seat(reviewer: str, decision: ReviewDecision | None = None, *,
         conflicted: bool = False) -> Seat:
    return Seat(reviewer=reviewer, assigned_on=D, decision=decision,
                decided_on=D if decision else None, conflict_declared_on=D if conflicted else None)


FAILED = ExamSitting(attempt=2, sat_on=D, passed=False, retake_from=dt.date(2025, 3, 31))
LAST_FAILED = ExamSitting(attempt=3, sat_on=D, passed=False, retake_from=None)
PASSED = ExamSitting(attempt=1, sat_on=D, passed=True, retake_from=None)


@pytest.mark.parametrize(("state", "reviewers", "sittings", "unmet", "expected"), [
    pytest.param(S.OPEN, (), (), UNMET,
                 (Stage.SUBMITTED, WaitsOn.COORDINATOR, (), "1 requirement still unmet"),
                 id="submitted"),
    pytest.param(S.IN_REVIEW, (seat("r1"), seat("r2", A)), (), (),
                 (Stage.IN_REVIEW, WaitsOn.REVIEWERS, ("r1",), "1 of 2 reviewers"),
                 id="waiting-for-one"),
    pytest.param(S.IN_REVIEW, (seat("r1"), seat("r2")), (), (),
                 (Stage.IN_REVIEW, WaitsOn.REVIEWERS, ("r1", "r2"), "r1 and r2"),
                 id="waiting-for-both"),
    pytest.param(S.IN_REVIEW, (seat("r1", conflicted=True), seat("r2")), (), (),
                 (Stage.IN_REVIEW, WaitsOn.COORDINATOR, ("r2",), "r1 declared a conflict"),
                 id="conflict-needs-a-new-reviewer"),
    pytest.param(S.IN_REVIEW, (seat("r1", A), seat("r2", X)), (), (),
                 (Stage.IN_REVIEW, WaitsOn.COORDINATOR, (), "disagree"), id="split"),
    pytest.param(S.RETURNED, (seat("r1"),), (), UNMET,
                 (Stage.RETURNED, WaitsOn.APPLICANT, (), "resubmits"), id="returned"),
    pytest.param(S.APPROVED_FOR_EXAM, (), (), (),
                 (Stage.APPROVED_FOR_EXAM, WaitsOn.APPLICANT, (), "sits the exam"),
                 id="approved-for-exam"),
    pytest.param(S.EXAM_FAILED, (), (FAILED,), (),
                 (Stage.EXAM_FAILED, WaitsOn.APPLICANT, (), "retake the exam from 2025-03-31"),
                 id="exam-failed"),
    pytest.param(S.EXAM_PASSED, (), (PASSED,), (),
                 (Stage.EXAM_PASSED, WaitsOn.COORDINATOR, (), "grants the endorsement"),
                 id="exam-passed"),
    pytest.param(S.APPROVED, (), (), (),
                 (Stage.APPROVED, WaitsOn.COORDINATOR, (), "grants"), id="approved"),
    pytest.param(S.GRANTED, (), (), (),
                 (Stage.GRANTED, WaitsOn.NOBODY, (), "AK-1"), id="granted"),
    pytest.param(S.DENIED, (), (LAST_FAILED,), (),
                 (Stage.DENIED, WaitsOn.NOBODY, (), "last allowed attempt"),
                 id="denied-after-the-exam"),
    pytest.param(S.WITHDRAWN, (), (), (),
                 (Stage.WITHDRAWN, WaitsOn.NOBODY, (), "Withdrawn"), id="withdrawn"),
])
def test_each_state_says_where_it_stands_and_who_moves_next(
        state: ApplicationState, reviewers: tuple[Seat, ...], sittings: tuple[ExamSitting, ...],
        unmet: tuple[Unmet, ...], expected: tuple[Stage, WaitsOn, tuple[str, ...], str]) -> None:
    shown = progress(level=Level.IMHS, designation=None, state=state, unmet=unmet,
                     reviewers=reviewers, exam_sittings=sittings, endorsement_id="AK-1")
    stage, waits_on, waiting_for, words = expected
    assert (shown.stage, shown.waits_on, shown.waiting_for) == (stage, waits_on, waiting_for)
    assert words in shown.summary + " " + shown.next_step
    assert shown.title == stage.title and shown.summary and shown.next_step
    assert [i.met for i in shown.checklist if i.code == "fee"] == [not unmet]


def test_every_state_has_a_stage_and_a_title() -> None:
    assert set(STAGE_OF_STATE) == set(ApplicationState)
    assert {s.title for s in Stage} >= {"Draft", "Submitted", "In review",
                                       "Returned with comments", "Approved for exam",
                                       "Exam passed", "Exam failed", "Granted", "Denied",
                                       "Withdrawn"}


def test_an_application_from_before_the_two_reviewer_workflow_reads_as_submitted() -> None:
    app = Application.start(application_id=uuid.uuid4(), association="AK", person_id="p",
                            family_name="Roe", given_name="Rita", level=Level.IFS,
                            designation=None, started_on=D,
                            now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    shown = of_application(app)
    assert (shown.stage, shown.waits_on) == (Stage.SUBMITTED, WaitsOn.COORDINATOR)
    assert shown.checklist[0].code == EVIDENCE_MISSING
    assert app.unmet == NO_EVIDENCE and not any(i.met for i in shown.checklist)


def test_a_draft_is_the_applicants_and_not_on_the_ledger() -> None:
    unmet = Application.submit(
        application_id=uuid.uuid4(), association="AK", person_id="p", family_name="Roe",
        given_name="Rita", level=Level.IFA, designation=None, evidence=ApplicationEvidence(),
        lookup=NoEndorsements(), submitted_on=D,
        now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC)).unmet
    shown = draft_progress(Level.IFA, None, unmet)
    assert (shown.stage, shown.waits_on, shown.title) == (Stage.DRAFT, WaitsOn.APPLICANT, "Draft")
    assert "nothing is on the ledger" in shown.summary
    assert {u.code for i in shown.checklist for u in i.unmet} == {u.code for u in unmet}
    assert draft_progress(Level.IFA, None, ()).next_step.startswith("Every requirement is met")
