"""One person, one standing (DESIGN invariant 9): the rule for a new endorsement, by table."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.duplicates import DuplicateMatch, possible_duplicates
from domain.errors import InvalidTransition
from domain.levels import Designation, EndorsementStatus, Level
from domain.lookup import NameMatch, RecordedEndorsement
from domain.policy import AssociationPolicy, RevocationReapply
from domain.standing import NewEndorsement, replaced_by_new_endorsement

D = dt.date
ON = D(2026, 12, 2)
SINCE = D(2024, 5, 1)
GRANT, IMPORT, RECOGNITION = NewEndorsement.GRANT, NewEndorsement.IMPORT, NewEndorsement.RECOGNITION


def held(status: EndorsementStatus, *, association: str = "AK", level: Level = Level.IFS,
         since: dt.date = SINCE, endorsement_id: str = "") -> RecordedEndorsement:
    return RecordedEndorsement(
        person_id="p-1", endorsement_id=endorsement_id or f"{association}-KBJE7FMY",
        association=association, level=level,
        designation=Designation.CLINICAL if level is Level.IMHM else None, status=status,
        since=since, valid_through=D(2027, 12, 31))


A, S, R = EndorsementStatus.ACTIVE, EndorsementStatus.SUSPENDED, EndorsementStatus.REVOKED
CASES = [
    # (what the person has, new level, how, rule refusing it, or the ids it replaces)
    pytest.param([], Level.IFS, GRANT, (), id="nobody"),
    pytest.param([held(EndorsementStatus.LAPSED)], Level.IFS, GRANT, (), id="lapsed-reapplies"),
    pytest.param([held(EndorsementStatus.RELINQUISHED)], Level.IFS, IMPORT, (),
                 id="relinquished"),
    pytest.param([held(EndorsementStatus.TRANSFERRED, association="MI")], Level.IFS, GRANT, (),
                 id="transferred-away"),
    pytest.param([held(S, association="MI")], Level.IFS, GRANT, "standing.suspended",
                 id="suspended-elsewhere"),
    pytest.param([held(S)], Level.IMHS, IMPORT, "standing.suspended", id="suspended-here"),
    pytest.param([held(S, association="MI")], Level.IFS, RECOGNITION, "standing.suspended",
                 id="suspended-recognition"),
    pytest.param([held(A)], Level.IMHS, GRANT, ("AK-KBJE7FMY",), id="upgrade-replaces"),
    pytest.param([held(A)], Level.IFS, GRANT, "standing.held", id="same-level"),
    pytest.param([held(A, level=Level.IMHM)], Level.IMHM, GRANT, "standing.held",
                 id="iv-designation-change"),
    pytest.param([held(A, level=Level.IMHS)], Level.IFS, IMPORT, "standing.held",
                 id="lower-level"),
    pytest.param([held(A, association="MI")], Level.IMHS, GRANT, "standing.held_elsewhere",
                 id="upgrade-across-associations"),
    pytest.param([held(A, association="MI")], Level.IFS, RECOGNITION, "reciprocity.one_home",
                 id="second-home"),
    pytest.param([held(A), held(S, association="MI")], Level.IMHS, GRANT,
                 "standing.suspended", id="suspension-wins-over-upgrade"),
]


@pytest.mark.parametrize(("recorded", "level", "how", "expected"), CASES)
def test_a_new_endorsement_for_a_person_already_recorded(
        recorded: list[RecordedEndorsement], level: Level, how: NewEndorsement,
        expected: str | tuple[str, ...]) -> None:
    def decide() -> tuple[RecordedEndorsement, ...]:
        return replaced_by_new_endorsement(association="AK", level=level, recorded=recorded,
                                           policy=AssociationPolicy(), on=ON, how=how)

    if isinstance(expected, str):
        with pytest.raises(InvalidTransition) as raised:
            decide()
        assert raised.value.rule == expected
        assert any(r.endorsement_id in raised.value.message for r in recorded)
    else:
        assert tuple(r.endorsement_id for r in decide()) == expected


NEVER = AssociationPolicy(reapply_after_revocation=RevocationReapply.NEVER)
FIVE_YEARS = AssociationPolicy(reapply_after_revocation=RevocationReapply.AFTER_YEARS,
                               reapply_after_years=5)
COMMITTEE = AssociationPolicy()  # the default


@pytest.mark.parametrize(("policy", "on", "how", "by_committee", "allowed"), [
    pytest.param(NEVER, D(2060, 1, 1), GRANT, True, False, id="never"),
    pytest.param(FIVE_YEARS, D(2029, 4, 30), GRANT, False, False, id="a-day-short"),
    pytest.param(FIVE_YEARS, D(2029, 5, 1), IMPORT, False, True, id="five-years-on"),
    pytest.param(COMMITTEE, ON, GRANT, False, False, id="coordinator"),
    pytest.param(COMMITTEE, ON, GRANT, True, True, id="committee-grants"),
    pytest.param(COMMITTEE, ON, IMPORT, True, False, id="committee-never-imports"),
    pytest.param(COMMITTEE, ON, RECOGNITION, False, False, id="recognition"),
])
def test_after_a_revocation_only_as_the_policy_allows(
        policy: AssociationPolicy, on: dt.date, how: NewEndorsement, by_committee: bool,
        allowed: bool) -> None:
    revoked = [held(R, association="MI", since=D(2024, 5, 1))]

    def decide() -> object:
        return replaced_by_new_endorsement(association="AK", level=Level.IFS, recorded=revoked,
                                           policy=policy, on=on, how=how,
                                           by_committee=by_committee)

    if allowed:
        assert decide() == ()
        return
    with pytest.raises(InvalidTransition) as raised:
        decide()
    assert raised.value.rule == "standing.revoked"
    assert "MI-KBJE7FMY (Level II, MI) was revoked (effective 2024-05-01)" in (
        raised.value.message)


def test_possible_duplicates_need_a_matching_date_of_birth_when_both_are_known() -> None:
    matches = [
        (NameMatch(person_id="p-1", association="AK", application_id="own"), D(1990, 1, 1)),
        (NameMatch(person_id="p-2", association="AK", application_id="a2"), D(1990, 1, 1)),
        (NameMatch(person_id="p-3", association="AK", application_id="a3"), D(1985, 1, 1)),
        (NameMatch(person_id="p-4", association="MI", endorsement_id="MI-X"), None),
    ]
    found = possible_duplicates("p-1", D(1990, 1, 1), matches)
    assert [(d.person_id, d.match) for d in found] == [
        ("p-2", DuplicateMatch.NAME_AND_BIRTH_DATE), ("p-4", DuplicateMatch.NAME)]
    undated = possible_duplicates("p-1", None, matches)
    assert {d.person_id for d in undated} == {"p-2", "p-3", "p-4"}
    assert {d.match for d in undated} == {DuplicateMatch.NAME}
