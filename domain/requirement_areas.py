"""The time-bound requirement areas: work experience and reflective supervision/consultation.

These are the rules where dates decide the outcome: how long someone worked, whether RS/C
hours fall within one window, and whether another person held the right endorsement on the
day the hours were given. They share the date arithmetic kept here; `domain.requirements`
combines them with the other areas.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from domain.evidence import ApplicationEvidence, Degree, RscHours, WorkExperience
from domain.levels import DegreeKind, Designation, Level, WorkKind
from domain.lookup import EndorsementLookup, HeldEndorsement
from domain.unmet import Unmet

DAYS_PER_YEAR = 365.25
_ONE_DAY = dt.timedelta(days=1)
_INFANT_WORK = frozenset(
    {WorkKind.INFANT_FAMILY, WorkKind.IMH_INFANT_AND_PARENT, WorkKind.EARLY_CHILDHOOD}
)
# Level II asks for work "promoting infant mental health"; direct IMH work with infant and
# parent is the most specific form of it, so it counts as well.
_PROMOTING_IMH_WORK = frozenset({WorkKind.INFANT_FAMILY, WorkKind.IMH_INFANT_AND_PARENT})
_GRADUATE_DEGREES = frozenset({DegreeKind.MASTER, DegreeKind.DOCTORATE})
_DESIGNATION_WORDS = {
    Designation.CLINICAL: "Clinical",
    Designation.POLICY: "Policy",
    Designation.RESEARCH_FACULTY: "Research/Faculty",
}


def level_label(level: Level, designation: Designation | None) -> str:
    """How a coordinator names a level in a reason: "Level II", "Level IV-Clinical"."""
    numeral = ("I", "II", "III", "IV")[level.numeral - 1]
    if level is Level.IMHM and designation is not None:
        return f"Level IV-{_DESIGNATION_WORDS[designation]}"
    return f"Level {numeral}"


def add_years(day: dt.date, years: int) -> dt.date:
    """`day` moved on by whole calendar years; 29 Feb becomes 28 Feb in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _days_for(years: float) -> int:
    # Whole days, rounded down, so that 1 Jan to 31 Dec a year later counts as two years
    # whether or not the span holds a 29 Feb (730 or 731 days against 730.5).
    return math.floor(years * DAYS_PER_YEAR)


def _covered_days(periods: Iterable[tuple[dt.date, dt.date]]) -> int:
    """Days covered by inclusive periods, each day once however many periods overlap it.

    Two jobs held at the same time are one period of experience, not two.
    """
    total = 0
    run: tuple[dt.date, dt.date] | None = None
    for start, end in sorted(p for p in periods if p[0] <= p[1]):
        if run is not None and start <= run[1] + _ONE_DAY:
            run = (run[0], max(run[1], end))
            continue
        if run is not None:
            total += (run[1] - run[0]).days + 1
        run = (start, end)
    if run is not None:
        total += (run[1] - run[0]).days + 1
    return total


def _periods(work: Iterable[WorkExperience]) -> list[tuple[dt.date, dt.date]]:
    return [(w.started_on, w.ended_on) for w in work]


def _years(days: int) -> str:
    return f"{days / DAYS_PER_YEAR:.1f}"


# --- Work experience --------------------------------------------------------------------


def early_childhood_work_met(work: Sequence[WorkExperience]) -> bool:
    """Level I's alternative to a degree: two years of paid infant/early-childhood work.

    Supervised volunteer work with specialised training (CASA, doula, child life) counts too.
    """
    qualifying = [
        w
        for w in work
        if w.kind in _INFANT_WORK and (w.paid or (w.specialised_volunteer and w.supervised))
    ]
    return _covered_days(_periods(qualifying)) >= _days_for(2)


