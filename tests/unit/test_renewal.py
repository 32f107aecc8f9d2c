"""Annual renewal per level, the IV-Clinical exemption, and the association's cycle policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec
import pytest

from domain.errors import InvalidCommand
from domain.evidence import Membership, RenewalEvidence, RscHours, Training
from domain.levels import Designation, Level
from domain.policy import AssociationPolicy, RenewalCycle
from domain.renewal import evaluate_renewal

D = dt.date
C, P, RF = Designation.CLINICAL, Designation.POLICY, Designation.RESEARCH_FACULTY
CYCLE_START, CYCLE_END = D(2024, 1, 1), D(2024, 12, 31)
HELD_SINCE = D(2023, 1, 1)  # IV-C held for two years at the end of the cycle


MID_CYCLE = D(2024, 5, 1)


def training(hours: float, on: dt.date = MID_CYCLE, *, rsc_topic: bool = False) -> Training:
    return Training(title="Reflective practice", hours=hours, completed_on=on, rsc_topic=rsc_topic)


def received(hours: float, start: dt.date = CYCLE_START, end: dt.date = CYCLE_END) -> RscHours:
    return RscHours(provider_id="p-any", hours=hours, started_on=start, ended_on=end)


COMPLETE = RenewalEvidence(
    trainings=(training(12), training(3, rsc_topic=True)),
    rsc=(received(12),),
    memberships=(Membership(association="WA-AIMH", valid_through=CYCLE_END),),
    provides_rsc=True,
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


def codes(level: Level, designation: Designation | None, evidence: RenewalEvidence) -> set[str]:
    unmet = evaluate_renewal(level, designation, HELD_SINCE, CYCLE_START, CYCLE_END, evidence)
    return {u.code for u in unmet}


@pytest.mark.parametrize(("level", "designation"), ALL_LEVELS)
def test_complete_renewal_has_nothing_unmet(level: Level, designation: Designation | None) -> None:
    assert evaluate_renewal(level, designation, HELD_SINCE, CYCLE_START, CYCLE_END, COMPLETE) == ()


Change = Callable[[RenewalEvidence], RenewalEvidence]


def with_(**changes: object) -> Change:
    return lambda ev: msgspec.structs.replace(ev, **changes)


RSC_REQUIRED = {Level.IFS, Level.IMHS}
COMMON_GAPS: list[tuple[str, Change, set[str]]] = [
    ("14.5-training-hours", with_(trainings=(training(11.5), training(3, rsc_topic=True))),
     {"training.hours"}),
    ("training-before-cycle",
     with_(trainings=(training(12, D(2023, 12, 31)), training(3, rsc_topic=True))),
     {"training.hours"}),
    ("training-after-cycle",
     with_(trainings=(training(12, D(2025, 1, 1)), training(3, rsc_topic=True))),
     {"training.hours"}),
    ("training-on-cycle-boundaries",
     with_(trainings=(training(6, CYCLE_START), training(6, CYCLE_END),
                      training(3, rsc_topic=True))), set()),
    ("no-membership", with_(memberships=()), {"membership"}),
    ("membership-ends-before-cycle",
     with_(memberships=(Membership(association="AK-AIMH", valid_through=D(2024, 12, 30)),)),
     {"membership"}),
    ("membership-in-another-association-runs-on",
     with_(memberships=(Membership(association="MI-AIMH", valid_through=D(2025, 12, 31)),)),
     set()),
]
# Whether each level must receive RS/C (IV-C before its three-year exemption).
RSC_GAPS: list[tuple[str, Change]] = [
    ("11-rsc-hours", with_(rsc=(received(11),))),
    ("rsc-started-before-cycle", with_(rsc=(received(12, start=D(2023, 12, 1)),))),
    ("rsc-ended-after-cycle", with_(rsc=(received(12, end=D(2025, 1, 31)),))),
    ("no-rsc", with_(rsc=())),
]
MUST_RECEIVE_RSC = {Level.IFS: True, Level.IMHS: True, Level.IFA: False}


def _must_receive(level: Level, designation: Designation | None) -> bool:
    return designation is C if level is Level.IMHM else MUST_RECEIVE_RSC[level]


GAP_CASES = [
    pytest.param(level, designation, change, expected, id=f"{level_name}:{name}")
    for level, designation, level_name in LEVELS
    for name, change, expected in COMMON_GAPS
] + [
    pytest.param(
        level,
        designation,
        change,
        {"rsc.hours"} if _must_receive(level, designation) else set(),
        id=f"{level_name}:{name}",
    )
    for level, designation, level_name in LEVELS
    for name, change in RSC_GAPS
]


@pytest.mark.parametrize(("level", "designation", "change", "expected"), GAP_CASES)
def test_each_gap_yields_exactly_its_code(
    level: Level, designation: Designation | None, change: Change, expected: set[str]
) -> None:
    assert codes(level, designation, change(COMPLETE)) == expected


@pytest.mark.parametrize(
    ("level", "designation", "provides_rsc", "expected"),
    [
        pytest.param(Level.IMHS, None, True, {"training.rsc_topic"}, id="III-provider"),
        pytest.param(Level.IMHS, None, False, set(), id="III-not-providing"),
        pytest.param(Level.IMHM, C, True, set(), id="IV-C-only-recommended"),
        pytest.param(Level.IFS, None, True, set(), id="II-not-asked"),
    ],
)
def test_rsc_topic_training_for_level_iii_holders_who_provide_rsc(
    level: Level, designation: Designation | None, provides_rsc: bool, expected: set[str]
) -> None:
    ev = msgspec.structs.replace(
        COMPLETE,
        trainings=(training(13), training(2, rsc_topic=True)),
        provides_rsc=provides_rsc,
    )
    assert codes(level, designation, ev) == expected


@pytest.mark.parametrize(
    ("held_since", "cycle_end", "expected"),
    [
        pytest.param(D(2021, 12, 31), D(2024, 12, 31), set(), id="exactly-three-years"),
        pytest.param(D(2022, 1, 1), D(2024, 12, 31), {"rsc.hours"}, id="one-day-short"),
        pytest.param(D(2016, 5, 1), D(2024, 12, 31), set(), id="long-held"),
        pytest.param(D(2020, 2, 29), D(2023, 2, 28), set(), id="29-feb-anniversary-reached"),
        pytest.param(D(2020, 2, 29), D(2023, 2, 27), {"rsc.hours"}, id="29-feb-one-day-short"),
    ],
)
def test_clinical_mentor_exempt_from_rsc_after_three_years(
    held_since: dt.date, cycle_end: dt.date, expected: set[str]
) -> None:
    ev = RenewalEvidence(
        trainings=(training(15, cycle_end),),
        memberships=(Membership(association="AK-AIMH", valid_through=cycle_end),),
    )
    cycle_start = cycle_end - dt.timedelta(days=364)
    unmet = evaluate_renewal(Level.IMHM, C, held_since, cycle_start, cycle_end, ev)
    assert {u.code for u in unmet} == expected


@pytest.mark.parametrize(
    ("level", "designation"),
    [
        pytest.param(Level.IFS, C, id="level-ii-with-designation"),
        pytest.param(Level.IMHM, None, id="level-iv-without-designation"),
    ],
)
def test_wrong_designation_is_reported(level: Level, designation: Designation | None) -> None:
    assert codes(level, designation, COMPLETE) == {"designation"}


def test_cycle_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(InvalidCommand) as raised:
        evaluate_renewal(Level.IFS, None, HELD_SINCE, CYCLE_END, CYCLE_START, COMPLETE)
    assert raised.value.rule == "renewal.cycle"


def test_reasons_name_no_provider_or_association() -> None:
    unmet = evaluate_renewal(Level.IMHS, None, HELD_SINCE, CYCLE_START, CYCLE_END,
                             RenewalEvidence(rsc=(received(1),), provides_rsc=True))
    assert {u.code for u in unmet} == {
        "training.hours", "training.rsc_topic", "membership", "rsc.hours"
    }
    assert not [u for u in unmet if "p-any" in u.reason or "AIMH" in u.reason]


# --- Association policy: when a cycle ends and when an unrenewed endorsement lapses -------

FIXED = AssociationPolicy()  # 31 December, 60 days' grace
ANNIVERSARY = AssociationPolicy(cycle=RenewalCycle.ANNIVERSARY)
END_OF_JUNE = AssociationPolicy(fixed_month=6, fixed_day=30, grace_days=0)


@pytest.mark.parametrize(
    ("policy", "granted_on", "expected"),
    [
        pytest.param(FIXED, D(2024, 5, 10), D(2024, 12, 31), id="fixed-mid-year"),
        pytest.param(FIXED, D(2024, 12, 30), D(2024, 12, 31), id="fixed-day-before"),
        pytest.param(FIXED, D(2024, 12, 31), D(2025, 12, 31), id="fixed-on-renewal-date"),
        pytest.param(END_OF_JUNE, D(2024, 7, 1), D(2025, 6, 30), id="fixed-after-renewal-date"),
        pytest.param(ANNIVERSARY, D(2024, 5, 10), D(2025, 5, 9), id="anniversary"),
        pytest.param(ANNIVERSARY, D(2023, 3, 1), D(2024, 2, 29), id="anniversary-into-leap"),
        # A 29 Feb grant's anniversary is taken as 28 Feb in common years.
        pytest.param(ANNIVERSARY, D(2024, 2, 29), D(2025, 2, 27), id="anniversary-29-feb"),
    ],
)
def test_first_valid_through(
    policy: AssociationPolicy, granted_on: dt.date, expected: dt.date
) -> None:
    assert policy.first_valid_through(granted_on) == expected


@pytest.mark.parametrize(
    ("policy", "valid_through", "expected"),
    [
        pytest.param(FIXED, D(2024, 12, 31), D(2025, 12, 31), id="fixed"),
        pytest.param(END_OF_JUNE, D(2025, 6, 30), D(2026, 6, 30), id="fixed-mid-year"),
        pytest.param(ANNIVERSARY, D(2025, 5, 9), D(2026, 5, 9), id="anniversary"),
        pytest.param(ANNIVERSARY, D(2023, 2, 28), D(2024, 2, 29), id="anniversary-1-mar-leap"),
        # Renewing on 29 Feb: the anniversary is 28 Feb in the following common year.
        pytest.param(ANNIVERSARY, D(2024, 2, 28), D(2025, 2, 27), id="anniversary-29-feb"),
    ],
)
def test_next_valid_through(
    policy: AssociationPolicy, valid_through: dt.date, expected: dt.date
) -> None:
    assert policy.next_valid_through(valid_through) == expected


@pytest.mark.parametrize(
    ("policy", "valid_through", "expected"),
    [
        # 60 days of grace: 1 Mar 2025 is the last, 2 Mar the first day lapsed.
        pytest.param(FIXED, D(2024, 12, 31), D(2025, 3, 2), id="sixty-days-grace"),
        pytest.param(FIXED, D(2023, 12, 31), D(2024, 3, 1), id="grace-over-29-feb"),
        pytest.param(END_OF_JUNE, D(2025, 6, 30), D(2025, 7, 1), id="no-grace"),
    ],
)
def test_lapses_on(policy: AssociationPolicy, valid_through: dt.date, expected: dt.date) -> None:
    assert policy.lapses_on(valid_through) == expected


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"fixed_month": 2, "fixed_day": 30}, id="30-feb"),
        pytest.param({"fixed_month": 13}, id="month-13"),
        pytest.param({"grace_days": -1}, id="negative-grace"),
        pytest.param({"grace_days": 367}, id="grace-over-a-year"),
    ],
)
def test_impossible_policy_cannot_exist(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        AssociationPolicy(**changes)  # type: ignore[arg-type]


def test_fixed_29_february_renews_on_28_february_in_common_years() -> None:
    policy = AssociationPolicy(fixed_month=2, fixed_day=29)
    assert policy.first_valid_through(D(2023, 1, 10)) == D(2023, 2, 28)
    assert policy.next_valid_through(D(2023, 2, 28)) == D(2024, 2, 29)
    assert policy.next_valid_through(D(2024, 2, 29)) == D(2025, 2, 28)
