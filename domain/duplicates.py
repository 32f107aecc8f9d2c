"""Possible duplicates: the same person recorded under two person ids, flagged, never merged.

Person ids are assigned by each association, so one professional can end up with two (a
second application under a new id, an import of a record that was already granted). Within
an association the private store holds each applicant's date of birth, so the same folded
name and the same date of birth is a strong sign; across the Alliance only the published
names replicate, so the same folded family and given names under another person id is a
weaker one. Both are shown to the coordinator, who decides; nothing is merged automatically,
because two people do share names and dates of birth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

import msgspec

from domain.lookup import NameMatch


class DuplicateMatch(StrEnum):
    """What the possible duplicate has in common with the person."""

    NAME_AND_BIRTH_DATE = "name_and_birth_date"  # within this association's private records
    NAME = "name"  # folded family and given names; no date of birth to compare
    EMAIL = "email"  # the same email address on two of this association's person records


class PossibleDuplicate(msgspec.Struct, frozen=True, kw_only=True):
    """Another person id whose record may be the same person's."""

    person_id: str
    association: str
    endorsement_id: str | None
    application_id: str | None
    match: DuplicateMatch


def possible_duplicates(person_id: str, birth_date: dt.date | None,
                        matches: Sequence[tuple[NameMatch, dt.date | None]]
                        ) -> tuple[PossibleDuplicate, ...]:
    """The name matches (each with its record's date of birth, if this association knows it)
    that may be `person_id` under another id, strongest first.

    A match whose date of birth is known and differs is a namesake, not a duplicate.
    """
    found = []
    for match, their_birth_date in matches:
        if match.person_id == person_id:
            continue
        if birth_date is not None and their_birth_date is not None:
            if birth_date != their_birth_date:
                continue
            kind = DuplicateMatch.NAME_AND_BIRTH_DATE
        else:
            kind = DuplicateMatch.NAME
        found.append(PossibleDuplicate(person_id=match.person_id, association=match.association,
                                       endorsement_id=match.endorsement_id,
                                       application_id=match.application_id, match=kind))
    return tuple(sorted(found, key=lambda d: (d.match is not DuplicateMatch.NAME_AND_BIRTH_DATE,
                                              d.association, d.person_id,
                                              d.endorsement_id or "", d.application_id or "")))


class KnownPerson(msgspec.Struct, frozen=True, kw_only=True):
    """What this association's private person record says to tell two people apart."""

    person_id: str
    name_key: str  # folded family and given names
    birth_date: dt.date | None
    email_key: str  # case-folded email address; empty when none is known


def same_person_signs(person: KnownPerson, other: KnownPerson) -> DuplicateMatch | None:
    """Why two person records may be one person, strongest sign first; None if nothing
    suggests it. One email address is one person's mailbox, so the same address is the
    strongest sign; the same names with dates of birth that differ are namesakes."""
    if person.person_id == other.person_id:
        return None
    if person.email_key and person.email_key == other.email_key:
        return DuplicateMatch.EMAIL
    if person.name_key != other.name_key:
        return None
    if person.birth_date is None or other.birth_date is None:
        return DuplicateMatch.NAME
    if person.birth_date == other.birth_date:
        return DuplicateMatch.NAME_AND_BIRTH_DATE
    return None
