"""Applications in every state of the review workflow, for the benches of the staff pages.

The bulk import (`replication_alliance.seal_in_bulk`) makes endorsements only, so without
this the applications page and the dashboard's counts by state would measure an empty
pipeline. Each application here goes through the node's command service, as a coordinator's
and reviewers' actions would (signed ledger entries, projected): submitted, in review,
returned with comments, approved, denied, withdrawn, granted (Level II), approved for the
exam, exam failed and exam passed (Level III). The RS/C provider and rater of each is one of
the imported Level III holders, so the rules see a real endorsement behind the evidence.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from domain.application import ApplicationState
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
from federation_api.clock import now, today
from federation_api.demo.seed import level_two_evidence
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.root import Node

REVIEWERS = ("bench-reviewer-1", "bench-reviewer-2")
COORDINATOR = "bench-coordinator"


def level_three_evidence(on: dt.date, provider_id: str) -> ApplicationEvidence:
    """Everything Level III asks for but the exam, with RS/C from `provider_id`."""
    rated = dt.date(on.year - 2, 2, 1)
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.MASTER, field_of_study="Social work",
                        awarded_on=dt.date(2017, 6, 1), transcript_received=True),),
        trainings=(Training(title="IMH foundations", hours=40,
                            completed_on=dt.date(2022, 3, 1)),),
        work=(WorkExperience(kind=WorkKind.IMH_INFANT_AND_PARENT, employer="Clinic",
                             started_on=dt.date(2019, 1, 1), ended_on=dt.date(2021, 12, 31),
                             supervised=True, post_master=True),),
        rsc=(RscHours(provider_id=provider_id, hours=50, started_on=dt.date(2021, 1, 1),
                      ended_on=dt.date(2021, 12, 31), post_master=True),),
        ratings=(Rating(rater_id="AK-X-0100", rater_name="Program supervisor",
                        role=RaterRole.PROGRAM_SUPERVISOR, rated_on=rated),
                 Rating(rater_id=provider_id, rater_name="RS/C provider",
                        role=RaterRole.RSC_PROVIDER, rated_on=rated),
                 Rating(rater_id="AK-X-0102", rater_name="Supervisee",
                        role=RaterRole.SUPERVISEE, rated_on=rated)),
        code_of_ethics_signed=True, agreement_signed=True, fee_paid=True,
        memberships=(Membership(association="AK", valid_through=dt.date(on.year, 12, 31)),))


def seed_applications(node: Node, provider_id: str, *, per_state: int = 4) -> dict[str, int]:
    """`per_state` applications in each state (all but "open" ones move on from it);
    returns how many stand in each state, as the projection counts them."""
    service, on, at = node.service, today(), now()

    def both_decide(decision: ReviewDecision) -> Callable[[uuid.UUID], None]:
        def run(application: uuid.UUID) -> None:
            service.assign_reviewers(application, REVIEWERS, assigned_by=COORDINATOR,
                                     assigned_on=on, now=at)
            for reviewer in REVIEWERS:
                service.decide(application, decision, reviewer=reviewer,
                               comments="" if decision is not ReviewDecision.DENY
                               else "The work experience is not infant-family work.",
                               decided_on=on, now=at)
        return run

    def then(*steps: Callable[[uuid.UUID], None]) -> Callable[[uuid.UUID], None]:
        def run(application: uuid.UUID) -> None:
            for step in steps:
                step(application)
        return run

    def sitting(score: float) -> Callable[[uuid.UUID], None]:
        def run(application: uuid.UUID) -> None:
            service.record_exam_sitting(application, sat_on=on, score=score,
                                        recorded_by=COORDINATOR, now=at)
        return run

    def assigned(application: uuid.UUID) -> None:
        service.assign_reviewers(application, REVIEWERS, assigned_by=COORDINATOR,
                                 assigned_on=on, now=at)

    def returned(application: uuid.UUID) -> None:
        service.return_with_comments(
            application, returned_by=COORDINATOR, returned_on=on, now=at,
            comments="Please send the supervisor's rating on the association's form.")

    def withdrawn(application: uuid.UUID) -> None:
        service.withdraw(application, withdrawn_on=on, reason="moved away", now=at)

    def submitted(application: uuid.UUID) -> None:
        """Nothing more: it waits for its reviewers."""

    def granted(application: uuid.UUID) -> None:
        service.grant(application, endorsement_id=new_endorsement_id(
            node.association, f"bench-application:{application}"), granted_on=on, now=at)

    plans: dict[ApplicationState, tuple[Level, Callable[[uuid.UUID], None]]] = {
        ApplicationState.OPEN: (Level.IFS, submitted),
        ApplicationState.IN_REVIEW: (Level.IFS, assigned),
        ApplicationState.RETURNED: (Level.IFS, returned),
        ApplicationState.APPROVED: (Level.IFS, both_decide(ReviewDecision.APPROVE)),
        ApplicationState.DENIED: (Level.IFS, both_decide(ReviewDecision.DENY)),
        ApplicationState.WITHDRAWN: (Level.IFS, withdrawn),
        ApplicationState.GRANTED: (Level.IFS, then(both_decide(ReviewDecision.APPROVE),
                                                   granted)),
        ApplicationState.APPROVED_FOR_EXAM: (Level.IMHS,
                                             both_decide(ReviewDecision.APPROVE_FOR_EXAM)),
        ApplicationState.EXAM_FAILED: (Level.IMHS, then(
            both_decide(ReviewDecision.APPROVE_FOR_EXAM), sitting(55))),
        ApplicationState.EXAM_PASSED: (Level.IMHS, then(
            both_decide(ReviewDecision.APPROVE_FOR_EXAM), sitting(83.5))),
    }
    for state, (level, steps) in plans.items():
        for i in range(per_state):
            application = uuid.uuid5(uuid.NAMESPACE_URL, f"bench-application:{state}:{i}")
            evidence = (level_two_evidence(on, provider_id=provider_id) if level is Level.IFS
                        else level_three_evidence(on, provider_id))
            service.submit_application(
                application_id=application, person_id=f"AK-A-{state.value}-{i}",
                family_name=("Lopez", "Brooks", "Ito", "Novak")[i % 4],
                given_name=("Ana", "Tim", "Yuki", "Petra")[i % 4], level=level,
                designation=None, evidence=evidence, submitted_on=on, now=at)
            steps(application)
    node.project()
    found = {str(state): int(n) for state, n in node.projector.db.query(
        "SELECT state, COUNT(*) FROM applications WHERE association = ? GROUP BY state",
        (node.association,))}
    wanted = {str(state): per_state for state in plans}
    if found != wanted:
        raise SystemExit(f"applications by state {found}, expected {wanted}")
    return found
