"""The applicant's documents: upload to a draft (or to an application the association
returned), remove from a draft, download their own.

Uploads take the staff upload's path exactly (`web/documents_http.py`, docs/documents.md):
the gate leaves the body alone (`PortalGate(streamed=True)`), the form's CSRF token is
checked when the file part begins, before a byte is kept; the file streams into a bounded
spool (memory: one chunk), is judged by its bytes, and only then are the bytes stored
(`Documents.keep`) and the record written with the `portal.document_upload` audit entry in
one transaction that also finds the draft still a draft (or the application still
returned). A refusal shows the upload page with the reason next to the file field and
writes nothing.

Own records only: the draft is found by the account (`DraftStore.get`), the application by
`applying.owned_application`, a document by `Documents.visible` with the account as a
non-staff viewer and, for removal, by a statement naming the owner and the draft's
application. Another person's id answers 404 exactly as a missing one, and nothing is
served, logged or written for it. Downloads are logged (`Documents.open_for`) and inert
(`Content-Disposition: attachment`, `nosniff`, a sandbox CSP), as on the staff pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.application import ApplicationState
from federation_api.clock import now
from federation_api.documents.errors import DocumentRefused, NoSuchDocument, TooLarge
from federation_api.documents.service import Viewer
from federation_api.documents.store import Document, DocumentKind, Subject
from federation_api.portal.applying import owned_application
from federation_api.portal.drafts import Draft
from federation_api.portal.errors import NotYours
from federation_api.web.documents_http import Upload, download, read_upload
from federation_api.web.pages.portal_document_panel import (
    MAX_DOCUMENTS,
    documents_of,
    own_documents,
    panel_context,
)
from federation_api.web.pages.portal_session import (
    Member,
    PortalGate,
    PortalMember,
    check_form_token,
    not_found,
    page_context,
)
from federation_api.web.pages.staff_session import client_address
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from ledger.errors import NotFound
from ledger.storage.database import Cursor

router = APIRouter(include_in_schema=False)
Uploader = Annotated[PortalMember, Depends(PortalGate(streamed=True))]


def _refused_page(request: Request, draft: Draft, error: DocumentRefused,
                  kind: str = "transcript") -> Response:
    status = 413 if isinstance(error, TooLarge) else 422
    back, label = ((f"/portal/applications/{draft.application_id}", "your application")
                   if draft.submitted else (f"/portal/drafts/{draft.draft_id}", "your draft"))
    field = "document-kind" if error.rule == "document.kind" else "document-file"
    return render("portal_document_upload.html", status, **page_context(
        request, errors=[(field, error.reason)], back=back, back_label=label,
        panel_context=panel_context(request, draft, kind=kind)))


def _own_draft(request: Request, member: PortalMember, draft_id: str) -> Draft | None:
    try:
        draft: Draft = request.app.state.portal.drafts.get(member.account_id, draft_id)
    except NotYours:
        return None
    return None if draft.submitted else draft


def _own_returned(request: Request, member: PortalMember, application_id: str
                  ) -> Draft | None:
    try:
        draft, _ = owned_application(request.app.state.portal, request.app.state.node.service,
                                     member.account_id, application_id)
    except NotYours:
        return None
    return draft


def _still_open(request: Request, cur: Cursor, draft: Draft) -> bool:
    """Whether the draft may still take a document, read in the recording transaction (a
    submission in another tab may have happened while the file streamed in)."""
    current = request.app.state.portal.drafts.get(draft.account_id, draft.draft_id, cur=cur)
    if not draft.submitted:
        return not current.submitted
    try:
        application = request.app.state.node.service.application(draft.application_id)
    except NotFound:
        return False
    return application.state is ApplicationState.RETURNED


def _store(request: Request, member: PortalMember, draft: Draft, received: Upload,
           kind: DocumentKind) -> Document | None:
    """Check and keep the bytes, then record them with the audit entry in one transaction;
    None (nothing recorded, the kept bytes dropped) if the draft closed meanwhile."""
    documents = documents_of(request)
    node = request.app.state.node
    at = now()
    document = documents.keep(
        received.incoming, subject=Subject.application(draft.application_id), kind=kind,
        original_name=received.file_name, owner_account_id=member.account_id,
        by=member.signed.actor.label, now=at)
    recorded = False
    try:
        with documents.db.transaction() as cur:
            if not _still_open(request, cur, draft):
                return None
            documents.record(cur, document)
            node.accounts.audit.record(
                cur, actor=member.signed.actor, action="portal.document_upload", now=at,
                target=f"application:{draft.application_id}",
                client=client_address(request),
                detail=f"{document.document_id} {kind.value} sha256:{document.sha256[:16]}")
            recorded = True
    finally:
        if not recorded:
            documents.forget(document)
    return document


async def _upload(request: Request, member: PortalMember,
                  find: Callable[[], Draft | None]) -> Response:
    draft = await run_in_threadpool(find)
    if draft is None:  # not the account's, or closed: nothing read, nothing written
        return not_found(request)
    try:
        received: Upload = await read_upload(
            request, documents_of(request),
            lambda token: check_form_token(request, member, token))
    except DocumentRefused as e:
        return _refused_page(request, draft, e)
    kind = next((k for k in DocumentKind if k.value == received.fields.get("kind")), None)
    with received.incoming:
        if kind is None:
            return _refused_page(request, draft, DocumentRefused(
                "Choose what the document is.", rule="document.kind"))
        if len(own_documents(request, draft)) >= MAX_DOCUMENTS:
            return _refused_page(request, draft, DocumentRefused(
                f"This application has {MAX_DOCUMENTS} documents already. Remove one you "
                "no longer need first.", rule="document.limit"), kind.value)
        try:
            stored = await run_in_threadpool(_store, request, member, draft, received, kind)
        except DocumentRefused as e:
            return _refused_page(request, draft, e, kind.value)
    if stored is None:
        return not_found(request)
    target = (f"/portal/applications/{draft.application_id}" if draft.submitted
              else f"/portal/drafts/{draft.draft_id}")
    return RedirectResponse(f"{target}?document=stored#documents-title", status_code=303,
                            headers=SECURITY_HEADERS)


@router.post("/portal/drafts/{draft_id}/documents", response_class=HTMLResponse)
async def upload_to_draft(request: Request, member: Uploader, draft_id: str) -> Response:
    """Store an uploaded document with the draft, or show why it was refused."""
    return await _upload(request, member, lambda: _own_draft(request, member, draft_id))


@router.post("/portal/applications/{application_id}/documents", response_class=HTMLResponse)
async def upload_to_returned(request: Request, member: Uploader,
                             application_id: str) -> Response:
    """Store a document for an application the association returned (it joins the evidence
    with the answer), or show why it was refused."""
    def find() -> Draft | None:
        draft = _own_returned(request, member, application_id)
        if draft is None:
            return None
        application = request.app.state.node.service.application(draft.application_id)
        return draft if application.state is ApplicationState.RETURNED else None
    return await _upload(request, member, find)


@router.post("/portal/drafts/{draft_id}/documents/{document_id}/remove",
             response_class=HTMLResponse)
def remove(request: Request, member: Member, draft_id: str, document_id: str) -> Response:
    """Remove a document from a draft (its bytes too, unless another record names them)."""
    draft = _own_draft(request, member, draft_id)
    if draft is None:
        return not_found(request)
    documents = documents_of(request)
    at = now()
    try:
        with documents.db.transaction() as cur:
            if request.app.state.portal.drafts.get(member.account_id, draft_id,
                                                   cur=cur).submitted:
                raise NoSuchDocument(document_id)
            removed = documents.remove(cur, document_id, owner_account_id=member.account_id,
                                       subject=Subject.application(draft.application_id))
            request.app.state.node.accounts.audit.record(
                cur, actor=member.signed.actor, action="portal.document_remove", now=at,
                target=f"application:{draft.application_id}", client=client_address(request),
                detail=f"{removed.document_id} {removed.kind.value}")
    except NoSuchDocument:
        return not_found(request)
    documents.forget(removed)
    return RedirectResponse(f"/portal/drafts/{draft_id}?document=removed#documents-title",
                            status_code=303, headers=SECURITY_HEADERS)


@router.get("/portal/documents/{document_id}")
def open_document(request: Request, member: Member, document_id: str) -> Response:
    """The account's own document as a download, logged."""
    try:
        return download(documents_of(request), document_id,
                        Viewer(member.account_id, staff=False), client=client_address(request))
    except NoSuchDocument:
        return not_found(request)
