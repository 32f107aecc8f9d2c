"""The staff workflow through the real command service and projections, on SQLite and PostgreSQL.

Two reviewers, a declared conflict, comments returned to the applicant, a resubmission, a
split settled by the coordinator, and a Level III exam with a failed sitting and a retake:
each command goes through `AssociationService` into the real event store, is sealed into
signed ledger entries and projected. The reviewer queue and the pipeline answer from the
projections; a refused command leaves the ledger head where it was; comments, conflict
notes and scores never appear in a ledger entry's bytes; the aggregate reloaded from the
store says what the projection says; rebuilding gives the incremental digest.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.application import Application, ApplicationState
from domain.errors import DomainError, InvalidTransition
from domain.evidence import (
    ApplicationEvidence,
    Degree,
    Membership,
    Rating,
    RscHours,
    Training,
    WorkExperience,
)
from domain.levels import DegreeKind, Level, RaterRole, ReviewDecision, WorkKind
from domain.progress import Stage, WaitsOn
from ledger.errors import ConcurrencyConflict
from ledger.service import AssociationService
from projections import digests, tables
from projections.projector import Projector
from projections.tables import JOINS_DIGEST_WHEN_USED
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.ledger_fixtures import AssociationLedger, Databases, at, open_ledger

D = dt.date
S = ApplicationState
A, R, X, E = (ReviewDecision.APPROVE, ReviewDecision.RETURN_FOR_MORE, ReviewDecision.DENY,
              ReviewDecision.APPROVE_FOR_EXAM)
DAY = D(2025, 3, 3)
PRIVATE = ("Quillfeather-comment", "Quillfeather-note", "Quillfeather-response", "83.5")
PROVIDER = "AK-P-0001"  # a Level III RS/C provider (and rater), imported onto the ledger


@pytest.fixture
def dbs(backend: Backend, tmp_path: Path) -> Iterator[Databases]:
    """Fresh databases on the backend under test (PostgreSQL: one schema each, dropped after)."""
    backend.require()
    databases = Databases(backend.name, tmp_path)
    yield databases
    databases.close()


class Node:
    """One association's event store, ledger and projection, and its command service."""

    def __init__(self, dbs: Databases, tmp_path: Path) -> None:
        self.ledger: AssociationLedger = open_ledger(tmp_path / "events", dbs.new(), "AK")
        self.projector = Projector(dbs.new())
        self.service = AssociationService(
            association="AK", events=self.ledger.events,  # type: ignore[arg-type]
            writer=self.ledger.writer, lookup=self.projector, policy=self.ledger.policy,
            on_committed=lambda: self.projector.catch_up(self.ledger.store))

    def head(self) -> tuple[int, bytes] | None:
        return self.ledger.store.head("AK")

    def wires(self) -> bytes:
        return b"".join(self.ledger.store.wires("AK"))

    def queue(self, reviewer: str) -> list[str]:
        return [row.person_id for row in self.projector.reviewer_queue("AK", reviewer)]

    def state(self, application_id: uuid.UUID) -> S:
        row = self.projector.application(str(application_id))
        assert row is not None
        assert row.state is self.service.application(application_id).state
        return row.state

    def refused(self, command: object, rule: str) -> None:
        """Run a command that must be refused: the rule is named, nothing is written."""
        head, digest = self.head(), self.projector.digest()
        with pytest.raises(DomainError) as raised:
            assert callable(command)
            command()
        assert raised.value.rule == rule
        assert (self.head(), self.projector.digest()) == (head, digest)


@pytest.fixture
def node(dbs: Databases, tmp_path: Path) -> Iterator[Node]:
    """AK with a Level III provider on its roster."""
    found = Node(dbs, tmp_path)
    found.service.record_existing(
        endorsement_id="AK-RIVERA", person_id=PROVIDER, family_name="Rivera",
        given_name="Maria", level=Level.IMHS, designation=None, granted_on=D(2012, 1, 1),
        valid_through=D(2099, 12, 31), legacy_reference="paper-1", now=at(D(2024, 1, 2)))
    yield found
    found.ledger.close()


