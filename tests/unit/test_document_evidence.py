"""The documents' digests in an application's evidence: filled from the node's records (a
client's claim is replaced), and covered by the entry's salted commitment, so the ledger
binds the very file without revealing it."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import msgspec

from domain.evidence import ApplicationEvidence, DocumentDigest
from federation_api.documents.evidence import with_documents
from federation_api.documents.service import Documents
from federation_api.documents.store import DocumentKind, Subject
from ledger.chain.commitments import CommitmentKey
from ledger.codec import encode
from ledger.storage.database import Database, DatabaseUrl
from tests import document_files as files

NOW = dt.datetime(2027, 3, 1, 9, 30, tzinfo=dt.UTC)


def documents(tmp_path: Path) -> Documents:
    db = Database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'node.sqlite'}"))
    return Documents.on_disk(db, tmp_path / "documents")


def test_the_evidence_lists_exactly_the_applications_stored_documents(tmp_path: Path) -> None:
    store = documents(tmp_path)
    application_id, other = uuid.uuid4(), uuid.uuid4()
    kept = []
    for target, content in ((application_id, files.pdf()), (application_id, files.png()),
                            (other, files.jpeg())):
        with store.incoming() as incoming:
            incoming.write(content)
            kept.append(store.accept(incoming, subject=Subject.application(target),
                                     kind=DocumentKind.TRANSCRIPT, original_name="t",
                                     owner_account_id=None, by="account:c", now=NOW))
    claimed = ApplicationEvidence(documents=(DocumentDigest(kind="transcript",
                                                            sha256="0" * 64),))
    evidence = with_documents(claimed, store, application_id)
    assert {d.sha256 for d in evidence.documents} == {kept[0].sha256, kept[1].sha256}
    assert with_documents(ApplicationEvidence(), store, uuid.uuid4()).documents is msgspec.UNSET


def test_the_commitment_changes_with_the_document_and_hides_it(tmp_path: Path) -> None:
    key = CommitmentKey(b"k" * 32)
    one = ApplicationEvidence(documents=(DocumentDigest(kind="transcript", sha256="a" * 64),))
    two = ApplicationEvidence(documents=(DocumentDigest(kind="transcript", sha256="b" * 64),))
    first = key.commit("app", 2, encode({"evidence": one}))
    assert first != key.commit("app", 2, encode({"evidence": two}))
    assert b"a" * 16 not in first
