"""Whether an application meets the requirements of the level it asks for.

The shared Alliance standard (DOMAIN.md, "Requirements to earn each level") as one pure
function. It returns every requirement still unmet, not the first, so a coordinator can ask
the applicant for everything missing in one round instead of one resubmission per gap.
Work experience and RS/C, the date-bound areas, live in `domain.requirement_areas`.
"""

from __future__ import annotations

from domain.evidence import ApplicationEvidence, Degree, Rating
from domain.levels import DegreeKind, Designation, Level, RaterRole
from domain.lookup import EndorsementLookup
from domain.requirement_areas import early_childhood_work_met, level_label, rsc_unmet, work_unmet
from domain.unmet import Unmet

MIN_TRAINING_HOURS = 30.0
MIN_DIDACTIC_RSC_HOURS = 15.0  # IV-Clinical, out of the 30
RATINGS_PER_APPLICATION = 3

_DEGREES_FOR: dict[Level, frozenset[DegreeKind]] = {
    # Level I: "any academic degree" or a CDA; a related Associate's is checked separately.
    Level.IFA: frozenset(
        {DegreeKind.CDA, DegreeKind.BACHELOR, DegreeKind.MASTER, DegreeKind.DOCTORATE}
    ),
    Level.IFS: frozenset({DegreeKind.BACHELOR, DegreeKind.MASTER, DegreeKind.DOCTORATE}),
    Level.IMHS: frozenset(
        {DegreeKind.MASTER, DegreeKind.DOCTORATE, DegreeKind.UNIVERSITY_CERTIFICATE}
    ),
    Level.IMHM: frozenset(
        {
            DegreeKind.MASTER,
            DegreeKind.DOCTORATE,
            DegreeKind.POSTGRADUATE_SPECIALISATION,
            DegreeKind.UNIVERSITY_CERTIFICATE,
        }
    ),
}
_EDUCATION_WORDS = {
    Level.IFA: "a degree, a CDA credential, a related Associate's degree, or two years of "
    "paid infant/early-childhood work",
    Level.IFS: "at least a Bachelor's degree",
    Level.IMHS: "a Master's or doctorate, or a university certificate programme",
    Level.IMHM: "a Master's or doctorate, a postgraduate specialisation, or a university "
    "certificate programme",
}

# Each inner tuple is one required rating: a rating in any of its roles fills it.
_Slots = tuple[tuple[RaterRole, ...], ...]
_SUPERVISOR_AND_PROVIDER: _Slots = ((RaterRole.PROGRAM_SUPERVISOR,), (RaterRole.RSC_PROVIDER,))
_REQUIRED_ROLES: dict[tuple[Level, Designation | None], _Slots] = {
    (Level.IFA, None): ((RaterRole.CURRENT_SUPERVISOR,),),
    (Level.IFS, None): _SUPERVISOR_AND_PROVIDER,
    (Level.IMHS, None): _SUPERVISOR_AND_PROVIDER,
    (Level.IMHM, Designation.CLINICAL): (*_SUPERVISOR_AND_PROVIDER, (RaterRole.RSC_RECIPIENT,)),
    (Level.IMHM, Designation.POLICY): ((RaterRole.PROGRAM_SUPERVISOR,),),
    (Level.IMHM, Designation.RESEARCH_FACULTY): (
        (RaterRole.DEPARTMENT_CHAIR, RaterRole.COLLEAGUE),
        (RaterRole.STUDENT,),
    ),
}


def education_words(level: Level) -> str:
    """The education a level asks for, in a coordinator's words."""
    return _EDUCATION_WORDS[level]


def rating_roles(level: Level, designation: Designation | None) -> _Slots:
    """The ratings a level (and designation) requires by role: one rating in any role of
    each inner tuple fills it."""
    return _REQUIRED_ROLES.get((level, designation), ())


def evaluate_application(
    level: Level,
    designation: Designation | None,
    evidence: ApplicationEvidence,
    lookup: EndorsementLookup,
) -> tuple[Unmet, ...]:
    """Every requirement of `level`/`designation` that `evidence` leaves unmet, sorted.

    An empty tuple means every requirement is met. Other people's endorsements are looked
    up as of the day the RS/C hours ended or the rating was given: a provider endorsed only
    later, or lapsed by then, did not qualify when it mattered.
    """
    # A designation that does not fit the level is reported; the level's own rules are
    # still checked, with designation-specific ones only when the designation is usable.
    usable = designation if level is Level.IMHM else None
    unmet = [
        *_designation(level, designation),
        *_education(level, evidence),
        *_training(level, usable, evidence),
        *work_unmet(level, usable, evidence, lookup),
        *rsc_unmet(level, usable, evidence, lookup),
        *_ratings(level, usable, evidence, lookup),
        *_commitments(level, evidence),
    ]
    return tuple(sorted(unmet))


def _designation(level: Level, designation: Designation | None) -> list[Unmet]:
    if level is Level.IMHM and designation is None:
        reason = "Level IV needs a designation: Clinical, Policy or Research/Faculty."
    elif level is not Level.IMHM and designation is not None:
        reason = f"Only Level IV carries a designation; {level_label(level, None)} takes none."
    else:
        return []
    return [Unmet(code="designation", field="designation", reason=reason)]


