"""RS/C providers and raters picked by name across the Alliance, without JavaScript.

An evidence form names providers and raters by person id, and those ids are assigned by each
association: a coordinator in AK cannot be expected to know MI's. So the provider and rater
inputs take either:

- a person id: any value with a digit in it (every association's ids have one, names do
  not), kept as typed; it may name someone endorsed nowhere (a Level I rater the coordinator
  vets), so an id is never refused for being unknown;
- a name (or part of one): looked up among the holders of every association's endorsements,
  the replicated ledgers' public fields (names, association, level, standing). One person
  found: the name is replaced by their person id and the page says whom it resolved to (the
  application's evidence is saved with it; a renewal or reinstatement, a ledger entry, is
  shown again first, nothing written, and recorded when sent again: `Picking.settled`).
  Several: nothing is saved, and the candidates are shown next to the field as radio
  buttons; the form is sent again with one chosen (the `-pick` input). None: nothing is
  saved, and the field says so.

A person with several endorsements (one moved between associations) is one candidate. The
evidence form of an application and the renewal and reinstatement forms use this alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from projections.queries import ProjectionReader
from projections.rows import RosterRow
from projections.standing import standing_on

# The inputs of the evidence form that name a person of the Alliance: (section, field), and
# for ratings the field the found holder's name fills when it is left empty.
PICKED = (("rsc", "provider_id", ""), ("ratings", "rater_id", "rater_name"))
MAX_CANDIDATES = 8
MAX_ROWS = 20  # as evidence_form.MAX_ROWS
PICK_SUFFIX = "-pick"


@dataclass(frozen=True)
class Candidate:
    """A person of the Alliance a name may mean, as the page shows them."""

    person_id: str
    name: str
    endorsements: str  # e.g. "MI Infant Mental Health Specialist (IMHS), current"

    @property
    def label(self) -> str:
        """One line naming the person, their id and what they hold."""
        return f"{self.name} ({self.person_id}): {self.endorsements}"


@dataclass
class Picking:
    """The form's values with names replaced by the person ids they resolved to, whom each
    resolved to, the candidates of the ambiguous ones and the errors (input id, message)."""

    values: dict[str, str]
    resolved: list[tuple[str, Candidate]]
    choices: dict[str, list[Candidate]]
    errors: list[tuple[str, str]]
    # The names resolved by their only match, not by a candidate the coordinator chose.
    found_alone: list[tuple[str, Candidate]] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """Whether a form that writes a ledger entry may be recorded as sent: no error, and
        no name that found its one person unseen (the coordinator sees whom it found on the
        form first, as a chosen candidate was seen: an entry is not saved again, unlike an
        application's evidence)."""
        return not self.errors and not self.found_alone

    def status(self, errors: list[tuple[str, str]]) -> int:
        """The status of the form shown again: 422 with an error, else 200 (names found,
        shown for a check; nothing was refused)."""
        return 422 if self.errors or errors else 200


def looks_like_id(text: str) -> bool:
    """Whether an input names a person by id rather than by name."""
    return any(c.isdigit() for c in text)


def _candidates(rows: list[RosterRow], on: dt.date) -> list[Candidate]:
    by_person: dict[str, list[RosterRow]] = {}
    for row in rows:
        by_person.setdefault(row.person_id, []).append(row)
    return [Candidate(person_id=person_id, name=f"{held[0].given_name} {held[0].family_name}",
                      endorsements="; ".join(_held(r, on) for r in held))
            for person_id, held in sorted(by_person.items())]


def _held(row: RosterRow, on: dt.date) -> str:
    designation = f"-{row.designation.value}" if row.designation else ""
    standing = standing_on(row.status, row.valid_through, on)
    return f"{row.association} {row.level.title} ({row.level.value}{designation}), {standing}"


def describe(projector: ProjectionReader, person_id: str, on: dt.date) -> Candidate | None:
    """Whom a person id names among the Alliance's endorsement holders, if anyone."""
    recorded = projector.recorded_for(person_id, on)
    found = (projector.endorsement(r.endorsement_id) for r in recorded)
    held = [row for row in found if row is not None]
    return _candidates(held, on)[0] if held else None


def pick(values: dict[str, str], projector: ProjectionReader, on: dt.date) -> Picking:
    """Resolve the names typed into the provider and rater inputs of a posted form."""
    shown = dict(values)
    picking = Picking(values=shown, resolved=[], choices={}, errors=[])
    for section, name, fills in PICKED:
        for row in range(MAX_ROWS):
            key = f"{section}-{row}-{name}"
            typed = " ".join(values.get(key, "").split())
            if not typed or looks_like_id(typed):
                continue
            rows = projector.holders_named(typed, MAX_CANDIDATES * 4 + 1)
            found = _candidates(rows, on)
            chosen = values.get(key + PICK_SUFFIX, "")
            match = next((c for c in found if c.person_id == chosen), None)
            if match is None and len(found) == 1:
                match = found[0]
                picking.found_alone.append((typed, match))
            if match is not None:
                shown[key] = match.person_id
                shown.pop(key + PICK_SUFFIX, None)
                name_key = f"{section}-{row}-{fills}"
                if fills and not shown.get(name_key, "").strip():
                    shown[name_key] = match.name
                picking.resolved.append((typed, match))
            elif not found:
                picking.errors.append((key, f"Nobody endorsed in the Alliance has a name "
                                            f"like “{typed}”: check the spelling, or enter "
                                            f"the person's id."))
            elif len(found) > MAX_CANDIDATES:
                picking.errors.append((key, f"More than {MAX_CANDIDATES} people in the "
                                            f"Alliance have a name like “{typed}”: type "
                                            f"more of it, or enter the person's id."))
            else:
                picking.choices[key] = found
                picking.errors.append((key, f"{len(found)} people in the Alliance have a "
                                            f"name like “{typed}”: choose one below."))
    return picking


def named_in(values: dict[str, str], projector: ProjectionReader, on: dt.date
             ) -> dict[str, Candidate | None]:
    """For each provider and rater input holding a person id: whom it names among the
    Alliance's endorsement holders (None: nobody endorsed has that id), shown under it."""
    named: dict[str, Candidate | None] = {}
    for section, name, _ in PICKED:
        for row in range(MAX_ROWS):
            key = f"{section}-{row}-{name}"
            typed = values.get(key, "").strip()
            if typed and looks_like_id(typed):
                named[key] = describe(projector, typed, on)
    return named


def shown_on_form(picking: Picking | None, values: dict[str, str], projector: ProjectionReader,
                  on: dt.date) -> dict[str, object]:
    """What `evidence_fields.html` shows of the picking: the candidates to choose from, whom
    each person id names, and the names that found their one person (typed, candidate) for
    the page's notice."""
    return {"picks": picking.choices if picking else {},
            "named": named_in(values, projector, on),
            "resolved_names": picking.found_alone if picking else []}
