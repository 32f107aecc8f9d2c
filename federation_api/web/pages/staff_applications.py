"""The application pages: the pipeline with the intake form, and one application's page with
its stage among the workflow's stages, the requirement checklist (the domain's own words),
its reviewers, and the actions the reader may take: a coordinator assigns two reviewers or
returns it with comments; an assigned reviewer declares a conflict of interest or records a
decision with comments.

Every action goes through the association's command service, so it is a signed ledger entry
or a refusal that writes nothing (the domain refuses before any event); the audit log records
it with the account and the entry it produced, and the page after it names that entry (seq
and hash). Comments and conflict notes stay in the private store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.application import ApplicationState
from domain.errors import DomainError
from domain.evidence import ApplicationEvidence
from domain.levels import Designation, Level, ReviewDecision
from domain.progress import Progress, Stage, of_application
from domain.review import CommentAuthor
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.documents.evidence import with_documents
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.people.return_notice import WHAT_HAPPENED, ReturnMail, queue_return_mail
from federation_api.portal.links import status_url
from federation_api.portal.professional import professional_on_grant
from federation_api.ratings.errors import RequestRefused
from federation_api.ratings.evidence import received_kept
from federation_api.web.audited import attempt
from federation_api.web.pages import evidence_form, people_picker
from federation_api.web.pages.application_documents import documents_context
from federation_api.web.pages.application_raters import raters_of
from federation_api.web.pages.kept_rows import RowsCache, app_rows_cache
from federation_api.web.pages.pipeline_rows import KeptPipeline, pipeline_rows_html
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from federation_api.web.rating_requests import applicant_given, send_rating_request
from federation_api.web.urls import node_base_url
from ledger.errors import NotFound
from ledger.storage.database import Cursor

router = APIRouter(prefix="/staff/applications", include_in_schema=False)
AnyStaff = Annotated[StaffUser, Depends(StaffGate())]
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
Reviewer = Annotated[StaffUser, Depends(StaffGate(AccountRole.REVIEWER))]
Granter = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR, AccountRole.COMMITTEE))]
Errors = list[tuple[str, str]]
# The domain refuses vetting once an application is decided or closed; the form is not shown.
_NOT_VETTABLE = frozenset({ApplicationState.APPROVED, ApplicationState.EXAM_PASSED,
                           ApplicationState.GRANTED, ApplicationState.DENIED,
                           ApplicationState.WITHDRAWN})
MAX_TEXT = 5000
MAX_VETTING_NOTE = 500  # as the JSON API's VetRaterIn: the note is on the ledger entry

# The workflow's stages in the order an application moves through them; the last two close
# it early. Exam stages apply to Levels III and IV only.
MAIN_LINE = (Stage.SUBMITTED, Stage.IN_REVIEW, Stage.RETURNED, Stage.APPROVED_FOR_EXAM,
             Stage.EXAM_PASSED, Stage.EXAM_FAILED, Stage.APPROVED, Stage.GRANTED)
CLOSING = (Stage.DENIED, Stage.WITHDRAWN)
EXAM_STAGES = frozenset({Stage.APPROVED_FOR_EXAM, Stage.EXAM_PASSED, Stage.EXAM_FAILED})
DECISIONS = ((ReviewDecision.APPROVE, "Approve"),
             (ReviewDecision.APPROVE_FOR_EXAM, "Approve for the exam (Levels III and IV)"),
             (ReviewDecision.RETURN_FOR_MORE, "Return for more (the coordinator asks the "
                                              "applicant)"),
             (ReviewDecision.DENY, "Deny"))


def _names(request: Request) -> dict[str, str]:
    return {a.account_id: a.display_name for a in request.app.state.node.accounts.store.all()}


def _reviewers(request: Request) -> list[tuple[str, str]]:
    accounts = request.app.state.node.accounts
    return [(a.account_id, a.display_name) for a in accounts.store.all()
            if a.has(AccountRole.REVIEWER) and not a.disabled]


def _message(error: DomainError) -> str:
    text = error.message.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


# -- the pipeline and intake ----------------------------------------------------------------


def _kept(request: Request) -> RowsCache[KeptPipeline]:
    return app_rows_cache(request.app.state, "pipeline_rows")


def _list_page(request: Request, status: int = 200, errors: Errors | None = None,
               form: dict[str, str] | None = None) -> HTMLResponse:
    node = request.app.state.node
    pipeline = _kept(request).rows(
        node.projector.positions(), node.association,
        lambda: pipeline_rows_html(node.projector.pipeline(node.association)))
    return render("staff_applications.html", status, **page_context(
        request, pipeline=pipeline, levels=list(Level), designations=list(Designation),
        errors=errors or [],
        form={"person_id": "", "given_name": "", "family_name": "", "level": "",
              "designation": "", "birth_date": ""} | (form or {})))


@router.get("", response_class=HTMLResponse)
def applications_page(request: Request, staff: AnyStaff) -> Response:
    """Open applications, oldest first; coordinators also get the intake form (filled from
    the person record named by `?person_id=`, the person page's link)."""
    person_id = request.query_params.get("person_id", "")[:64]
    record = request.app.state.node.people.get(person_id) if person_id else None
    if record is None:
        return _list_page(request)
    d = record.details
    return _list_page(request, form={
        "person_id": d.person_id, "given_name": d.given_name, "family_name": d.family_name,
        "birth_date": d.birth_date.isoformat() if d.birth_date else ""})


@router.post("", response_class=HTMLResponse)
def start(request: Request, staff: Coordinator,
          person_id: Annotated[str, Form(max_length=200)] = "",
          given_name: Annotated[str, Form(max_length=500)] = "",
          family_name: Annotated[str, Form(max_length=500)] = "",
          level: Annotated[str, Form(max_length=20)] = "",
          designation: Annotated[str, Form(max_length=20)] = "",
          birth_date: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Open an application for a level; its page then shows what the rules still need."""
    record = request.app.state.node.people.get(person_id.strip()) if person_id.strip() else None
    if record is not None:
        # The person record fills what the form leaves blank: names and a date of birth are
        # typed once, in the record.
        d = record.details
        given_name = given_name.strip() or d.given_name
        family_name = family_name.strip() or d.family_name
        birth_date = birth_date.strip() or (d.birth_date.isoformat() if d.birth_date else "")
    form = {"person_id": person_id, "given_name": given_name, "family_name": family_name,
            "level": level, "designation": designation, "birth_date": birth_date}
    errors: Errors = []
    for field, value, label in (("person_id", person_id, "the person's record id"),
                                ("given_name", given_name, "the given name"),
                                ("family_name", family_name, "the family name")):
        if not value.strip():
            errors.append((f"intake-{field}", f"Enter {label}."))
    chosen_level = next((lv for lv in Level if lv.value == level), None)
    if chosen_level is None:
        errors.append(("intake-level", "Choose the level applied for."))
    chosen_designation = next((d for d in Designation if d.value == designation), None)
    if designation and chosen_designation is None:
        errors.append(("intake-designation", "Choose a designation from the list."))
    born: dt.date | None = None
    if birth_date.strip():
        try:
            born = dt.date.fromisoformat(birth_date.strip())
        except ValueError:
            errors.append(("intake-birth_date", "Enter the date of birth as a date, e.g. "
                                                "1990-04-30."))
    if errors or chosen_level is None:
        return _list_page(request, 422, errors, form)
    application_id = uuid.uuid4()
    node = request.app.state.node

    def run() -> object:
        return node.service.start_application(
            application_id=application_id, person_id=person_id.strip(),
            family_name=family_name.strip(), given_name=given_name.strip(),
            level=chosen_level, designation=chosen_designation, started_on=today(),
            now=now(), birth_date=born)

    refused = _act(request, staff, "application.start", str(application_id), run)
    if isinstance(refused, DomainError):
        field = {"designation": "intake-designation", "level": "intake-level",
                 "person_id": "intake-person_id", "family_name": "intake-family_name",
                 "given_name": "intake-given_name"}.get(refused.field, "")
        return _list_page(request, 422, [(field, _message(refused))], form)
    return _done(application_id, "started", refused)


# -- one application ------------------------------------------------------------------------


def _act(request: Request, staff: StaffUser, action: str, target: str,
         run: Callable[[], object], then: Callable[[Cursor], None] | None = None
         ) -> DomainError | tuple[int, str] | None:
    """Run a ledger-writing command, audited; the refusal, or the entry written (seq, hash)."""
    outcome = attempt(request.app.state.node, actor=staff.signed.actor, action=action,
                      target=target, client=client_address(request), run=run, then=then)
    if outcome.refusal is not None:
        return outcome.refusal
    return None if outcome.entry is None else (outcome.entry.seq, outcome.entry.entry_hash)


def _done(application_id: uuid.UUID, done: str,
          entry: DomainError | tuple[int, str] | None,
          mail: ReturnMail | None = None, then_page: str = "") -> RedirectResponse:
    query = {"done": done}
    if mail is not None:
        query["mail"] = mail.value
    if isinstance(entry, tuple):
        query |= {"seq": str(entry[0]), "hash": entry[1]}
    return RedirectResponse(f"/staff/applications/{application_id}{then_page}?"
                            f"{urlencode(query)}",
                            status_code=303, headers=SECURITY_HEADERS)


_DONE = {"started": "The application is open.",
         "reviewers": "The two reviewers are assigned; it is in their queues now.",
         "returned": "The application is returned with your comments.",
         "conflict": "Your conflict of interest is recorded; the coordinator assigns someone "
                     "in your place.",
         "decision": "Your decision is recorded.",
         "evidence": "The evidence is saved; the checklist shows what the rules still need.",
         "exam": "The exam sitting is recorded.",
         "vetted": "The rater is vetted; the checklist counts their rating as an endorsed "
                   "rater's where the level allows it (Level I). If their person record has "
                   "an email address, their rating request is emailed now (see the ratings).",
         "granted": "The endorsement is granted."}


def _parse(application_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(application_id)
    except ValueError:
        return None


def _application_page(request: Request, staff: StaffUser, application_id: str,
                      status: int = 200, errors: Errors | None = None,
                      form: dict[str, Any] | None = None) -> Response:
    node = request.app.state.node
    parsed = _parse(application_id)
    try:
        application = node.service.application(parsed) if parsed else None
    except NotFound:
        application = None
    if application is None or application.association != node.association:
        return render("message.html", 404, **page_context(
            request, title="No such application",
            message="This association has no application with this id."))
    progress: Progress = of_application(application)
    stages = [s for s in MAIN_LINE if application.level.requires_exam or s not in EXAM_STAGES]
    seats = list(application.reviewers)
    mine = next((s for s in seats if s.reviewer == staff.account_id), None)
    # The current round's comments (private): the coordinator and the committee read them
    # before granting; a reviewer reads only their own, so the two decide independently.
    readers = staff.has(AccountRole.COORDINATOR, AccountRole.COMMITTEE)
    comments = {c.author: c.comments for c in application.round_comments
                if c.role is CommentAuthor.REVIEWER and (readers
                                                         or c.author == staff.account_id)}
    params = request.query_params
    message = _DONE.get(params.get("done", ""), "")
    applicant = node.people.get(application.person_id)
    mail = next((m for m in ReturnMail if m.value == params.get("mail")), None)
    mail_message = "" if mail is None else WHAT_HAPPENED[mail].format(
        email=applicant.details.email if applicant else "", person_id=application.person_id)
    entry = (params.get("seq", ""), params.get("hash", "")) if params.get("seq") else None
    return render("staff_application.html", status, **page_context(
        request, application=application, application_id=str(parsed), progress=progress,
        stages=stages, closing=CLOSING, current=progress.stage, seats=seats, mine=mine,
        names=_names(request), comments=comments, reviewer_choices=_reviewers(request),
        decisions=DECISIONS, raters=raters_of(application, node.service.lookup),
        vettable=application.state not in _NOT_VETTABLE,
        errors=errors or [], form=form or {}, message=message, entry=entry,
        mail_message=mail_message, applicant=applicant,
        in_review=application.state is ApplicationState.IN_REVIEW,
        open_=application.state is ApplicationState.OPEN,
        returnable=application.state in (ApplicationState.OPEN, ApplicationState.IN_REVIEW),
        exam_due=application.state in (ApplicationState.APPROVED_FOR_EXAM,
                                       ApplicationState.EXAM_FAILED),
        grantable=application.state in (ApplicationState.APPROVED,
                                        ApplicationState.EXAM_PASSED),
        endorsement_id=application.endorsement_id, today=today(),
        policy=node.config.policy, **documents_context(request, staff, str(parsed)),
        rating_summary=node.ratings.store.summary(application.id)))


@router.get("/{application_id}", response_class=HTMLResponse)
def application_page(request: Request, staff: AnyStaff, application_id: str) -> Response:
    """One application: stage, checklist, reviewers, and the reader's actions."""
    return _application_page(request, staff, application_id)


def _command(request: Request, staff: StaffUser, application_id: str, action: str,
             done: str, fields: dict[str, str], form: dict[str, Any],
             run: Callable[[uuid.UUID], object], *, may_return: bool = False,
             then_page: str = "", then: Callable[[Cursor], None] | None = None) -> Response:
    parsed = _parse(application_id)
    if parsed is None:
        return _application_page(request, staff, application_id)  # the 404 page
    try:
        request.app.state.node.service.application(parsed)
    except NotFound:
        return _application_page(request, staff, application_id)
    node = request.app.state.node
    mailed: list[ReturnMail] = []

    def mail_if_returned(cur: Cursor) -> None:
        # Any command that leaves the application returned (the coordinator's return, the
        # reviewers' concluding decisions) mails the applicant the comments, once.
        application = node.service.application(parsed)
        found = queue_return_mail(cur, outbox=node.outbox, people=node.people,
                                  application=application,
                                  association_name=node.config.name, now=now(),
                                  status_url=status_url(
                                      cur, accounts=node.accounts.store,
                                      drafts=request.app.state.portal.drafts,
                                      application_id=str(parsed),
                                      person_id=application.person_id,
                                      base_url=node_base_url(node.settings)))
        if found is not None:
            mailed.append(found)

    outcome = _act(request, staff, action, str(parsed), lambda: run(parsed),
                   then=mail_if_returned if may_return else then)
    if isinstance(outcome, DomainError):
        return _application_page(request, staff, application_id, 422,
                                 [(fields.get(outcome.field, ""), _message(outcome))], form)
    if (mailed and mailed[0] is ReturnMail.QUEUED) or then is not None:
        node.outbox.notify()  # committed: wake the sender now rather than at its next poll
    return _done(parsed, done, outcome, mailed[0] if mailed else None, then_page)


@router.post("/{application_id}/reviewers", response_class=HTMLResponse)
def assign(request: Request, staff: Coordinator, application_id: str,
           first: Annotated[str, Form(max_length=100)] = "",
           second: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Assign two reviewers (different staff accounts holding the reviewer role)."""
    choices = {account_id for account_id, _ in _reviewers(request)}
    errors: Errors = []
    if first not in choices:
        errors.append(("assign-first", "Choose the first reviewer from the list."))
    if second not in choices:
        errors.append(("assign-second", "Choose the second reviewer from the list."))
    elif first == second:
        errors.append(("assign-second", "Choose two different reviewers."))
    form = {"first": first, "second": second}
    if errors:
        return _application_page(request, staff, application_id, 422, errors, form)
    service = request.app.state.node.service
    return _command(request, staff, application_id, "application.assign_reviewers",
                    "reviewers", {"reviewers": "assign-first"}, form,
                    lambda a: service.assign_reviewers(a, [first, second],
                                                       assigned_by=staff.account_id,
                                                       assigned_on=today(), now=now()))


@router.post("/{application_id}/return", response_class=HTMLResponse)
def return_with_comments(request: Request, staff: Coordinator, application_id: str,
                         comments: Annotated[str, Form(max_length=MAX_TEXT)] = "") -> Response:
    """Return the application to the applicant with comments (kept private)."""
    service = request.app.state.node.service
    return _command(request, staff, application_id, "application.return", "returned",
                    {"comments": "return-comments"}, {"comments": comments},
                    lambda a: service.return_with_comments(
                        a, returned_by=staff.account_id, comments=comments,
                        returned_on=today(), now=now()), may_return=True)


@router.post("/{application_id}/conflict", response_class=HTMLResponse)
def declare_conflict(request: Request, staff: Reviewer, application_id: str,
                     note: Annotated[str, Form(max_length=MAX_TEXT)] = "") -> Response:
    """An assigned reviewer declares a conflict of interest (the note stays private)."""
    service = request.app.state.node.service
    return _command(request, staff, application_id, "application.declare_conflict",
                    "conflict", {"note": "conflict-note", "reviewer": "conflict-note"},
                    {"note": note},
                    lambda a: service.declare_conflict(a, reviewer=staff.account_id,
                                                       declared_on=today(), note=note,
                                                       now=now()))


@router.post("/{application_id}/decision", response_class=HTMLResponse)
def decide(request: Request, staff: Reviewer, application_id: str,
           decision: Annotated[str, Form(max_length=50)] = "",
           comments: Annotated[str, Form(max_length=MAX_TEXT)] = "") -> Response:
    """An assigned reviewer's decision, with comments (kept private)."""
    form = {"decision": decision, "comments": comments}
    chosen = next((d for d in ReviewDecision if d.value == decision), None)
    if chosen is None:
        return _application_page(request, staff, application_id, 422,
                                 [("decision-decision", "Choose a decision.")], form)
    service = request.app.state.node.service
    return _command(request, staff, application_id, "application.decide", "decision",
                    {"decision": "decision-decision", "comments": "decision-comments",
                     "reviewer": "decision-decision"}, form,
                    lambda a: service.decide(a, chosen, reviewer=staff.account_id,
                                             comments=comments, decided_on=today(), now=now()),
                    may_return=True)


@router.post("/{application_id}/exam", response_class=HTMLResponse)
def record_exam(request: Request, staff: Coordinator, application_id: str,
                sat_on: Annotated[str, Form(max_length=20)] = "",
                score: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Record a sitting of the written exam (Levels III and IV): the day and the score; the
    association's policy decides pass or fail and whether a retake is allowed."""
    form = {"sat_on": sat_on, "score": score}
    errors: Errors = []
    try:
        day = dt.date.fromisoformat(sat_on.strip())
        if day > today():
            errors.append(("exam-sat_on", "The sitting cannot be in the future."))
    except ValueError:
        errors.append(("exam-sat_on", "Enter the day of the sitting, e.g. "
                                      f"{today().isoformat()}."))
    try:
        points = float(score.strip())
        if not 0 <= points <= 1000:
            raise ValueError(score)
    except ValueError:
        errors.append(("exam-score", "Enter the score as a number, e.g. 82."))
    if errors:
        return _application_page(request, staff, application_id, 422, errors, form)
    service = request.app.state.node.service
    return _command(request, staff, application_id, "application.exam_sitting", "exam",
                    {"score": "exam-score", "sat_on": "exam-sat_on"}, form,
                    lambda a: service.record_exam_sitting(a, sat_on=day, score=points,
                                                          recorded_by=staff.account_id,
                                                          now=now()))


@router.post("/{application_id}/grant", response_class=HTMLResponse)
def grant(request: Request, staff: Granter, application_id: str) -> Response:
    """Grant the endorsement of an approved application, from today. Its id is derived from
    the application's, so sending the form twice cannot grant two endorsements."""
    node = request.app.state.node
    by_committee = not staff.has(AccountRole.COORDINATOR)

    def professional(cur: Cursor) -> None:
        # The applicant's portal account, if their record has one, becomes a professional's
        # in the grant's audit transaction (portal/professional.py).
        granted = node.service.application(uuid.UUID(application_id))
        if granted.endorsement_id is not None:
            professional_on_grant(cur, node.accounts, person_id=granted.person_id,
                                  endorsement_id=granted.endorsement_id,
                                  by=staff.signed.actor, now=now(),
                                  client=client_address(request))

    return _command(request, staff, application_id, "application.grant", "granted", {}, {},
                    lambda a: node.service.grant(
                        a, endorsement_id=new_endorsement_id(node.association,
                                                             f"application:{a}"),
                        granted_on=today(), now=now(), by_committee=by_committee),
                    then=professional)


@router.post("/{application_id}/rater-vettings", response_class=HTMLResponse)
def vet_rater(request: Request, staff: Coordinator, application_id: str,
              rater_id: Annotated[str, Form(max_length=200)] = "",
              note: Annotated[str, Form(max_length=MAX_TEXT)] = "") -> Response:
    """Record that the coordinator vetted one of the application's raters (Level I accepts
    a vetted rater in place of an endorsed one). The note says how, and is on the ledger
    entry, so the page asks for it; the rater must be one the evidence names."""
    form = {"rater_id": rater_id, "note": note}
    errors: Errors = []
    if not rater_id.strip():
        errors.append(("vet-rater_id", "Choose the rater you vetted."))
    if not note.strip():
        errors.append(("vet-note", "Say how you vetted the rater, e.g. the call you made."))
    elif len(note.strip()) > MAX_VETTING_NOTE:
        errors.append(("vet-note", f"Keep the note to {MAX_VETTING_NOTE} characters."))
    if errors:
        return _application_page(request, staff, application_id, 422, errors, form)
    node = request.app.state.node
    service = node.service

    def request_rating(cur: Cursor) -> None:
        # Vetting is the coordinator's check of the rater, so it sends their rating request
        # in the vetting's own transaction (if their person record has an address).
        with contextlib.suppress(RequestRefused):  # another process sent it this instant
            application = service.application(uuid.UUID(application_id))
            send_rating_request(node, cur, application, rater_id.strip(),
                                requested_by=staff.account_id, now=now(),
                                given=applicant_given(request.app.state.portal,
                                                      application.id, rater_id.strip()))

    return _command(request, staff, application_id, "application.vet_rater", "vetted",
                    {"rater_id": "vet-rater_id", "state": "vet-rater_id"}, form,
                    lambda a: service.vet_rater(a, rater_id.strip(),
                                                vetted_by=staff.account_id,
                                                vetted_on=today(), note=note.strip(),
                                                now=now()), then=request_rating)


# -- evidence -------------------------------------------------------------------------------


def _evidence_page(request: Request, staff: StaffUser, application_id: str,
                   status: int = 200, errors: Errors | None = None,
                   values: dict[str, str] | None = None,
                   choices: dict[str, list[people_picker.Candidate]] | None = None
                   ) -> Response:
    node = request.app.state.node
    parsed = _parse(application_id)
    try:
        application = node.service.application(parsed) if parsed else None
    except NotFound:
        application = None
    if application is None or application.association != node.association:
        return _application_page(request, staff, application_id)  # the 404 page
    shown = values if values is not None else evidence_form.form_values(application.evidence)
    params = request.query_params
    entry = (params.get("seq", ""), params.get("hash", "")) if params.get("seq") else None
    return render("staff_evidence.html", status, **page_context(
        request, application=application, application_id=str(parsed),
        progress=of_application(application), sections=evidence_form.SECTIONS,
        flags=evidence_form.FLAGS, values=shown, rows=evidence_form.rows_shown(shown),
        field_id=evidence_form.field_id, checked=evidence_form.checked,
        flags_title="Declarations and fee", picks=choices or {},
        named=people_picker.named_in(shown, node.projector, today()),
        resolved=params.get("done") == "resolved", entry=entry,
        errors=errors or []))


# Which declaration each text the applicant signed in the portal stands behind.
_DECLARATION_OF_TEXT = {"code_of_ethics": "code_of_ethics_signed",
                        "endorsement_agreement": "agreement_signed"}


def _signatures_kept(evidence: ApplicationEvidence, previous: ApplicationEvidence
                     ) -> ApplicationEvidence:
    """The form's evidence with the texts the applicant signed in the portal (version,
    SHA-256, who and when) carried over from the application's evidence: the form has no
    field for them, and without them the ledger's commitment would stop pinning the wording
    signed. A text whose declaration the coordinator unticked is left out with it."""
    if isinstance(previous.signed_texts, msgspec.UnsetType):
        return evidence
    kept = tuple(t for t in previous.signed_texts
                 if getattr(evidence, _DECLARATION_OF_TEXT.get(t.document, ""), False))
    return msgspec.structs.replace(evidence, signed_texts=kept if kept else msgspec.UNSET)


@router.get("/{application_id}/evidence", response_class=HTMLResponse)
def evidence_page(request: Request, staff: Coordinator, application_id: str) -> Response:
    """The evidence form, filled in with what the application holds, beside its checklist."""
    return _evidence_page(request, staff, application_id)


@router.post("/{application_id}/evidence", response_class=HTMLResponse)
async def save_evidence(request: Request, staff: Coordinator, application_id: str) -> Response:
    """Replace the application's evidence (the whole form is the whole evidence)."""
    form = await request.form()
    posted = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= MAX_TEXT}
    node = request.app.state.node

    def save() -> Response:
        # Names typed for providers and raters first become person ids (or, if ambiguous or
        # unknown, errors next to their inputs: nothing is saved until each is settled).
        picking = people_picker.pick(posted, node.projector, today())
        evidence, errors = evidence_form.parse(picking.values)
        if evidence is None or picking.errors:
            return _evidence_page(request, staff, application_id, 422,
                                  picking.errors + errors, picking.values, picking.choices)
        def submit(a: uuid.UUID) -> object:
            # What the form has no field for is kept from the evidence it replaces.
            before = node.service.application(a).evidence
            kept = _signatures_kept(received_kept(before, evidence), before)
            return node.service.submit_evidence(a, with_documents(kept, node.documents, a),
                                                submitted_on=today(), now=now())

        # After names were resolved, the evidence page follows: it says under each input
        # whom its person id names, so the coordinator sees whom each name resolved to.
        return _command(request, staff, application_id, "application.evidence",
                        "resolved" if picking.resolved else "evidence", {}, {}, submit,
                        then_page="/evidence" if picking.resolved else "")

    return await run_in_threadpool(save)
