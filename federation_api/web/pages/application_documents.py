"""What the staff pages show of an application's documents (the list, the upload form), for
the application page and the upload page alike; neither route module imports the other.

Who opens documents: coordinators, reviewers and the committee - the people who decide on
an application and may need its transcript. Auditors do not: they audit the ledger and the
staff's actions, and a transcript is personal data their work does not need (least
privilege; the download log tells who opened what without showing the files).
"""

from __future__ import annotations

from fastapi import Request

from federation_api.accounts.roles import AccountRole
from federation_api.documents.service import Documents
from federation_api.documents.store import DocumentKind, Subject
from federation_api.web.pages.staff_session import StaffUser

DOCUMENT_READERS = (AccountRole.COORDINATOR, AccountRole.REVIEWER, AccountRole.COMMITTEE)
KINDS = [(DocumentKind.TRANSCRIPT.value, "Transcript"),
         (DocumentKind.CERTIFICATE.value, "Certificate"),
         (DocumentKind.OTHER.value, "Other document")]


def documents_context(request: Request, staff: StaffUser, application_id: str
                      ) -> dict[str, object]:
    """What `application_documents.html` needs."""
    documents: Documents = request.app.state.node.documents
    uploaded = request.query_params.get("uploaded", "")
    return {"documents": documents.of_subject(Subject.application(application_id)),
            "may_open_documents": staff.has(*DOCUMENT_READERS), "document_kinds": KINDS,
            "max_document_mb": documents.max_bytes // (1024 * 1024),
            "document_message": "The document is stored." if uploaded == "1" else ""}
