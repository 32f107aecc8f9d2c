"""Evidence as an HTML form (an application's, or a renewal cycle's): which fields each
section has, with a plain explanation of each, how the form's flat names (`degrees-0-kind`)
map onto the evidence, and how a posted form becomes the domain's value.

The form is checked by the JSON API's own model of the evidence (`web.schemas.
ApplicationEvidenceIn`, `RenewalEvidenceIn`), so the pages and the API accept exactly the
same evidence and a refusal names the same field; each error is then shown next to its
input. Without JavaScript, a section shows its rows and one empty row: saving adds the row,
and another empty one appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec
import pydantic

from domain.evidence import ApplicationEvidence, RenewalEvidence
from domain.levels import DegreeKind, RaterRole, WorkKind
from federation_api.web.schemas import ApplicationEvidenceIn, RenewalEvidenceIn, to_domain

MAX_ROWS = 20  # rows per section a form may post
# The provider and rater inputs take a name, looked up across the Alliance when the form is
# sent (`people_picker`): the application's evidence form and the renewal and
# reinstatement forms alike.
PICK_HINT = ("A name (or part of one) is looked up among every association's endorsed "
             "professionals when you save; a person id (it has digits) is kept as typed.")


@dataclass(frozen=True)
class Field:
    """One input of a row: its name in the evidence, label, kind and explanation."""

    name: str
    label: str
    kind: str  # "text", "date", "number", "bool", "choice"
    hint: str = ""
    choices: type[StrEnum] | None = None
    optional: bool = False  # may be left empty (the evidence's default)
    default: bool = False  # a checkbox's value in a new row


@dataclass(frozen=True)
class Section:
    """A repeated part of the evidence (degrees, trainings ...)."""

    name: str
    title: str
    explanation: str
    fields: tuple[Field, ...]


SECTIONS = (
    Section("degrees", "Degrees and credentials", "Each degree or credential that counts "
            "toward the level; the official transcript must reach the association.", (
                Field("kind", "Kind", "choice", choices=DegreeKind),
                Field("field_of_study", "Field of study", "text"),
                Field("awarded_on", "Awarded on", "date"),
                Field("transcript_received", "Official transcript received", "bool"),
                Field("related_field", "In a related field", "bool",
                      "An Associate's degree counts for Level I only in a related field."))),
    Section("trainings", "Training", "Relationship-based training about infants' "
            "social-emotional development and infant mental health, in clock hours.", (
                Field("title", "Training", "text"),
                Field("hours", "Clock hours", "number"),
                Field("completed_on", "Completed on", "date"),
                Field("rsc_topic", "About providing reflective supervision/consultation",
                      "bool"),
                Field("didactic_rsc", "Didactic training on providing RS/C", "bool",
                      "Level IV-C needs at least 15 hours of it."))),
    Section("work", "Work experience", "Each period of paid or volunteer work, with what it "
            "consisted of.", (
                Field("kind", "Kind of work", "choice", choices=WorkKind),
                Field("employer", "Employer or programme", "text"),
                Field("started_on", "From", "date"),
                Field("ended_on", "To", "date"),
                Field("paid", "Paid work", "bool", default=True),
                Field("supervised", "Supervised", "bool"),
                Field("families_served", "Families of infants or toddlers served", "number",
                      optional=True),
                Field("infant_social_emotional_focus",
                      "Primary focus on infants' social-emotional needs", "bool"),
                Field("post_bachelor", "After the Bachelor's degree", "bool"),
                Field("post_master", "After the Master's degree", "bool"),
                Field("specialised_volunteer", "Volunteer work with specialised training",
                      "bool", "CASA, doula or child life volunteers may count for Level I."),
                Field("internship_supervisor_id", "Internship supervisor's person id", "text",
                      "Graduate internships only.", optional=True))),
    Section("rsc", "Reflective supervision/consultation received", "Hours of RS/C received "
            "from one provider over a period; the provider is looked up among the Alliance's "
            "endorsed professionals by name or person id.", (
                Field("provider_id", "Provider: name or person id", "text", PICK_HINT),
                Field("hours", "Hours", "number"),
                Field("started_on", "From", "date"),
                Field("ended_on", "To", "date"),
                Field("about_provided_rsc", "Hours about RS/C the applicant provides",
                      "number", "Level IV-C needs at least 25.", optional=True),
                Field("post_bachelor", "After the Bachelor's degree", "bool"),
                Field("post_master", "After the Master's degree", "bool"),
                Field("while_serving_families", "While serving families", "bool",
                      default=True),
                Field("while_providing_rsc", "While providing RS/C", "bool"))),
    Section("ratings", "Reference ratings", "Who rated the applicant, in what role and when; "
            "the ratings' contents stay with the association.", (
                Field("rater_id", "Rater: name or person id", "text", PICK_HINT),
                Field("rater_name", "Rater's name", "text"),
                Field("role", "Rater's role", "choice", choices=RaterRole),
                Field("rated_on", "Rated on", "date"),
                Field("rater_degree", "Rater's highest degree", "choice", choices=DegreeKind,
                      optional=True),
                Field("waiver_signed", "Waiver signed", "bool", default=True))),
    Section("memberships", "Memberships", "Membership of this or another infant mental "
            "health association.", (
                Field("association", "Association", "text", "E.g. AK."),
                Field("valid_through", "Valid through", "date"))),
)
FLAGS = (("code_of_ethics_signed", "The Code of Ethics is signed"),
         ("agreement_signed", "The endorsement agreement is signed"),
         ("fee_paid", "The fee is paid"))


@dataclass(frozen=True)
class FormSpec:
    """One kind of evidence as a form: its sections, its checkboxes, its model and value."""

    sections: tuple[Section, ...]
    flags: tuple[tuple[str, str], ...]
    model: type[pydantic.BaseModel]
    struct: type[msgspec.Struct]


APPLICATION = FormSpec(SECTIONS, FLAGS, ApplicationEvidenceIn, ApplicationEvidence)
_BY_NAME = {section.name: section for section in SECTIONS}
RENEWAL = FormSpec(
    (Section("trainings", "Training in the cycle", "Training completed within the cycle "
             "being renewed, in clock hours (at least 15).", _BY_NAME["trainings"].fields),
     Section("rsc", "Reflective supervision/consultation received in the cycle",
             "RS/C received within the cycle (at least 12 hours for most levels), from a "
             "provider found among the Alliance's endorsed professionals by name or person "
             "id.", _BY_NAME["rsc"].fields),
     _BY_NAME["memberships"]),
    (("provides_rsc", "The holder provides reflective supervision/consultation to others"),),
    RenewalEvidenceIn, RenewalEvidence)


def field_id(section: str, row: int, name: str) -> str:
    """The form name and HTML id of one input."""
    return f"{section}-{row}-{name}"


def form_values(evidence: msgspec.Struct, spec: FormSpec = APPLICATION) -> dict[str, str]:
    """The form's values for stored evidence (what the inputs show)."""
    values: dict[str, str] = {}
    data = msgspec.to_builtins(evidence)
    for section in spec.sections:
        for row, item in enumerate(data.get(section.name) or ()):
            for f in section.fields:
                value = item.get(f.name)
                key = field_id(section.name, row, f.name)
                if f.kind == "bool":
                    values[key] = "on" if value else ""
                else:
                    values[key] = "" if value is None else str(value)
    for name, _ in spec.flags:
        values[name] = "on" if data.get(name) else ""
    return values