def work_unmet(
    level: Level,
    designation: Designation | None,
    evidence: ApplicationEvidence,
    lookup: EndorsementLookup,
) -> list[Unmet]:
    """Unmet work-experience rules; Level I has none (its work route is an education option)."""
    work = evidence.work
    if level is Level.IFS:
        return _promoting_imh_work(work)
    if level is Level.IMHS:
        return _imh_work(work, lookup, "Level III")
    if designation is Designation.CLINICAL:
        return _imh_work(work, lookup, "Level IV-Clinical") + _years_of(
            [w for w in work if w.kind is WorkKind.RSC_PROVISION and w.post_master],
            3,
            "work.rsc_provision",
            "Level IV-Clinical needs 3 years of postgraduate experience providing RS/C",
        )
    if designation is Designation.POLICY:
        return _years_of(
            [w for w in work if w.kind is WorkKind.POLICY_LEADERSHIP],
            3,
            "work.years",
            "Level IV-Policy needs 3 years leading policy or programme administration",
        )
    if designation is Designation.RESEARCH_FACULTY:
        return _years_of(
            [w for w in work if w.kind is WorkKind.UNIVERSITY_TEACHING_RESEARCH],
            3,
            "work.years",
            "Level IV-Research/Faculty needs 3 years of university teaching or research",
        )
    return []


def _years_of(work: list[WorkExperience], years: int, code: str, need: str) -> list[Unmet]:
    days = _covered_days(_periods(work))
    if days >= _days_for(years):
        return []
    reason = f"{_years(days)} years of qualifying work listed; {need}."
    return [Unmet(code=code, field="evidence.work", reason=reason)]


def _promoting_imh_work(work: Sequence[WorkExperience]) -> list[Unmet]:
    qualifying = [
        w
        for w in work
        if w.kind in _PROMOTING_IMH_WORK
        and w.paid
        and w.post_bachelor
        and w.infant_social_emotional_focus
    ]
    unmet = _years_of(
        qualifying,
        2,
        "work.years",
        "Level II needs 2 years of paid post-Bachelor's work promoting infant mental health "
        "with a primary focus on infants' social-emotional needs",
    )
    families = sum(w.families_served for w in qualifying)
    if families < 10:
        reason = (
            f"The qualifying work lists {families} families of infants or toddlers served; "
            "Level II needs at least 10."
        )
        unmet.append(Unmet(code="work.families", field="evidence.work", reason=reason))
    return unmet


def _imh_work(work: Sequence[WorkExperience], lookup: EndorsementLookup, label: str) -> list[Unmet]:
    """Level III work: two postgraduate years, of which one may be a graduate internship.

    The internship counts only if its supervisor held III or IV-Clinical on the day it
    ended, and it adds at most one year beyond what the other work already covers.
    """
    direct = _periods(
        w
        for w in work
        if w.kind is WorkKind.IMH_INFANT_AND_PARENT and w.supervised and w.post_master
    )
    internships = [(i, w) for i, w in enumerate(work) if w.kind is WorkKind.GRADUATE_INTERNSHIP]
    supervised_well = [w for _, w in internships if _internship_supervisor_ok(w, lookup)]
    direct_days = _covered_days(direct)
    days = min(_covered_days(direct + _periods(supervised_well)), direct_days + _days_for(1))
    if days >= _days_for(2):
        return []
    reason = (
        f"{_years(days)} years of qualifying work listed; {label} needs 2 years of "
        "postgraduate, supervised infant mental health work with infant and parent "
        "(one year of a graduate internship may count)."
    )
    unmet = [Unmet(code="work.years", field="evidence.work", reason=reason)]
    # Only worth saying when the internship would have helped: the work falls short.
    for i, internship in internships:
        if not _internship_supervisor_ok(internship, lookup):
            unmet.append(
                Unmet(
                    code="work.internship_supervisor",
                    field=f"evidence.work[{i}].internship_supervisor_id",
                    reason=(
                        f"Work entry {i + 1}: the internship's supervisor did not hold "
                        "Level III or IV-Clinical on the day the internship ended, so it "
                        "does not count."
                    ),
                )
            )
    return unmet


def _internship_supervisor_ok(internship: WorkExperience, lookup: EndorsementLookup) -> bool:
    supervisor = internship.internship_supervisor_id
    if supervisor is None:
        return False
    return _specialist_or_clinical_mentor(lookup.held_on(supervisor, internship.ended_on))


# --- Reflective supervision/consultation ------------------------------------------------


