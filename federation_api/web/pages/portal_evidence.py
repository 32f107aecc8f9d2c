"""The application form as an applicant sees it: the staff evidence form's sections for the
level applied for, the live checklist of a draft, and the hooks other portal pieces use.

The sections and fields are those of the staff evidence form (`evidence_form`), so the
portal and staff intake collect, check and evaluate exactly the same evidence (the JSON
API's model), less what only the association records: whether a transcript has arrived.
Level I needs no reflective supervision, so its form has no RS/C section. The two texts are
signed on the page rather than ticked (`federation_api.portal.texts`), and the fee is left
to the fees' pages. A rating row names the rater and the address their link goes to, not a
day: the rating is yet to come, so it is read as awaited (`federation_api.portal.raters`) and
the waiver is signed once, in its own panel (`portal_rater_panel`).

Hook points for the other portal pieces (documents, rater links, fees), each a tuple to
append to, so that their modules plug into the draft page without editing it:

- `DRAFT_PANELS`: a part of the draft page below the sections (its title, a template
  included with the panel's context, and a function giving that context from the request
  and the draft).
- `EVIDENCE_FILLERS`: functions that complete the evidence from what the node records
  (e.g. `fee_paid` from a payment, `transcript_received` from a stored transcript) before it
  is evaluated for the checklist and before it is submitted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from domain.evidence import ApplicationEvidence
from domain.levels import Designation, Level
from domain.progress import Progress, draft_progress
from domain.requirements import evaluate_application
from federation_api.clock import today
from federation_api.portal import raters
from federation_api.portal.applying import with_signatures
from federation_api.portal.drafts import Draft, Signature
from federation_api.web.pages import (
    evidence_form,
    people_picker,
    portal_document_panel,
    portal_fees,
    portal_rater_panel,
)
from federation_api.web.schemas import ApplicationEvidenceIn

MAX_TEXT = 5000
_STAFF_ONLY = frozenset({("degrees", "transcript_received")})


@dataclass(frozen=True)
class DraftPanel:
    """A part of the draft page added by another portal piece."""

    name: str  # its id on the page
    title: str
    template: str  # included inside the panel's <section>
    context: Callable[[Request, Draft], dict[str, Any]]


DRAFT_PANELS: tuple[DraftPanel, ...] = (
    DraftPanel("documents", "Documents", "portal_documents_panel.html",
               portal_document_panel.panel_context),
    DraftPanel("rating-waiver", "Your reference raters: the waiver", "portal_ratings_panel.html",
               portal_rater_panel.panel_context),
    DraftPanel("fee", "Fee", "portal_fee_panel.html", portal_fees.draft_panel),
)
EVIDENCE_FILLERS: tuple[Callable[[Request, Draft, ApplicationEvidence],
                                 ApplicationEvidence], ...] = (
    portal_document_panel.fill_documents,
    portal_rater_panel.fill_ratings,
    portal_fees.fee_paid,
)


# The applicant names a rater and the address their link goes to; the rating is not given
# yet, so it has no date, and the waiver is signed once for all of them (portal_raters).
_NOT_ASKED = frozenset({("ratings", "rated_on"), ("ratings", "waiver_signed")})
_RATER_EMAIL = evidence_form.Field(
    raters.EMAIL, "Rater's email address", "text",
    "The association emails the rater a link to rate you there; no account is needed.")
_RATER_HINT = ("A name (or part of one) is looked up among every association's endorsed "
               "professionals when you save; for someone endorsed nowhere, leave this empty "
               "and give their name below.")
RATINGS_EXPLANATION = ("Three people who know your work: name each, their role and their "
                       "email address. Once you have submitted, the coordinator checks them "
                       "and emails each a link to rate you; you see who has rated, never what "
                       "they said.")


def _sections(level: Level, dropped: frozenset[tuple[str, str]]
              ) -> list[evidence_form.Section]:
    sections = []
    for section in evidence_form.SECTIONS:
        if section.name == "rsc" and level is Level.IFA:
            continue
        fields = tuple(f for f in section.fields if (section.name, f.name) not in dropped)
        sections.append(dataclasses.replace(section, fields=fields))
    return sections


def form_spec(level: Level, designation: Designation | None) -> evidence_form.FormSpec:
    """The sections the level needs, with the applicant's fields; no ticked declarations."""
    sections = []
    for section in _sections(level, _STAFF_ONLY | _NOT_ASKED):
        if section.name == "ratings":
            fields = tuple(dataclasses.replace(f, hint=_RATER_HINT)
                           if f.name == "rater_id" else f for f in section.fields)
            at = [f.name for f in fields].index("role") + 1
            section = dataclasses.replace(
                section, explanation=RATINGS_EXPLANATION,
                fields=(*fields[:at], _RATER_EMAIL, *fields[at:]))
        sections.append(section)
    return evidence_form.FormSpec(tuple(sections), (), ApplicationEvidenceIn,
                                  ApplicationEvidence)


