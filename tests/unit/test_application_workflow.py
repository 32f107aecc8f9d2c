"""The application state machine: every command in every state, the two-reviewer rules,
returns with comments, exam sittings, what is public on the ledger, and the projection's
replay of the same transitions from the public payloads alone."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.application import NO_EVIDENCE, Application, ApplicationState
from domain.errors import DomainError, RequirementsUnmet
from domain.evidence import (
    ApplicationEvidence,
    Degree,
    ExamResult,
    Membership,
    Rating,
    RscHours,
    Training,
    WorkExperience,
)
from domain.levels import DegreeKind, Level, RaterRole, ReviewDecision, WorkKind
from domain.lookup import HeldEndorsement
from domain.policy import AssociationPolicy
from domain.review import CommentAuthor, PanelOutcome
from ledger.codec import EntryBody, decode_payload, event_type_of, public_and_private
from projections.decoded_entries import DecodedEntry
from projections.rows import ApplicationRow
from projections.transitions import apply_application

D = dt.date
S = ApplicationState
A, R, X, E = (ReviewDecision.APPROVE, ReviewDecision.RETURN_FOR_MORE, ReviewDecision.DENY,
              ReviewDecision.APPROVE_FOR_EXAM)
POLICY = AssociationPolicy()
DAY = D(2025, 3, 3)
SECRET = "Zebulon-7781"  # a marker that must never reach a public payload


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


class Lookup:
    """The provider and one rater hold Level III throughout."""

    def held_on(self, person_id: str, on: dt.date) -> tuple[HeldEndorsement, ...]:
        if person_id not in ("provider", "rater-3"):
            return ()
        return (HeldEndorsement(person_id=person_id, endorsement_id=f"AK-{person_id}",
                                association="AK", level=Level.IMHS, designation=None,
                                granted_on=D(2010, 1, 1)),)


LOOKUP = Lookup()


def level_iii_evidence(*, exam: ExamResult | None = None) -> ApplicationEvidence:
    """Everything Level III asks for except (unless given) the exam."""
    rated = D(2024, 6, 1)
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.MASTER, field_of_study=SECRET, awarded_on=D(2018, 6, 1),
                        transcript_received=True),),
        trainings=(Training(title="IMH", hours=30, completed_on=D(2023, 1, 1)),),
        work=(WorkExperience(kind=WorkKind.IMH_INFANT_AND_PARENT, employer="Clinic",
                             started_on=D(2019, 1, 1), ended_on=D(2021, 12, 31), supervised=True,
                             post_master=True),),
        rsc=(RscHours(provider_id="provider", hours=50, started_on=D(2020, 1, 1),
                      ended_on=D(2020, 12, 31), post_master=True),),
        ratings=(Rating(rater_id="r-1", rater_name="Sup", role=RaterRole.PROGRAM_SUPERVISOR,
                        rated_on=rated),
                 Rating(rater_id="provider", rater_name="Prov", role=RaterRole.RSC_PROVIDER,
                        rated_on=rated),
                 Rating(rater_id="r-2", rater_name="Sue", role=RaterRole.SUPERVISEE,
                        rated_on=rated)),
        code_of_ethics_signed=True, agreement_signed=True,
        memberships=(Membership(association="AK", valid_through=D(2099, 1, 1)),),
        fee_paid=True, exam=exam)


def submitted(*, exam: ExamResult | None = None) -> Application:
    app = Application.submit(application_id=uuid.UUID(int=7), association="AK",
                             person_id="p-1", family_name="Roe", given_name="Rita",
                             level=Level.IMHS, designation=None,
                             evidence=level_iii_evidence(exam=exam), lookup=LOOKUP,
                             submitted_on=D(2025, 1, 2), now=at(D(2025, 1, 2)))
    assert app.unmet == (() if exam and exam.passed else app.unmet)
    return app


ASSIGNED_ON, DECIDED_ON = D(2025, 1, 3), D(2025, 1, 6)


def assign(app: Application, *reviewers: str, on: dt.date = ASSIGNED_ON) -> Application:
    app.assign_reviewers(reviewers, assigned_by="coord-1", assigned_on=on, now=at(on))
    return app


def both(app: Application, first: ReviewDecision, second: ReviewDecision,
         on: dt.date = DECIDED_ON) -> Application:
    app.decide(first, reviewer="r1", comments=f"r1 says {SECRET}", decided_on=on, now=at(on))
    app.decide(second, reviewer="r2", comments=f"r2 says {SECRET}", decided_on=on, now=at(on))
    return app


def sit(app: Application, score: float, on: dt.date) -> Application:
    app.record_exam_sitting(sat_on=on, score=score, recorded_by="coord-1", policy=POLICY,
                            lookup=LOOKUP, now=at(on))
    return app


# Applications in every state (Level III, so that the exam states are reachable).
STATES: dict[str, Callable[[], Application]] = {
    "open": submitted,
    "in_review": lambda: assign(submitted(), "r1", "r2"),
    "split": lambda: both(assign(submitted(), "r1", "r2"), E, X),
    "returned": lambda: both(assign(submitted(), "r1", "r2"), R, E),
    "approved_for_exam": lambda: both(assign(submitted(), "r1", "r2"), E, E),
    "exam_failed": lambda: sit(both(assign(submitted(), "r1", "r2"), E, E), 50, D(2025, 2, 1)),
    "exam_passed": lambda: sit(both(assign(submitted(), "r1", "r2"), E, E), 90, D(2025, 2, 1)),
    "approved": lambda: _legacy_approved(),
    "denied": lambda: both(assign(submitted(), "r1", "r2"), X, X),
    "withdrawn": lambda: _withdrawn(submitted()),
    "granted": lambda: _granted(sit(both(assign(submitted(), "r1", "r2"), E, E), 90,
                                    D(2025, 2, 1))),
}


def _legacy_approved() -> Application:
    """Approved the way it was before reviewers and sittings: one decision, exam in evidence."""
    app = submitted(exam=ExamResult(taken_on=D(2024, 12, 1), passed=True, score=88))
    app.review(A, reviewer="legacy", reason="", decided_on=D(2025, 1, 5), now=at(D(2025, 1, 5)))
    return app


def _withdrawn(app: Application) -> Application:
    app.withdraw(withdrawn_on=D(2025, 1, 4), reason="moved", now=at(D(2025, 1, 4)))
    return app


def _granted(app: Application) -> Application:
    app.mark_granted("AK-NEW", granted_on=D(2025, 3, 1), now=at(D(2025, 3, 1)))
    return app


COMMANDS: dict[str, Callable[[Application], object]] = {
    "assign": lambda a: a.assign_reviewers(("r3",), assigned_by="coord-1", assigned_on=DAY,
                                           now=at(DAY)),
    "conflict": lambda a: a.declare_conflict(reviewer="r1", declared_on=DAY, note=SECRET,
                                             now=at(DAY)),
    "decide": lambda a: a.decide(E, reviewer="r1", comments="ok", decided_on=DAY, now=at(DAY)),
    "settle": lambda a: a.settle_split(E, settled_by="coord-1", comments=SECRET,
                                       decided_on=DAY, now=at(DAY)),
    "return": lambda a: a.return_with_comments(returned_by="coord-1", comments=SECRET,
                                               returned_on=DAY, now=at(DAY)),
    "resubmit": lambda a: a.resubmit(None, LOOKUP, response=SECRET, resubmitted_on=DAY,
                                     now=at(DAY)),
    "sit": lambda a: a.record_exam_sitting(sat_on=DAY, score=90, recorded_by="coord-1",
                                           policy=POLICY, lookup=LOOKUP, now=at(DAY)),
    "withdraw": lambda a: a.withdraw(withdrawn_on=DAY, reason="", now=at(DAY)),
    "grant": lambda a: a.mark_granted("AK-X", granted_on=DAY, now=at(DAY)),
    "submit": lambda a: a.submit_evidence(level_iii_evidence(), LOOKUP, submitted_on=DAY,
                                          now=at(DAY)),
    "review": lambda a: a.review(E, reviewer="r1", reason="ok", decided_on=DAY, now=at(DAY)),
}

_NOT_OPEN, _NOT_IN_REVIEW = "review.not_open", "review.not_in_review"
_NOT_SPLIT = "review.not_split"
_NOT_RETURNABLE, _NOT_RETURNED = "return.not_returnable", "resubmit.not_returned"
_NOT_APPROVED, _GRANT, _CLOSED = "exam.not_approved", "grant.not_approved", "application.closed"
_COMMAND_ORDER = tuple(COMMANDS)
# Per state, the result of each command in _COMMAND_ORDER: the state after it, or the rule
# that refuses it.
_TABLE: dict[str, tuple[S | str, ...]] = {
    #               assign            conflict        decide          settle
    #               return            resubmit        sit             withdraw
    #               grant             submit          review
    "open": (S.IN_REVIEW, _NOT_IN_REVIEW, _NOT_IN_REVIEW, _NOT_SPLIT,
             S.RETURNED, _NOT_RETURNED, _NOT_APPROVED, S.WITHDRAWN,
             _GRANT, S.OPEN, S.APPROVED_FOR_EXAM),  # review: no reviewers, decides as before
    "in_review": ("review.panel_full", S.IN_REVIEW, S.IN_REVIEW, _NOT_SPLIT,
                  S.RETURNED, _NOT_RETURNED, _NOT_APPROVED, S.WITHDRAWN,
                  _GRANT, S.IN_REVIEW, S.IN_REVIEW),  # review: the reviewer's decide
    "split": ("review.panel_full", S.IN_REVIEW, "review.already_decided", S.APPROVED_FOR_EXAM,
              S.RETURNED, _NOT_RETURNED, _NOT_APPROVED, S.WITHDRAWN,
              _GRANT, S.IN_REVIEW, "review.already_decided"),
    "returned": ("review.panel_full", S.RETURNED, _NOT_IN_REVIEW, _NOT_SPLIT,
                 _NOT_RETURNABLE, S.IN_REVIEW, _NOT_APPROVED, S.WITHDRAWN,
                 _GRANT, S.IN_REVIEW, _NOT_IN_REVIEW),
    "approved_for_exam": (_NOT_OPEN, _NOT_IN_REVIEW, _NOT_IN_REVIEW, _NOT_SPLIT,
                          _NOT_RETURNABLE, _NOT_RETURNED, S.EXAM_PASSED, S.WITHDRAWN,
                          _GRANT, S.APPROVED_FOR_EXAM, _NOT_IN_REVIEW),
    "exam_failed": (_NOT_OPEN, _NOT_IN_REVIEW, _NOT_IN_REVIEW, _NOT_SPLIT,
                    _NOT_RETURNABLE, _NOT_RETURNED, S.EXAM_PASSED, S.WITHDRAWN,
                    _GRANT, S.EXAM_FAILED, _NOT_IN_REVIEW),
    "exam_passed": (_NOT_OPEN, _NOT_IN_REVIEW, _NOT_IN_REVIEW, _NOT_SPLIT,
                    _NOT_RETURNABLE, _NOT_RETURNED, _NOT_APPROVED, S.WITHDRAWN,
                    S.GRANTED, _CLOSED, _NOT_IN_REVIEW),
    "approved": (_NOT_OPEN, _NOT_IN_REVIEW, _NOT_IN_REVIEW, _NOT_SPLIT,
                 _NOT_RETURNABLE, _NOT_RETURNED, _NOT_APPROVED, S.WITHDRAWN,
                 S.GRANTED, _CLOSED, _CLOSED),
    "denied": (_NOT_OPEN, _NOT_IN_REVIEW, _NOT_IN_REVIEW, _NOT_SPLIT,
               _NOT_RETURNABLE, _NOT_RETURNED, _NOT_APPROVED, _CLOSED,
               _GRANT, _CLOSED, _NOT_IN_REVIEW),
    "withdrawn": (_NOT_OPEN, _NOT_IN_REVIEW, _NOT_IN_REVIEW, _NOT_SPLIT,
                  _NOT_RETURNABLE, _NOT_RETURNED, _NOT_APPROVED, _CLOSED,
                  _GRANT, _CLOSED, _CLOSED),
    "granted": (_NOT_OPEN, _NOT_IN_REVIEW, _NOT_IN_REVIEW, _NOT_SPLIT,
                _NOT_RETURNABLE, _NOT_RETURNED, _NOT_APPROVED, _CLOSED,
                _GRANT, _CLOSED, _NOT_IN_REVIEW),
}
CASES = [pytest.param(state, command, expected, id=f"{state}-{command}")
         for state, row in _TABLE.items()
         for command, expected in zip(_COMMAND_ORDER, row, strict=True)]


def test_the_table_covers_every_state_and_command() -> None:
    assert set(_TABLE) == set(STATES)
    assert {STATES[name]().state for name in STATES} == set(ApplicationState)


@pytest.mark.parametrize(("state", "command", "expected"), CASES)
def test_every_command_in_every_state(state: str, command: str, expected: S | str) -> None:
    app = STATES[state]()
    before = (app.state, len(app.pending_events))
    if isinstance(expected, S):
        COMMANDS[command](app)
        assert app.state is expected
        assert len(app.pending_events) > before[1]
        # The projection, from the public payloads alone, reaches the same place.
        assert_projected_as(app, project(app.pending_events))
    else:
        with pytest.raises(DomainError) as raised:
            COMMANDS[command](app)
        assert raised.value.rule == expected
        # A refused command records nothing and changes nothing.
        assert (app.state, len(app.pending_events)) == before


# -- review ------------------------------------------------------------------------------------


def test_both_reviewers_approve_for_the_exam_in_one_round() -> None:
    app = assign(submitted(), "r1", "r2")
    assert app.decide(E, reviewer="r1", comments="", decided_on=DAY, now=at(DAY)) is (
        PanelOutcome.PENDING)
    assert app.state is S.IN_REVIEW
    assert app.decide(E, reviewer="r2", comments="", decided_on=DAY, now=at(DAY)) is (
        PanelOutcome.APPROVE_FOR_EXAM)
    assert (app.state, app.approved_for_exam_on) == (S.APPROVED_FOR_EXAM, DAY)
    concluded = app.pending_events[-1]
    assert isinstance(concluded, Application.ReviewConcluded)
    assert (concluded.decision, concluded.decided_by) == (E, "")


def test_a_return_sends_both_reviewers_comments_and_resubmission_goes_back_to_them() -> None:
    app = both(assign(submitted(), "r1", "r2"), E, R)
    assert app.state is S.RETURNED
    assert [(c.author, c.role, c.decision) for c in app.comments] == [
        ("r1", CommentAuthor.REVIEWER, E), ("r2", CommentAuthor.REVIEWER, R)]
    assert all(SECRET in c.comments for c in app.comments)
    app.resubmit(level_iii_evidence(), LOOKUP, response="added the transcript",
                 resubmitted_on=DAY, now=at(DAY))
    assert (app.state, app.response) == (S.IN_REVIEW, "added the transcript")
    # A new round: both decide again on the changed file.
    assert [s.decision for s in app.reviewers] == [None, None]
    assert app.round_comments == ()


def test_a_split_waits_for_the_coordinator() -> None:
    app = both(assign(submitted(), "r1", "r2"), E, X)
    assert app.state is S.IN_REVIEW
    with pytest.raises(DomainError) as raised:
        app.settle_split(X, settled_by="coord-1", comments="", decided_on=DAY, now=at(DAY))
    assert raised.value.rule == "review.reason_required"
    app.settle_split(X, settled_by="coord-1", comments=SECRET, decided_on=DAY, now=at(DAY))
    assert app.state is S.DENIED
    assert [c.role for c in app.comments] == [CommentAuthor.REVIEWER, CommentAuthor.REVIEWER,
                                              CommentAuthor.COORDINATOR]


def test_a_conflicted_reviewer_cannot_decide_and_is_replaced() -> None:
    app = assign(submitted(), "r1", "r2")
    app.declare_conflict(reviewer="r1", declared_on=DAY, note=SECRET, now=at(DAY))
    with pytest.raises(DomainError) as raised:
        app.decide(E, reviewer="r1", comments="", decided_on=DAY, now=at(DAY))
    assert raised.value.rule == "review.conflicted"
    with pytest.raises(DomainError) as raised:
        assign(app, "r1")
    assert raised.value.rule == "review.conflicted"
    app.decide(E, reviewer="r2", comments="", decided_on=DAY, now=at(DAY))
    assert app.state is S.IN_REVIEW  # one active reviewer: nothing concludes
    assign(app, "r3")
    app.decide(E, reviewer="r3", comments="", decided_on=DAY, now=at(DAY))
    assert app.state is S.APPROVED_FOR_EXAM


def test_a_conflict_declared_after_deciding_voids_the_decision() -> None:
    app = assign(submitted(), "r1", "r2")
    app.decide(X, reviewer="r1", comments=SECRET, decided_on=DAY, now=at(DAY))
    app.declare_conflict(reviewer="r1", declared_on=DAY, note="my cousin", now=at(DAY))
    assert app.round_comments == ()
    assign(app, "r3")
    app.decide(E, reviewer="r2", comments="", decided_on=DAY, now=at(DAY))
    app.decide(E, reviewer="r3", comments="", decided_on=DAY, now=at(DAY))
    assert app.state is S.APPROVED_FOR_EXAM


@pytest.mark.parametrize(("reviewer", "rule"), [
    ("r9", "review.not_assigned"), ("", "review.reviewer_required")])
def test_only_an_assigned_reviewer_decides(reviewer: str, rule: str) -> None:
    app = assign(submitted(), "r1", "r2")
    for decide in (lambda: app.decide(E, reviewer=reviewer, comments="", decided_on=DAY,
                                      now=at(DAY)),
                   # the old single-decision command follows the panel's rules as well
                   lambda: app.review(E, reviewer=reviewer, reason="", decided_on=DAY,
                                      now=at(DAY))):
        with pytest.raises(DomainError) as raised:
            decide()
        assert raised.value.rule == rule


@pytest.mark.parametrize(("decision", "comments", "rule"), [
    (R, " ", "review.reason_required"),
    (X, "", "review.reason_required"),
    (A, "", "review.unmet"),  # Level III: approval needs the exam passed
])
def test_decisions_the_rules_refuse(decision: ReviewDecision, comments: str, rule: str) -> None:
    app = assign(submitted(), "r1", "r2")
    with pytest.raises(DomainError) as raised:
        app.decide(decision, reviewer="r1", comments=comments, decided_on=DAY, now=at(DAY))
    assert raised.value.rule == rule


def test_an_exam_passed_before_review_is_approved_not_sent_to_the_exam_again() -> None:
    app = assign(submitted(exam=ExamResult(taken_on=D(2024, 12, 1), passed=True)), "r1", "r2")
    with pytest.raises(DomainError) as raised:
        app.decide(E, reviewer="r1", comments="", decided_on=DAY, now=at(DAY))
    assert raised.value.rule == "review.exam_passed"
    both(app, A, A)
    assert app.state is S.APPROVED


def test_level_ii_has_no_exam() -> None:
    app = Application.start(application_id=uuid.uuid4(), association="AK", person_id="p",
                            family_name="Roe", given_name="Rita", level=Level.IFS,
                            designation=None, started_on=DAY, now=at(DAY))
    assign(app, "r1", "r2")
    with pytest.raises(DomainError) as raised:
        app.decide(E, reviewer="r1", comments="", decided_on=DAY, now=at(DAY))
    assert raised.value.rule == "review.no_exam"
    with pytest.raises(DomainError) as raised:
        app.record_exam_sitting(sat_on=DAY, score=90, recorded_by="c", policy=POLICY,
                                lookup=LOOKUP, now=at(DAY))
    assert raised.value.rule == "exam.no_exam"


def test_evidence_submitted_in_review_restarts_the_round() -> None:
    app = assign(submitted(), "r1", "r2")
    app.decide(E, reviewer="r1", comments="fine", decided_on=DAY, now=at(DAY))
    app.submit_evidence(level_iii_evidence(), LOOKUP, submitted_on=DAY, now=at(DAY))
    assert [s.decision for s in app.reviewers] == [None, None]
    app.decide(E, reviewer="r2", comments="", decided_on=DAY, now=at(DAY))
    assert app.state is S.IN_REVIEW  # r1 must look again


@pytest.mark.parametrize(("command", "rule"), [
    (lambda a: a.assign_reviewers(("r1",), assigned_by=" ", assigned_on=DAY, now=at(DAY)),
     "account.required"),
    (lambda a: a.return_with_comments(returned_by="", comments="x", returned_on=DAY,
                                      now=at(DAY)), "account.required"),
    (lambda a: a.return_with_comments(returned_by="c", comments="  ", returned_on=DAY,
                                      now=at(DAY)), "return.comments_required"),
])
def test_staff_commands_name_the_account_and_a_return_its_comments(
        command: Callable[[Application], object], rule: str) -> None:
    with pytest.raises(DomainError) as raised:
        command(submitted())
    assert raised.value.rule == rule


def test_a_resubmission_carries_something() -> None:
    app = STATES["returned"]()
    with pytest.raises(DomainError) as raised:
        app.resubmit(None, LOOKUP, response=" ", resubmitted_on=DAY, now=at(DAY))
    assert raised.value.rule == "resubmit.nothing_changed"


def test_without_reviewers_a_return_comes_back_as_submitted() -> None:
    app = submitted()
    app.return_with_comments(returned_by="coord-1", comments="the transcript is missing",
                             returned_on=DAY, now=at(DAY))
    assert [c.comments for c in app.comments] == ["the transcript is missing"]
    app.resubmit(None, LOOKUP, response="sent it", resubmitted_on=DAY, now=at(DAY))
    assert app.state is S.OPEN


def test_the_single_decision_review_works_as_before_without_reviewers() -> None:
    app = submitted()
    app.review(R, reviewer="token-label", reason="sign the agreement", decided_on=DAY,
               now=at(DAY))
    event = app.pending_events[-1]
    assert isinstance(event, Application.Reviewed)
    assert app.state is S.RETURNED and app.comments[0].comments == "sign the agreement"
    app.submit_evidence(level_iii_evidence(), LOOKUP, submitted_on=DAY, now=at(DAY))
    assert app.state is S.OPEN  # resubmitted, as before


# -- exam ------------------------------------------------------------------------------------


def test_a_passed_sitting_meets_the_exam_and_the_grant_follows() -> None:
    app = STATES["approved_for_exam"]()
    assert {u.code for u in app.unmet} == {"exam.passed"}
    with pytest.raises(DomainError) as raised:
        app.mark_granted("AK-1", granted_on=DAY, now=at(DAY))
    assert raised.value.rule == "grant.not_approved"
    sit(app, 70, D(2025, 2, 1))
    assert (app.state, app.unmet, app.evidence.exam) == (
        S.EXAM_PASSED, (), ExamResult(taken_on=D(2025, 2, 1), passed=True, score=70))
    app.mark_granted("AK-1", granted_on=DAY, now=at(DAY))
    assert app.state is S.GRANTED


def test_failed_sittings_retake_after_the_wait_and_the_last_failure_denies() -> None:
    app = STATES["approved_for_exam"]()
    sit(app, 40, D(2025, 2, 1))
    assert (app.state, app.exam_sittings[-1].retake_from) == (S.EXAM_FAILED, D(2025, 3, 3))
    with pytest.raises(DomainError) as raised:
        sit(app, 90, D(2025, 3, 2))
    assert raised.value.rule == "exam.retake_too_soon"
    sit(app, 60, D(2025, 3, 3))
    sit(app, 69, D(2025, 4, 2))
    assert app.state is S.DENIED
    assert [s.attempt for s in app.exam_sittings] == [1, 2, 3]


def test_an_exam_sitting_cannot_predate_the_approval_for_it() -> None:
    app = STATES["approved_for_exam"]()
    with pytest.raises(DomainError) as raised:
        sit(app, 90, D(2025, 1, 5))
    assert raised.value.rule == "exam.before_approval"


def test_after_a_sitting_the_evidence_cannot_claim_another_exam() -> None:
    app = STATES["exam_failed"]()
    claimed = level_iii_evidence(exam=ExamResult(taken_on=DAY, passed=True, score=100))
    unmet = app.submit_evidence(claimed, LOOKUP, submitted_on=DAY, now=at(DAY))
    assert "exam.passed" in {u.code for u in unmet}
    assert app.evidence.exam == ExamResult(taken_on=D(2025, 2, 1), passed=False, score=50)


def test_submitting_a_draft_writes_the_application_and_its_evidence_together() -> None:
    app = submitted()
    started, evidence = app.pending_events
    assert isinstance(started, Application.Started)
    assert isinstance(evidence, Application.EvidenceSubmitted)
    assert (app.version, app.state, app.started_on) == (2, S.OPEN, D(2025, 1, 2))
    assert app.unmet != NO_EVIDENCE


# -- what is public ----------------------------------------------------------------------------


def _every_new_event() -> list[Any]:
    app = both(assign(submitted(), "r1", "r2"), R, E)
    app.declare_conflict(reviewer="r2", declared_on=DAY, note=SECRET, now=at(DAY))
    app.resubmit(None, LOOKUP, response=SECRET, resubmitted_on=DAY, now=at(DAY))
    assign(app, "r3", on=DAY)
    both_new = D(2025, 3, 4)
    app.decide(E, reviewer="r1", comments=SECRET, decided_on=both_new, now=at(both_new))
    app.decide(X, reviewer="r3", comments=SECRET, decided_on=both_new, now=at(both_new))
    app.settle_split(E, settled_by="coord-1", comments=SECRET, decided_on=both_new,
                     now=at(both_new))
    sit(app, 12.25, D(2025, 3, 10))
    other = submitted()
    other.return_with_comments(returned_by="coord-1", comments=SECRET, returned_on=DAY,
                               now=at(DAY))
    return [*app.collect_events(), *other.collect_events()]


def test_comments_notes_responses_and_scores_never_reach_the_public_payload() -> None:
    events = _every_new_event()
    kinds = {type(e).__name__ for e in events}
    assert {"ReviewersAssigned", "ReviewerConflictDeclared", "ReviewerDecided",
            "ReviewConcluded", "Returned", "Resubmitted", "ExamSittingRecorded"} <= kinds
    for event in events:
        public, private = public_and_private(event)
        assert SECRET.encode() not in public, type(event).__name__
        fields = msgspec.msgpack.decode(public)
        assert "score" not in fields and "pass_mark" not in fields
        if isinstance(event, Application.ExamSittingRecorded):
            assert fields["passed"] is False and fields["sat_on"] == "2025-03-10"
            assert private is not None and msgspec.msgpack.decode(private) == {
                "score": 12.25, "pass_mark": 70.0}
        if isinstance(event, (Application.ReviewerDecided, Application.ReviewersAssigned)):
            assert {"reviewer", "reviewers"} & set(fields)  # the opaque account id is public


# -- the projection replays the same machine from public payloads --------------------------------


class _Ledger:
    def __init__(self) -> None:
        self.seq = 0

    def entries(self, events: list[Any]) -> list[DecodedEntry]:
        out = []
        for event in events:
            self.seq += 1
            public, _ = public_and_private(event)
            body = EntryBody(association="AK", seq=self.seq, prev_hash=bytes(32),
                             recorded_at=event.timestamp, event_type=event_type_of(type(event)),
                             schema_version=1, aggregate_id=str(event.originator_id),
                             aggregate_version=event.originator_version, payload=public,
                             commitment=b"", key_id="k")
            out.append(DecodedEntry(association="AK", seq=self.seq, event_type=body.event_type,
                                    aggregate_id=body.aggregate_id,
                                    payload=decode_payload(body)))
        return out


def project(events: list[Any]) -> ApplicationRow:
    """The pipeline row the projections build from these events' public payloads."""
    row: ApplicationRow | None = None
    for entry in _Ledger().entries(events):
        row = apply_application(row, entry)
    assert row is not None
    return row


