"""The requirement checklist: every requirement of a level, met or unmet, in plain words.

`domain.requirements.evaluate_application` says what is unmet; a checklist shows the
applicant and the coordinator the whole list, so they see what is done as well as what is
missing. Each item is one requirement of DOMAIN.md in the rule's own words; it is met when
the evaluation reports none of the codes the requirement covers, and unmet items carry the
evaluation's reasons (with their fields), so the two can never disagree: the checklist is
built from the same unmet list that is recorded on the ledger.
"""

from __future__ import annotations

import msgspec

from domain.levels import Designation, Level
from domain.requirement_areas import level_label, rsc_requirement
from domain.requirements import (
    MIN_DIDACTIC_RSC_HOURS,
    MIN_TRAINING_HOURS,
    RATINGS_PER_APPLICATION,
    education_words,
    rating_roles,
)
from domain.unmet import Unmet

EVIDENCE_MISSING = "evidence.missing"  # what an application lacks before its first submission


class Requirement(msgspec.Struct, frozen=True, kw_only=True):
    """One requirement of a level: its code, the evidence field it concerns, the rule in
    plain words, and the codes of the unmet reasons that belong to it."""

    code: str
    field: str
    description: str
    covers: frozenset[str]


class ChecklistItem(msgspec.Struct, frozen=True, kw_only=True):
    """A requirement, met or not; `unmet` holds the evaluation's reasons when it is not."""

    code: str
    field: str
    description: str
    met: bool
    unmet: tuple[Unmet, ...] = ()


def _req(code: str, field: str, description: str, *covers: str) -> Requirement:
    return Requirement(code=code, field=field, description=description,
                       covers=frozenset(covers or (code,)))


def _work(level: Level, designation: Designation | None) -> list[Requirement]:
    if level is Level.IFS:
        return [
            _req("work.years", "evidence.work", "At least 2 years of paid post-Bachelor's work "
                 "promoting infant mental health, with a primary focus on infants' "
                 "social-emotional needs and the relationships around them."),
            _req("work.families", "evidence.work", "That work served at least 10 families of "
                 "infants or toddlers (birth to 36 months)."),
        ]
    imh_work = _req("work.years", "evidence.work", "2 years of postgraduate, supervised infant "
                    "mental health work with both infant and parent on behalf of the "
                    "relationship; one year of a graduate internship counts if its supervisor "
                    "held Level III or IV-Clinical.", "work.years", "work.internship_supervisor")
    if level is Level.IMHS:
        return [imh_work]
    if designation is Designation.CLINICAL:
        return [imh_work, _req("work.rsc_provision", "evidence.work", "3 years of "
                               "postgraduate experience providing reflective "
                               "supervision/consultation (RS/C).")]
    if designation is Designation.POLICY:
        return [_req("work.years", "evidence.work", "3 years as a leader in policy or "
                     "programme administration in the infant/family field.")]
    if designation is Designation.RESEARCH_FACULTY:
        return [_req("work.years", "evidence.work", "3 years of university teaching and/or "
                     "published research in the infant/family field.")]
    return []


def _rsc(level: Level, designation: Designation | None) -> list[Requirement]:
    words = rsc_requirement(level)
    if words is None or (level is Level.IMHM and designation is not Designation.CLINICAL):
        return []
    hours, about = words
    found = [_req("rsc.hours", "evidence.rsc", hours, "rsc.hours", "rsc.window", "rsc.provider")]
    if about:
        found.append(_req("rsc.about_provided", "evidence.rsc", about))
    return found


def _ratings(level: Level, designation: Designation | None) -> list[Requirement]:
    found = [_req("ratings.count", "evidence.ratings", f"Exactly {RATINGS_PER_APPLICATION} "
                  "reference ratings, each with the applicant's signed waiver of the right to "
                  "see it.", "ratings.count", "ratings.waiver")]
    slots = rating_roles(level, designation)
    if slots:
        roles = "; ".join(" or ".join("a " + role.value.replace("_", " ") for role in slot)
                          for slot in slots)
        found.append(_req("ratings.roles", "evidence.ratings", f"Ratings from {roles}."))
    vetted = " (or one the Endorsement Coordinator vetted)" if level is Level.IFA else ""
    found.append(_req("ratings.endorsed_rater", "evidence.ratings", "At least one rater held "
                      f"Level II, III or IV on the day of the rating{vetted}."))
    return found


def requirements_of(level: Level, designation: Designation | None) -> tuple[Requirement, ...]:
    """Every requirement of `level` (and, for Level IV, `designation`), in checklist order."""
    usable = designation if level is Level.IMHM else None
    label = level_label(level, usable)
    found: list[Requirement] = []
    if level is Level.IMHM:
        found.append(_req("designation", "designation", "One Level IV designation: Clinical, "
                          "Policy or Research/Faculty."))
    transcript = ("; a degree counts once its official transcript has arrived"
                  if level is not Level.IFA else
                  " (a degree or credential counts once its official transcript has arrived)")
    found.append(_req("education", "evidence.degrees",
                      f"{label} needs {education_words(level)}{transcript}.",
                      "education.degree", "education.transcript"))
    found.append(_req("training.hours", "evidence.trainings", f"At least {MIN_TRAINING_HOURS:g} "
                      "clock hours of relationship-based training on social-emotional "
                      "development or infant mental health."))
    if usable is Designation.CLINICAL:
        found.append(_req("training.didactic_rsc", "evidence.trainings", "At least "
                          f"{MIN_DIDACTIC_RSC_HOURS:g} of the training hours are didactic "
                          "training on providing RS/C."))
    found += _work(level, usable)
    found += _rsc(level, usable)
    found += _ratings(level, usable)
    found += [
        _req("ethics.signed", "evidence.code_of_ethics_signed", "The Code of Ethics is signed."),
        _req("agreement.signed", "evidence.agreement_signed",
             "The Endorsement Agreement is signed."),
        _req("membership", "evidence.memberships", "Membership in this or another infant "
             "mental health association."),
        _req("fee", "evidence.fee_paid", "The processing fee is paid."),
    ]
    if level.requires_exam:
        found.append(_req("exam.passed", "evidence.exam", "The written exam is passed."))
    return tuple(found)


def checklist(level: Level, designation: Designation | None,
              unmet: tuple[Unmet, ...]) -> tuple[ChecklistItem, ...]:
    """The level's requirements, each met or unmet by `unmet` (an evaluation's result, as
    recorded on the application), with every reason in exactly one item.

    Before the first submission (`unmet` says no evidence was submitted) nothing is met. A
    reason no requirement covers (a designation on a level without one) gets an item of its
    own, so nothing the evaluation said is ever left off the list.
    """
    missing = any(u.code == EVIDENCE_MISSING for u in unmet)
    requirements = list(requirements_of(level, designation))
    if missing:
        requirements.insert(0, _req(EVIDENCE_MISSING, "evidence", "The application's evidence "
                                    "(education, training, work, ratings, signatures) is "
                                    "submitted."))
    covered = {code for r in requirements for code in r.covers}
    extra = sorted({u.code for u in unmet} - covered)
    requirements = [_req(code, next(u.field for u in unmet if u.code == code),
                         next(u.reason for u in unmet if u.code == code)) for code in extra
                    ] + requirements
    items = []
    for requirement in requirements:
        reasons = tuple(u for u in unmet if u.code in requirement.covers)
        items.append(ChecklistItem(code=requirement.code, field=requirement.field,
                                   description=requirement.description,
                                   met=not reasons and not missing, unmet=reasons))
    return tuple(items)
