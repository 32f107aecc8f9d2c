"""Application requirements per level: a complete application passes, each gap is named."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.checklist import EVIDENCE_MISSING, ChecklistItem, checklist, requirements_of
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
from domain.levels import DegreeKind, Designation, Level, RaterRole, WorkKind
from domain.lookup import HeldEndorsement, NoEndorsements
from domain.requirements import evaluate_application
from domain.unmet import Unmet

D = dt.date
C, P, RF = Designation.CLINICAL, Designation.POLICY, Designation.RESEARCH_FACULTY


class FakeLookup:
    """Endorsement intervals per person: the lookup port stands for other nodes' ledgers."""

    def __init__(
        self,
        intervals: dict[str, list[tuple[Level, Designation | None, dt.date, dt.date]]],
        masters_since: dict[str, dt.date] | None = None,
    ) -> None:
        self._intervals = intervals
        self._masters = masters_since or {}  # the endorsing association's record of a Master's

    def held_on(self, person_id: str, on: dt.date) -> tuple[HeldEndorsement, ...]:
        return tuple(
            HeldEndorsement(
                person_id=person_id,
                endorsement_id=f"{person_id}-{n}",
                association="AK",
                level=level,
                designation=designation,
                granted_on=start,
                masters_prepared_since=self._masters.get(person_id),
            )
            for n, (level, designation, start, end) in enumerate(
                self._intervals.get(person_id, [])
            )
            if start <= on <= end
        )


LOOKUP = FakeLookup(
    {
        "p-ifs": [(Level.IFS, None, D(2010, 1, 1), D(2030, 12, 31))],
        "p-imhs": [(Level.IMHS, None, D(2010, 1, 1), D(2030, 12, 31))],
        "p-imhm-c": [(Level.IMHM, C, D(2010, 1, 1), D(2030, 12, 31))],
        "p-imhm-p": [(Level.IMHM, P, D(2010, 1, 1), D(2030, 12, 31))],
        # Endorsed only after the 2020 hours and the early-2021 ratings.
        "p-late": [(Level.IMHS, None, D(2021, 6, 1), D(2030, 12, 31))],
        # Endorsed while giving the 2020 hours, lapsed since: still counts.
        "p-lapsed": [(Level.IMHS, None, D(2015, 1, 1), D(2020, 12, 31))],
        # Level II holders whose association's record shows a Master's: since 2015, and
        # only since mid-2021 (after the 2020 hours).
        "p-ifs-ma": [(Level.IFS, None, D(2010, 1, 1), D(2030, 12, 31))],
        "p-ifs-ma-late": [(Level.IFS, None, D(2010, 1, 1), D(2030, 12, 31))],
    },
    masters_since={"p-ifs-ma": D(2015, 6, 1), "p-ifs-ma-late": D(2021, 6, 1)},
)

# --- Building blocks ---------------------------------------------------------------------


def degree(kind: DegreeKind, *, transcript: bool = True, related: bool = False) -> Degree:
    return Degree(
        kind=kind,
        field_of_study="Social Work",
        awarded_on=D(2014, 6, 1),
        transcript_received=transcript,
        related_field=related,
    )


def training(hours: float, *, didactic: bool = False) -> Training:
    return Training(
        title="Infant development", hours=hours, completed_on=D(2020, 3, 1), didactic_rsc=didactic
    )


def job(kind: WorkKind, start: dt.date, end: dt.date, **kw: object) -> WorkExperience:
    return msgspec.convert(
        {"kind": kind, "employer": "Acme Early Years", "started_on": start, "ended_on": end, **kw},
        WorkExperience,
    )


def rsc(provider: str, hours: float, start: dt.date, end: dt.date, **kw: object) -> RscHours:
    return msgspec.convert(
        {"provider_id": provider, "hours": hours, "started_on": start, "ended_on": end, **kw},
        RscHours,
    )


def rating(rater: str, role: RaterRole, **kw: object) -> Rating:
    return msgspec.convert(
        {
            "rater_id": rater,
            "rater_name": f"Name Of {rater}",
            "role": role,
            "rated_on": D(2021, 2, 1),
            **kw,
        },
        Rating,
    )


def infant_family_job(start: dt.date, end: dt.date, families: int = 12) -> WorkExperience:
    return job(
        WorkKind.INFANT_FAMILY,
        start,
        end,
        post_bachelor=True,
        infant_social_emotional_focus=True,
        families_served=families,
    )


def imh_job(start: dt.date, end: dt.date) -> WorkExperience:
    return job(WorkKind.IMH_INFANT_AND_PARENT, start, end, supervised=True, post_master=True)


def internship(supervisor: str | None, start: dt.date, end: dt.date) -> WorkExperience:
    return job(
        WorkKind.GRADUATE_INTERNSHIP,
        start,
        end,
        paid=False,
        supervised=True,
        internship_supervisor_id=supervisor,
    )


COMMON = ApplicationEvidence(
    trainings=(training(30),),
    code_of_ethics_signed=True,
    agreement_signed=True,
    memberships=(Membership(association="AK-AIMH", valid_through=D(2021, 12, 31)),),
    fee_paid=True,
)
PASSED = ExamResult(taken_on=D(2021, 3, 1), passed=True, score=88.0)