def level_two_evidence() -> ApplicationEvidence:
    """A complete Level II file: RS/C from, and a rating by, the Level III provider."""
    rated = D(2021, 2, 1)
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.BACHELOR, field_of_study="Early childhood",
                        awarded_on=D(2016, 5, 15), transcript_received=True),),
        trainings=(Training(title="IMH foundations", hours=32, completed_on=D(2019, 3, 1)),),
        work=(WorkExperience(kind=WorkKind.INFANT_FAMILY, employer="Early Head Start",
                             started_on=D(2018, 1, 1), ended_on=D(2021, 1, 31),
                             families_served=14, infant_social_emotional_focus=True,
                             post_bachelor=True),),
        rsc=(RscHours(provider_id=PROVIDER, hours=30, started_on=D(2019, 6, 1),
                      ended_on=D(2020, 5, 31), post_bachelor=True),),
        ratings=(Rating(rater_id="sup", rater_name="Sup", role=RaterRole.PROGRAM_SUPERVISOR,
                        rated_on=rated),
                 Rating(rater_id=PROVIDER, rater_name="Maria Rivera",
                        role=RaterRole.RSC_PROVIDER, rated_on=rated),
                 Rating(rater_id="col", rater_name="Col", role=RaterRole.COLLEAGUE,
                        rated_on=rated)),
        code_of_ethics_signed=True, agreement_signed=True, fee_paid=True,
        memberships=(Membership(association="AK", valid_through=D(2099, 12, 31)),))


def level_three_evidence() -> ApplicationEvidence:
    """Everything Level III asks for but the exam."""
    rated = D(2023, 2, 1)
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.MASTER, field_of_study="Social work",
                        awarded_on=D(2017, 6, 1), transcript_received=True),),
        trainings=(Training(title="IMH foundations", hours=40, completed_on=D(2022, 3, 1)),),
        work=(WorkExperience(kind=WorkKind.IMH_INFANT_AND_PARENT, employer="Clinic",
                             started_on=D(2019, 1, 1), ended_on=D(2021, 12, 31),
                             supervised=True, post_master=True),),
        rsc=(RscHours(provider_id=PROVIDER, hours=50, started_on=D(2021, 1, 1),
                      ended_on=D(2021, 12, 31), post_master=True),),
        ratings=(Rating(rater_id="sup", rater_name="Sup", role=RaterRole.PROGRAM_SUPERVISOR,
                        rated_on=rated),
                 Rating(rater_id=PROVIDER, rater_name="Maria Rivera",
                        role=RaterRole.RSC_PROVIDER, rated_on=rated),
                 Rating(rater_id="sue", rater_name="Sue", role=RaterRole.SUPERVISEE,
                        rated_on=rated)),
        code_of_ethics_signed=True, agreement_signed=True, fee_paid=True,
        memberships=(Membership(association="AK", valid_through=D(2099, 12, 31)),))


SUBMITTED_ON = D(2025, 1, 2)


def submit(node: Node, person_id: str, level: Level, evidence: ApplicationEvidence,
           on: dt.date = SUBMITTED_ON) -> uuid.UUID:
    application_id = uuid.uuid4()
    node.service.submit_application(
        application_id=application_id, person_id=person_id, family_name="Doe",
        given_name="Jane", level=level, designation=None, evidence=evidence, submitted_on=on,
        now=at(on))
    return application_id


# -- the contract, and the backends it runs on ---------------------------------------------


