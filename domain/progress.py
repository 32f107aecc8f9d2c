"""Where an application stands, in the words the staff pages (and later applicants) show.

One pure function, `progress`, gives for an application: the stage in plain words, what
happens next, who it waits on, and the requirement checklist. It takes only what the public
ledger also shows (state, unmet reasons, reviewer seats, exam sittings without scores), so
the same words come from the private aggregate (`of_application`) and from a pipeline row of
the projections; comments and scores are for the pages to add where the reader may see them.

The stages are those the associations' own process names. "Submitted" is the ledger's
`open` (applications from before the two-reviewer workflow read as submitted, awaiting
review); "draft" exists only in the private store before submission (`draft_progress`).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from domain import review as panel
from domain.application import Application, ApplicationState
from domain.checklist import ChecklistItem, checklist
from domain.exam import ExamSitting
from domain.levels import Designation, Level
from domain.review import PanelOutcome, Seat
from domain.unmet import Unmet


class Stage(StrEnum):
    """The stages an application page shows."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    APPROVED_FOR_EXAM = "approved_for_exam"
    EXAM_PASSED = "exam_passed"
    EXAM_FAILED = "exam_failed"
    APPROVED = "approved"
    GRANTED = "granted"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"

    @property
    def title(self) -> str:  # type: ignore[override]
        """The stage's name as a page heading shows it."""
        return _TITLES[self]


_TITLES = {
    Stage.DRAFT: "Draft", Stage.SUBMITTED: "Submitted", Stage.IN_REVIEW: "In review",
    Stage.RETURNED: "Returned with comments", Stage.APPROVED_FOR_EXAM: "Approved for exam",
    Stage.EXAM_PASSED: "Exam passed", Stage.EXAM_FAILED: "Exam failed",
    Stage.APPROVED: "Approved", Stage.GRANTED: "Granted", Stage.DENIED: "Denied",
    Stage.WITHDRAWN: "Withdrawn",
}
STAGE_OF_STATE = {
    ApplicationState.OPEN: Stage.SUBMITTED,
    ApplicationState.IN_REVIEW: Stage.IN_REVIEW,
    ApplicationState.RETURNED: Stage.RETURNED,
    ApplicationState.APPROVED_FOR_EXAM: Stage.APPROVED_FOR_EXAM,
    ApplicationState.EXAM_PASSED: Stage.EXAM_PASSED,
    ApplicationState.EXAM_FAILED: Stage.EXAM_FAILED,
    ApplicationState.APPROVED: Stage.APPROVED,
    ApplicationState.GRANTED: Stage.GRANTED,
    ApplicationState.DENIED: Stage.DENIED,
    ApplicationState.WITHDRAWN: Stage.WITHDRAWN,
}


class WaitsOn(StrEnum):
    """Whose move it is."""

    APPLICANT = "applicant"
    COORDINATOR = "coordinator"
    REVIEWERS = "reviewers"
    NOBODY = "nobody"  # closed


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """An application's stage, next step, whose move it is, and its checklist."""

    stage: Stage
    title: str
    summary: str
    next_step: str
    waits_on: WaitsOn
    waiting_for: tuple[str, ...] = ()  # the reviewers (account ids) whose decision is due
    checklist: tuple[ChecklistItem, ...] = ()


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _unmet_words(unmet: tuple[Unmet, ...]) -> str:
    return f" {_count(len(unmet), 'requirement')} still unmet." if unmet else ""


def progress(*, level: Level, designation: Designation | None, state: ApplicationState,
             unmet: tuple[Unmet, ...], reviewers: tuple[Seat, ...] = (),
             exam_sittings: tuple[ExamSitting, ...] = (),
             endorsement_id: str | None = None) -> Progress:
    """The page's account of an application in `state` (see the module docstring)."""
    stage = STAGE_OF_STATE[state]
    items = checklist(level, designation, unmet)
    summary, next_step, waits_on, waiting = _words(state, unmet, reviewers, exam_sittings,
                                                   endorsement_id)
    return Progress(stage=stage, title=stage.title, summary=summary, next_step=next_step,
                    waits_on=waits_on, waiting_for=waiting, checklist=items)


def of_application(application: Application) -> Progress:
    """`progress` of an application aggregate (staff: the aggregate is the private record)."""
    return progress(level=application.level, designation=application.designation,
                    state=application.state, unmet=application.unmet,
                    reviewers=application.reviewers, exam_sittings=application.exam_sittings,
                    endorsement_id=application.endorsement_id)


