"""The applicant's draft pages: start one for a level, fill it in over as many sessions as
it takes, sign the Code of Ethics and the Endorsement Agreement, submit it.

A draft is the applicant's private scratch: saving keeps what was typed even while a field
is still wrong (the page says what to fix before submitting), so half a form is never lost.
Submitting is strict: every field must be valid and every provider and rater identified,
the association must have confirmed who the applicant is, and then the application goes
through the same commands as staff intake (audited like a staff action, under the
applicant's account). Nothing is on the ledger before that.

Providers and raters are found by name across the Alliance as on the staff evidence form
(`people_picker`). Another account's draft id answers 404 like an unknown one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.errors import DomainError
from domain.levels import Level
from federation_api.clock import now, today
from federation_api.portal import raters
from federation_api.portal.applying import (
    discard_draft,
    save_draft,
    sign,
    start_draft,
    submit,
)
from federation_api.portal.drafts import Draft
from federation_api.portal.errors import NotYours, PortalError
from federation_api.portal.texts import Document, text_of
from federation_api.web.audited import attempt
from federation_api.web.pages import people_picker, portal_rater_panel
from federation_api.web.pages.level_titles import DESIGNATIONS, level_title
from federation_api.web.pages.portal_document_panel import forget_documents
from federation_api.web.pages.portal_evidence import (
    DRAFT_PANELS,
    check_draft,
    form_context,
    form_spec,
    posted_values,
)
from federation_api.web.pages.portal_fees import pay_headers
from federation_api.web.pages.portal_session import (
    Member,
    PortalMember,
    not_found,
    page_context,
)
from federation_api.web.pages.staff_session import client_address
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from ledger.storage.database import Cursor

router = APIRouter(prefix="/portal/drafts", include_in_schema=False)
Errors = list[tuple[str, str]]
_DONE = {"started": "Your draft is saved. Fill it in at your own pace: it keeps what you "
                    "save until you submit it.",
         "saved": "Your draft is saved.",
         "signed": "Your signature is recorded with the version of the text you signed.",
         "waiver": "Your waiver is recorded with the version of the text you signed."}


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers=SECURITY_HEADERS)


# -- starting -------------------------------------------------------------------------------


def _new_page(request: Request, status: int = 200, errors: Errors | None = None,
              form: dict[str, str] | None = None) -> Response:
    return render("portal_new_draft.html", status, **page_context(
        request, levels=[(lv.value, level_title(lv, None)) for lv in Level],
        designations=[("", "None (Levels I to III)")] + [(d.value, text)
                                                          for d, text in DESIGNATIONS.items()],
        errors=errors or [], form={"level": "", "designation": ""} | (form or {})))


@router.get("/new", response_class=HTMLResponse)
def new_draft_page(request: Request, member: Member) -> Response:
    """Choose the level to apply for."""
    return _new_page(request)


@router.post("", response_class=HTMLResponse)
def new_draft(request: Request, member: Member,
              level: Annotated[str, Form(max_length=20)] = "",
              designation: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Start a draft for the chosen level."""
    try:
        draft = start_draft(request.app.state.portal, member.account_id, level=level,
                            designation=designation, now=now())
    except PortalError as e:
        return _new_page(request, 422, [(e.field, _sentence(e.message))],
                         {"level": level, "designation": designation})
    return _redirect(f"/portal/drafts/{draft.draft_id}?done=started")


# -- one draft ------------------------------------------------------------------------------


def _draft_page(request: Request, member: PortalMember, draft: Draft, status: int = 200,
                errors: Errors | None = None, values: dict[str, str] | None = None,
                picks: dict[str, list[people_picker.Candidate]] | None = None,
                message: str = "", signing: dict[str, str] | None = None) -> Response:
    portal = request.app.state.portal
    shown = draft.values if values is None else values
    signatures = portal.drafts.signatures(draft.draft_id)
    check = check_draft(request, draft, shown, signatures)
    texts = [(text_of(d), signatures.get(d.value)) for d in Document]
    return render("portal_draft.html", status, pay_headers(request), **page_context(
        request, draft=draft, title=level_title(draft.level, draft.designation),
        progress=check.progress, errors=_merged(errors or [], check.errors), texts=texts,
        panels=[(p, p.context(request, draft)) for p in DRAFT_PANELS],
        message=message or _DONE.get(request.query_params.get("done", ""), ""),
        signing=signing or {}, **form_context(request, draft, shown, picks)))


def _merged(first: Errors, then: Errors) -> Errors:
    """The errors of the action, then what the draft still needs, one message per field."""
    seen = {field for field, _ in first if field}
    return [*first, *((f, m) for f, m in then if f not in seen)]


def _owned(request: Request, member: PortalMember, draft_id: str) -> Draft | None:
    try:
        draft: Draft = request.app.state.portal.drafts.get(member.account_id, draft_id)
    except NotYours:
        return None
    return draft


def _open(request: Request, member: PortalMember, draft_id: str) -> Draft | None:
    """The account's draft while it is still one: every change to a submitted draft (save,
    sign, submit, discard, the waiver) answers as a missing draft does, the application's
    own page having taken over."""
    draft = _owned(request, member, draft_id)
    return None if draft is None or draft.submitted else draft