def complete(level: Level, designation: Designation | None) -> ApplicationEvidence:
    """An application that meets every requirement of the level/designation."""
    r = msgspec.structs.replace
    if level is Level.IFA:
        return r(
            COMMON,
            degrees=(degree(DegreeKind.BACHELOR),),
            ratings=(
                rating("r-sup", RaterRole.CURRENT_SUPERVISOR),
                rating("p-ifs", RaterRole.COLLEAGUE),
                rating("r-parent", RaterRole.PARENT_OR_RECIPIENT),
            ),
        )
    if level is Level.IFS:
        return r(
            COMMON,
            degrees=(degree(DegreeKind.BACHELOR),),
            work=(infant_family_job(D(2019, 1, 1), D(2020, 12, 31)),),
            rsc=(rsc("p-imhs", 24, D(2020, 1, 1), D(2020, 12, 31), post_bachelor=True),),
            ratings=(
                rating("r-sup", RaterRole.PROGRAM_SUPERVISOR),
                rating("p-imhs", RaterRole.RSC_PROVIDER),
                rating("r-col", RaterRole.COLLEAGUE),
            ),
        )
    if level is Level.IMHS:
        return r(
            COMMON,
            degrees=(degree(DegreeKind.MASTER),),
            work=(imh_job(D(2019, 1, 1), D(2020, 12, 31)),),
            rsc=(rsc("p-imhs", 50, D(2020, 1, 1), D(2020, 12, 31), post_master=True),),
            ratings=(
                rating("r-sup", RaterRole.PROGRAM_SUPERVISOR),
                rating("p-imhs", RaterRole.RSC_PROVIDER),
                rating("r-col", RaterRole.SUPERVISEE),
            ),
            exam=PASSED,
        )
    mentor = r(COMMON, degrees=(degree(DegreeKind.MASTER),), exam=PASSED)
    if designation is C:
        return r(
            mentor,
            trainings=(training(15, didactic=True), training(15)),
            work=(
                imh_job(D(2015, 1, 1), D(2016, 12, 31)),
                job(WorkKind.RSC_PROVISION, D(2017, 1, 1), D(2019, 12, 31), post_master=True),
            ),
            rsc=(
                rsc(
                    "p-imhm-c",
                    50,
                    D(2020, 1, 1),
                    D(2020, 12, 31),
                    while_providing_rsc=True,
                    about_provided_rsc=25,
                ),
            ),
            ratings=(
                rating("r-sup", RaterRole.PROGRAM_SUPERVISOR),
                rating("p-imhm-c", RaterRole.RSC_PROVIDER),
                rating("r-rec", RaterRole.RSC_RECIPIENT),
            ),
        )
    if designation is P:
        return r(
            mentor,
            work=(job(WorkKind.POLICY_LEADERSHIP, D(2018, 1, 1), D(2020, 12, 31)),),
            ratings=(
                rating("r-sup", RaterRole.PROGRAM_SUPERVISOR),
                rating("p-imhm-p", RaterRole.COLLEAGUE),
                rating("r-col", RaterRole.COLLEAGUE),
            ),
        )
    return r(
        mentor,
        work=(job(WorkKind.UNIVERSITY_TEACHING_RESEARCH, D(2018, 1, 1), D(2020, 12, 31)),),
        ratings=(
            rating("r-chair", RaterRole.DEPARTMENT_CHAIR),
            rating("p-imhs", RaterRole.COLLEAGUE),
            rating("r-student", RaterRole.STUDENT),
        ),
    )


LEVELS: list[tuple[Level, Designation | None, str]] = [
    (Level.IFA, None, "I"),
    (Level.IFS, None, "II"),
    (Level.IMHS, None, "III"),
    (Level.IMHM, C, "IV-C"),
    (Level.IMHM, P, "IV-P"),
    (Level.IMHM, RF, "IV-RF"),
]
ALL_LEVELS = [pytest.param(level, designation, id=name) for level, designation, name in LEVELS]


def codes(level: Level, designation: Designation | None, ev: ApplicationEvidence) -> set[str]:
    return {u.code for u in evaluate_application(level, designation, ev, LOOKUP)}


@pytest.mark.parametrize(("level", "designation"), ALL_LEVELS)
def test_complete_application_has_nothing_unmet(
    level: Level, designation: Designation | None
) -> None:
    assert evaluate_application(level, designation, complete(level, designation), LOOKUP) == ()


# --- One requirement unmet at a time, for every level --------------------------------------

Change = Callable[[ApplicationEvidence], ApplicationEvidence]


def with_(**changes: object) -> Change:
    return lambda ev: msgspec.structs.replace(ev, **changes)


def replace_rating(index: int, new: Rating) -> Change:
    def change(ev: ApplicationEvidence) -> ApplicationEvidence:
        ratings = list(ev.ratings)
        ratings[index] = new
        return msgspec.structs.replace(ev, ratings=tuple(ratings))

    return change


def add_rsc(entry: RscHours) -> Change:
    return lambda ev: msgspec.structs.replace(ev, rsc=(*ev.rsc, entry))