def draft_progress(level: Level, designation: Designation | None,
                   unmet: tuple[Unmet, ...]) -> Progress:
    """A draft's account: not on the ledger; `unmet` is the live evaluation of the draft."""
    items = checklist(level, designation, unmet)
    if unmet:
        next_step = ("Complete the sections the checklist shows as unmet, then submit; a "
                     "draft may be submitted with requirements unmet, and the coordinator "
                     "asks for what is missing.")
    else:
        next_step = "Every requirement is met: submit the application."
    return Progress(stage=Stage.DRAFT, title=Stage.DRAFT.title,
                    summary="A draft, saved privately: nobody but the applicant and the "
                    f"association's staff sees it, and nothing is on the ledger yet."
                    f"{_unmet_words(unmet)}",
                    next_step=next_step, waits_on=WaitsOn.APPLICANT, checklist=items)


def _words(state: ApplicationState, unmet: tuple[Unmet, ...], reviewers: tuple[Seat, ...],
           sittings: tuple[ExamSitting, ...], endorsement_id: str | None
           ) -> tuple[str, str, WaitsOn, tuple[str, ...]]:
    """(summary, next step, whose move, which reviewers) for a state."""
    last = sittings[-1] if sittings else None
    if state is ApplicationState.OPEN:
        return (f"Submitted; no reviewers are assigned yet.{_unmet_words(unmet)}",
                "The coordinator assigns two reviewers, or returns the application with "
                "comments if something is missing.", WaitsOn.COORDINATOR, ())
    if state is ApplicationState.IN_REVIEW:
        return _in_review(reviewers, unmet)
    if state is ApplicationState.RETURNED:
        return ("Returned to the applicant with comments." + _unmet_words(unmet),
                "The applicant answers the comments and resubmits the application with the "
                "changes; it then goes back to its reviewers.", WaitsOn.APPLICANT, ())
    if state is ApplicationState.APPROVED_FOR_EXAM:
        return ("Approved for the written exam.",
                "The applicant sits the exam; the coordinator records the sitting and its "
                "score.", WaitsOn.APPLICANT, ())
    if state is ApplicationState.EXAM_FAILED:
        attempt = f" (attempt {last.attempt})" if last else ""
        when = f" from {last.retake_from.isoformat()}" if last and last.retake_from else ""
        return (f"The written exam was not passed{attempt}.",
                f"The applicant may retake the exam{when}; the coordinator records the "
                "sitting.", WaitsOn.APPLICANT, ())
    if state is ApplicationState.EXAM_PASSED:
        on = f" on {last.sat_on.isoformat()}" if last else ""
        return (f"The written exam was passed{on}.{_unmet_words(unmet)}",
                "The coordinator grants the endorsement." if not unmet else
                "The coordinator resolves the unmet requirements, then grants.",
                WaitsOn.COORDINATOR, ())
    if state is ApplicationState.APPROVED:
        return ("Approved: every requirement is met.",
                "The coordinator grants the endorsement.", WaitsOn.COORDINATOR, ())
    if state is ApplicationState.GRANTED:
        granted = f" as endorsement {endorsement_id}" if endorsement_id else ""
        return (f"Granted{granted}.", "Nothing: the endorsement renews every year.",
                WaitsOn.NOBODY, ())
    if state is ApplicationState.DENIED:
        why = (" after the last allowed attempt at the written exam"
               if last is not None and not last.passed and last.retake_from is None else "")
        return (f"Denied{why}.", "Nothing: the applicant may apply again.", WaitsOn.NOBODY, ())
    return ("Withdrawn at the applicant's request.", "Nothing.", WaitsOn.NOBODY, ())


def _in_review(reviewers: tuple[Seat, ...], unmet: tuple[Unmet, ...]
               ) -> tuple[str, str, WaitsOn, tuple[str, ...]]:
    on_panel = panel.active(reviewers)
    conflicted = [s.reviewer for s in reviewers if not s.active]
    stepped = (f" {', '.join(conflicted)} declared a conflict of interest."
               if conflicted else "")
    missing = panel.REVIEWERS_PER_APPLICATION - len(on_panel)
    if panel.outcome(reviewers) is PanelOutcome.SPLIT:
        return ("In review: the reviewers disagree (one approves, one denies).",
                "The coordinator decides the application.", WaitsOn.COORDINATOR, ())
    awaiting = tuple(s.reviewer for s in on_panel if s.awaiting)
    if missing > 0:
        return (f"In review with {_count(len(on_panel), 'reviewer')}.{stepped}",
                f"The coordinator assigns {_count(missing, 'more reviewer')}.",
                WaitsOn.COORDINATOR, awaiting)
    decided = len(on_panel) - len(awaiting)
    return (f"In review: {decided} of {len(on_panel)} reviewers have decided.{stepped}"
            f"{_unmet_words(unmet)}",
            f"Waiting for the decision of {' and '.join(awaiting)}.",
            WaitsOn.REVIEWERS, awaiting)
