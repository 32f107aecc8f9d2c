"""The Application aggregate: an applicant's file from first submission to decision.

The state machine (shown to staff, and later to applicants, in the words of
`domain.progress`):

    (draft, private store only) --submit--> open ("submitted")
    open --assign reviewers--> in_review
    open | in_review --coordinator returns with comments--> returned
    in_review --both reviewers decide--> approved | approved_for_exam | returned | denied
    in_review --split decision, coordinator settles--> (any of those four)
    returned --resubmitted (or evidence submitted)--> in_review (reviewers assigned) | open
    approved_for_exam | exam_failed --sitting recorded--> exam_passed | exam_failed | denied
    approved | exam_passed --grant--> granted
    any state but denied, withdrawn, granted --withdraw--> withdrawn

A draft is not a ledger event: it lives in the association's private store until the
applicant or coordinator submits it, so the public ledger never holds a half-typed
application. `ApplicationStarted` stays the first event and means "submitted" (old ledgers
begin with it, and the codec, the projections and the one-standing checks key on it); a
submission from a draft writes it together with the evidence in one command (`submit`).

Ledgers sealed before the two-reviewer workflow project and verify unchanged: every event
kept its topic and fields, "open" (from before any reviewer is assigned) reads as
"submitted", and the single-decision `review` still decides an application that has no
assigned reviewers. Once reviewers are assigned, `review` is the reviewer's `decide`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any, ClassVar

import msgspec
from eventsourcing.domain import Aggregate

from domain import review as panel
from domain.checklist import EVIDENCE_MISSING
from domain.errors import InvalidCommand, InvalidTransition, RequirementsUnmet
from domain.evidence import ApplicationEvidence
from domain.exam import ExamSitting, exam_result, next_sitting
from domain.levels import DegreeKind, Designation, Level, ReviewDecision
from domain.lookup import EndorsementLookup
from domain.policy import AssociationPolicy
from domain.requirements import evaluate_application
from domain.review import CommentAuthor, PanelOutcome, ReviewComment, Seat
from domain.unmet import Unmet


class ApplicationState(StrEnum):
    """Where an application stands in the review workflow (the values are on the ledger's
    projections; none is ever renamed)."""

    OPEN = "open"  # submitted; no reviewers assigned yet (shown as "submitted")
    IN_REVIEW = "in_review"  # reviewers assigned; waiting on their decisions
    RETURNED = "returned"  # returned with comments; the applicant resubmits
    APPROVED_FOR_EXAM = "approved_for_exam"
    EXAM_PASSED = "exam_passed"
    EXAM_FAILED = "exam_failed"  # failed, with a retake allowed
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    GRANTED = "granted"


DECISION_STATE = {
    ReviewDecision.APPROVE: ApplicationState.APPROVED,
    ReviewDecision.RETURN_FOR_MORE: ApplicationState.RETURNED,
    ReviewDecision.DENY: ApplicationState.DENIED,
    ReviewDecision.APPROVE_FOR_EXAM: ApplicationState.APPROVED_FOR_EXAM,
}


def state_after_resubmission(seats: tuple[Seat, ...]) -> ApplicationState:
    """Where a returned application goes when it comes back: to its reviewers, if any."""
    return ApplicationState.IN_REVIEW if panel.active(seats) else ApplicationState.OPEN


def state_after_sitting(passed: bool, retake_from: dt.date | None) -> ApplicationState:
    """Where an exam sitting leaves the application (a failed last attempt denies it)."""
    if passed:
        return ApplicationState.EXAM_PASSED
    return ApplicationState.EXAM_FAILED if retake_from is not None else ApplicationState.DENIED


# Until the first submission an application lacks everything; saying so keeps an empty
# application from being approved, and projections show the same thing from the start.
NO_EVIDENCE = (Unmet(code=EVIDENCE_MISSING, field="evidence",
                     reason="No evidence has been submitted yet."),)

CLOSED_STATES = frozenset({ApplicationState.DENIED, ApplicationState.WITHDRAWN,
                           ApplicationState.GRANTED})
# Decided, waiting only for the grant: the evidence the decision rests on no longer changes.
_DECIDED = frozenset({ApplicationState.APPROVED, ApplicationState.EXAM_PASSED})
_REVIEWABLE = frozenset({ApplicationState.OPEN, ApplicationState.IN_REVIEW,
                         ApplicationState.RETURNED})
_EXAM_DUE = frozenset({ApplicationState.APPROVED_FOR_EXAM, ApplicationState.EXAM_FAILED})


def check_level_designation(level: Level, designation: Designation | None) -> None:
    """Level IV needs exactly one designation; levels I-III carry none."""
    if level is Level.IMHM and designation is None:
        raise InvalidCommand("Level IV (IMHM) needs a designation: C, P or RF",
                             field="designation", rule="designation.required")
    if level is not Level.IMHM and designation is not None:
        raise InvalidCommand(f"level {level} carries no designation",
                             field="designation", rule="designation.forbidden")


class Application(Aggregate):
    """An application for one level (and designation) by one person to one association."""

    TOPIC = "alliance:Application"

    class Event(Aggregate.Event):
        """Base of application events; PRIVATE_FIELDS never leave the node's private store."""

        TOPIC = "alliance:Application.Event"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()

    class Started(Aggregate.Created):
        """ApplicationStarted: who applies for what, where.

        The applicant's date of birth is private (DESIGN invariant 7): it stays in the
        association's store, where it tells two person ids of one applicant apart from two
        namesakes; the ledger carries only the salted commitment to it. Added after the first
        entries were sealed, as an optional field with a default, so older entries and
        stored events (without it) decode and verify unchanged at schema version 1.
        """

        TOPIC = "alliance:ApplicationStarted"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"birth_date"})
        association: str
        person_id: str
        family_name: str
        given_name: str
        level: Level
        designation: Designation | None
        started_on: dt.date
        birth_date: dt.date | None = None

    def __init__(self, association: str, person_id: str, family_name: str, given_name: str,
                 level: Level, designation: Designation | None, started_on: dt.date,
                 birth_date: dt.date | None = None) -> None:
        self.association = association
        self.person_id = person_id
        self.family_name = family_name
        self.given_name = given_name
        self.level = level
        self.designation = designation
        self.started_on = started_on
        self.birth_date = birth_date
        self.state = ApplicationState.OPEN
        self.evidence = ApplicationEvidence()
        self.unmet: tuple[Unmet, ...] = NO_EVIDENCE
        self.vetted_rater_ids: tuple[str, ...] = ()
        self.endorsement_id: str | None = None
        self.reviewers: tuple[Seat, ...] = ()
        # Private: the current round's reviewer comments, and those the applicant was last
        # sent (with a return, a denial or an approval).
        self.round_comments: tuple[ReviewComment, ...] = ()
        self.comments: tuple[ReviewComment, ...] = ()
        self.response = ""  # the applicant's answer to the comments, with the resubmission
        self.approved_for_exam_on: dt.date | None = None
        self.exam_sittings: tuple[ExamSitting, ...] = ()

    @classmethod
    def start(cls, *, application_id: uuid.UUID, association: str, person_id: str,
              family_name: str, given_name: str, level: Level,
              designation: Designation | None, started_on: dt.date,
              now: dt.datetime, birth_date: dt.date | None = None) -> Application:
        """Open an application; the evidence follows in submissions."""
        check_level_designation(level, designation)
        for name, value in (("person_id", person_id), ("family_name", family_name),
                            ("given_name", given_name)):
            if not value.strip():
                raise InvalidCommand(f"{name} must not be empty", field=name, rule="required")
        earliest = started_on.replace(year=max(1, started_on.year - 120),
                                      day=min(started_on.day, 28))
        if birth_date is not None and not earliest <= birth_date <= started_on:
            raise InvalidCommand("birth_date must be a date of birth of a living applicant, "
                                 "before the application started", field="birth_date",
                                 rule="birth_date.range")
        return cls._create(cls.Started, id=application_id, timestamp=now,
                           association=association, person_id=person_id,
                           family_name=family_name.strip(), given_name=given_name.strip(),
                           level=level, designation=designation, started_on=started_on,
                           birth_date=birth_date)

    @classmethod
    def submit(cls, *, application_id: uuid.UUID, association: str, person_id: str,
               family_name: str, given_name: str, level: Level,
               designation: Designation | None, evidence: ApplicationEvidence,
               lookup: EndorsementLookup, submitted_on: dt.date, now: dt.datetime,
               birth_date: dt.date | None = None) -> Application:
        """Submit a finished draft: the application and its evidence, as one command, so
        the ledger shows a submitted application whole, never a half-typed one."""
        application = cls.start(application_id=application_id, association=association,
                                person_id=person_id, family_name=family_name,
                                given_name=given_name, level=level, designation=designation,
                                started_on=submitted_on, now=now, birth_date=birth_date)
        application.submit_evidence(evidence, lookup, submitted_on=submitted_on, now=now)
        return application

    # -- evidence ---------------------------------------------------------------------------

    class EvidenceSubmitted(Event):
        """ApplicationEvidenceSubmitted: the whole evidence replaced, and what it leaves unmet."""

        TOPIC = "alliance:ApplicationEvidenceSubmitted"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"evidence"})
        evidence: ApplicationEvidence
        unmet: tuple[Unmet, ...]
        submitted_on: dt.date

        def apply(self, aggregate: Any) -> None:
            aggregate.evidence = self.evidence
            aggregate.unmet = self.unmet
            # Submitting while returned is the resubmission (as before the two-reviewer
            # workflow); while in review, the reviewers look again at the changed file.
            if aggregate.state is ApplicationState.RETURNED:
                aggregate.state = state_after_resubmission(aggregate.reviewers)
                aggregate._new_round()
            elif aggregate.state is ApplicationState.IN_REVIEW:
                aggregate._new_round()

    def submit_evidence(self, evidence: ApplicationEvidence, lookup: EndorsementLookup,
                        *, submitted_on: dt.date, now: dt.datetime) -> tuple[Unmet, ...]:
        """Replace the evidence, evaluate it, and record what is still unmet.

        While in review this starts a new round: each reviewer decides again on the changed
        file. Once an exam sitting is recorded, the exam comes from the sittings, whatever
        the submission says (as vetting comes from the coordinator's vetting events).
        """
        self._require_open("submit evidence")
        evidence = self._with_recorded(evidence, self.vetted_rater_ids)
        unmet = evaluate_application(self.level, self.designation, evidence, lookup)
        self.trigger_event(self.EvidenceSubmitted, timestamp=now, evidence=evidence,
                           unmet=unmet, submitted_on=submitted_on)
        return unmet

    class RaterVetted(Event):
        """RaterVetted: the coordinator vetted a reference rater who is not endorsed."""

        TOPIC = "alliance:RaterVetted"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        rater_id: str
        vetted_by: str
        vetted_on: dt.date
        note: str
        unmet: tuple[Unmet, ...]

        def apply(self, aggregate: Any) -> None:
            aggregate.vetted_rater_ids = (*aggregate.vetted_rater_ids, self.rater_id)
            aggregate.evidence = aggregate._with_recorded(aggregate.evidence,
                                                          aggregate.vetted_rater_ids)
            aggregate.unmet = self.unmet

    def vet_rater(self, rater_id: str, lookup: EndorsementLookup, *, vetted_by: str,
                  vetted_on: dt.date, note: str, now: dt.datetime) -> tuple[Unmet, ...]:
        """Record the coordinator's vetting of a rater, and re-evaluate."""
        self._require_open("vet a rater")
        if rater_id not in {r.rater_id for r in self.evidence.ratings}:
            raise InvalidCommand("rater_id names no rater of this application",
                                 field="rater_id", rule="rater.unknown")
        if rater_id in self.vetted_rater_ids:
            raise InvalidTransition("rater already vetted", field="rater_id",
                                    rule="rater.already_vetted")
        evidence = self._with_recorded(self.evidence, (*self.vetted_rater_ids, rater_id))
        unmet = evaluate_application(self.level, self.designation, evidence, lookup)
        self.trigger_event(self.RaterVetted, timestamp=now, rater_id=rater_id,
                           vetted_by=vetted_by, vetted_on=vetted_on, note=note, unmet=unmet)
        return unmet

    # -- review -------------------------------------------------------------------------------

    class Reviewed(Event):
        """ApplicationReviewed: a reviewer's decision, with the reason.

        The single-decision review of an application without assigned reviewers (the only
        kind before the two-reviewer workflow). Its reason is public, as it always was; the
        two-reviewer events keep comments private.
        """

        TOPIC = "alliance:ApplicationReviewed"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        decision: ReviewDecision
        reviewer: str
        reason: str
        decided_on: dt.date

        def apply(self, aggregate: Any) -> None:
            comment = ReviewComment(author=self.reviewer, role=CommentAuthor.REVIEWER,
                                    comments=self.reason, written_on=self.decided_on,
                                    decision=self.decision)
            aggregate._conclude(self.decision, self.decided_on, (comment,))

    def review(self, decision: ReviewDecision, *, reviewer: str, reason: str,
               decided_on: dt.date, now: dt.datetime) -> None:
        """Record a review decision; approval needs every requirement met.

        An application with assigned reviewers is decided by them: there this is `decide`,
        with `reason` as the reviewer's (private) comments, under the panel's rules.
        """
        if self.reviewers:
            self.decide(decision, reviewer=reviewer, comments=reason, decided_on=decided_on,
                        now=now)
            return
        self._require_open("review")
        self._check_decision(decision, reason)
        self.trigger_event(self.Reviewed, timestamp=now, decision=decision, reviewer=reviewer,
                           reason=reason, decided_on=decided_on)

    class ReviewersAssigned(Event):
        """ApplicationReviewersAssigned: the coordinator put reviewers on the panel (two at
        first; one more in the place of a reviewer who declared a conflict)."""

        TOPIC = "alliance:ApplicationReviewersAssigned"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        reviewers: tuple[str, ...]  # staff account ids, never names
        assigned_by: str
        assigned_on: dt.date

        def apply(self, aggregate: Any) -> None:
            aggregate.reviewers = panel.assigned(aggregate.reviewers, self.reviewers,
                                                 self.assigned_on)
            if aggregate.state is ApplicationState.OPEN:
                aggregate.state = ApplicationState.IN_REVIEW

    def assign_reviewers(self, reviewers: tuple[str, ...], *, assigned_by: str,
                         assigned_on: dt.date, now: dt.datetime) -> None:
        """Assign reviewers (staff account ids) while the application is submitted, in
        review or returned; at most two without a declared conflict."""
        if self.state not in _REVIEWABLE:
            raise InvalidTransition(f"reviewers are assigned while an application is "
                                    f"submitted, in review or returned; this one is "
                                    f"{self.state}", field="state", rule="review.not_open")
        _check_account(assigned_by, "assigned_by")
        panel.check_assignment(self.reviewers, reviewers)
        self.trigger_event(self.ReviewersAssigned, timestamp=now, reviewers=tuple(reviewers),
                           assigned_by=assigned_by, assigned_on=assigned_on)

    class ReviewerConflictDeclared(Event):
        """ApplicationReviewerConflictDeclared: a reviewer stepped aside; why is private."""

        TOPIC = "alliance:ApplicationReviewerConflictDeclared"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"note"})
        reviewer: str
        declared_on: dt.date
        note: str

        def apply(self, aggregate: Any) -> None:
            aggregate.reviewers = panel.with_conflict(aggregate.reviewers, self.reviewer,
                                                      self.declared_on)
            aggregate.round_comments = tuple(c for c in aggregate.round_comments
                                             if c.author != self.reviewer)

    def declare_conflict(self, *, reviewer: str, declared_on: dt.date, note: str,
                         now: dt.datetime) -> None:
        """A reviewer declares a conflict of interest: they leave the panel, any decision of
        theirs in this round is void, and the coordinator assigns another reviewer."""
        if self.state not in (ApplicationState.IN_REVIEW, ApplicationState.RETURNED):
            raise InvalidTransition(f"a conflict is declared while the application is in "
                                    f"review or returned; this one is {self.state}",
                                    field="state", rule="review.not_in_review")
        panel.check_on_panel(self.reviewers, reviewer)
        self.trigger_event(self.ReviewerConflictDeclared, timestamp=now, reviewer=reviewer,
                           declared_on=declared_on, note=note)

    class ReviewerDecided(Event):
        """ApplicationReviewerDecided: one reviewer's decision (public) and comments
        (private: they go to the applicant, not to the Alliance)."""

        TOPIC = "alliance:ApplicationReviewerDecided"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"comments"})
        reviewer: str
        decision: ReviewDecision
        decided_on: dt.date
        comments: str

        def apply(self, aggregate: Any) -> None:
            aggregate.reviewers = panel.with_decision(aggregate.reviewers, self.reviewer,
                                                      self.decision, self.decided_on)
            aggregate.round_comments = (*aggregate.round_comments, ReviewComment(
                author=self.reviewer, role=CommentAuthor.REVIEWER, comments=self.comments,
                written_on=self.decided_on, decision=self.decision))

    class ReviewConcluded(Event):
        """ApplicationReviewConcluded: what the panel's two decisions add up to, or how the
        coordinator settled a split (`decided_by` empty when the reviewers agreed)."""

        TOPIC = "alliance:ApplicationReviewConcluded"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"comments"})
        decision: ReviewDecision
        decided_on: dt.date
        decided_by: str
        comments: str

        def apply(self, aggregate: Any) -> None:
            sent = aggregate.round_comments
            if self.decided_by:
                sent = (*sent, ReviewComment(author=self.decided_by,
                                             role=CommentAuthor.COORDINATOR,
                                             comments=self.comments, written_on=self.decided_on,
                                             decision=self.decision))
            aggregate._conclude(self.decision, self.decided_on, sent)

    def decide(self, decision: ReviewDecision, *, reviewer: str, comments: str,
               decided_on: dt.date, now: dt.datetime) -> PanelOutcome:
        """An assigned reviewer's decision; once both reviewers have decided, the outcome
        concludes the review in the same command (a split waits for the coordinator)."""
        if self.state is not ApplicationState.IN_REVIEW:
            raise InvalidTransition(f"reviewers decide while the application is in review; "
                                    f"this one is {self.state}", field="state",
                                    rule="review.not_in_review")
        panel.check_undecided(panel.check_on_panel(self.reviewers, reviewer))
        self._check_decision(decision, comments, panel_rules=True)
        self.trigger_event(self.ReviewerDecided, timestamp=now, reviewer=reviewer,
                           decision=decision, decided_on=decided_on, comments=comments)
        result = panel.outcome(self.reviewers)
        if result.decision is not None:
            self.trigger_event(self.ReviewConcluded, timestamp=now, decision=result.decision,
                               decided_on=decided_on, decided_by="", comments="")
        return result

    def settle_split(self, decision: ReviewDecision, *, settled_by: str, comments: str,
                     decided_on: dt.date, now: dt.datetime) -> None:
        """The coordinator's decision where one reviewer approved and the other denied."""
        if self.state is not ApplicationState.IN_REVIEW or (
                panel.outcome(self.reviewers) is not PanelOutcome.SPLIT):
            raise InvalidTransition("the coordinator settles a review only where the two "
                                    "reviewers disagree (one approves, one denies)",
                                    field="state", rule="review.not_split")
        _check_account(settled_by, "settled_by")
        self._check_decision(decision, comments, panel_rules=True)
        self.trigger_event(self.ReviewConcluded, timestamp=now, decision=decision,
                           decided_on=decided_on, decided_by=settled_by, comments=comments)

    class Returned(Event):
        """ApplicationReturned: the coordinator returned the application with comments
        (private) for the applicant, e.g. a missing transcript before review."""

        TOPIC = "alliance:ApplicationReturned"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"comments"})
        returned_by: str
        returned_on: dt.date
        comments: str

        def apply(self, aggregate: Any) -> None:
            aggregate.state = ApplicationState.RETURNED
            aggregate.comments = (ReviewComment(
                author=self.returned_by, role=CommentAuthor.COORDINATOR, comments=self.comments,
                written_on=self.returned_on, decision=ReviewDecision.RETURN_FOR_MORE),)

    def return_with_comments(self, *, returned_by: str, comments: str, returned_on: dt.date,
                             now: dt.datetime) -> None:
        """Return a submitted or in-review application to the applicant with comments."""
        if self.state not in (ApplicationState.OPEN, ApplicationState.IN_REVIEW):
            raise InvalidTransition(f"an application is returned while submitted or in "
                                    f"review; this one is {self.state}", field="state",
                                    rule="return.not_returnable")
        _check_account(returned_by, "returned_by")
        if not comments.strip():
            raise InvalidCommand("a return needs comments for the applicant", field="comments",
                                 rule="return.comments_required")
        self.trigger_event(self.Returned, timestamp=now, returned_by=returned_by,
                           returned_on=returned_on, comments=comments)

    class Resubmitted(Event):
        """ApplicationResubmitted: the applicant answered the comments (privately); the
        application goes back to its reviewers, who decide afresh."""

        TOPIC = "alliance:ApplicationResubmitted"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"response"})
        resubmitted_on: dt.date
        response: str

        def apply(self, aggregate: Any) -> None:
            aggregate.state = state_after_resubmission(aggregate.reviewers)
            aggregate.response = self.response
            aggregate._new_round()

    def resubmit(self, evidence: ApplicationEvidence | None, lookup: EndorsementLookup, *,
                 response: str, resubmitted_on: dt.date, now: dt.datetime) -> tuple[Unmet, ...]:
        """Answer a return: the response to the comments and/or the changed evidence (None:
        unchanged), as one command; back to review (or to "submitted" without reviewers)."""
        if self.state is not ApplicationState.RETURNED:
            raise InvalidTransition(f"only a returned application is resubmitted; this one is "
                                    f"{self.state}", field="state", rule="resubmit.not_returned")
        if evidence is None and not response.strip():
            raise InvalidCommand("a resubmission carries changed evidence or a response to the "
                                 "comments", field="response", rule="resubmit.nothing_changed")
        self.trigger_event(self.Resubmitted, timestamp=now, resubmitted_on=resubmitted_on,
                           response=response)
        if evidence is not None:
            return self.submit_evidence(evidence, lookup, submitted_on=resubmitted_on, now=now)
        return self.unmet

    def _check_decision(self, decision: ReviewDecision, reason: str, *,
                        panel_rules: bool = False) -> None:
        """What any decision needs: a reason to return or deny; every requirement met to
        approve; for the exam, a level with one and everything else met."""
        if decision in (ReviewDecision.DENY, ReviewDecision.RETURN_FOR_MORE) and not reason.strip():
            raise InvalidCommand(f"a '{decision}' decision needs a reason", field="reason",
                                 rule="review.reason_required")
        if decision is ReviewDecision.APPROVE and self.unmet:
            raise RequirementsUnmet("requirements are unmet", self.unmet, rule="review.unmet")
        if decision is ReviewDecision.APPROVE_FOR_EXAM:
            if not self.level.requires_exam:
                raise InvalidCommand(f"level {self.level} has no exam", field="decision",
                                     rule="review.no_exam")
            rest = tuple(u for u in self.unmet if not u.code.startswith("exam"))
            if rest:
                raise RequirementsUnmet("requirements other than the exam are unmet", rest,
                                        rule="review.unmet")
            # The two-reviewer workflow never sends a passed exam back to be sat again.
            if panel_rules and rest == self.unmet:
                raise InvalidCommand("the written exam is passed already; approve instead",
                                     field="decision", rule="review.exam_passed")

    def _conclude(self, decision: ReviewDecision, decided_on: dt.date,
                  comments: tuple[ReviewComment, ...]) -> None:
        """Apply a review's conclusion (from an event): its state, and what the applicant is
        sent. Not a command: it records nothing."""
        self.state = DECISION_STATE[decision]
        self.comments = comments
        if decision is ReviewDecision.APPROVE_FOR_EXAM:
            self.approved_for_exam_on = decided_on

    def _new_round(self) -> None:
        """Clear the reviewers' decisions (from an event): the file changed since."""
        self.reviewers = panel.new_round(self.reviewers)
        self.round_comments = ()

    # -- exam (levels III and IV) -------------------------------------------------------------

    class ExamSittingRecorded(Event):
        """ApplicationExamSittingRecorded: a sitting of the written exam. Public: the date,
        the attempt, passed or not, the earliest retake; private: the score and pass mark."""

        TOPIC = "alliance:ApplicationExamSittingRecorded"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"score", "pass_mark"})
        attempt: int
        sat_on: dt.date
        passed: bool
        retake_from: dt.date | None
        recorded_by: str
        score: float
        pass_mark: float
        unmet: tuple[Unmet, ...]

        def apply(self, aggregate: Any) -> None:
            aggregate.exam_sittings = (*aggregate.exam_sittings, ExamSitting(
                attempt=self.attempt, sat_on=self.sat_on, passed=self.passed,
                retake_from=self.retake_from, score=self.score, pass_mark=self.pass_mark))
            aggregate.evidence = aggregate._with_recorded(aggregate.evidence,
                                                          aggregate.vetted_rater_ids)
            aggregate.unmet = self.unmet
            aggregate.state = state_after_sitting(self.passed, self.retake_from)

    def record_exam_sitting(self, *, sat_on: dt.date, score: float, recorded_by: str,
                            policy: AssociationPolicy, lookup: EndorsementLookup,
                            now: dt.datetime) -> ExamSitting:
        """Record a sitting of an application approved for the exam (or a retake after a
        failure), scored against the association's pass mark; re-evaluates the evidence."""
        if not self.level.requires_exam:
            raise InvalidCommand(f"level {self.level} has no exam", field="level",
                                 rule="exam.no_exam")
        if self.state not in _EXAM_DUE:
            raise InvalidTransition(f"the exam is sat once the application is approved for "
                                    f"it; this one is {self.state}", field="state",
                                    rule="exam.not_approved")
        _check_account(recorded_by, "recorded_by")
        sitting = next_sitting(policy, self.exam_sittings, approved_on=self.approved_for_exam_on,
                               sat_on=sat_on, score=score)
        evidence = msgspec.structs.replace(
            self.evidence, exam=exam_result((*self.exam_sittings, sitting)))
        unmet = evaluate_application(self.level, self.designation, evidence, lookup)
        assert sitting.score is not None and sitting.pass_mark is not None
        self.trigger_event(self.ExamSittingRecorded, timestamp=now, attempt=sitting.attempt,
                           sat_on=sitting.sat_on, passed=sitting.passed,
                           retake_from=sitting.retake_from, recorded_by=recorded_by,
                           score=sitting.score, pass_mark=sitting.pass_mark, unmet=unmet)
        return sitting

    class Withdrawn(Event):
        """ApplicationWithdrawn: the applicant withdrew."""

        TOPIC = "alliance:ApplicationWithdrawn"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        withdrawn_on: dt.date
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.state = ApplicationState.WITHDRAWN

    def withdraw(self, *, withdrawn_on: dt.date, reason: str, now: dt.datetime) -> None:
        """Close the application at the applicant's request."""
        if self.state in CLOSED_STATES:
            raise InvalidTransition(f"application is {self.state}", field="state",
                                    rule="application.closed")
        self.trigger_event(self.Withdrawn, timestamp=now, withdrawn_on=withdrawn_on,
                           reason=reason)

    class Granted(Event):
        """ApplicationGranted: the approved application became an endorsement."""

        TOPIC = "alliance:ApplicationGranted"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        endorsement_id: str
        granted_on: dt.date

        def apply(self, aggregate: Any) -> None:
            aggregate.state = ApplicationState.GRANTED
            aggregate.endorsement_id = self.endorsement_id

    def mark_granted(self, endorsement_id: str, *, granted_on: dt.date, now: dt.datetime) -> None:
        """Close an approved application (levels III and IV: its exam passed) once its
        endorsement exists."""
        if self.state not in _DECIDED:
            raise InvalidTransition(f"only an approved application (or, for levels III and "
                                    f"IV, one whose exam is passed) can be granted; this one "
                                    f"is {self.state}", field="state", rule="grant.not_approved")
        if self.unmet:
            raise RequirementsUnmet("requirements are unmet", self.unmet, rule="grant.unmet")
        self.trigger_event(self.Granted, timestamp=now, endorsement_id=endorsement_id,
                           granted_on=granted_on)

    @property
    def masters_prepared(self) -> bool:
        """Whether the applicant's own evidence shows a Master's or doctorate whose official
        transcript arrived: what a Level II grant records of its holder (for the RS/C
        provider rule, DOMAIN.md Level II)."""
        return any(d.kind in (DegreeKind.MASTER, DegreeKind.DOCTORATE) and d.transcript_received
                   for d in self.evidence.degrees)

    def _require_open(self, action: str) -> None:
        if self.state in CLOSED_STATES or self.state in _DECIDED:
            raise InvalidTransition(f"cannot {action}: application is {self.state}",
                                    field="state", rule="application.closed")

    def _with_recorded(self, evidence: ApplicationEvidence,
                       vetted: tuple[str, ...]) -> ApplicationEvidence:
        # Vetting and exam sittings are the association's acts, so they come from events,
        # never from what the applicant submits. Before any sitting is recorded, an exam
        # result in the evidence stands (how exams were recorded before sittings existed).
        exam = exam_result(self.exam_sittings) if self.exam_sittings else evidence.exam
        return msgspec.structs.replace(evidence, vetted_rater_ids=tuple(sorted(vetted)),
                                       exam=exam)


def _check_account(account: str, field: str) -> None:
    """A staff action names the account that did it (DESIGN: every action is attributed)."""
    if not account.strip():
        raise InvalidCommand(f"{field} names the staff account that acts", field=field,
                             rule="account.required")