def unsign_waiver(ev: ApplicationEvidence) -> ApplicationEvidence:
    first = msgspec.structs.replace(ev.ratings[0], waiver_signed=False)
    return msgspec.structs.replace(ev, ratings=(first, *ev.ratings[1:]))


COMMON_GAPS: list[tuple[str, Change, set[str]]] = [
    ("no-degree", with_(degrees=()), {"education.degree"}),
    (
        "no-transcript",
        lambda ev: with_(degrees=tuple(msgspec.structs.replace(d, transcript_received=False)
                                       for d in ev.degrees))(ev),
        {"education.transcript"},
    ),
    ("29.5-training-hours", with_(trainings=(training(29.5, didactic=True),)), {"training.hours"}),
    (
        "four-ratings",
        lambda ev: with_(ratings=(*ev.ratings, rating("r-4", RaterRole.TEACHER)))(ev),
        {"ratings.count"},
    ),
    ("waiver-unsigned", unsign_waiver, {"ratings.waiver"}),
    ("ethics-unsigned", with_(code_of_ethics_signed=False), {"ethics.signed"}),
    ("agreement-unsigned", with_(agreement_signed=False), {"agreement.signed"}),
    ("no-membership", with_(memberships=()), {"membership"}),
    ("fee-unpaid", with_(fee_paid=False), {"fee"}),
]
EXAM_GAPS: list[tuple[str, Change, set[str]]] = [
    ("exam-not-taken", with_(exam=None), {"exam.passed"}),
    ("exam-failed", with_(exam=ExamResult(taken_on=D(2021, 3, 1), passed=False)), {"exam.passed"}),
]
# Each level's own requirements, as (level, designation, id, change, expected codes).
LEVEL_GAPS: list[tuple[Level, Designation | None, str, Change, set[str]]] = [
    # Level I
    (Level.IFA, None, "unrelated-associate", with_(degrees=(degree(DegreeKind.ASSOCIATE),)),
     {"education.degree"}),
    (Level.IFA, None, "related-associate",
     with_(degrees=(degree(DegreeKind.ASSOCIATE, related=True),)), set()),
    (Level.IFA, None, "cda", with_(degrees=(degree(DegreeKind.CDA),)), set()),
    (Level.IFA, None, "two-years-paid-work-instead-of-degree",
     with_(degrees=(), work=(job(WorkKind.EARLY_CHILDHOOD, D(2019, 1, 1), D(2020, 12, 31)),)),
     set()),
    (Level.IFA, None, "work-route-makes-transcript-moot",
     with_(degrees=(degree(DegreeKind.BACHELOR, transcript=False),),
           work=(job(WorkKind.EARLY_CHILDHOOD, D(2019, 1, 1), D(2020, 12, 31)),)),
     set()),
    (Level.IFA, None, "supervised-specialised-volunteer-work",
     with_(degrees=(), work=(job(WorkKind.INFANT_FAMILY, D(2019, 1, 1), D(2020, 12, 31),
                                 paid=False, supervised=True, specialised_volunteer=True),)),
     set()),
    (Level.IFA, None, "plain-volunteer-work",
     with_(degrees=(), work=(job(WorkKind.INFANT_FAMILY, D(2019, 1, 1), D(2020, 12, 31),
                                 paid=False),)),
     {"education.degree"}),
    (Level.IFA, None, "work-730-days-without-leap-day-is-two-years",
     with_(degrees=(), work=(job(WorkKind.EARLY_CHILDHOOD, D(2021, 1, 1), D(2022, 12, 31)),)),
     set()),
    (Level.IFA, None, "work-729-days-is-short",
     with_(degrees=(), work=(job(WorkKind.EARLY_CHILDHOOD, D(2021, 1, 2), D(2022, 12, 31)),)),
     {"education.degree"}),
    (Level.IFA, None, "no-current-supervisor",
     replace_rating(0, rating("r-sup", RaterRole.COLLEAGUE)), {"ratings.roles"}),
    (Level.IFA, None, "no-endorsed-rater",
     replace_rating(1, rating("r-col", RaterRole.COLLEAGUE)), {"ratings.endorsed_rater"}),
    (Level.IFA, None, "vetted-rater-instead-of-endorsed",
     lambda ev: with_(vetted_rater_ids=("r-col",))(
         replace_rating(1, rating("r-col", RaterRole.COLLEAGUE))(ev)), set()),
    (Level.IFA, None, "two-ratings", lambda ev: with_(ratings=ev.ratings[:2])(ev),
     {"ratings.count"}),
    # Level II
    (Level.IFS, None, "associate-only", with_(degrees=(degree(DegreeKind.ASSOCIATE),)),
     {"education.degree"}),
    (Level.IFS, None, "work-19-months",
     with_(work=(infant_family_job(D(2019, 6, 1), D(2020, 12, 31)),)), {"work.years"}),
    (Level.IFS, None, "overlapping-work-counted-once",
     with_(work=(infant_family_job(D(2019, 1, 1), D(2019, 12, 31), 6),
                 infant_family_job(D(2019, 6, 1), D(2020, 6, 30), 6))), {"work.years"}),
    (Level.IFS, None, "consecutive-jobs-add-up",
     with_(work=(infant_family_job(D(2019, 1, 1), D(2019, 12, 31), 6),
                 infant_family_job(D(2020, 1, 1), D(2020, 12, 31), 6))), set()),
    (Level.IFS, None, "work-without-social-emotional-focus",
     with_(work=(job(WorkKind.INFANT_FAMILY, D(2019, 1, 1), D(2020, 12, 31), post_bachelor=True,
                     families_served=12),)), {"work.years", "work.families"}),
    (Level.IFS, None, "nine-families",
     with_(work=(infant_family_job(D(2019, 1, 1), D(2020, 12, 31), 9),)), {"work.families"}),
    (Level.IFS, None, "23.5-rsc-hours",
     with_(rsc=(rsc("p-imhs", 23.5, D(2020, 1, 1), D(2020, 12, 31), post_bachelor=True),)),
     {"rsc.hours"}),
    (Level.IFS, None, "rsc-before-bachelor",
     with_(rsc=(rsc("p-imhs", 24, D(2020, 1, 1), D(2020, 12, 31)),)), {"rsc.hours"}),
    (Level.IFS, None, "rsc-not-while-serving-families",
     with_(rsc=(rsc("p-imhs", 24, D(2020, 1, 1), D(2020, 12, 31), post_bachelor=True,
                    while_serving_families=False),)), {"rsc.hours"}),
    (Level.IFS, None, "rsc-crammed-into-three-months",
     with_(rsc=(rsc("p-imhs", 24, D(2020, 1, 1), D(2020, 3, 31), post_bachelor=True),)),
     {"rsc.window"}),
    (Level.IFS, None, "rsc-spread-over-three-years",
     with_(rsc=(rsc("p-imhs", 12, D(2018, 1, 1), D(2018, 6, 30), post_bachelor=True),
                rsc("p-imhs", 12, D(2020, 7, 1), D(2020, 12, 31), post_bachelor=True))),
     {"rsc.window"}),
    (Level.IFS, None, "rsc-two-entries-within-two-years",
     with_(rsc=(rsc("p-imhs", 12, D(2019, 1, 1), D(2019, 6, 30), post_bachelor=True),
                rsc("p-imhs", 12, D(2020, 7, 1), D(2020, 12, 31), post_bachelor=True))),
     set()),
    (Level.IFS, None, "extra-rsc-from-unendorsed-provider",
     add_rsc(rsc("r-nobody", 10, D(2020, 1, 1), D(2020, 12, 31), post_bachelor=True)),
     {"rsc.provider"}),
    (Level.IFS, None, "no-rsc-provider-rating",
     replace_rating(1, rating("p-imhs", RaterRole.COLLEAGUE)), {"ratings.roles"}),
    (Level.IFS, None, "no-program-supervisor-rating",
     replace_rating(0, rating("r-sup", RaterRole.CURRENT_SUPERVISOR)), {"ratings.roles"}),
    (Level.IFS, None, "vetting-does-not-replace-endorsement-above-level-i",
     lambda ev: with_(vetted_rater_ids=("r-prov",))(
         replace_rating(1, rating("r-prov", RaterRole.RSC_PROVIDER))(ev)),
     {"ratings.endorsed_rater"}),
    (Level.IFS, None, "exam-not-needed", with_(exam=None), set()),
    # Level III
    (Level.IMHS, None, "bachelor-only", with_(degrees=(degree(DegreeKind.BACHELOR),)),
     {"education.degree"}),
    (Level.IMHS, None, "university-certificate",
     with_(degrees=(degree(DegreeKind.UNIVERSITY_CERTIFICATE),)), set()),
    (Level.IMHS, None, "one-year-of-work", with_(work=(imh_job(D(2020, 1, 1), D(2020, 12, 31)),)),
     {"work.years"}),
    (Level.IMHS, None, "work-not-supervised",
     with_(work=(job(WorkKind.IMH_INFANT_AND_PARENT, D(2019, 1, 1), D(2020, 12, 31),
                     post_master=True),)), {"work.years"}),
    (Level.IMHS, None, "internship-counts-as-one-year",
     with_(work=(internship("p-imhs", D(2018, 9, 1), D(2019, 8, 31)),
                 imh_job(D(2020, 1, 1), D(2020, 12, 31)))), set()),
    (Level.IMHS, None, "internship-counts-at-most-one-year",
     with_(work=(internship("p-imhs", D(2017, 9, 1), D(2019, 8, 31)),
                 imh_job(D(2020, 7, 1), D(2020, 12, 31)))), {"work.years"}),
    (Level.IMHS, None, "internship-supervisor-endorsed-only-later",
     with_(work=(internship("p-late", D(2018, 9, 1), D(2019, 8, 31)),
                 imh_job(D(2020, 1, 1), D(2020, 12, 31)))),
     {"work.years", "work.internship_supervisor"}),
    (Level.IMHS, None, "internship-supervisor-only-level-ii",
     with_(work=(internship("p-ifs", D(2018, 9, 1), D(2019, 8, 31)),
                 imh_job(D(2020, 1, 1), D(2020, 12, 31)))),
     {"work.years", "work.internship_supervisor"}),
    (Level.IMHS, None, "49-rsc-hours",
     with_(rsc=(rsc("p-imhs", 49, D(2020, 1, 1), D(2020, 12, 31), post_master=True),)),
     {"rsc.hours"}),
    (Level.IMHS, None, "rsc-before-master",
     with_(rsc=(rsc("p-imhs", 50, D(2020, 1, 1), D(2020, 12, 31), post_bachelor=True),)),
     {"rsc.hours"}),
    (Level.IMHS, None, "extra-rsc-from-level-ii-provider",
     add_rsc(rsc("p-ifs", 10, D(2020, 1, 1), D(2020, 12, 31), post_master=True)),
     {"rsc.provider"}),
    (Level.IMHS, None, "clinical-mentor-provider",
     with_(rsc=(rsc("p-imhm-c", 50, D(2020, 1, 1), D(2020, 12, 31), post_master=True),)), set()),
    (Level.IMHS, None, "policy-mentor-provider-does-not-qualify",
     add_rsc(rsc("p-imhm-p", 10, D(2020, 1, 1), D(2020, 12, 31), post_master=True)),
     {"rsc.provider"}),
    (Level.IMHS, None, "supervisee-instead-of-program-supervisor",
     replace_rating(0, rating("r-sup", RaterRole.SUPERVISEE)), {"ratings.roles"}),
    # Level IV-Clinical
    (Level.IMHM, C, "bachelor-only", with_(degrees=(degree(DegreeKind.BACHELOR),)),
     {"education.degree"}),
    (Level.IMHM, C, "postgraduate-specialisation",
     with_(degrees=(degree(DegreeKind.POSTGRADUATE_SPECIALISATION),)), set()),
    (Level.IMHM, C, "14-didactic-rsc-hours",
     with_(trainings=(training(14, didactic=True), training(16))), {"training.didactic_rsc"}),
    (Level.IMHM, C, "no-level-iii-work",
     lambda ev: with_(work=ev.work[1:])(ev), {"work.years"}),
    (Level.IMHM, C, "two-years-providing-rsc",
     lambda ev: with_(work=(ev.work[0], job(WorkKind.RSC_PROVISION, D(2018, 1, 1),
                                            D(2019, 12, 31), post_master=True)))(ev),
     {"work.rsc_provision"}),
    (Level.IMHM, C, "49-rsc-hours",
     with_(rsc=(rsc("p-imhm-c", 49, D(2020, 1, 1), D(2020, 12, 31), while_providing_rsc=True,
                    about_provided_rsc=25),)), {"rsc.hours"}),
    (Level.IMHM, C, "24-hours-about-provided-rsc",
     with_(rsc=(rsc("p-imhm-c", 50, D(2020, 1, 1), D(2020, 12, 31), while_providing_rsc=True,
                    about_provided_rsc=24),)), {"rsc.about_provided"}),
    (Level.IMHM, C, "extra-rsc-from-level-iii-provider",
     add_rsc(rsc("p-imhs", 10, D(2020, 1, 1), D(2020, 12, 31), while_providing_rsc=True)),
     {"rsc.provider"}),
    (Level.IMHM, C, "no-rsc-recipient-rating",
     replace_rating(2, rating("r-rec", RaterRole.COLLEAGUE)), {"ratings.roles"}),
    # Level IV-Policy
    (Level.IMHM, P, "30-months-of-policy-leadership",
     with_(work=(job(WorkKind.POLICY_LEADERSHIP, D(2018, 7, 1), D(2020, 12, 31)),)),
     {"work.years"}),
    (Level.IMHM, P, "rsc-is-optional-and-unchecked",
     add_rsc(rsc("r-nobody", 5, D(2020, 1, 1), D(2020, 2, 1))), set()),
    (Level.IMHM, P, "no-program-supervisor-rating",
     replace_rating(0, rating("r-sup", RaterRole.COLLEAGUE)), {"ratings.roles"}),
    # Level IV-Research/Faculty
    (Level.IMHM, RF, "two-years-of-teaching",
     with_(work=(job(WorkKind.UNIVERSITY_TEACHING_RESEARCH, D(2019, 1, 1), D(2020, 12, 31)),)),
     {"work.years"}),
    (Level.IMHM, RF, "colleague-instead-of-department-chair",
     replace_rating(0, rating("r-chair", RaterRole.COLLEAGUE)), set()),
    (Level.IMHM, RF, "no-chair-or-colleague",
     lambda ev: with_(ratings=(rating("r-chair", RaterRole.TEACHER),
                               rating("p-imhs", RaterRole.TRAINER), ev.ratings[2]))(ev),
     {"ratings.roles"}),
    (Level.IMHM, RF, "no-student-rating",
     replace_rating(2, rating("r-student", RaterRole.TEACHER)), {"ratings.roles"}),
]
_NAMES = {(level, designation): name for level, designation, name in LEVELS}
GAP_CASES = [
    pytest.param(level, designation, change, expected, id=f"{level_name}:{name}")
    for level, designation, level_name in LEVELS
    for name, change, expected in COMMON_GAPS + (EXAM_GAPS if level.requires_exam else [])
] + [
    pytest.param(level, designation, change, expected, id=f"{_NAMES[level, designation]}:{name}")
    for level, designation, name, change, expected in LEVEL_GAPS
]


