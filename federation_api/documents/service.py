"""`Documents`: take an upload in, list an application's documents, open one for a viewer.

Who may open a document is decided here, once, for every route that serves one: its owner
(the applicant's or professional's account that uploaded it) and the association's staff
(the web layer says which accounts count: `Viewer.staff`). Anyone else is told there is no
such document, exactly as for an id that does not exist, so a document's existence does not
leak. Every opening is logged in the same transaction that admits it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from federation_api.documents.content_checks import media_type_of
from federation_api.documents.errors import NoSuchDocument, StorageFailed
from federation_api.documents.incoming import Incoming, too_large
from federation_api.documents.names import display_name
from federation_api.documents.storage import DiskStorage, DocumentStorage
from federation_api.documents.store import (
    Document,
    DocumentKind,
    DocumentStore,
    Download,
    Subject,
    new_document_id,
)
from ledger.storage.database import Cursor, Database

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Viewer:
    """Who asks to open a document: an account, and whether it is association staff that
    may open every document of the association."""

    account_id: str
    staff: bool


class Documents:
    """The node's documents: the storage (bytes) and the store (rows)."""

    def __init__(self, db: Database, *, storage: DocumentStorage, spool: Path,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.db = db
        self.store = DocumentStore(db)
        self.storage = storage
        self.spool = spool
        self.max_bytes = max_bytes

    @classmethod
    def on_disk(cls, db: Database, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
                ) -> Documents:
        """The embedded default: files under `directory` (the node's data directory's
        `documents/`), uploads spooled beside them."""
        return cls(db, storage=DiskStorage(directory), spool=directory / "incoming",
                   max_bytes=max_bytes)

    def incoming(self) -> Incoming:
        """A new upload's spool, bounded by the size limit."""
        return Incoming(self.spool, limit=self.max_bytes)

    def refuse_declared_size(self, content_length: int | None) -> None:
        """TooLarge before reading a byte when the request says it is over the limit (the
        form's other fields are small; `max_bytes + 64 KiB` leaves room for them)."""
        if content_length is not None and content_length > self.max_bytes + 64 * 1024:
            raise too_large(self.max_bytes)

    def keep(self, incoming: Incoming, *, subject: Subject, kind: DocumentKind,
             original_name: str, owner_account_id: str | None, by: str, now: dt.datetime
             ) -> Document:
        """Check the spooled upload and put its bytes in the storage (no database work, so
        no transaction waits on the checks or the copy); the record to `record` next.
        DocumentRefused (nothing kept) if it is not an acceptable document."""
        reader = incoming.reader()
        media_type = media_type_of(reader, incoming.size)
        sha256 = self.storage.put(reader)
        if sha256 != incoming.sha256:
            raise StorageFailed("the storage kept other bytes than were uploaded")
        return Document(document_id=new_document_id(), owner_account_id=owner_account_id,
                        subject=subject, kind=kind,
                        original_name=display_name(original_name, media_type),
                        media_type=media_type, size=incoming.size, sha256=sha256,
                        uploaded_at=now, uploaded_by=by)

    def record(self, cur: Cursor, document: Document) -> None:
        """Record a kept document in the caller's transaction (with the action it belongs
        to: the portal's draft, the staff audit entry). Bytes kept but never recorded (the
        transaction rolled back, the process died) are shown to no one."""
        self.store.add(cur, document)

    def accept(self, incoming: Incoming, *, subject: Subject, kind: DocumentKind,
               original_name: str, owner_account_id: str | None, by: str, now: dt.datetime
               ) -> Document:
        """`keep` and `record` in a transaction of its own."""
        document = self.keep(incoming, subject=subject, kind=kind, original_name=original_name,
                             owner_account_id=owner_account_id, by=by, now=now)
        with self.db.transaction() as cur:
            self.record(cur, document)
        return document

    def remove(self, cur: Cursor, document_id: str, *, owner_account_id: str,
               subject: Subject) -> Document:
        """Delete the record of an owner's document of `subject`, in the caller's
        transaction; NoSuchDocument for anyone else's, another subject's or no document.
        The bytes go with `forget` once the transaction is committed."""
        removed = self.store.remove(cur, document_id, owner_account_id=owner_account_id,
                                    subject=subject)
        if removed is None:
            raise NoSuchDocument(document_id)
        return removed

    def forget(self, document: Document) -> None:
        """Delete a removed document's bytes when no record names them any more (the same
        bytes uploaded twice are one file: the other record keeps it)."""
        if self.store.named(document.sha256) == 0:
            self.storage.delete(document.sha256)

    def of_subject(self, subject: Subject) -> list[Document]:
        """An application's or renewal's documents, oldest first."""
        return self.store.of_subject(subject)

    def visible(self, document_id: str, viewer: Viewer) -> Document:
        """The document, if `viewer` may open it; NoSuchDocument otherwise."""
        document = self.store.get(document_id)
        if document is None or not (viewer.staff
                                    or document.owner_account_id == viewer.account_id):
            raise NoSuchDocument(document_id)
        return document

    def open_for(self, document_id: str, viewer: Viewer, *, now: dt.datetime,
                 client: str = "") -> tuple[Document, Iterator[bytes]]:
        """The document and its bytes for `viewer`, the opening logged; NoSuchDocument when
        the viewer may not open it (nothing logged: nothing was opened)."""
        document = self.visible(document_id, viewer)
        chunks = self.storage.get(document.sha256)  # fails here if the bytes are missing
        with self.db.transaction() as cur:
            self.store.log_download(cur, Download(document.document_id, viewer.account_id,
                                                  now, client))
        return document, chunks
