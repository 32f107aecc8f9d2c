"""The documents an application's evidence rests on, as the digests the evidence carries.

The ledger never holds a document. An application's private evidence lists each document by
kind and SHA-256 (`domain.evidence.DocumentDigest`), and that evidence is what the ledger
entry's salted commitment covers (`ledger/chain/commitments.py`), so an auditor shown the
salt, the evidence and the file can check that this very file was what the decision rested
on, while the public ledger reveals nothing about it.

The digests come from the node's own records, never from the person submitting: whoever
saves evidence (the staff form, the JSON API, the applicant's portal) calls `with_documents`
just before the command, which replaces whatever `documents` the input held.
"""

from __future__ import annotations

import msgspec

from domain.evidence import ApplicationEvidence, DocumentDigest
from federation_api.documents.service import Documents
from federation_api.documents.store import Document, Subject


def digests(documents: list[Document]) -> tuple[DocumentDigest, ...]:
    """The digests of these documents, in a stable order (kind, then hash), one per file."""
    unique = {(d.kind.value, d.sha256) for d in documents}
    return tuple(DocumentDigest(kind=kind, sha256=sha256) for kind, sha256 in sorted(unique))


def with_documents(evidence: ApplicationEvidence, documents: Documents,
                   application_id: object) -> ApplicationEvidence:
    """`evidence` listing exactly the application's stored documents (UNSET when it has none,
    so evidence without documents keeps the bytes, and the commitments, it always had)."""
    found = digests(documents.of_subject(Subject.application(application_id)))
    return msgspec.structs.replace(evidence, documents=found if found else msgspec.UNSET)