@pytest.mark.parametrize(("level", "designation", "change", "expected"), GAP_CASES)
def test_each_gap_yields_exactly_its_code(
    level: Level, designation: Designation | None, change: Change, expected: set[str]
) -> None:
    assert codes(level, designation, change(complete(level, designation))) == expected


# --- Designation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "designation", "evidence_of"),
    [
        pytest.param(Level.IFA, C, (Level.IFA, None), id="level-i-with-designation"),
        pytest.param(Level.IMHS, P, (Level.IMHS, None), id="level-iii-with-designation"),
        pytest.param(Level.IMHM, None, (Level.IMHM, P), id="level-iv-without-designation"),
    ],
)
def test_designation_required_exactly_for_level_iv(
    level: Level,
    designation: Designation | None,
    evidence_of: tuple[Level, Designation | None],
) -> None:
    assert codes(level, designation, complete(*evidence_of)) == {"designation"}


# --- Eligibility is looked up as of the date of the hours or rating ---------------------


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        pytest.param("p-imhs", set(), id="endorsed-throughout"),
        pytest.param("p-lapsed", set(), id="endorsed-then-lapsed-later"),
        pytest.param("p-late", {"rsc.provider", "rsc.hours"}, id="endorsed-only-after-hours"),
        pytest.param("r-nobody", {"rsc.provider", "rsc.hours"}, id="never-endorsed"),
    ],
)
def test_rsc_provider_checked_on_the_day_the_hours_ended(provider: str, expected: set[str]) -> None:
    ev = msgspec.structs.replace(
        complete(Level.IFS, None),
        rsc=(rsc(provider, 24, D(2020, 1, 1), D(2020, 12, 31), post_bachelor=True),),
    )
    assert codes(Level.IFS, None, ev) == expected