def _specialist_or_clinical_mentor(held: Iterable[HeldEndorsement]) -> bool:
    return any(
        h.level is Level.IMHS or (h.level is Level.IMHM and h.designation is Designation.CLINICAL)
        for h in held
    )


def _clinical_mentor(held: Iterable[HeldEndorsement]) -> bool:
    return any(h.level is Level.IMHM and h.designation is Designation.CLINICAL for h in held)


def _bachelor_prepared(degrees: Iterable[Degree]) -> bool:
    kinds = {d.kind for d in degrees}
    return DegreeKind.BACHELOR in kinds and not kinds & _GRADUATE_DEGREES


def _level_ii_provider_ok(
    entry: RscHours, evidence: ApplicationEvidence, lookup: EndorsementLookup
) -> bool:
    """III or IV-C; for a Bachelor's-prepared applicant also a Master's-prepared II.

    That the provider is Master's-prepared is a fact about the provider, so it comes from the
    provider's own endorsement (recorded by the association that endorsed the provider, and
    returned by the lookup), never from the applicant's evidence: a rater_degree the
    applicant lists proves nothing about someone else. The provider must have been on record
    as Master's-prepared by the day the hours ended, as for the level itself.
    """
    held = lookup.held_on(entry.provider_id, entry.ended_on)
    if _specialist_or_clinical_mentor(held):
        return True
    return _bachelor_prepared(evidence.degrees) and any(
        _masters_prepared_specialist(h, entry.ended_on) for h in held
    )


def _masters_prepared_specialist(held: HeldEndorsement, on: dt.date) -> bool:
    since = held.masters_prepared_since
    return held.level is Level.IFS and since is not None and since <= on


def _level_ii_provider_words(
    entry: RscHours, evidence: ApplicationEvidence, lookup: EndorsementLookup
) -> str:
    """Why a Level II provider did not count. The reason reaches the ledger, so it names no
    fact of the applicant's private evidence (such as which degree the applicant holds)."""
    held = lookup.held_on(entry.provider_id, entry.ended_on)
    if not any(h.level is Level.IFS for h in held):
        return ""
    return (" (the provider held Level II, which counts only for a Bachelor's-prepared "
            "applicant and only once the endorsing association's record of the provider "
            "shows a Master's degree)")


def _level_iii_provider_ok(
    entry: RscHours, evidence: ApplicationEvidence, lookup: EndorsementLookup
) -> bool:
    return _specialist_or_clinical_mentor(lookup.held_on(entry.provider_id, entry.ended_on))


def _level_iv_provider_ok(
    entry: RscHours, evidence: ApplicationEvidence, lookup: EndorsementLookup
) -> bool:
    return _clinical_mentor(lookup.held_on(entry.provider_id, entry.ended_on))


@dataclass(frozen=True)
class _RscRule:
    """What one level asks of RS/C received: how much, which hours count, from whom."""

    label: str
    min_hours: float
    conditions: str  # which hours count, in a coordinator's words
    counts: Callable[[RscHours], bool]
    provider_ok: Callable[[RscHours, ApplicationEvidence, EndorsementLookup], bool]
    provider_words: str
    min_about_provided: float = 0.0
    why_not: Callable[[RscHours, ApplicationEvidence, EndorsementLookup], str] = (
        lambda entry, evidence, lookup: "")


_RSC_RULES = {
    Level.IFS: _RscRule(
        label="Level II",
        min_hours=24,
        conditions="post-Bachelor's, received while serving infants and families",
        counts=lambda e: e.post_bachelor and e.while_serving_families,
        provider_ok=_level_ii_provider_ok,
        provider_words="Level III or IV-Clinical (or, for a Bachelor's-prepared applicant, "
        "Level II with a Master's degree on the endorsing association's record)",
        why_not=_level_ii_provider_words,
    ),
    Level.IMHS: _RscRule(
        label="Level III",
        min_hours=50,
        conditions="post-Master's",
        counts=lambda e: e.post_master,
        provider_ok=_level_iii_provider_ok,
        provider_words="Level III or IV-Clinical",
    ),
    Level.IMHM: _RscRule(
        label="Level IV-Clinical",
        min_hours=50,
        conditions="received while providing RS/C to others",
        counts=lambda e: e.while_providing_rsc,
        provider_ok=_level_iv_provider_ok,
        provider_words="Level IV-Clinical",
        min_about_provided=25,
    ),
}


