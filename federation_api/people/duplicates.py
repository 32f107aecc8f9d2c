"""Possible duplicates of person records: on this node (its private records) and Alliance-wide
(the names every replicated ledger publishes).

The rules are the domain's (`domain.duplicates`): on this node the same email address, or
the same folded names with the same date of birth (or none to compare); across the Alliance
the same published names under another professional id, unless both dates of birth are known
here and differ. Nothing is merged: a coordinator reads the list and decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.duplicates import (
    DuplicateMatch,
    KnownPerson,
    PossibleDuplicate,
    possible_duplicates,
    same_person_signs,
)
from federation_api.people.store import PeopleStore, PersonRecord, name_key
from projections.queries import ProjectionReader

MATCH_TEXT = {DuplicateMatch.EMAIL: "the same email address",
              DuplicateMatch.NAME_AND_BIRTH_DATE: "the same names and date of birth",
              DuplicateMatch.NAME: "the same names (no date of birth to compare)"}


@dataclass(frozen=True)
class Duplicate:
    """One possible duplicate of a record, as a page lists it."""

    found: PossibleDuplicate
    record: PersonRecord | None  # this node's record of the other person id, if it has one

    @property
    def why(self) -> str:
        """What the two have in common, in words."""
        return MATCH_TEXT[self.found.match]


def known(record: PersonRecord) -> KnownPerson:
    """The fields of a record that duplicate detection compares."""
    d = record.details
    return KnownPerson(person_id=d.person_id, name_key=name_key(d.family_name, d.given_name),
                       birth_date=d.birth_date, email_key=d.email.casefold())


def duplicates_of(record: PersonRecord, *, people: PeopleStore, projector: ProjectionReader,
                  association: str) -> list[Duplicate]:
    """Every possible duplicate of `record`: this node's records first, then endorsements and
    applications anywhere in the Alliance under the same names and another id."""
    found: dict[tuple[str, str, str, str], Duplicate] = {}
    me = known(record)
    for other in people.same_name_or_email(record):
        match = same_person_signs(me, known(other))
        if match is not None:
            hit = PossibleDuplicate(person_id=other.person_id, association=association,
                                    endorsement_id=None, application_id=None, match=match)
            found[(association, other.person_id, "", "")] = Duplicate(hit, other)
    d = record.details
    (matches,) = projector.same_names([(d.family_name, d.given_name)], association)
    theirs = people.many(sorted({m.person_id for m in matches if m.association == association}))
    dated = [(m, theirs[m.person_id].details.birth_date if m.person_id in theirs else None)
             for m in matches]
    for hit in possible_duplicates(d.person_id, d.birth_date, dated):
        key = (hit.association, hit.person_id, hit.endorsement_id or "",
               hit.application_id or "")
        local = (hit.association, hit.person_id, "", "")
        if local in found and hit.association == association:
            continue  # the node's own record of that id already says more
        found.setdefault(key, Duplicate(hit, theirs.get(hit.person_id)
                                        if hit.association == association else None))
    return list(found.values())


@dataclass(frozen=True)
class AllianceMatch:
    """One of this node's records and a person of another association with the same names."""

    record: PersonRecord
    found: PossibleDuplicate


def alliance_matches(*, people: PeopleStore, projector: ProjectionReader, association: str,
                     limit: int = 200) -> list[AllianceMatch]:
    """This node's records whose names another association's ledger publishes under another
    professional id (one query for all records' names)."""
    names = people.all_names()
    if not names:
        return []
    answers = projector.same_names([(f, g) for _, f, g in names], association)
    wanted = [(pid, [m for m in ms if m.association != association])
              for (pid, _, _), ms in zip(names, answers, strict=True)]
    records = people.many(sorted({pid for pid, ms in wanted if ms}))
    out: list[AllianceMatch] = []
    for pid, ms in wanted:
        if not ms:
            continue
        record = records[pid]
        for hit in possible_duplicates(pid, record.details.birth_date,
                                       [(m, None) for m in ms]):
            out.append(AllianceMatch(record, hit))
            if len(out) >= limit:
                return out
    return out