def test_provider_endorsed_on_the_last_day_of_the_hours_counts() -> None:
    ev = msgspec.structs.replace(
        complete(Level.IFS, None),
        rsc=(rsc("p-late", 24, D(2020, 6, 2), D(2021, 6, 1), post_bachelor=True),),
    )
    assert codes(Level.IFS, None, ev) == set()


@pytest.mark.parametrize(
    ("rated_on", "expected"),
    [
        pytest.param(D(2021, 6, 1), set(), id="rated-after-endorsement"),
        pytest.param(D(2021, 5, 31), {"ratings.endorsed_rater"}, id="rated-before-endorsement"),
    ],
)
def test_rater_checked_on_the_day_of_the_rating(rated_on: dt.date, expected: set[str]) -> None:
    ev = msgspec.structs.replace(
        complete(Level.IFS, None),
        ratings=(
            rating("r-sup", RaterRole.PROGRAM_SUPERVISOR),
            rating("p-late", RaterRole.RSC_PROVIDER, rated_on=rated_on),
            rating("r-col", RaterRole.COLLEAGUE),
        ),
    )
    assert codes(Level.IFS, None, ev) == expected


@pytest.mark.parametrize(
    ("degrees", "provider", "rater_degree", "expected"),
    [
        pytest.param((DegreeKind.BACHELOR,), "p-ifs-ma", None, set(),
                     id="bachelor-applicant-provider-on-record"),
        pytest.param((DegreeKind.BACHELOR,), "p-ifs-ma", DegreeKind.BACHELOR, set(),
                     id="applicant-claim-does-not-matter-either-way"),
        # The defect: the applicant's own claim made a Bachelor's-prepared II count.
        pytest.param((DegreeKind.BACHELOR,), "p-ifs", DegreeKind.MASTER,
                     {"rsc.provider", "rsc.hours"}, id="applicant-claim-is-not-evidence"),
        pytest.param((DegreeKind.BACHELOR,), "p-ifs-ma-late", DegreeKind.MASTER,
                     {"rsc.provider", "rsc.hours"}, id="masters-recorded-after-the-hours"),
        pytest.param((DegreeKind.BACHELOR, DegreeKind.MASTER), "p-ifs-ma", DegreeKind.MASTER,
                     {"rsc.provider", "rsc.hours"}, id="master-applicant"),
    ],
)
def test_level_ii_provider_may_be_masters_prepared_ii_for_bachelor_applicant(
    degrees: tuple[DegreeKind, ...],
    provider: str,
    rater_degree: DegreeKind | None,
    expected: set[str],
) -> None:
    """Whether a Level II provider is Master's-prepared comes from the provider's own
    endorsement record (the lookup), never from the applicant's rating list."""
    ev = msgspec.structs.replace(
        complete(Level.IFS, None),
        degrees=tuple(degree(k) for k in degrees),
        rsc=(rsc(provider, 24, D(2020, 1, 1), D(2020, 12, 31), post_bachelor=True),),
        ratings=(
            rating("r-sup", RaterRole.PROGRAM_SUPERVISOR),
            rating(provider, RaterRole.RSC_PROVIDER, rater_degree=rater_degree),
            rating("r-col", RaterRole.COLLEAGUE),
        ),
    )
    assert codes(Level.IFS, None, ev) == expected


