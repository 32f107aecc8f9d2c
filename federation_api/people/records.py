"""A person record as a value that cannot exist invalid, parsed from the text a form sends.

`parse_person` takes every field as the browser sent it (strings) and either returns a
`PersonDetails` or raises `InvalidPerson` naming every field that is wrong, so a page shows
all of them at once next to their fields, and nothing half-valid reaches the store.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from federation_api.mail.errors import MailRejected
from federation_api.mail.outbox import check_address
from federation_api.people.errors import InvalidPerson
from projections.queries import fold_name

MAX_NAME = 200
MAX_LINE = 200
MAX_NOTE = 100
# A professional id as the associations assign them (e.g. AK-P-0007): letters, digits, dashes.
_PERSON_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A phone number as people write one: digits with the usual separators, an optional leading +.
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{5,30}$")
OLDEST = 120  # years: a date of birth further back is a typing error


@dataclass(frozen=True)
class PersonDetails:
    """What staff enter about a person; `person_id` links it to the ledger's entries."""

    person_id: str
    given_name: str
    family_name: str
    birth_date: dt.date | None = None
    other_identity: str = ""  # another identity field where no date of birth is kept
    email: str = ""
    phone: str = ""
    street: str = ""
    city: str = ""
    county: str = ""
    postal_code: str = ""
    membership_number: str = ""
    membership_expires: dt.date | None = None


FIELDS = tuple(f.name for f in fields(PersonDetails))


def fold(text: str) -> str:
    """A name as compared: case-, accent- and spacing-insensitive, so "José Garcia" and
    "jose  GARCÍA" are one name, as the public search and the replicated ledgers' name
    matches fold them (`fold_name`)."""
    return fold_name(" ".join(text.split()))


def _one_line(value: str) -> str:
    return " ".join(value.split())


def parse_person(form: Mapping[str, str], *, today: dt.date,
                 person_id: str | None = None) -> PersonDetails:
    """The record the form describes (`person_id` given: an edit, which keeps its id), or
    InvalidPerson with one message per wrong field."""
    errors: list[tuple[str, str]] = []
    text = {name: _one_line(form.get(name, "")) for name in FIELDS}
    pid = person_id if person_id is not None else text["person_id"]
    if not pid:
        errors.append(("person_id", "Enter the person's professional id, e.g. AK-P-0007."))
    elif not _PERSON_ID.match(pid):
        errors.append(("person_id", "Use letters, digits and dashes only (at most 64), "
                                    "e.g. AK-P-0007."))
    for name, label in (("given_name", "the given name"), ("family_name", "the family name")):
        if not text[name]:
            errors.append((name, f"Enter {label}."))
        elif len(text[name]) > MAX_NAME:
            errors.append((name, f"Enter at most {MAX_NAME} characters."))
    for name in ("other_identity", "membership_number"):
        if len(text[name]) > MAX_NOTE:
            errors.append((name, f"Enter at most {MAX_NOTE} characters."))
    for name in ("street", "city", "county", "postal_code"):
        if len(text[name]) > MAX_LINE:
            errors.append((name, f"Enter at most {MAX_LINE} characters."))
    birth_date = _date(text["birth_date"], "birth_date", errors)
    if birth_date is not None and not (today.replace(year=today.year - OLDEST, day=min(
            today.day, 28)) <= birth_date <= today):
        errors.append(("birth_date", f"Enter a date of birth in the last {OLDEST} years, "
                                     "not in the future."))
    expires = _date(text["membership_expires"], "membership_expires", errors)
    if expires is not None and not text["membership_number"]:
        errors.append(("membership_number", "Enter the membership number the expiry "
                                            "belongs to."))
    email = text["email"]
    if email:
        try:
            email = check_address(email, field="email")
        except MailRejected:
            errors.append(("email", "Enter one email address, e.g. name@example.org."))
    if text["phone"] and not _PHONE.match(text["phone"]):
        errors.append(("phone", "Enter a phone number of digits, spaces, dashes or brackets, "
                                "e.g. +1 907 555 0100."))
    if errors:
        raise InvalidPerson(errors)
    return PersonDetails(
        person_id=pid, given_name=text["given_name"], family_name=text["family_name"],
        birth_date=birth_date, other_identity=text["other_identity"], email=email,
        phone=text["phone"], street=text["street"], city=text["city"],
        county=text["county"], postal_code=text["postal_code"],
        membership_number=text["membership_number"], membership_expires=expires)


def _date(value: str, name: str, errors: list[tuple[str, str]]) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors.append((name, "Enter a date as year-month-day, e.g. 1990-04-30."))
        return None
