"""Whether one annual renewal cycle's evidence keeps an endorsement current.

DOMAIN.md, "Keeping an endorsement": training, membership and (for most levels) RS/C
received, all within the cycle being renewed. Unlike an application, renewal does not ask
who provided the RS/C, so no endorsement lookup is needed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from domain.errors import InvalidCommand
from domain.evidence import RenewalEvidence, RscHours, Training
from domain.levels import Designation, Level
from domain.requirement_areas import add_years, level_label
from domain.unmet import Unmet

MIN_TRAINING_HOURS = 15.0
MIN_RSC_TOPIC_HOURS = 3.0  # III holders who provide RS/C
MIN_RSC_HOURS = 12.0
CLINICAL_MENTOR_EXEMPT_AFTER_YEARS = 3


def cycle_words(cycle_start: dt.date, cycle_end: dt.date) -> str:
    """How a refusal names the period it counted: "2026-06-01 to 2027-12-31"."""
    return f"{cycle_start.isoformat()} to {cycle_end.isoformat()}"


def evaluate_renewal(
    level: Level,
    designation: Designation | None,
    held_since: dt.date,
    cycle_start: dt.date,
    cycle_end: dt.date,
    evidence: RenewalEvidence,
) -> tuple[Unmet, ...]:
    """Every continuing requirement the cycle [cycle_start, cycle_end] leaves unmet, sorted.

    `held_since` is when the holder was granted the current level, which decides the
    IV-Clinical exemption from RS/C after three years. Hours count only when they fall
    wholly inside the cycle, so the same hours never renew two cycles. Every reason names
    the dates it counted, so the holder can see which hours fell outside.
    """
    if cycle_end < cycle_start:
        raise InvalidCommand(
            "the renewal cycle ends before it starts", field="cycle_end", rule="renewal.cycle"
        )
    usable = designation if level is Level.IMHM else None
    label = level_label(level, usable)
    cycle = cycle_words(cycle_start, cycle_end)
    unmet = _designation(level, designation)
    trainings = [t for t in evidence.trainings if cycle_start <= t.completed_on <= cycle_end]
    unmet += _training(level, label, cycle, trainings, evidence.provides_rsc)
    if not any(m.valid_through >= cycle_end for m in evidence.memberships):
        reason = (
            "No membership in this or another infant mental health association runs to the "
            f"end of the cycle ({cycle_end.isoformat()})."
        )
        unmet.append(Unmet(code="membership", field="evidence.memberships", reason=reason))
    if _rsc_required(level, usable, held_since, cycle_end):
        rsc = [e for e in evidence.rsc if cycle_start <= e.started_on and e.ended_on <= cycle_end]
        unmet += _rsc(label, cycle, rsc)
    return tuple(sorted(unmet))


def _designation(level: Level, designation: Designation | None) -> list[Unmet]:
    # An endorsement should never carry a wrong designation; say so rather than guess.
    if level is Level.IMHM and designation is None:
        reason = "A Level IV endorsement needs a designation: Clinical, Policy or Research/Faculty."
    elif level is not Level.IMHM and designation is not None:
        reason = f"Only Level IV carries a designation; {level_label(level, None)} takes none."
    else:
        return []
    return [Unmet(code="designation", field="designation", reason=reason)]


def _training(
    level: Level, label: str, cycle: str, trainings: Iterable[Training], provides_rsc: bool
) -> list[Unmet]:
    trainings = list(trainings)
    unmet = []
    total = sum(t.hours for t in trainings)
    if total < MIN_TRAINING_HOURS:
        reason = (
            f"{total:g} clock hours of relationship-based training completed within the cycle "
            f"{cycle}; renewal needs at least {MIN_TRAINING_HOURS:g}."
        )
        unmet.append(Unmet(code="training.hours", field="evidence.trainings", reason=reason))
    # Required of III holders who provide RS/C; for IV-Clinical it is only recommended.
    if level is Level.IMHS and provides_rsc:
        topic = sum(t.hours for t in trainings if t.rsc_topic)
        if topic < MIN_RSC_TOPIC_HOURS:
            reason = (
                f"{topic:g} of the training hours within the cycle {cycle} are about RS/C; a "
                f"{label} holder who provides RS/C needs at least {MIN_RSC_TOPIC_HOURS:g}."
            )
            unmet.append(
                Unmet(code="training.rsc_topic", field="evidence.trainings", reason=reason)
            )
    return unmet


def _rsc_required(
    level: Level, designation: Designation | None, held_since: dt.date, cycle_end: dt.date
) -> bool:
    """II, III and IV-Clinical must receive RS/C, IV-Clinical only in its first three years."""
    if level in (Level.IFS, Level.IMHS):
        return True
    if level is Level.IMHM and designation is Designation.CLINICAL:
        exempt_from = add_years(held_since, CLINICAL_MENTOR_EXEMPT_AFTER_YEARS)
        return cycle_end < exempt_from
    return False  # Level I: encouraged; IV-Policy and IV-Research/Faculty: not asked


def _rsc(label: str, cycle: str, entries: Iterable[RscHours]) -> list[Unmet]:
    total = sum(e.hours for e in entries)
    if total >= MIN_RSC_HOURS:
        return []
    reason = (
        f"{total:g} clock hours of RS/C received wholly within the cycle {cycle}; a {label} "
        f"holder needs at least {MIN_RSC_HOURS:g}."
    )
    return [Unmet(code="rsc.hours", field="evidence.rsc", reason=reason)]