def test_a_level_ii_provider_refusal_says_what_the_record_lacks() -> None:
    ev = msgspec.structs.replace(
        complete(Level.IFS, None),
        rsc=(rsc("p-ifs", 24, D(2020, 1, 1), D(2020, 12, 31), post_bachelor=True),),
    )
    unmet = evaluate_application(Level.IFS, None, ev, LOOKUP)
    (provider,) = [u for u in unmet if u.code == "rsc.provider"]
    assert "endorsing association's record of the provider shows a Master's degree" in (
        provider.reason)
    assert "Social Work" not in provider.reason  # nothing of the applicant's evidence


def test_no_endorsements_known_fails_only_the_lookup_rules() -> None:
    unmet = evaluate_application(Level.IFS, None, complete(Level.IFS, None), NoEndorsements())
    assert {u.code for u in unmet} == {"rsc.provider", "rsc.hours", "ratings.endorsed_rater"}


# --- What an Unmet says --------------------------------------------------------------------


def test_ineligible_provider_is_named_by_position() -> None:
    ev = add_rsc(rsc("r-nobody", 10, D(2020, 1, 1), D(2020, 12, 31), post_bachelor=True))(
        complete(Level.IFS, None)
    )
    (unmet,) = evaluate_application(Level.IFS, None, ev, LOOKUP)
    assert unmet.field == "evidence.rsc[1].provider_id"
    assert "RS/C entry 2" in unmet.reason


