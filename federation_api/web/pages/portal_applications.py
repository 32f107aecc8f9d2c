"""The applicant's submitted applications: where each stands, the association's comments
when it is returned, answering a return with changes, withdrawing.

The stage, next step and checklist are the domain's own words (`of_application`), as the
staff page shows them. Of the private record the applicant sees only what was sent to them:
the comments of a return, each under its author's role (never a reviewer's name), and their
own answer. Answering goes through the service's `resubmit`, withdrawing through
`withdraw`: the same commands, audited under the applicant's account. Each reference rater's
stage (named, link sent, rated) is shown with the waiver (`portal_rater_panel`), never what a
rating says. Another account's
application id answers 404 like an unknown one.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.application import Application, ApplicationState
from domain.errors import DomainError
from domain.progress import Progress, WaitsOn, of_application
from domain.review import CommentAuthor
from federation_api.clock import now, today
from federation_api.portal import raters
from federation_api.portal.applying import answer_return, owned_application, withdraw
from federation_api.portal.drafts import Draft
from federation_api.portal.errors import NotYours
from federation_api.web.audited import attempt
from federation_api.web.pages import people_picker, portal_rater_panel
from federation_api.web.pages.level_titles import level_title
from federation_api.web.pages.portal_document_panel import panel_context
from federation_api.web.pages.portal_evidence import check_draft, form_context, form_spec
from federation_api.web.pages.portal_evidence import posted_values as evidence_values
from federation_api.web.pages.portal_fees import application_view, pay_headers
from federation_api.web.pages.portal_session import (
    Member,
    PortalMember,
    not_found,
    page_context,
)
from federation_api.web.pages.staff_session import client_address
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from ledger.storage.database import Cursor

router = APIRouter(prefix="/portal/applications", include_in_schema=False)
Errors = list[tuple[str, str]]
MAX_TEXT = 5000
_DONE = {"submitted": "Your application is submitted. The coordinator has it in their queue.",
         "answered": "Your answer is sent; the application goes back to its reviewers.",
         "withdrawn": "Your application is withdrawn.",
         "waiver": "Your waiver is recorded with the version of the text you signed."}
_CLOSED = frozenset({ApplicationState.GRANTED, ApplicationState.DENIED,
                     ApplicationState.WITHDRAWN})


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def _comments(application: Application) -> list[tuple[str, str]]:
    """The comments sent to the applicant, each under its author's role."""
    out, reviewer = [], 0
    for comment in application.comments:
        if comment.role is CommentAuthor.REVIEWER:
            reviewer += 1
            out.append((f"Reviewer {reviewer}", comment.comments))
        else:
            out.append(("The coordinator", comment.comments))
    return out


def _applicants_progress(application: Application) -> Progress:
    """The domain's account of the application, less the staff's side of it: in review,
    the staff's words name the reviewers (account ids), who has decided and who stepped
    aside; the applicant is told only that the reviewers are reading it (the checklist
    below says what the rules still need)."""
    progress = of_application(application)
    if application.state is not ApplicationState.IN_REVIEW:
        return progress
    waiting = progress.waits_on is WaitsOn.REVIEWERS
    return msgspec.structs.replace(
        progress, waiting_for=(),
        summary="In review: the association's reviewers are reading your application.",
        next_step="Waiting for the reviewers' decisions." if waiting else progress.next_step)


def _page(request: Request, member: PortalMember, draft: Draft, application: Application,
          status: int = 200, errors: Errors | None = None,
          values: dict[str, str] | None = None,
          picks: dict[str, list[people_picker.Candidate]] | None = None,
          response: str = "") -> Response:
    returned = application.state is ApplicationState.RETURNED
    shown = draft.values if values is None else values
    return render("portal_application.html", status, pay_headers(request), **page_context(
        request, draft=draft, application=application,
        progress=_applicants_progress(application),
        title=level_title(application.level, application.designation),
        comments=_comments(application), returned=returned,
        withdrawable=application.state not in _CLOSED, errors=errors or [],
        response=response, panel_context=panel_context(request, draft),
        fee_panel={"fee": application_view(
            request, str(application.id), ended=application.state in (
                ApplicationState.WITHDRAWN, ApplicationState.DENIED))},
        message=_DONE.get(request.query_params.get("done", ""), ""),
        raters=portal_rater_panel.status_context(request, draft, application),
        **form_context(request, draft, shown, picks)))


def _owned(request: Request, member: PortalMember, application_id: str
           ) -> tuple[Draft, Application] | None:
    try:
        return owned_application(request.app.state.portal, request.app.state.node.service,
                                 member.account_id, application_id)
    except NotYours:
        return None


