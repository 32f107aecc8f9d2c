"""The documents part of the applicant's draft and application pages: what the panel shows,
the evidence filler that lists the stored documents in the evidence, and the clean-up when a
draft is thrown away (the routes are `portal_documents`; no route module imports another).

A portal upload belongs to the draft's application id (`Subject.application`), chosen when
the draft was made, so the very records the applicant uploads are the application's
documents on the staff pages once it is submitted. The applicant sees and opens only the
documents their own account uploaded (`Document.owner_account_id`): a document the
association added to the application (a rater's letter, say) is the association's.

The evidence lists the documents by kind and SHA-256 (`documents.evidence.with_documents`,
all of the application's documents, whoever uploaded them), never their bytes; the filler
runs before the checklist and before submitting or answering a return, so the ledger's
salted commitment covers exactly the files the application rests on. Whether an official
transcript has arrived stays the association's to record (`transcript_received`): a file
an applicant uploads is a copy until the coordinator says the transcript is official.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from domain.application import ApplicationState
from domain.evidence import ApplicationEvidence
from federation_api.documents.evidence import with_documents
from federation_api.documents.service import Documents
from federation_api.documents.store import Document, DocumentKind, Subject
from federation_api.portal.drafts import Draft
from ledger.errors import NotFound

KINDS = [(DocumentKind.TRANSCRIPT.value, "Transcript"),
         (DocumentKind.CERTIFICATE.value, "Certificate"),
         (DocumentKind.OTHER.value, "Other document")]
MAX_DOCUMENTS = 20  # per application and account: more is a script, not a person
_MESSAGES = {"stored": "The document is stored with your application.",
             "removed": "The document is removed."}


def documents_of(request: Request) -> Documents:
    """The node's documents."""
    documents: Documents = request.app.state.node.documents
    return documents


def own_documents(request: Request, draft: Draft) -> list[Document]:
    """The documents the draft's account uploaded to its application, oldest first."""
    subject = Subject.application(draft.application_id)
    return [d for d in documents_of(request).of_subject(subject)
            if d.owner_account_id == draft.account_id]


def may_add(request: Request, draft: Draft) -> bool:
    """Whether the applicant may add documents: while a draft, or while the association has
    returned the application to them (a missing transcript is a usual reason to return)."""
    if not draft.submitted:
        return True
    try:
        application = request.app.state.node.service.application(draft.application_id)
    except NotFound:
        return False
    return application is not None and application.state is ApplicationState.RETURNED


def panel_context(request: Request, draft: Draft, *, kind: str = "transcript"
                  ) -> dict[str, Any]:
    """What `portal_documents_panel.html` needs (the draft page's `DraftPanel` context, the
    application page's and the refused upload page's)."""
    documents = documents_of(request)
    target = (f"/portal/applications/{draft.application_id}" if draft.submitted
              else f"/portal/drafts/{draft.draft_id}")
    return {"documents": own_documents(request, draft), "document_kinds": KINDS,
            "document_kind": kind, "may_add": may_add(request, draft),
            "may_remove": not draft.submitted, "upload_action": f"{target}/documents",
            "remove_action": f"/portal/drafts/{draft.draft_id}/documents",
            "max_document_mb": documents.max_bytes // (1024 * 1024),
            "document_message": _MESSAGES.get(request.query_params.get("document", ""), "")}


def fill_documents(request: Request, draft: Draft, evidence: ApplicationEvidence
                   ) -> ApplicationEvidence:
    """The `EVIDENCE_FILLERS` entry: the evidence listing the application's stored
    documents (from the node's records, never from the form)."""
    return with_documents(evidence, documents_of(request), draft.application_id)


def forget_documents(request: Request, draft: Draft) -> None:
    """Remove the documents the account uploaded to a draft it throws away, records and (when
    no other record names them) bytes: a discarded draft leaves no private file behind."""
    documents = documents_of(request)
    subject = Subject.application(draft.application_id)
    with documents.db.transaction() as cur:
        removed = [documents.remove(cur, d.document_id, owner_account_id=draft.account_id,
                                    subject=subject) for d in own_documents(request, draft)]
    for document in removed:
        documents.forget(document)