class ReviewWorkflowContract:
    """The staff workflow through the service into the projection tables, on every backend."""

    def test_level_ii_from_submission_to_grant_with_two_reviewers(self, node: Node) -> None:
        service = node.service
        app_id = submit(node, "p-doe", Level.IFS, level_two_evidence())
        assert node.state(app_id) is S.OPEN
        assert service.progress(app_id).stage is Stage.SUBMITTED

        service.assign_reviewers(app_id, ["rev-ann", "rev-bo"], assigned_by="coord-1",
                                 assigned_on=D(2025, 1, 3), now=at(D(2025, 1, 3)),
                                 expected_version=2)
        assert node.state(app_id) is S.IN_REVIEW
        assert (node.queue("rev-ann"), node.queue("rev-bo"), node.queue("rev-cy")) == (
            ["p-doe"], ["p-doe"], [])

        # Bo knows the applicant: a conflict; Bo cannot decide, and Cy takes the place.
        service.declare_conflict(app_id, reviewer="rev-bo", declared_on=D(2025, 1, 4),
                                 note="Quillfeather-note", now=at(D(2025, 1, 4)))
        assert node.queue("rev-bo") == []
        node.refused(lambda: service.decide(app_id, A, reviewer="rev-bo", comments="",
                                            decided_on=D(2025, 1, 5), now=at(D(2025, 1, 5))),
                     "review.conflicted")
        node.refused(lambda: service.decide(app_id, A, reviewer="rev-zed", comments="",
                                            decided_on=D(2025, 1, 5), now=at(D(2025, 1, 5))),
                     "review.not_assigned")
        node.refused(lambda: service.assign_reviewers(
            app_id, ["rev-bo"], assigned_by="coord-1", assigned_on=D(2025, 1, 5),
            now=at(D(2025, 1, 5))), "review.conflicted")
        progress = service.progress(app_id)
        assert (progress.waits_on, progress.waiting_for) == (WaitsOn.COORDINATOR, ("rev-ann",))
        service.assign_reviewers(app_id, ["rev-cy"], assigned_by="coord-1",
                                 assigned_on=D(2025, 1, 5), now=at(D(2025, 1, 5)))
        assert node.queue("rev-cy") == ["p-doe"]

        service.decide(app_id, A, reviewer="rev-ann", comments="Quillfeather-comment",
                       decided_on=D(2025, 1, 6), now=at(D(2025, 1, 6)))
        assert (node.queue("rev-ann"), node.queue("rev-cy")) == ([], ["p-doe"])
        assert node.state(app_id) is S.IN_REVIEW
        # The second decision concludes the review in the same command.
        service.decide(app_id, A, reviewer="rev-cy", comments="", decided_on=D(2025, 1, 7),
                       now=at(D(2025, 1, 7)))
        assert node.state(app_id) is S.APPROVED and node.queue("rev-cy") == []
        row = node.projector.application(str(app_id))
        assert row is not None
        assert [(s.reviewer, s.decision, s.active) for s in row.reviewers] == [
            ("rev-ann", A, True), ("rev-bo", None, False), ("rev-cy", A, True)]
        assert row.reviewers == service.application(app_id).reviewers  # reloaded from the store

        endorsement = service.grant(app_id, endorsement_id="AK-DOE", granted_on=D(2025, 1, 8),
                                    now=at(D(2025, 1, 8)))
        assert endorsement.level is Level.IFS and node.state(app_id) is S.GRANTED
        assert node.projector.pipeline("AK") == []
        # Comments and conflict notes stay in the private store.
        wires = node.wires()
        assert all(marker.encode() not in wires for marker in PRIVATE)
        assert b"rev-ann" in wires  # the opaque account reference is public

    def test_a_return_carries_both_comments_and_the_resubmission_goes_back_to_review(
            self, node: Node) -> None:
        service = node.service
        app_id = submit(node, "p-roe", Level.IFS, level_two_evidence())
        service.assign_reviewers(app_id, ["rev-ann", "rev-bo"], assigned_by="coord-1",
                                 assigned_on=DAY, now=at(DAY))
        service.decide(app_id, R, reviewer="rev-ann", comments="Quillfeather-comment: hours?",
                       decided_on=DAY, now=at(DAY))
        service.decide(app_id, A, reviewer="rev-bo", comments="fine by me", decided_on=DAY,
                       now=at(DAY))
        assert node.state(app_id) is S.RETURNED
        application = service.application(app_id)
        assert [(c.author, c.comments) for c in application.comments] == [
            ("rev-ann", "Quillfeather-comment: hours?"), ("rev-bo", "fine by me")]
        assert node.queue("rev-ann") == [] and service.progress(app_id).waits_on is (
            WaitsOn.APPLICANT)

        node.refused(lambda: service.decide(app_id, A, reviewer="rev-ann", comments="",
                                            decided_on=DAY, now=at(DAY)), "review.not_in_review")
        later = DAY + dt.timedelta(days=9)
        service.resubmit(app_id, level_two_evidence(), response="Quillfeather-response",
                         resubmitted_on=later, now=at(later))
        assert node.state(app_id) is S.IN_REVIEW
        assert (node.queue("rev-ann"), node.queue("rev-bo")) == (["p-roe"], ["p-roe"])
        assert service.application(app_id).response == "Quillfeather-response"
        row = node.projector.application(str(app_id))
        assert row is not None and row.updated_on == later
        assert all(s.decision is None for s in row.reviewers)
        assert all(marker.encode() not in node.wires() for marker in PRIVATE)

    def test_a_split_is_settled_by_the_coordinator(self, node: Node) -> None:
        service = node.service
        app_id = submit(node, "p-split", Level.IFS, level_two_evidence())
        service.assign_reviewers(app_id, ["rev-ann", "rev-bo"], assigned_by="coord-1",
                                 assigned_on=DAY, now=at(DAY))
        node.refused(lambda: service.settle_split(app_id, A, settled_by="coord-1", comments="",
                                                  decided_on=DAY, now=at(DAY)), "review.not_split")
        service.decide(app_id, A, reviewer="rev-ann", comments="", decided_on=DAY, now=at(DAY))
        service.decide(app_id, X, reviewer="rev-bo", comments="not enough", decided_on=DAY,
                       now=at(DAY))
        assert node.state(app_id) is S.IN_REVIEW
        assert service.progress(app_id).waits_on is WaitsOn.COORDINATOR
        assert node.queue("rev-ann") == node.queue("rev-bo") == []  # both have decided
        service.settle_split(app_id, A, settled_by="coord-1", comments="the hours are there",
                             decided_on=DAY, now=at(DAY))
        assert node.state(app_id) is S.APPROVED

    def test_level_iii_through_the_exam_with_a_retake(self, node: Node) -> None:
        service = node.service
        app_id = submit(node, "p-kim", Level.IMHS, level_three_evidence())
        service.assign_reviewers(app_id, ["rev-ann", "rev-bo"], assigned_by="coord-1",
                                 assigned_on=DAY, now=at(DAY))
        node.refused(lambda: service.decide(app_id, A, reviewer="rev-ann", comments="",
                                            decided_on=DAY, now=at(DAY)), "review.unmet")
        for reviewer in ("rev-ann", "rev-bo"):
            service.decide(app_id, E, reviewer=reviewer, comments="", decided_on=DAY, now=at(DAY))
        assert node.state(app_id) is S.APPROVED_FOR_EXAM
        node.refused(lambda: service.grant(app_id, endorsement_id="AK-KIM", granted_on=DAY,
                                           now=at(DAY)), "grant.not_approved")

        first = DAY + dt.timedelta(days=10)
        service.record_exam_sitting(app_id, sat_on=first, score=55, recorded_by="coord-1",
                                    now=at(first))
        assert node.state(app_id) is S.EXAM_FAILED
        progress = service.progress(app_id)
        assert progress.stage is Stage.EXAM_FAILED and "2025-04-12" in progress.next_step
        node.refused(lambda: service.record_exam_sitting(
            app_id, sat_on=first + dt.timedelta(days=29), score=90, recorded_by="coord-1",
            now=at(first)), "exam.retake_too_soon")
        retake = first + dt.timedelta(days=30)
        service.record_exam_sitting(app_id, sat_on=retake, score=83.5, recorded_by="coord-1",
                                    now=at(retake))
        assert node.state(app_id) is S.EXAM_PASSED
        row = node.projector.application(str(app_id))
        assert row is not None and row.unmet == ()
        assert [(s.attempt, s.passed, s.retake_from, s.score) for s in row.exam_sittings] == [
            (1, False, first + dt.timedelta(days=30), None), (2, True, None, None)]
        stored = service.application(app_id).exam_sittings
        assert [(s.score, s.pass_mark) for s in stored] == [(55, 70), (83.5, 70)]

        service.grant(app_id, endorsement_id="AK-KIM", granted_on=retake, now=at(retake))
        assert node.state(app_id) is S.GRANTED
        assert b"83.5" not in node.wires() and b"55.0" not in node.wires()

    def test_the_old_review_command_keeps_working(self, node: Node) -> None:
        service = node.service
        # Without reviewers: one reviewer decides, as before the two-reviewer workflow.
        plain = submit(node, "p-plain", Level.IFS, level_two_evidence())
        service.review(plain, A, reviewer="token-label", reason="", decided_on=DAY, now=at(DAY))
        assert node.state(plain) is S.APPROVED
        # With reviewers: the same command is the assigned reviewer's decision.
        paneled = submit(node, "p-panel", Level.IFS, level_two_evidence())
        service.assign_reviewers(paneled, ["rev-ann", "rev-bo"], assigned_by="coord-1",
                                 assigned_on=DAY, now=at(DAY))
        node.refused(lambda: service.review(paneled, A, reviewer="token-label", reason="",
                                            decided_on=DAY, now=at(DAY)), "review.not_assigned")
        service.review(paneled, A, reviewer="rev-ann", reason="", decided_on=DAY, now=at(DAY))
        assert node.queue("rev-ann") == [] and node.queue("rev-bo") == ["p-panel"]

    def test_a_stale_version_is_refused_and_writes_nothing(self, node: Node) -> None:
        app_id = submit(node, "p-stale", Level.IFS, level_two_evidence())
        head = node.head()
        with pytest.raises(ConcurrencyConflict):
            node.service.assign_reviewers(app_id, ["rev-ann"], assigned_by="coord-1",
                                          assigned_on=DAY, now=at(DAY), expected_version=1)
        assert node.head() == head
        with pytest.raises(InvalidTransition):
            node.service.resubmit(app_id, None, response="x", resubmitted_on=DAY, now=at(DAY))
        assert node.head() == head

    def test_the_queue_and_pipeline_rebuild_to_the_same_digest(
            self, node: Node, dbs: Databases) -> None:
        service = node.service
        ids = [submit(node, f"p-{i}", Level.IFS, level_two_evidence()) for i in range(4)]
        exam = submit(node, "p-exam", Level.IMHS, level_three_evidence())
        for app_id in (*ids, exam):
            service.assign_reviewers(app_id, ["rev-ann", "rev-bo"], assigned_by="coord-1",
                                     assigned_on=DAY, now=at(DAY))
        service.decide(ids[0], A, reviewer="rev-ann", comments="", decided_on=DAY, now=at(DAY))
        service.declare_conflict(ids[1], reviewer="rev-bo", declared_on=DAY, note="n", now=at(DAY))
        service.return_with_comments(ids[2], returned_by="coord-1", comments="a transcript",
                                     returned_on=DAY, now=at(DAY))
        for reviewer in ("rev-ann", "rev-bo"):
            service.decide(exam, E, reviewer=reviewer, comments="", decided_on=DAY, now=at(DAY))
        service.record_exam_sitting(exam, sat_on=DAY, score=10, recorded_by="coord-1", now=at(DAY))

        queue = node.projector.reviewer_queue("AK", "rev-ann")
        assert [r.application_id for r in queue] == sorted(str(i) for i in (ids[1], ids[3]))
        assert {r.person_id for r in node.projector.reviewer_queue("AK", "rev-bo")} == {
            "p-0", "p-3"}
        assert node.projector.reviewer_queue("MI", "rev-ann") == []
        states = {r.person_id: r.state for r in node.projector.pipeline("AK")}
        assert states == {"p-0": S.IN_REVIEW, "p-1": S.IN_REVIEW, "p-2": S.RETURNED,
                          "p-3": S.IN_REVIEW, "p-exam": S.EXAM_FAILED}

        rebuilt = Projector(dbs.new())
        rebuilt.rebuild(node.ledger.store)
        assert rebuilt.table_digests() == node.projector.table_digests()
        assert rebuilt.reviewer_queue("AK", "rev-ann") == queue
        assert rebuilt.pipeline("AK") == node.projector.pipeline("AK")

    def test_the_aggregate_reloaded_from_the_store_is_the_one_that_was_saved(
            self, node: Node) -> None:
        service = node.service
        app_id = submit(node, "p-reload", Level.IMHS, level_three_evidence())
        service.assign_reviewers(app_id, ["rev-ann", "rev-bo"], assigned_by="coord-1",
                                 assigned_on=DAY, now=at(DAY))
        service.decide(app_id, E, reviewer="rev-ann", comments="c1", decided_on=DAY, now=at(DAY))
        live: Application = service.decide(app_id, E, reviewer="rev-bo", comments="c2",
                                           decided_on=DAY, now=at(DAY))
        reloaded = service.application(app_id)
        assert (reloaded.state, reloaded.reviewers, reloaded.comments,
                reloaded.approved_for_exam_on, reloaded.version) == (
            live.state, live.reviewers, live.comments, live.approved_for_exam_on, live.version)

    def test_ledgers_without_the_workflow_keep_the_digest_older_software_gave(
            self, node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
        service = node.service
        app_id = submit(node, "p-old", Level.IFS, level_two_evidence())
        service.review(app_id, R, reviewer="token-label", reason="sign", decided_on=DAY,
                       now=at(DAY))
        current = node.projector.digest()
        assert not set(node.projector.table_digests()) & JOINS_DIGEST_WHEN_USED
        # What software from before the reviewer and sitting tables computed over the same rows.
        monkeypatch.setattr(digests, "TABLES", tuple(
            t for t in tables.TABLES if t[0] not in JOINS_DIGEST_WHEN_USED))
        assert node.projector.digest() == current
        monkeypatch.undo()
        # Once the workflow is used, its table joins the digest.
        service.assign_reviewers(app_id, ["rev-ann"], assigned_by="coord-1", assigned_on=DAY,
                                 now=at(DAY))
        assert "application_reviewers" in node.projector.table_digests()
        assert "exam_sittings" not in node.projector.table_digests()


class TestReviewWorkflowOnSQLite(ReviewWorkflowContract, OnSQLite):
    """The contract on SQLite files."""


class TestReviewWorkflowOnPostgreSQL(ReviewWorkflowContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