def rsc_requirement(level: Level) -> tuple[str, str] | None:
    """The RS/C rules of a level in a coordinator's words: (hours and provider, the part
    about RS/C the applicant provides or ""); None for a level without RS/C (Level I).

    Level IV's rules are those of IV-Clinical (RS/C is optional for Policy and
    Research/Faculty)."""
    rule = _RSC_RULES.get(level)
    if rule is None:
        return None
    hours = (f"At least {rule.min_hours:g} clock hours of RS/C, {rule.conditions}, received "
             f"over one to two years from a provider who held {rule.provider_words} on the "
             "day the hours ended.")
    about = (f"At least {rule.min_about_provided:g} of the RS/C hours are about the RS/C the "
             "applicant provides." if rule.min_about_provided else "")
    return hours, about


def rsc_unmet(
    level: Level,
    designation: Designation | None,
    evidence: ApplicationEvidence,
    lookup: EndorsementLookup,
) -> list[Unmet]:
    """Unmet RS/C rules: required for II, III and IV-Clinical only.

    Every entry whose provider did not qualify on the day its hours ended is reported, even
    when the other entries suffice, because the application then claims hours the rule
    does not accept; the coordinator decides whether the applicant corrects the list.
    """
    if level is Level.IFA or (level is Level.IMHM and designation is not Designation.CLINICAL):
        return []
    rule = _RSC_RULES[level]
    unmet: list[Unmet] = []
    counted: list[RscHours] = []
    for i, entry in enumerate(evidence.rsc):
        if not rule.provider_ok(entry, evidence, lookup):
            reason = (
                f"RS/C entry {i + 1}: the provider did not hold {rule.provider_words} on the "
                f"day these hours ended{rule.why_not(entry, evidence, lookup)}, so they do "
                "not count."
            )
            unmet.append(
                Unmet(code="rsc.provider", field=f"evidence.rsc[{i}].provider_id", reason=reason)
            )
        elif rule.counts(entry):
            counted.append(entry)
    total = sum(e.hours for e in counted)
    if total < rule.min_hours:
        reason = (
            f"{total:g} clock hours of RS/C count; {rule.label} needs at least "
            f"{rule.min_hours:g}, {rule.conditions}, from an eligible provider."
        )
        unmet.append(Unmet(code="rsc.hours", field="evidence.rsc", reason=reason))
    elif not _fits_window(counted, rule.min_hours):
        reason = (
            f"The RS/C hours do not fall within one window of one to two years; {rule.label} "
            f"needs at least {rule.min_hours:g} hours received over one to two years."
        )
        unmet.append(Unmet(code="rsc.window", field="evidence.rsc", reason=reason))
    about = sum(min(e.about_provided_rsc, e.hours) for e in counted)
    if about < rule.min_about_provided:
        reason = (
            f"{about:g} of the RS/C hours are about the RS/C the applicant provides; "
            f"{rule.label} needs at least {rule.min_about_provided:g}."
        )
        unmet.append(Unmet(code="rsc.about_provided", field="evidence.rsc", reason=reason))
    return unmet


def _fits_window(entries: Sequence[RscHours], min_hours: float) -> bool:
    """Whether entries spanning at least one and at most two years hold `min_hours`.

    RS/C is meant to be an ongoing relationship, so hours crammed into a few weeks do not
    meet the rule, nor do hours scattered over more than two years. An entry cannot be
    split, so it counts only when it lies wholly inside the window. The best window starts
    where some entry starts, and for a given start taking every entry that fits only adds
    hours and span, so trying each entry's start is enough.
    """
    for anchor in entries:
        start = anchor.started_on
        last_day = add_years(start, 2) - _ONE_DAY
        if anchor.ended_on > last_day:
            continue
        inside = [e for e in entries if start <= e.started_on and e.ended_on <= last_day]
        span_end = max(e.ended_on for e in inside)
        if span_end >= add_years(start, 1) - _ONE_DAY and sum(e.hours for e in inside) >= (
            min_hours
        ):
            return True
    return False