def _education(level: Level, evidence: ApplicationEvidence) -> list[Unmet]:
    """The level's education, proven by an official transcript of a degree relied on."""
    qualifying = [i for i, d in enumerate(evidence.degrees) if _counts_for(level, d)]
    if any(evidence.degrees[i].transcript_received for i in qualifying):
        return []
    if level is Level.IFA and early_childhood_work_met(evidence.work):
        return []
    label = level_label(level, None)
    if qualifying:
        entries = ", ".join(str(i + 1) for i in qualifying)
        reason = (
            f"No official transcript has arrived for a degree that meets {label} "
            f"(degree entries {entries}); one is enough."
        )
        return [Unmet(code="education.transcript", field="evidence.degrees", reason=reason)]
    reason = f"{label} needs {_EDUCATION_WORDS[level]}; none is listed."
    return [Unmet(code="education.degree", field="evidence.degrees", reason=reason)]


def _counts_for(level: Level, degree: Degree) -> bool:
    if level is Level.IFA and degree.kind is DegreeKind.ASSOCIATE:
        return degree.related_field
    return degree.kind in _DEGREES_FOR[level]


def _training(
    level: Level, designation: Designation | None, evidence: ApplicationEvidence
) -> list[Unmet]:
    label = level_label(level, designation)
    unmet = []
    total = sum(t.hours for t in evidence.trainings)
    if total < MIN_TRAINING_HOURS:
        reason = (
            f"{total:g} clock hours of relationship-based training listed; {label} needs at "
            f"least {MIN_TRAINING_HOURS:g}."
        )
        unmet.append(Unmet(code="training.hours", field="evidence.trainings", reason=reason))
    if designation is Designation.CLINICAL:
        didactic = sum(t.hours for t in evidence.trainings if t.didactic_rsc)
        if didactic < MIN_DIDACTIC_RSC_HOURS:
            reason = (
                f"{didactic:g} clock hours of didactic training on providing RS/C listed; "
                f"{label} needs at least {MIN_DIDACTIC_RSC_HOURS:g} of the training hours."
            )
            unmet.append(
                Unmet(code="training.didactic_rsc", field="evidence.trainings", reason=reason)
            )
    return unmet


def _ratings(
    level: Level,
    designation: Designation | None,
    evidence: ApplicationEvidence,
    lookup: EndorsementLookup,
) -> list[Unmet]:
    """Three ratings, waivers signed, the roles the level names, one endorsed rater. Only
    ratings received count: a rater named but not yet rated (`received=False`) fills no
    slot, though the count's reason says they are awaited."""
    ratings = tuple(r for r in evidence.ratings if r.received is not False)
    awaited = len(evidence.ratings) - len(ratings)
    label = level_label(level, designation)
    unmet = []
    if len(ratings) != RATINGS_PER_APPLICATION:
        if awaited:
            reason = (f"{len(ratings)} reference ratings received and {awaited} awaited; "
                      f"every application needs exactly 3.")
        else:
            reason = (f"{len(ratings)} reference ratings listed; every application needs "
                      f"exactly 3.")
        unmet.append(Unmet(code="ratings.count", field="evidence.ratings", reason=reason))
    for i, rating in enumerate(evidence.ratings):
        if rating.received is not False and not rating.waiver_signed:
            reason = f"Rating {i + 1}: the applicant has not signed the waiver of access to it."
            field = f"evidence.ratings[{i}].waiver_signed"
            unmet.append(Unmet(code="ratings.waiver", field=field, reason=reason))
    roles = {r.role for r in ratings}
    for slot in _REQUIRED_ROLES.get((level, designation), ()):
        if roles.isdisjoint(slot):
            words = " or ".join("a " + role.value.replace("_", " ") for role in slot)
            reason = f"{label} needs a rating from {words}; none is listed."
            unmet.append(Unmet(code="ratings.roles", field="evidence.ratings", reason=reason))
    if not any(_rater_qualifies(level, r, evidence, lookup) for r in ratings):
        vetted = " or vetted by the Endorsement Coordinator" if level is Level.IFA else ""
        reason = (
            f"{label} needs at least one rater who held Level II, III or IV on the day of "
            f"the rating{vetted}; none did."
        )
        unmet.append(Unmet(code="ratings.endorsed_rater", field="evidence.ratings", reason=reason))
    return unmet


def _rater_qualifies(
    level: Level, rating: Rating, evidence: ApplicationEvidence, lookup: EndorsementLookup
) -> bool:
    # Level I accepts a rater the Coordinator vetted instead of an endorsed one.
    if level is Level.IFA and rating.rater_id in evidence.vetted_rater_ids:
        return True
    held = lookup.held_on(rating.rater_id, rating.rated_on)
    return any(h.level.numeral >= Level.IFS.numeral for h in held)


def _commitments(level: Level, evidence: ApplicationEvidence) -> list[Unmet]:
    """The signatures, membership, fee and (III, IV) exam every application needs."""
    unmet = []
    if not evidence.code_of_ethics_signed:
        unmet.append(
            Unmet(
                code="ethics.signed",
                field="evidence.code_of_ethics_signed",
                reason="The Code of Ethics has not been signed.",
            )
        )
    if not evidence.agreement_signed:
        unmet.append(
            Unmet(
                code="agreement.signed",
                field="evidence.agreement_signed",
                reason="The Endorsement Agreement has not been signed.",
            )
        )
    if not evidence.memberships:
        unmet.append(
            Unmet(
                code="membership",
                field="evidence.memberships",
                reason="No membership in this or another infant mental health association.",
            )
        )
    if not evidence.fee_paid:
        unmet.append(
            Unmet(code="fee", field="evidence.fee_paid", reason="The processing fee is unpaid.")
        )
    if level.requires_exam and (evidence.exam is None or not evidence.exam.passed):
        taken = "has not been passed" if evidence.exam else "has not been taken"
        reason = f"The written exam {taken}; {level_label(level, None)} requires it."
        unmet.append(Unmet(code="exam.passed", field="evidence.exam", reason=reason))
    return unmet