@router.get("/{application_id}", response_class=HTMLResponse)
async def application_page(request: Request, member: Member, application_id: str) -> Response:
    """Where the application stands, what the association said, what the applicant may do."""
    def show() -> Response:
        found = _owned(request, member, application_id)
        if found is None:
            return not_found(request)
        return _page(request, member, *found)
    return await run_in_threadpool(show)


@router.post("/{application_id}/answer", response_class=HTMLResponse)
async def answer(request: Request, member: Member, application_id: str) -> Response:
    """Answer a return: a response to the comments, and the changed application."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

    def run() -> Response:
        found = _owned(request, member, application_id)
        if found is None:
            return not_found(request)
        draft, application = found
        response = form.get("response", "")[:MAX_TEXT + 1]
        spec = form_spec(draft.level, draft.designation)
        values = evidence_values(form, spec)
        if values is None or len(response) > MAX_TEXT:
            return _page(request, member, draft, application, 422,
                         [("response", "An answer is longer than any answer may be.")],
                         response=response)
        node = request.app.state.node
        portal = request.app.state.portal
        picking = people_picker.pick(raters.with_rater_ids(values, application.id),
                                     node.projector, today())
        signatures = portal.drafts.signatures(draft.draft_id)
        check = check_draft(request, draft, picking.values, signatures)
        if picking.errors or check.evidence is None:
            return _page(request, member, draft, application, 422,
                         picking.errors + check.errors, picking.values, picking.choices,
                         response)
        # Changed means other evidence, not other form values: the page always posts one
        # empty row per section (its checkboxes at their defaults) that the stored draft
        # lacks, so comparing the values would count every answer as a change, resubmit the
        # draft over what the association recorded, and never refuse an empty answer.
        # Documents uploaded since the last submission change the evidence too.
        unchanged = check_draft(request, draft, draft.values, signatures).evidence
        changed = (check.evidence if check.evidence != unchanged
                   or check.evidence.documents != application.evidence.documents else None)
        if changed is None and not response.strip():
            return _page(request, member, draft, application, 422, [(
                "response", "Say how you answered the comments, or change the application.")],
                response=response)

        def keep(cur: Cursor) -> None:
            portal.drafts.record_answer(cur, draft, picking.values, now=now())

        outcome = attempt(node, actor=member.signed.actor, action="portal.answer_return",
                          target=str(application.id), client=client_address(request),
                          run=lambda: answer_return(node.service, application, changed,
                                                    response=response, today=today(),
                                                    now=now()), then=keep)
        if outcome.refusal is not None:
            return _page(request, member, draft, application, 422,
                         [(_field(outcome.refusal), _sentence(outcome.refusal.message))],
                         picking.values, response=response)
        return _done(application, "answered")
    return await run_in_threadpool(run)


@router.post("/{application_id}/withdraw", response_class=HTMLResponse)
def withdraw_application(request: Request, member: Member, application_id: str,
                         reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                         confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Withdraw the application (the box must be ticked: it cannot be undone)."""
    found = _owned(request, member, application_id)
    if found is None:
        return not_found(request)
    draft, application = found
    if confirm != "on":
        return _page(request, member, draft, application, 422, [(
            "withdraw-confirm", "Tick the box to say you want to withdraw the application.")])
    node = request.app.state.node
    outcome = attempt(node, actor=member.signed.actor, action="portal.withdraw",
                      target=str(application.id), client=client_address(request),
                      run=lambda: withdraw(node.service, application,
                                           reason=reason.strip() or "withdrawn by the applicant",
                                           today=today(), now=now()))
    if outcome.refusal is not None:
        return _page(request, member, draft, application, 422,
                     [("withdraw-confirm", _sentence(outcome.refusal.message))])
    return _done(application, "withdrawn")


def _field(error: DomainError) -> str:
    return "response" if error.field in ("response", "state") else ""


def _done(application: Application, done: str) -> RedirectResponse:
    return RedirectResponse(f"/portal/applications/{application.id}?done={done}",
                            status_code=303, headers=SECURITY_HEADERS)


@router.post("/{application_id}/waiver", response_class=HTMLResponse)
def sign_rating_waiver(request: Request, member: Member, application_id: str,
                       agreed: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Sign the waiver of access to the ratings after submitting (the box must be ticked)."""
    found = _owned(request, member, application_id)
    if found is None:
        return not_found(request)
    draft, application = found
    if agreed != "on":
        return _page(request, member, draft, application, 422, [(
            portal_rater_panel.WAIVER_FIELD, portal_rater_panel.NOT_TICKED)])
    portal_rater_panel.sign_waiver(request, member, draft)
    return _done(application, "waiver")
