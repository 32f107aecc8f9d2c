"""Person records as values: the parser names every wrong field (table-driven), and the
domain's signs that two records are one person (same mailbox; same names and birth date;
namesakes are not duplicates)."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.duplicates import DuplicateMatch, KnownPerson, same_person_signs
from federation_api.people.errors import InvalidPerson
from federation_api.people.records import parse_person

TODAY = dt.date(2026, 12, 3)
GOOD = {"person_id": "AK-P-0007", "given_name": "Ada", "family_name": "Núñez"}


def test_a_minimal_record_parses_and_spacing_is_tidied() -> None:
    parsed = parse_person({**GOOD, "given_name": "  Ada   Mae ", "email": " a@example.org "},
                          today=TODAY)
    assert parsed.given_name == "Ada Mae" and parsed.email == "a@example.org"
    assert parsed.birth_date is None and parsed.membership_expires is None


@pytest.mark.parametrize(("field", "value"), [
    ("person_id", ""), ("person_id", "AK P 7"), ("person_id", "x" * 65),
    ("given_name", " "), ("family_name", "n" * 201),
    ("birth_date", "1990-13-01"), ("birth_date", "2027-01-01"), ("birth_date", "1900-01-01"),
    ("email", "two@example.org, three@example.org"), ("email", "no-at-sign"),
    ("phone", "call me"), ("membership_expires", "soon"), ("county", "c" * 201),
    ("other_identity", "i" * 101),
])
def test_each_wrong_field_is_named(field: str, value: str) -> None:
    with pytest.raises(InvalidPerson) as refused:
        parse_person({**GOOD, field: value}, today=TODAY)
    assert [f for f, _ in refused.value.errors] == [field]


def test_an_expiry_needs_its_membership_number() -> None:
    with pytest.raises(InvalidPerson) as refused:
        parse_person({**GOOD, "membership_expires": "2030-01-01"}, today=TODAY)
    assert [f for f, _ in refused.value.errors] == ["membership_number"]


def test_an_edit_keeps_its_id_whatever_the_form_says() -> None:
    parsed = parse_person({**GOOD, "person_id": "AK-P-9999"}, today=TODAY,
                          person_id="AK-P-0007")
    assert parsed.person_id == "AK-P-0007"


def _known(pid: str, name: str = "nunez|ada", born: dt.date | None = dt.date(1988, 2, 14),
           email: str = "") -> KnownPerson:
    return KnownPerson(person_id=pid, name_key=name, birth_date=born, email_key=email)


@pytest.mark.parametrize(("other", "expected"), [
    (_known("b"), DuplicateMatch.NAME_AND_BIRTH_DATE),
    (_known("b", born=None), DuplicateMatch.NAME),
    (_known("b", born=dt.date(1970, 1, 1)), None),  # a namesake
    (_known("b", name="rivera|maria", email="a@example.org"), DuplicateMatch.EMAIL),
    (_known("b", name="rivera|maria"), None),
    (_known("a"), None),  # the record itself
])
def test_signs_that_two_records_are_one_person(other: KnownPerson,
                                               expected: DuplicateMatch | None) -> None:
    assert same_person_signs(_known("a", email="a@example.org"), other) is expected


def test_no_email_is_not_the_same_email() -> None:
    assert same_person_signs(_known("a", name="x|y"), _known("b", name="z|w")) is None
