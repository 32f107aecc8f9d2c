"""Annual renewal per level, the IV-Clinical exemption, and the association's cycle policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from domain.endorsement import Endorsement
from domain.errors import InvalidCommand, InvalidTransition, RequirementsUnmet
from domain.evidence import Membership, RenewalEvidence, RscHours, Training
from domain.levels import Designation, Level
from domain.policy import AssociationPolicy, FirstCycleHours, RenewalCycle, add_months
from domain.renewal import evaluate_renewal
from domain.unmet import Unmet
from ledger.codec import EventMapper, encode

MAPPER = EventMapper()

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

# The renewal calendar alone (no minimum first cycle): 31 December, 60 days' grace.
FIXED = AssociationPolicy(first_cycle_min_months=0)
ANNIVERSARY = AssociationPolicy(cycle=RenewalCycle.ANNIVERSARY)
END_OF_JUNE = AssociationPolicy(fixed_month=6, fixed_day=30, grace_days=0,
                                first_cycle_min_months=0)


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
        pytest.param({"first_cycle_min_months": 25}, id="first-cycle-over-two-years"),
        pytest.param({"first_cycle_lookback_days": -1}, id="negative-lookback"),
        pytest.param({"reapply_after_years": 0}, id="reapply-after-no-years"),
    ],
)
def test_impossible_policy_cannot_exist(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        AssociationPolicy(**changes)  # type: ignore[arg-type]


def test_fixed_29_february_renews_on_28_february_in_common_years() -> None:
    policy = AssociationPolicy(fixed_month=2, fixed_day=29, first_cycle_min_months=0)
    assert policy.first_valid_through(D(2023, 1, 10)) == D(2023, 2, 28)
    assert policy.next_valid_through(D(2023, 2, 28)) == D(2024, 2, 29)
    assert policy.next_valid_through(D(2024, 2, 29)) == D(2025, 2, 28)


# --- The first cycle after a grant (issue 9, item 5) ---------------------------------------

DEFAULT = AssociationPolicy()  # 31 December, first cycle at least 12 months


@pytest.mark.parametrize(
    ("policy", "granted_on", "expected"),
    [
        # Granted on 2 December: not "renewal due" four weeks later; a year to document hours.
        pytest.param(DEFAULT, D(2026, 12, 2), D(2027, 12, 31), id="2-december"),
        pytest.param(DEFAULT, D(2026, 1, 1), D(2026, 12, 31), id="1-january-exactly-a-year"),
        pytest.param(DEFAULT, D(2026, 1, 2), D(2027, 12, 31), id="2-january"),
        pytest.param(DEFAULT, D(2026, 12, 31), D(2027, 12, 31), id="on-renewal-date"),
        pytest.param(AssociationPolicy(first_cycle_min_months=6), D(2026, 6, 15),
                     D(2026, 12, 31), id="six-months-fits-this-year"),
        pytest.param(AssociationPolicy(first_cycle_min_months=6), D(2026, 7, 2),
                     D(2027, 12, 31), id="six-months-next-year"),
        pytest.param(AssociationPolicy(cycle=RenewalCycle.ANNIVERSARY), D(2026, 12, 2),
                     D(2027, 12, 1), id="anniversary-is-a-year-already"),
        pytest.param(AssociationPolicy(fixed_month=2, fixed_day=29), D(2023, 3, 1),
                     D(2024, 2, 29), id="29-february-renewal-date"),
    ],
)
def test_first_cycle_lasts_at_least_the_policy_minimum(
    policy: AssociationPolicy, granted_on: dt.date, expected: dt.date
) -> None:
    assert policy.first_valid_through(granted_on) == expected
    assert add_months(granted_on, policy.first_cycle_min_months) - dt.timedelta(days=1) <= (
        policy.first_valid_through(granted_on))


@pytest.mark.parametrize(
    ("policy", "applied_on", "expected"),
    [
        pytest.param(DEFAULT, D(2026, 9, 1), D(2026, 9, 1), id="application-start"),
        pytest.param(DEFAULT, None, D(2026, 12, 2), id="import-has-no-application"),
        pytest.param(AssociationPolicy(first_cycle_hours_from=FirstCycleHours.GRANT),
                     D(2026, 9, 1), D(2026, 12, 2), id="grant"),
        pytest.param(AssociationPolicy(first_cycle_hours_from=FirstCycleHours.LOOKBACK,
                                       first_cycle_lookback_days=180),
                     D(2026, 9, 1), D(2026, 6, 5), id="lookback-180-days"),
    ],
)
def test_first_cycle_hours_count_from_where_the_policy_says(
    policy: AssociationPolicy, applied_on: dt.date | None, expected: dt.date
) -> None:
    assert policy.first_cycle_start(D(2026, 12, 2), applied_on) == expected


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        pytest.param(D(2026, 1, 31), 1, D(2026, 2, 28), id="31-january-plus-one"),
        pytest.param(D(2024, 1, 31), 1, D(2024, 2, 29), id="leap-february"),
        pytest.param(D(2026, 12, 2), 12, D(2027, 12, 2), id="a-year"),
        pytest.param(D(2026, 11, 30), 3, D(2027, 2, 28), id="over-new-year"),
        pytest.param(D(2026, 5, 5), 0, D(2026, 5, 5), id="none"),
    ],
)
def test_add_months(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected


GRANTED = D(2026, 12, 2)
APPLIED = D(2026, 9, 1)
NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)


def granted(policy: AssociationPolicy = DEFAULT, applied_on: dt.date | None = APPLIED
            ) -> Endorsement:
    endorsement = Endorsement.grant(
        endorsement_id="AK-FIRST001", association="AK", person_id="p-1", family_name="Doe",
        given_name="Jane", level=Level.IFS, designation=None, granted_on=GRANTED,
        application_id="a-1", policy=policy, now=NOW, applied_on=applied_on)
    endorsement.collect_events()
    return endorsement


def first_cycle_evidence(training_on: dt.date, training_hours: float = 15) -> RenewalEvidence:
    return RenewalEvidence(
        trainings=(Training(title="IMH seminar", hours=training_hours,
                            completed_on=training_on),),
        rsc=(RscHours(provider_id="p-any", hours=12, started_on=D(2027, 2, 1),
                      ended_on=D(2027, 6, 30)),),
        memberships=(Membership(association="AK", valid_through=D(2027, 12, 31)),))


def test_training_during_the_application_counts_toward_the_first_renewal() -> None:
    endorsement = granted()
    assert endorsement.valid_through == D(2027, 12, 31)
    assert endorsement.renewal_cycle() == (APPLIED, D(2027, 12, 31))
    # 15 hours taken in October, while the application was under review.
    endorsement.renew(first_cycle_evidence(D(2026, 10, 15)), renewed_on=D(2027, 11, 1),
                      policy=DEFAULT, now=NOW)
    (renewed,) = endorsement.collect_events()
    assert isinstance(renewed, Endorsement.Renewed)
    assert (renewed.cycle_start, renewed.cycle_end) == (APPLIED, D(2027, 12, 31))
    assert renewed.valid_through == D(2028, 12, 31)
    # The next cycle is an ordinary calendar year again.
    assert endorsement.renewal_cycle() == (D(2028, 1, 1), D(2028, 12, 31))


def test_training_before_the_application_never_counts() -> None:
    with pytest.raises(RequirementsUnmet) as raised:
        granted().renew(first_cycle_evidence(D(2026, 8, 31)), renewed_on=D(2027, 11, 1),
                        policy=DEFAULT, now=NOW)
    assert "2026-09-01 to 2027-12-31" in raised.value.message
    (unmet,) = raised.value.unmet
    assert isinstance(unmet, Unmet) and unmet.code == "training.hours"
    assert "within the cycle 2026-09-01 to 2027-12-31" in unmet.reason


def test_a_policy_counting_from_the_grant_says_so_in_the_refusal() -> None:
    policy = AssociationPolicy(first_cycle_hours_from=FirstCycleHours.GRANT)
    with pytest.raises(RequirementsUnmet) as raised:
        granted(policy).renew(first_cycle_evidence(D(2026, 10, 15), training_hours=16),
                              renewed_on=D(2027, 11, 1), policy=policy, now=NOW)
    reasons = {u.code: u.reason for u in raised.value.unmet if isinstance(u, Unmet)}
    assert reasons == {"training.hours": "0 clock hours of relationship-based training "
                       "completed within the cycle 2026-12-02 to 2027-12-31; renewal needs at "
                       "least 15."}


def test_every_renewal_refusal_states_the_dates_it_counted() -> None:
    unmet = evaluate_renewal(Level.IMHS, None, HELD_SINCE, CYCLE_START, CYCLE_END,
                             RenewalEvidence(rsc=(received(1),), provides_rsc=True))
    assert len(unmet) == 4
    for u in unmet:
        assert "2024-12-31" in u.reason, u
    assert [u for u in unmet if u.code != "membership"] and all(
        "2024-01-01 to 2024-12-31" in u.reason for u in unmet if u.code != "membership")


def test_too_late_renewal_names_the_cycle_and_the_end_of_grace() -> None:
    with pytest.raises(InvalidTransition) as raised:
        granted().renew(first_cycle_evidence(D(2026, 10, 15)), renewed_on=D(2028, 3, 1),
                        policy=DEFAULT, now=NOW)
    assert raised.value.rule == "renewal.too_late"
    assert "2026-09-01 to 2027-12-31" in raised.value.message
    assert "ended on 2028-02-29" in raised.value.message  # 60 days' grace, a leap year


def test_reinstatement_refusal_names_the_missed_cycle() -> None:
    endorsement = granted()
    endorsement.lapse(on=D(2028, 3, 1), policy=DEFAULT, now=NOW)
    with pytest.raises(RequirementsUnmet) as raised:
        endorsement.reinstate(reinstated_on=D(2028, 3, 5), reason="hours caught up",
                              evidence=first_cycle_evidence(D(2026, 8, 1)), by_committee=False,
                              policy=DEFAULT, now=NOW)
    assert raised.value.rule == "reinstate.unmet"
    assert "missed cycle 2026-09-01 to 2027-12-31" in raised.value.message
    endorsement.reinstate(reinstated_on=D(2028, 3, 5), reason="hours caught up",
                          evidence=first_cycle_evidence(D(2027, 1, 10)), by_committee=False,
                          policy=DEFAULT, now=NOW)
    assert endorsement.valid_through == D(2028, 12, 31)
    assert endorsement.renewal_cycle() == (D(2028, 1, 1), D(2028, 12, 31))


def test_an_endorsement_sealed_before_the_first_cycle_rule_keeps_its_recorded_dates() -> None:
    """A Granted event stored without `first_cycle_start` and `masters_prepared` (as every
    entry sealed before them) decodes with the defaults: same valid-through, and the cycle
    arithmetic it always had (hours from the grant)."""
    old_policy = AssociationPolicy(first_cycle_min_months=0)
    endorsement = Endorsement.grant(
        endorsement_id="AK-OLD00001", association="AK", person_id="p-2", family_name="Roe",
        given_name="Rita", level=Level.IFS, designation=None, granted_on=D(2024, 5, 10),
        application_id="a-2", policy=old_policy, now=NOW)
    (event,) = endorsement.collect_events()
    stored = MAPPER.to_stored_event(event)
    state = msgspec.msgpack.decode(stored.state)
    del state["first_cycle_start"], state["masters_prepared"]
    old_stored = StoredEvent(originator_id=stored.originator_id,
                             originator_version=stored.originator_version, topic=stored.topic,
                             state=encode(state))
    decoded = MAPPER.to_domain_event(old_stored)
    assert (decoded.first_cycle_start, decoded.masters_prepared) == (None, False)
    rebuilt = decoded.mutate(None)
    assert rebuilt.valid_through == D(2024, 12, 31)  # as recorded, whatever the policy now
    assert rebuilt.renewal_cycle() == (D(2024, 5, 10), D(2024, 12, 31))
    assert rebuilt.masters_prepared_since is None


def test_the_first_cycle_rules_hold_at_the_edges_of_the_calendar() -> None:
    lookback = AssociationPolicy(first_cycle_hours_from=FirstCycleHours.LOOKBACK)
    assert lookback.first_cycle_start(D(1, 3, 1), None) == dt.date.min
    assert DEFAULT.first_valid_through(D(1, 1, 1)) == D(1, 12, 31)
