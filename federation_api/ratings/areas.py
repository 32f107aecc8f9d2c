"""What a rater rates: the competency areas of the applicant's level, on one scale, with the
rater's relationship to the applicant, and how the form's text becomes a checked value.

The areas are the Competency Guidelines' (DOMAIN.md): eight for every level, and for
Level IV the area of its designation (Research & Evaluation for Research/Faculty,
Administration/Policy for Policy). A draft may leave areas blank; a submitted rating must
rate every area (or say the rater has not observed it) and name the relationship, because a
rating the reviewers cannot read whole is no rating.

`parse_answers` takes the form as the browser sent it and returns `RatingAnswers` or raises
`InvalidRating` naming every wrong field at once, so nothing half-valid is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from domain.levels import Designation, Level, RaterRole
from federation_api.ratings.errors import InvalidRating

MAX_COMMENT = 2000
MAX_YEARS = 80


@dataclass(frozen=True)
class Area:
    """One competency area: the code the form and the stored rating use, and its title."""

    code: str
    title: str


AREAS = (Area("theoretical_foundations", "Theoretical Foundations"),
         Area("law_regulation_policy", "Law, Regulation & Agency Policy"),
         Area("systems_expertise", "Systems Expertise"),
         Area("direct_service_skills", "Direct Service Skills"),
         Area("working_with_others", "Working with Others"),
         Area("communicating", "Communicating"),
         Area("thinking", "Thinking"),
         Area("reflection", "Reflection"))
RESEARCH = Area("research_evaluation", "Research & Evaluation")
ADMINISTRATION = Area("administration_policy", "Administration/Policy")

# The scale of every area; "not_observed" says the rater cannot judge it, which is an answer.
SCALE = (("1", "1: not yet evident"), ("2", "2: emerging"), ("3", "3: competent"),
         ("4", "4: strong"), ("5", "5: exemplary"), ("not_observed", "Not observed"))
_SCORES = frozenset(value for value, _ in SCALE)
RELATIONSHIPS = tuple((role.value, role.value.replace("_", " ").capitalize())
                      for role in RaterRole)
_ROLES = frozenset(value for value, _ in RELATIONSHIPS)


def areas_for(level: Level, designation: Designation | None) -> tuple[Area, ...]:
    """The areas a rating of this level (and designation) covers, in the Guidelines' order."""
    if level is Level.IMHM and designation is Designation.RESEARCH_FACULTY:
        return (*AREAS, RESEARCH)
    if level is Level.IMHM and designation is Designation.POLICY:
        return (*AREAS, ADMINISTRATION)
    return AREAS


class AreaAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """One area as rated: a score of the scale ("" while a draft leaves it open) and a
    comment (plain text; shown escaped, never as markup)."""

    score: str = ""
    comment: str = ""


class RatingAnswers(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a rater answers, as stored (private; never on the ledger)."""

    relationship: str = ""
    years_known: int | None = None
    areas: dict[str, AreaAnswer] = {}
    overall: str = ""

    def complete(self) -> bool:
        """Whether every field a submitted rating needs is there."""
        return bool(self.relationship) and all(a.score for a in self.areas.values())


def _text(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "").replace("\r\n", "\n").strip()


def parse_answers(form: Mapping[str, str], areas: tuple[Area, ...], *,
                  final: bool) -> RatingAnswers:
    """The answers the form holds; `final` (submitting) also requires every answer."""
    errors: list[tuple[str, str]] = []
    relationship = _text(form, "relationship")
    if relationship and relationship not in _ROLES:
        errors.append(("relationship", "Choose your relationship to the applicant from the "
                                       "list."))
    elif final and not relationship:
        errors.append(("relationship", "Choose your relationship to the applicant."))
    years_text = _text(form, "years_known")
    years: int | None = None
    if years_text:
        if not years_text.isdigit() or not 0 <= int(years_text) <= MAX_YEARS:
            errors.append(("years_known", f"Enter a whole number of years from 0 to "
                                          f"{MAX_YEARS}, or leave it blank."))
        else:
            years = int(years_text)
    answers: dict[str, AreaAnswer] = {}
    for area in areas:
        score = _text(form, f"{area.code}-score")
        comment = _text(form, f"{area.code}-comment")
        if score and score not in _SCORES:
            errors.append((f"{area.code}-score", f"Choose a rating for {area.title} from the "
                                                 f"scale."))
            score = ""
        elif final and not score:
            errors.append((f"{area.code}-score", f"Rate {area.title}, or choose \"Not "
                                                 f"observed\"."))
        if len(comment) > MAX_COMMENT:
            errors.append((f"{area.code}-comment", f"Keep the comment to {MAX_COMMENT} "
                                                   f"characters."))
        answers[area.code] = AreaAnswer(score=score, comment=comment)
    overall = _text(form, "overall")
    if len(overall) > MAX_COMMENT:
        errors.append(("overall", f"Keep the comment to {MAX_COMMENT} characters."))
    if errors:
        raise InvalidRating(errors)
    return RatingAnswers(relationship=relationship, years_known=years, areas=answers,
                         overall=overall)
