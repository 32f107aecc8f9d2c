"""The Alaska part of the demo: one node seeded with a small, realistic history.

The seed goes through the same command service as the API, so every step is a signed ledger
entry: two professionals imported from the old roster (a Level III RS/C provider and a Level
IV-C mentor), a Level II applicant supervised by the Level III provider, granted and renewed,
a lapse, a suspension, and an open Level III application waiting for its exam.
"""

from __future__ import annotations

import datetime as dt
import uuid

from domain.evidence import (
    ApplicationEvidence,
    Degree,
    Membership,
    Rating,
    RenewalEvidence,
    RscHours,
    Training,
    WorkExperience,
)
from domain.levels import DegreeKind, Designation, Level, RaterRole, ReviewDecision, WorkKind
from federation_api.clock import now
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.root import Node

D = dt.date


def seed(node: Node, on: dt.date) -> dict[str, str]:
    """Write the demo history; returns the endorsement ids worth looking up."""
    svc = node.service
    at = now()
    ids: dict[str, str] = {}

    def imported(key: str, person: str, family: str, given: str, level: Level,
                 designation: Designation | None, granted: dt.date, through: dt.date) -> str:
        eid = new_endorsement_id(node.association, f"demo:{key}")
        svc.record_existing(endorsement_id=eid, person_id=person, family_name=family,
                            given_name=given, level=level, designation=designation,
                            granted_on=granted, valid_through=through,
                            legacy_reference=f"paper-{key}", now=at)
        ids[key] = eid
        return eid

    year_end = D(on.year, 12, 31)
    imported("rivera", "AK-P-0001", "Rivera", "Maria", Level.IMHS, None, D(2019, 5, 1), year_end)
    imported("okafor", "AK-P-0002", "Okafor", "Sam", Level.IMHM, Designation.CLINICAL,
             D(2015, 3, 1), year_end)
    chen = imported("chen", "AK-P-0003", "Chen", "Lee", Level.IFS, None, D(2020, 1, 10),
                    D(on.year - 1, 12, 31))
    svc.lapse(chen, on=on, now=at)  # not renewed for last year; the grace period is over
    morgan = imported("morgan", "AK-P-0004", "Morgan", "Pat", Level.IFA, None, D(2021, 9, 1),
                      year_end)
    svc.suspend(morgan, effective_on=on, reason="Code of Ethics complaint under review", now=at)

    # Jane Doe, Level II, reflective supervision from Maria Rivera (Level III).
    application_id = uuid.uuid5(uuid.NAMESPACE_URL, "alliance-demo:doe")
    svc.start_application(application_id=application_id, person_id="AK-P-0005",
                          family_name="Doe", given_name="Jane", level=Level.IFS,
                          designation=None, started_on=on, now=at)
    svc.submit_evidence(application_id, level_two_evidence(on), submitted_on=on, now=at)
    svc.review(application_id, ReviewDecision.APPROVE, reviewer="demo reviewer",
               reason="all requirements met", decided_on=on, now=at)
    doe = new_endorsement_id(node.association, "demo:doe")
    svc.grant(application_id, endorsement_id=doe, granted_on=on, now=at)
    ids["doe"] = doe
    svc.renew(ids["rivera"], RenewalEvidence(
        trainings=(Training(title="Annual IMH conference", hours=16, completed_on=D(on.year, 4, 2),
                            rsc_topic=True),),
        rsc=(RscHours(provider_id="AK-P-0002", hours=12, started_on=D(on.year, 1, 15),
                      ended_on=D(on.year, 10, 15)),),
        memberships=(Membership(association="AK", valid_through=D(on.year + 1, 12, 31)),),
        provides_rsc=True), renewed_on=on, now=at)

    # Alex Kim, Level III, everything but the exam.
    kim = uuid.uuid5(uuid.NAMESPACE_URL, "alliance-demo:kim")
    svc.start_application(application_id=kim, person_id="AK-P-0006", family_name="Kim",
                          given_name="Alex", level=Level.IMHS, designation=None, started_on=on,
                          now=at)
    svc.submit_evidence(kim, ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.MASTER, field_of_study="Social work",
                        awarded_on=D(2017, 6, 1), transcript_received=True),),
        trainings=(Training(title="IMH foundations", hours=40, completed_on=D(2022, 3, 1)),),
        code_of_ethics_signed=True, agreement_signed=True, fee_paid=True,
        memberships=(Membership(association="AK", valid_through=year_end),)),
        submitted_on=on, now=at)
    return ids


def level_two_evidence(on: dt.date, *, provider_id: str = "AK-P-0001") -> ApplicationEvidence:
    """A complete Level II evidence set with RS/C from, and a rating by, `provider_id`."""
    rated = D(2021, 2, 1)
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.BACHELOR, field_of_study="Early childhood education",
                        awarded_on=D(2016, 5, 15), transcript_received=True),),
        trainings=(Training(title="Infant mental health foundations", hours=32,
                            completed_on=D(2019, 3, 1)),),
        work=(WorkExperience(kind=WorkKind.INFANT_FAMILY, employer="Anchorage Early Head Start",
                             started_on=D(2018, 1, 1), ended_on=D(2021, 1, 31), paid=True,
                             supervised=True, families_served=14,
                             infant_social_emotional_focus=True, post_bachelor=True),),
        rsc=(RscHours(provider_id=provider_id, hours=30, started_on=D(2019, 6, 1),
                      ended_on=D(2020, 5, 31), post_bachelor=True),),
        ratings=(Rating(rater_id="AK-X-0100", rater_name="Program supervisor",
                        role=RaterRole.PROGRAM_SUPERVISOR, rated_on=rated),
                 Rating(rater_id=provider_id, rater_name="Maria Rivera",
                        role=RaterRole.RSC_PROVIDER, rated_on=rated,
                        rater_degree=DegreeKind.MASTER),
                 Rating(rater_id="AK-X-0101", rater_name="Colleague",
                        role=RaterRole.COLLEAGUE, rated_on=rated)),
        code_of_ethics_signed=True, agreement_signed=True, fee_paid=True,
        memberships=(Membership(association="AK", valid_through=D(on.year, 12, 31)),))