def test_reasons_carry_no_personal_data() -> None:
    people = ["r-sup", "r-col", "r-parent", "r-nobody", "p-imhs", "p-late", "Name Of"]
    ev = ApplicationEvidence(
        degrees=(degree(DegreeKind.BACHELOR, transcript=False),),
        work=(internship("p-late", D(2018, 9, 1), D(2019, 8, 31)),),
        rsc=(rsc("r-nobody", 10, D(2020, 1, 1), D(2020, 12, 31)),),
        ratings=(rating("r-sup", RaterRole.TEACHER, waiver_signed=False),),
    )
    for level, designation in [(Level.IMHS, None), (Level.IFA, None), (Level.IMHM, C)]:
        unmet = evaluate_application(level, designation, ev, LOOKUP)
        assert unmet
        for u in unmet:
            text = f"{u.field} {u.reason}"
            assert not [p for p in people if p in text], u
            assert "Acme" not in text and "Social Work" not in text, u


def test_empty_application_lists_every_area() -> None:
    unmet = evaluate_application(Level.IMHM, C, ApplicationEvidence(), LOOKUP)
    assert {u.code for u in unmet} == {
        "education.degree",
        "training.hours",
        "training.didactic_rsc",
        "work.years",
        "work.rsc_provision",
        "rsc.hours",
        "rsc.about_provided",
        "ratings.count",
        "ratings.roles",
        "ratings.endorsed_rater",
        "ethics.signed",
        "agreement.signed",
        "membership",
        "fee",
        "exam.passed",
    }
    assert len([u for u in unmet if u.code == "ratings.roles"]) == 3


# --- Determinism ----------------------------------------------------------------------------

