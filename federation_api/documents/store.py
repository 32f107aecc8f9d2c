"""The `documents` table (what each stored file is, whose, for which application or renewal)
and the `document_downloads` log (who opened which document when), in the node database.

The rows hold no document bytes; those are in the storage, named by `sha256`. A row is
written only after its bytes are in the storage, so every row names a file that is there.
Writing methods take the caller's cursor, so an upload can join the transaction of the
action it belongs to.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum

from federation_api.clock import stamp, unstamp
from federation_api.documents.content_checks import MediaType
from ledger.storage.database import Cursor, Database

DDL = """
CREATE TABLE IF NOT EXISTS documents (
    document_id TEXT PRIMARY KEY,
    owner_account_id TEXT,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    original_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_subject ON documents (subject_kind, subject_id);
CREATE INDEX IF NOT EXISTS documents_owner ON documents (owner_account_id);
CREATE INDEX IF NOT EXISTS documents_sha256 ON documents (sha256);
CREATE TABLE IF NOT EXISTS document_downloads (
    download_id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    downloaded_at TEXT NOT NULL,
    client TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS document_downloads_document ON document_downloads (document_id)
"""
_COLUMNS = ("document_id, owner_account_id, subject_kind, subject_id, kind, original_name, "
            "media_type, size, sha256, uploaded_at, uploaded_by")


class DocumentKind(StrEnum):
    """What a document is, as the upload form offers it."""

    TRANSCRIPT = "transcript"
    CERTIFICATE = "certificate"
    OTHER = "other"


class SubjectKind(StrEnum):
    """What a document belongs to."""

    APPLICATION = "application"
    RENEWAL = "renewal"


@dataclass(frozen=True)
class Subject:
    """The application (its id) or renewal (the endorsement id and cycle, as the renewal
    pages name it) a document belongs to."""

    kind: SubjectKind
    id: str

    @classmethod
    def application(cls, application_id: object) -> Subject:
        """The application with this id."""
        return cls(SubjectKind.APPLICATION, str(application_id))


@dataclass(frozen=True)
class Document:
    """One stored document's record (never its bytes)."""

    document_id: str
    owner_account_id: str | None  # None: uploaded by staff for an application without account
    subject: Subject
    kind: DocumentKind
    original_name: str  # for display only
    media_type: MediaType
    size: int
    sha256: str
    uploaded_at: dt.datetime
    uploaded_by: str


@dataclass(frozen=True)
class Download:
    """One opening of a document."""

    document_id: str
    account_id: str
    downloaded_at: dt.datetime
    client: str


def new_document_id() -> str:
    """A random, unguessable id (guessing is not what protects a document: the owner check
    is; but an id reveals nothing about how many documents there are)."""
    return f"doc_{secrets.token_hex(12)}"


class DocumentStore:
    """Rows of documents and of their downloads."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(DDL)

    def add(self, cur: Cursor, document: Document) -> None:
        """Record a document whose bytes are already in the storage."""
        cur.execute(
            f"INSERT INTO documents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (document.document_id, document.owner_account_id, document.subject.kind.value,
             document.subject.id, document.kind.value, document.original_name,
             document.media_type.value, document.size, document.sha256,
             stamp(document.uploaded_at), document.uploaded_by))

    def get(self, document_id: str) -> Document | None:
        """The document with this id, if any."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM documents WHERE document_id = ?",
                             (document_id[:64],))
        return _document(rows[0]) if rows else None

    def of_subject(self, subject: Subject) -> list[Document]:
        """The documents of one application or renewal, oldest first."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM documents WHERE subject_kind = ? AND subject_id = ? "
            "ORDER BY uploaded_at, document_id", (subject.kind.value, subject.id))
        return [_document(row) for row in rows]

    def of_owner(self, account_id: str) -> list[Document]:
        """The documents an account owns, oldest first."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM documents WHERE owner_account_id = ? "
                             "ORDER BY uploaded_at, document_id", (account_id,))
        return [_document(row) for row in rows]

    def remove(self, cur: Cursor, document_id: str, *, owner_account_id: str,
               subject: Subject) -> Document | None:
        """Delete the record of the owner's document of `subject` (the statement names all
        three, so another's id deletes nothing); the removed record, or None."""
        row = cur.execute(
            f"DELETE FROM documents WHERE document_id = ? AND owner_account_id = ? AND "
            f"subject_kind = ? AND subject_id = ? RETURNING {_COLUMNS}",
            (document_id[:64], owner_account_id, subject.kind.value, subject.id)).fetchone()
        return None if row is None else _document(tuple(row))

    def named(self, sha256: str) -> int:
        """How many records name these bytes."""
        return int(self.db.query("SELECT COUNT(*) FROM documents WHERE sha256 = ?",
                                 (sha256,))[0][0])

    def log_download(self, cur: Cursor, download: Download) -> None:
        """Record that an account opened a document."""
        cur.execute("INSERT INTO document_downloads (download_id, document_id, account_id, "
                    "downloaded_at, client) VALUES (?, ?, ?, ?, ?)",
                    (f"dl_{secrets.token_hex(12)}", download.document_id, download.account_id,
                     stamp(download.downloaded_at), download.client[:100]))

    def downloads(self, document_id: str) -> list[Download]:
        """Who opened a document when, oldest first."""
        rows = self.db.query("SELECT document_id, account_id, downloaded_at, client FROM "
                             "document_downloads WHERE document_id = ? "
                             "ORDER BY downloaded_at, download_id", (document_id,))
        return [Download(r[0], r[1], _instant(r[2]), r[3]) for r in rows]

    def count(self) -> int:
        """How many documents are recorded."""
        return int(self.db.query("SELECT COUNT(*) FROM documents")[0][0])


def _instant(text: str) -> dt.datetime:
    moment = unstamp(text)
    assert moment is not None
    return moment


def _document(row: tuple[object, ...]) -> Document:
    return Document(document_id=str(row[0]),
                    owner_account_id=None if row[1] is None else str(row[1]),
                    subject=Subject(SubjectKind(str(row[2])), str(row[3])),
                    kind=DocumentKind(str(row[4])), original_name=str(row[5]),
                    media_type=MediaType(str(row[6])), size=int(str(row[7])),
                    sha256=str(row[8]), uploaded_at=_instant(str(row[9])),
                    uploaded_by=str(row[10]))