def rows_shown(values: dict[str, str], spec: FormSpec = APPLICATION) -> dict[str, int]:
    """How many rows each section shows: those with values, and one empty row."""
    counts = {}
    for section in spec.sections:
        used = {int(k.split("-")[1]) for k in values
                if k.startswith(f"{section.name}-") and values[k]}
        counts[section.name] = min(MAX_ROWS, (max(used) + 1 if used else 0) + 1)
    return counts


def checked(values: dict[str, str], section: Section, row: int, f: Field) -> bool:
    """Whether a checkbox is ticked: as posted or stored, or in an empty row its default."""
    if _row_is_empty(section, values, row):
        return f.default
    return values.get(field_id(section.name, row, f.name)) == "on"


def _row_is_empty(section: Section, values: dict[str, str], row: int) -> bool:
    return all(not values.get(field_id(section.name, row, f.name), "").strip()
               for f in section.fields if f.kind != "bool")


def parse(values: dict[str, str], spec: FormSpec = APPLICATION
          ) -> tuple[Any | None, list[tuple[str, str]]]:
    """The evidence (a `spec.struct`) a posted form describes, or the errors (input id,
    message)."""
    data: dict[str, Any] = {name: values.get(name) == "on" for name, _ in spec.flags}
    rows_of: dict[tuple[str, int], int] = {}  # (section, index in evidence) -> form row
    for section in spec.sections:
        items: list[dict[str, Any]] = []
        for row in range(MAX_ROWS):
            if _row_is_empty(section, values, row):
                continue
            item: dict[str, Any] = {}
            for f in section.fields:
                raw = values.get(field_id(section.name, row, f.name), "").strip()
                if f.kind == "bool":
                    item[f.name] = raw == "on"
                elif raw:  # an empty input: the field's default, or "required"
                    item[f.name] = _number(raw) if f.kind == "number" else raw
            rows_of[(section.name, len(items))] = row
            items.append(item)
        data[section.name] = items
    try:
        model = spec.model.model_validate(data)
    except pydantic.ValidationError as e:
        return None, [_error(error, rows_of) for error in e.errors()]
    return to_domain(model, spec.struct), []


def _number(raw: str) -> float | str:
    try:
        return float(raw)
    except ValueError:
        return raw  # the model refuses it, naming the field


def _error(error: Any, rows_of: dict[tuple[str, int], int]) -> tuple[str, str]:
    location = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "not valid"))
    message = (message[:1].upper() + message[1:]).rstrip(".") + "."
    if len(location) >= 3 and location[1].isdigit():
        section, index, name = location[0], int(location[1]), location[2]
        row = rows_of.get((section, index), index)
        if not message.strip() or "required" in message.lower():
            message = "Fill this in, or clear the whole row."
        return field_id(section, row, name), message
    return (location[0] if location else ""), message