@router.get("/{draft_id}", response_class=HTMLResponse)
async def draft_page(request: Request, member: Member, draft_id: str) -> Response:
    """The draft: its sections, the live checklist, the texts to sign, submit."""
    def show() -> Response:
        draft = _owned(request, member, draft_id)
        if draft is None:
            return not_found(request)
        if draft.submitted:
            return _redirect(f"/portal/applications/{draft.application_id}")
        return _draft_page(request, member, draft)
    return await run_in_threadpool(show)


@router.post("/{draft_id}", response_class=HTMLResponse)
async def save(request: Request, member: Member, draft_id: str) -> Response:
    """Save the form into the draft; names typed for providers and raters are looked up."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

    def run() -> Response:
        draft = _open(request, member, draft_id)
        if draft is None:
            return not_found(request)
        values = posted_values(form, form_spec(draft.level, draft.designation))
        if values is None:
            return _draft_page(request, member, draft, 422, [("", "A field is longer than "
                                                                  "any answer may be.")])
        node = request.app.state.node
        values = raters.with_rater_ids(values, draft.application_id)
        picking = people_picker.pick(values, node.projector, today())
        try:
            saved = save_draft(request.app.state.portal, member.account_id, draft_id,
                               version=_version(form), values=picking.values, now=now())
        except PortalError as e:
            return _draft_page(request, member, draft, 409, [("", _sentence(e.message))],
                               picking.values, picking.choices)
        return _draft_page(request, member, saved, 200, picking.errors, picking.values,
                           picking.choices, message=_DONE["saved"])
    return await run_in_threadpool(run)


def _version(form: dict[str, str]) -> int:
    try:
        return int(form.get("version", "0"))
    except ValueError:
        return 0


@router.post("/{draft_id}/sign", response_class=HTMLResponse)
def sign_text(request: Request, member: Member, draft_id: str,
              document: Annotated[str, Form(max_length=50)] = "",
              signed_name: Annotated[str, Form(max_length=1000)] = "",
              agreed: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Sign a text: the name typed as a signature and the box ticked."""
    draft = _open(request, member, draft_id)
    if draft is None:
        return not_found(request)
    try:
        sign(request.app.state.portal, member.signed.account, draft_id, document=document,
             signed_name=signed_name, agreed=agreed == "on", now=now())
    except PortalError as e:
        return _draft_page(request, member, draft, 422, [(e.field, _sentence(e.message))],
                           signing={document: signed_name})
    return _redirect(f"/portal/drafts/{draft_id}?done=signed#texts-title")


@router.post("/{draft_id}/submit", response_class=HTMLResponse)
def submit_draft(request: Request, member: Member, draft_id: str) -> Response:
    """Submit the saved draft as an application, through the commands staff intake uses."""
    draft = _open(request, member, draft_id)
    if draft is None:
        return not_found(request)
    portal = request.app.state.portal
    node = request.app.state.node
    account = portal.accounts.store.find(member.account_id)
    if account is None or account.person_id is None:
        return _draft_page(request, member, draft, 422, [(
            "submit", "The association has not yet confirmed who you are. You can submit "
                      "once the coordinator has matched your account to their record of "
                      "you.")])
    check = check_draft(request, draft, draft.values, portal.drafts.signatures(draft_id))
    if check.evidence is None:
        return _draft_page(request, member, draft, 422, [*check.errors, (
            "submit", "Fix the fields marked below and save the draft, then submit.")])
    evidence = check.evidence

    def marked(cur: Cursor) -> None:
        portal.drafts.mark_submitted(cur, draft, now=now())

    try:
        outcome = attempt(node, actor=member.signed.actor, action="portal.submit",
                          target=str(draft.application_id), client=client_address(request),
                          run=lambda: submit(portal, node.service, account, draft, evidence,
                                             today=today(), now=now()), then=marked)
    except PortalError as e:
        return _draft_page(request, member, draft, 422, [("submit", _sentence(e.message))])
    if outcome.refusal is not None:
        return _draft_page(request, member, draft, 422, [("submit", _refusal(outcome.refusal))])
    return _redirect(f"/portal/applications/{draft.application_id}?done=submitted")


@router.post("/{draft_id}/discard", response_class=HTMLResponse)
def discard(request: Request, member: Member, draft_id: str,
            confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Throw an unsubmitted draft away (the box must be ticked: it cannot be undone)."""
    draft = _open(request, member, draft_id)
    if draft is None:
        return not_found(request)
    if confirm != "on":
        return _draft_page(request, member, draft, 422, [(
            "discard-confirm", "Tick the box to say you want to throw the draft away.")])
    forget_documents(request, draft)  # first: a crash between leaves the draft, no orphan
    discard_draft(request.app.state.portal, member.account_id, draft_id)
    return _redirect("/portal/?done=discarded")


def _refusal(error: DomainError) -> str:
    return _sentence(error.message)


@router.post("/{draft_id}/waiver", response_class=HTMLResponse)
def sign_rating_waiver(request: Request, member: Member, draft_id: str,
                       agreed: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Sign the waiver of access to the reference ratings (the box must be ticked)."""
    draft = _open(request, member, draft_id)
    if draft is None:
        return not_found(request)
    if agreed != "on":
        return _draft_page(request, member, draft, 422, [(portal_rater_panel.WAIVER_FIELD,
                                                          portal_rater_panel.NOT_TICKED)])
    portal_rater_panel.sign_waiver(request, member, draft)
    return _redirect(f"/portal/drafts/{draft_id}?done=waiver#rating-waiver-title")