def assert_projected_as(app: Application, row: ApplicationRow) -> None:
    assert (row.state, row.unmet, row.reviewers) == (app.state, app.unmet, app.reviewers)
    assert row.exam_sittings == tuple(msgspec.structs.replace(s, score=None, pass_mark=None)
                                      for s in app.exam_sittings)


# The commands that move an application along come up more often than those that close it.
_KINDS = ["assign"] * 4 + ["decide"] * 5 + ["conflict", "settle", "return", "resubmit",
                                               "resubmit", "sit", "sit", "sit", "submit",
                                               "review", "withdraw", "grant"]
_STEPS = st.lists(st.tuples(
    st.sampled_from(_KINDS), st.sampled_from(["r1", "r2", "r3"]),
    st.sampled_from([E, E, A, R, R, X]), st.floats(0, 100), st.integers(0, 40)),
    max_size=30)


def _run(app: Application, kind: str, who: str, decision: ReviewDecision, score: float,
         day: dt.date) -> None:
    now = at(day)
    if kind == "assign":
        app.assign_reviewers((who,), assigned_by="c", assigned_on=day, now=now)
    elif kind == "conflict":
        app.declare_conflict(reviewer=who, declared_on=day, note="n", now=now)
    elif kind == "decide":
        app.decide(decision, reviewer=who, comments="c", decided_on=day, now=now)
    elif kind == "settle":
        app.settle_split(decision, settled_by="c", comments="c", decided_on=day, now=now)
    elif kind == "return":
        app.return_with_comments(returned_by="c", comments="c", returned_on=day, now=now)
    elif kind == "resubmit":
        app.resubmit(None, LOOKUP, response="r", resubmitted_on=day, now=now)
    elif kind == "sit":
        app.record_exam_sitting(sat_on=day, score=score, recorded_by="c", policy=POLICY,
                                lookup=LOOKUP, now=now)
    elif kind == "submit":
        app.submit_evidence(level_iii_evidence(), LOOKUP, submitted_on=day, now=now)
    elif kind == "review":
        app.review(decision, reviewer=who, reason="r", decided_on=day, now=now)
    elif kind == "withdraw":
        app.withdraw(withdrawn_on=day, reason="", now=now)
    else:
        app.mark_granted("AK-1", granted_on=day, now=now)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_STEPS, level=st.sampled_from([Level.IFS, Level.IMHS]))
def test_the_projection_follows_the_aggregate(
        steps: list[tuple[str, str, ReviewDecision, float, int]], level: Level) -> None:
    ledger = _Ledger()
    app = Application.submit(application_id=uuid.uuid4(), association="AK", person_id="p",
                             family_name="Roe", given_name="Rita", level=level,
                             designation=None, evidence=level_iii_evidence(), lookup=LOOKUP,
                             submitted_on=D(2025, 1, 2), now=at(D(2025, 1, 2)))
    row: ApplicationRow | None = None
    day = D(2025, 1, 2)
    for kind, who, decision, score, advance in steps:
        day += dt.timedelta(days=advance)
        with contextlib.suppress(DomainError, RequirementsUnmet):
            _run(app, kind, who, decision, score, day)
        for entry in ledger.entries(list(app.collect_events())):
            row = apply_application(row, entry)
        assert row is not None
        assert_projected_as(app, row)
