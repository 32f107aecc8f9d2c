"""Documents on the staff pages: a coordinator uploads a document to an application, and the
association's staff open (download) the documents of its applications.

Who opens documents: `application_documents.DOCUMENT_READERS` (not auditors; why there).

The upload is read as it streams (`web/documents_http.py`), so its gate does not read the
body (`StaffGate(..., streamed=True)`) and the CSRF token is checked when the file part
begins. A refused upload shows the form again with the reason next to the file field;
nothing is stored. The document's digest joins the application's evidence the next time the
evidence is saved (`documents.evidence.with_documents`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from federation_api.accounts.audit_log import Actor
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now
from federation_api.documents.errors import DocumentRefused, NoSuchDocument, TooLarge
from federation_api.documents.service import Documents, Viewer
from federation_api.documents.store import DocumentKind, Subject
from federation_api.web.documents_http import Upload, download, read_upload
from federation_api.web.pages.application_documents import DOCUMENT_READERS, documents_context
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    check_form_token,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from ledger.errors import NotFound

router = APIRouter(include_in_schema=False)
Reader = Annotated[StaffUser, Depends(StaffGate(*DOCUMENT_READERS))]
Uploader = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR, streamed=True))]


def _application_exists(request: Request, application_id: str) -> bool:
    node = request.app.state.node
    try:
        parsed = uuid.UUID(application_id)
        application = node.service.application(parsed)
    except (ValueError, NotFound):
        return False
    return application is not None and application.association == node.association


def _not_found(request: Request, title: str, message: str) -> Response:
    return render("message.html", 404, **page_context(request, title=title, message=message))


def _no_application(request: Request) -> Response:
    return _not_found(request, "No such application",
                      "This association has no application with this id.")


def _refused_page(request: Request, staff: StaffUser, application_id: str,
                  error: DocumentRefused, kind: str) -> Response:
    status = 413 if isinstance(error, TooLarge) else 422
    return render("staff_document_upload.html", status, **page_context(
        request, application_id=application_id, errors=[("document-file", error.reason)],
        form={"kind": kind}, **documents_context(request, staff, application_id)))


def _store(request: Request, staff: StaffUser, received: Upload, kind: DocumentKind,
           application_id: uuid.UUID) -> None:
    """Keep the document, then record it with its audit entry in one transaction."""
    node = request.app.state.node
    at = now()
    document = node.documents.keep(
        received.incoming, subject=Subject.application(application_id), kind=kind,
        original_name=received.file_name, owner_account_id=None,
        by=Actor.account(staff.account_id).label, now=at)
    with node.documents.db.transaction() as cur:
        node.documents.record(cur, document)
        node.accounts.audit.record(
            cur, actor=Actor.account(staff.account_id), action="document.upload", now=at,
            target=f"application:{application_id}", client=client_address(request),
            detail=f"{document.document_id} {kind.value} sha256:{document.sha256[:16]}")


@router.post("/staff/applications/{application_id}/documents", response_class=HTMLResponse)
async def upload(request: Request, staff: Uploader, application_id: str) -> Response:
    """Store an uploaded document for the application, or show why it was refused."""
    documents: Documents = request.app.state.node.documents
    exists = await run_in_threadpool(_application_exists, request, application_id)
    try:
        # The form's token is checked first, even for an application that does not exist.
        received: Upload = await read_upload(
            request, documents, lambda token: check_form_token(request, staff, token))
    except DocumentRefused as e:
        if not exists:
            return _no_application(request)
        return _refused_page(request, staff, application_id, e, "transcript")
    kind = next((k for k in DocumentKind if k.value == received.fields.get("kind")), None)
    with received.incoming:
        if not exists:
            return _no_application(request)
        if kind is None:
            return _refused_page(request, staff, application_id, DocumentRefused(
                "Choose what the document is.", rule="document.kind"), "transcript")
        try:
            await run_in_threadpool(_store, request, staff, received, kind,
                                    uuid.UUID(application_id))
        except DocumentRefused as e:
            return _refused_page(request, staff, application_id, e, kind.value)
    return RedirectResponse(f"/staff/applications/{uuid.UUID(application_id)}?uploaded=1"
                            "#documents-title", status_code=303, headers=SECURITY_HEADERS)


@router.get("/staff/documents/{document_id}")
def open_document(request: Request, staff: Reader, document_id: str) -> Response:
    """The document as a download, logged with the account that opened it."""
    try:
        return download(request.app.state.node.documents, document_id,
                        Viewer(staff.account_id, staff=True), client=client_address(request))
    except NoSuchDocument:
        return _not_found(request, "No such document",
                          "This association has no document with this id.")