PEOPLE = st.sampled_from(["p-ifs", "p-imhs", "p-imhm-c", "p-late", "p-lapsed", "r-nobody"])
DAYS = st.dates(min_value=D(2014, 1, 1), max_value=D(2022, 12, 31))
HOURS = st.floats(min_value=0, max_value=60, allow_nan=False)
EVIDENCE = st.builds(
    ApplicationEvidence,
    degrees=st.lists(
        st.builds(Degree, kind=st.sampled_from(DegreeKind), field_of_study=st.just("x"),
                  awarded_on=DAYS, transcript_received=st.booleans(),
                  related_field=st.booleans()), max_size=3
    ).map(tuple),
    trainings=st.lists(
        st.builds(Training, title=st.just("t"), hours=HOURS, completed_on=DAYS,
                  didactic_rsc=st.booleans()), max_size=3
    ).map(tuple),
    work=st.lists(
        st.builds(WorkExperience, kind=st.sampled_from(WorkKind), employer=st.just("e"),
                  started_on=DAYS, ended_on=DAYS, paid=st.booleans(), supervised=st.booleans(),
                  families_served=st.integers(0, 20), post_bachelor=st.booleans(),
                  post_master=st.booleans(), infant_social_emotional_focus=st.booleans(),
                  internship_supervisor_id=st.none() | PEOPLE), max_size=4
    ).map(tuple),
    rsc=st.lists(
        st.builds(RscHours, provider_id=PEOPLE, hours=HOURS, started_on=DAYS, ended_on=DAYS,
                  about_provided_rsc=HOURS, post_bachelor=st.booleans(),
                  post_master=st.booleans(), while_providing_rsc=st.booleans()), max_size=4
    ).map(tuple),
    ratings=st.lists(
        st.builds(Rating, rater_id=PEOPLE, rater_name=st.just("n"),
                  role=st.sampled_from(RaterRole), rated_on=DAYS,
                  rater_degree=st.none() | st.sampled_from(DegreeKind),
                  waiver_signed=st.booleans()), max_size=4
    ).map(tuple),
    code_of_ethics_signed=st.booleans(),
    agreement_signed=st.booleans(),
    fee_paid=st.booleans(),
    vetted_rater_ids=st.lists(PEOPLE, max_size=2).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(
    level=st.sampled_from(Level),
    designation=st.none() | st.sampled_from(Designation),
    evidence=EVIDENCE,
)
def test_evaluation_is_deterministic_and_sorted(
    level: Level, designation: Designation | None, evidence: ApplicationEvidence
) -> None:
    first = evaluate_application(level, designation, evidence, LOOKUP)
    again = evaluate_application(level, designation, msgspec.structs.replace(evidence), LOOKUP)
    assert first == again
    assert list(first) == sorted(first)
    assert all(isinstance(u, Unmet) and u.code and u.reason for u in first)


# --- The checklist: every requirement, met or unmet ------------------------------------------


def _checklist(level: Level, designation: Designation | None,
               ev: ApplicationEvidence) -> tuple[ChecklistItem, ...]:
    return checklist(level, designation, evaluate_application(level, designation, ev, LOOKUP))


def _each_reason_once(items: tuple[ChecklistItem, ...], unmet: tuple[Unmet, ...]) -> None:
    placed = [u for item in items for u in item.unmet]
    assert sorted(placed) == sorted(unmet)
    assert all(item.met is (not item.unmet) for item in items)
    assert len({item.code for item in items}) == len(items)
    assert all(item.description.strip() and item.field for item in items)


@pytest.mark.parametrize(("level", "designation"), ALL_LEVELS)
def test_a_complete_application_meets_every_item(level: Level,
                                                 designation: Designation | None) -> None:
    items = _checklist(level, designation, complete(level, designation))
    assert items and all(item.met and not item.unmet for item in items)
    codes_shown = {item.code for item in items}
    assert ("exam.passed" in codes_shown) is level.requires_exam
    assert ("rsc.hours" in codes_shown) is (
        level in (Level.IFS, Level.IMHS) or designation is C)
    assert ("designation" in codes_shown) is (level is Level.IMHM)


@pytest.mark.parametrize(("level", "designation", "change", "expected"), GAP_CASES)
def test_each_gap_is_one_unmet_item_with_its_reason(
    level: Level, designation: Designation | None, change: Change, expected: set[str]
) -> None:
    evidence = change(complete(level, designation))
    unmet = evaluate_application(level, designation, evidence, LOOKUP)
    items = checklist(level, designation, unmet)
    _each_reason_once(items, unmet)
    unmet_items = [item for item in items if not item.met]
    # Some cases change the evidence and keep it complete (an alternative route): all met.
    assert {u.code for item in unmet_items for u in item.unmet} == expected
    assert bool(unmet_items) is bool(expected)


def test_the_checklist_speaks_the_rules_words() -> None:
    items = {i.code: i for i in _checklist(Level.IFS, None, ApplicationEvidence())}
    assert items["training.hours"].description.startswith("At least 30 clock hours")
    assert "24 clock hours of RS/C" in items["rsc.hours"].description
    assert items["rsc.hours"].field == "evidence.rsc"
    assert "10 families" in items["work.families"].description
    assert "a program supervisor; a rsc provider" in items["ratings.roles"].description
    # An unmet item carries the evaluation's own reason and field.
    (reason,) = items["training.hours"].unmet
    assert reason.reason.startswith("0 clock hours") and reason.field == "evidence.trainings"


def test_before_any_evidence_nothing_is_met() -> None:
    missing = (Unmet(code=EVIDENCE_MISSING, field="evidence", reason="No evidence yet."),)
    items = checklist(Level.IMHS, None, missing)
    assert items[0].code == EVIDENCE_MISSING and items[0].unmet == missing
    assert not any(item.met for item in items)
    assert [item.code for item in items[1:]] == [
        r.code for r in requirements_of(Level.IMHS, None)]


def test_a_reason_no_requirement_covers_is_still_listed() -> None:
    unmet = evaluate_application(Level.IFA, C, complete(Level.IFA, None), LOOKUP)
    items = checklist(Level.IFA, C, unmet)
    assert items[0].code == "designation" and not items[0].met
    assert all(item.met for item in items[1:])


@settings(max_examples=200, deadline=None)
@given(
    level=st.sampled_from(Level),
    designation=st.none() | st.sampled_from(Designation),
    evidence=EVIDENCE,
)
def test_every_reason_lands_in_exactly_one_item(
    level: Level, designation: Designation | None, evidence: ApplicationEvidence
) -> None:
    unmet = evaluate_application(level, designation, evidence, LOOKUP)
    items = checklist(level, designation, unmet)
    _each_reason_once(items, unmet)
    # No reason outside the level's own requirements, except a designation that does not fit.
    known = {code for r in requirements_of(level, designation) for code in r.covers}
    assert {u.code for u in unmet} - known <= {"designation"}