def _evidence_spec(level: Level) -> evidence_form.FormSpec:
    """The form as the evidence reads it: a rating row dated the day named, no address."""
    return evidence_form.FormSpec(
        tuple(_sections(level, _STAFF_ONLY | {("ratings", "waiver_signed")})), (),
        ApplicationEvidenceIn, ApplicationEvidence)


def posted_values(form: dict[str, str], spec: evidence_form.FormSpec) -> dict[str, str] | None:
    """The inputs of the form that belong to its sections (pickers' choices included); None
    if one is longer than any field may be (the page refuses the post, nothing saved)."""
    prefixes = tuple(f"{s.name}-" for s in spec.sections)
    kept = {k: v for k, v in form.items() if k.startswith(prefixes)
            and len(k) <= 100 and k.count("-") in (2, 3)}
    if any(len(v) > MAX_TEXT for v in kept.values()):
        return None
    return kept


@dataclass(frozen=True)
class DraftCheck:
    """A draft as the page shows it: the evidence it describes (None while a field is wrong),
    the fields' problems, whom each provider or rater id names, and the live checklist."""

    evidence: ApplicationEvidence | None
    errors: list[tuple[str, str]]
    progress: Progress


def check_draft(request: Request, draft: Draft, values: dict[str, str],
                signatures: dict[str, Signature]) -> DraftCheck:
    """Evaluate the draft's values by the domain's rules, as a submission would be."""
    node = request.app.state.node
    parsed, errors = evidence_form.parse(raters.evidence_values(values, named_on=today()),
                                         _evidence_spec(draft.level))
    errors.extend(raters.address_errors(values))
    for key, value in values.items():  # a provider or rater still named, not identified
        if key.endswith(("-provider_id", "-rater_id")) and value.strip() and \
                not people_picker.looks_like_id(value):
            errors.append((key, "Save the draft to look this name up, then choose the person."))
    evidence = with_signatures(parsed if parsed is not None and not errors
                               else ApplicationEvidence(), signatures)
    for fill in EVIDENCE_FILLERS:
        evidence = fill(request, draft, evidence)
    unmet = evaluate_application(draft.level, draft.designation, evidence, node.service.lookup)
    return DraftCheck(evidence=evidence if parsed is not None and not errors else None,
                      errors=errors, progress=draft_progress(draft.level, draft.designation,
                                                             unmet))


def form_context(request: Request, draft: Draft, values: dict[str, str],
                 picks: dict[str, list[people_picker.Candidate]] | None = None
                 ) -> dict[str, Any]:
    """What `evidence_fields.html` needs to show the draft's sections."""
    spec = form_spec(draft.level, draft.designation)
    node = request.app.state.node
    return {"sections": spec.sections, "flags": (), "flags_title": "", "values": values,
            "rows": evidence_form.rows_shown(values, spec), "field_id": evidence_form.field_id,
            "checked": evidence_form.checked, "picks": picks or {},
            "named": people_picker.named_in(values, node.projector, today())}
