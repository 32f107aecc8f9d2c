"""The Application aggregate: an applicant's file from first submission to decision."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any, ClassVar

import msgspec
from eventsourcing.domain import Aggregate

from domain.errors import InvalidCommand, InvalidTransition, RequirementsUnmet
from domain.evidence import ApplicationEvidence
from domain.levels import DegreeKind, Designation, Level, ReviewDecision
from domain.lookup import EndorsementLookup
from domain.requirements import evaluate_application
from domain.unmet import Unmet


class ApplicationState(StrEnum):
    """Where an application stands in the review workflow."""

    OPEN = "open"
    RETURNED = "returned"  # reviewer asked for more; the applicant resubmits
    APPROVED_FOR_EXAM = "approved_for_exam"
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    GRANTED = "granted"


# Until the first submission an application lacks everything; saying so keeps an empty
# application from being approved, and projections show the same thing from the start.
NO_EVIDENCE = (Unmet(code="evidence.missing", field="evidence",
                     reason="No evidence has been submitted yet."),)

_CLOSED = (ApplicationState.DENIED, ApplicationState.WITHDRAWN, ApplicationState.GRANTED)


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
            if aggregate.state is ApplicationState.RETURNED:
                aggregate.state = ApplicationState.OPEN

    def submit_evidence(self, evidence: ApplicationEvidence, lookup: EndorsementLookup,
                        *, submitted_on: dt.date, now: dt.datetime) -> tuple[Unmet, ...]:
        """Replace the evidence, evaluate it, and record what is still unmet."""
        self._require_open("submit evidence")
        evidence = _with_vetted(evidence, self.vetted_rater_ids)
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
            aggregate.evidence = _with_vetted(aggregate.evidence, aggregate.vetted_rater_ids)
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
        evidence = _with_vetted(self.evidence, (*self.vetted_rater_ids, rater_id))
        unmet = evaluate_application(self.level, self.designation, evidence, lookup)
        self.trigger_event(self.RaterVetted, timestamp=now, rater_id=rater_id,
                           vetted_by=vetted_by, vetted_on=vetted_on, note=note, unmet=unmet)
        return unmet

    # -- review -------------------------------------------------------------------------------

    class Reviewed(Event):
        """ApplicationReviewed: a reviewer's decision, with the reason."""

        TOPIC = "alliance:ApplicationReviewed"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        decision: ReviewDecision
        reviewer: str
        reason: str
        decided_on: dt.date

        def apply(self, aggregate: Any) -> None:
            aggregate.state = _DECISION_STATE[self.decision]

    def review(self, decision: ReviewDecision, *, reviewer: str, reason: str,
               decided_on: dt.date, now: dt.datetime) -> None:
        """Record a review decision; approval needs every requirement met."""
        self._require_open("review")
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
        self.trigger_event(self.Reviewed, timestamp=now, decision=decision, reviewer=reviewer,
                           reason=reason, decided_on=decided_on)

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
        if self.state in _CLOSED:
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
        """Close an approved application once its endorsement exists."""
        if self.state is not ApplicationState.APPROVED:
            raise InvalidTransition(f"only an approved application can be granted; this one is "
                                    f"{self.state}", field="state", rule="grant.not_approved")
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
        if self.state in _CLOSED or self.state is ApplicationState.APPROVED:
            raise InvalidTransition(f"cannot {action}: application is {self.state}",
                                    field="state", rule="application.closed")


_DECISION_STATE = {
    ReviewDecision.APPROVE: ApplicationState.APPROVED,
    ReviewDecision.RETURN_FOR_MORE: ApplicationState.RETURNED,
    ReviewDecision.DENY: ApplicationState.DENIED,
    ReviewDecision.APPROVE_FOR_EXAM: ApplicationState.APPROVED_FOR_EXAM,
}


def _with_vetted(evidence: ApplicationEvidence, vetted: tuple[str, ...]) -> ApplicationEvidence:
    # Vetting is the coordinator's act, so it comes from events, never from the applicant.
    return msgspec.structs.replace(evidence, vetted_rater_ids=tuple(sorted(vetted)))
